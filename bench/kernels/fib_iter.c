#include "kernels.h"
/* Iterative Fibonacci modulo 2^64, n steps. */
u64 KERNEL_NAME(const u8 *input) {
    u64 n = *(const u64 *)input;
    u64 a = 0, b = 1;
    for (u64 i = 0; i < n; i++) {
        u64 t = a + b;
        a = b;
        b = t;
    }
    return a;
}

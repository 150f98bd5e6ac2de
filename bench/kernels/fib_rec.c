#include "kernels.h"
/* Recursive Fibonacci: call-heavy (depth n stays far below the 64-frame limit). */
static u64 __attribute__((noinline)) fib(u64 n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
u64 KERNEL_NAME(const u8 *input) {
    return fib(*(const u64 *)input);
}

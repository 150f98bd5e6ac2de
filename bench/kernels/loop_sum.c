#include "kernels.h"
/* A running hash over 0..n-1: a loop-carried multiply the optimizers cannot fold. */
u64 KERNEL_NAME(const u8 *input) {
    u64 n = *(const u64 *)input;
    u64 acc = 0;
    for (u64 i = 0; i < n; i++)
        acc = acc * 31 + (i ^ (i >> 3));
    return acc;
}

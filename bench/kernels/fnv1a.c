#include "kernels.h"
/* FNV-1a 64 over a buffer of n bytes that follows n in the input, `rounds` times
 * (rounds is the second u64). */
u64 KERNEL_NAME(const u8 *input) {
    u64 n = *(const u64 *)input;
    u64 rounds = *(const u64 *)(input + 8);
    const u8 *p = input + 16;
    u64 h = 0xcbf29ce484222325ULL;
    for (u64 r = 0; r < rounds; r++)
        for (u64 i = 0; i < n; i++) {
            h ^= p[i];
            h *= 0x100000001b3ULL;
        }
    return h;
}

#include "kernels.h"
/* Insertion sort of n u64 values stored in the (writable) input after n;
 * returns a position-weighted checksum of the sorted array. */
u64 KERNEL_NAME(u8 *input) {
    u64 n = *(u64 *)input;
    u64 *a = (u64 *)(input + 8);
    for (u64 i = 1; i < n; i++) {
        u64 key = a[i];
        u64 j = i;
        while (j > 0 && a[j - 1] > key) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = key;
    }
    u64 sum = 0;
    for (u64 i = 0; i < n; i++)
        sum += a[i] * (i + 1);
    return sum;
}

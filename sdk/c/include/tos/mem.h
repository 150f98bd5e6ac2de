/* TOS contract SDK for C: memory helpers (no libc).
 *
 * Inline loops, cheaper than the memory syscalls (sol_memcpy_ & co. cost at least
 * 10 gas plus the call) for the small, fixed sizes contracts copy: hashes, keys,
 * integers. For large buffers use tos_memcpy/tos_memset (syscalls.h).
 *
 * clang's BPF backend turns a large or variable-length struct copy into a call to
 * `memcpy`, which no VM provides: copy with these helpers instead of assigning big
 * structs. The byte loops are not turned into memcpy calls because `tbpf build`
 * compiles with -fno-builtin.
 */
#ifndef TOS_MEM_H
#define TOS_MEM_H

#include "types.h"

/* The heap: TOS_HEAP_SIZE bytes of zero-filled, writable memory at a fixed address
 * (sBPF's heap region), fresh for every invocation. Use it for buffers larger than
 * the stack allows (clang limits a BPF function to 512 bytes of stack); there are no
 * writable globals to keep an allocator in, so carve it up explicitly. */
#define TOS_HEAP_START ((u8 *)0x300000000ull)
#define TOS_HEAP_SIZE (32u * 1024u)

/* Copy n bytes (the ranges must not overlap). */
static inline void tos_mem_copy(void *dst, const void *src, u64 n) {
    u8 *d = (u8 *)dst;
    const u8 *s = (const u8 *)src;
    for (u64 i = 0; i < n; i++) d[i] = s[i];
}

/* Set n bytes to value. */
static inline void tos_mem_set(void *dst, u8 value, u64 n) {
    u8 *d = (u8 *)dst;
    for (u64 i = 0; i < n; i++) d[i] = value;
}

/* Compare n bytes: <0, 0, >0 as the first differing byte of a is below, equal, above. */
static inline i64 tos_mem_cmp(const void *a, const void *b, u64 n) {
    const u8 *x = (const u8 *)a;
    const u8 *y = (const u8 *)b;
    for (u64 i = 0; i < n; i++) {
        if (x[i] != y[i]) return (i64)x[i] - (i64)y[i];
    }
    return 0;
}

/* True if the n bytes are equal. */
static inline bool tos_mem_eq(const void *a, const void *b, u64 n) {
    return tos_mem_cmp(a, b, n) == 0;
}

/* Length of a NUL-terminated string. */
static inline u64 tos_strlen(const char *s) {
    u64 n = 0;
    while (s[n] != 0) n++;
    return n;
}

/* Copy a 32-byte hash. */
static inline void tos_hash_copy(u8 *dst, const u8 *src) {
    tos_mem_copy(dst, src, TOS_HASH_SIZE);
}

/* True if two 32-byte hashes are equal. */
static inline bool tos_hash_eq(const u8 *a, const u8 *b) {
    return tos_mem_eq(a, b, TOS_HASH_SIZE);
}

/* True if a 32-byte hash is all zeros (the native asset, an unset address). */
static inline bool tos_hash_is_zero(const u8 *h) {
    for (u64 i = 0; i < TOS_HASH_SIZE; i++) {
        if (h[i] != 0) return false;
    }
    return true;
}

/* Little-endian u64 from 8 bytes at any alignment. */
static inline u64 tos_load_u64le(const u8 *p) {
    u64 v = 0;
    for (u64 i = 0; i < 8; i++) v |= (u64)p[i] << (8 * i);
    return v;
}

/* Little-endian u32 from 4 bytes at any alignment. */
static inline u32 tos_load_u32le(const u8 *p) {
    return (u32)((u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24));
}

/* Write v as 8 little-endian bytes at any alignment. */
static inline void tos_store_u64le(u8 *p, u64 v) {
    for (u64 i = 0; i < 8; i++) p[i] = (u8)(v >> (8 * i));
}

#endif /* TOS_MEM_H */

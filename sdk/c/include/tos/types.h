/* TOS contract SDK for C: fixed-width types, booleans, hashes.
 *
 * Freestanding: no libc header is needed or used. Every TOS value that crosses the
 * syscall boundary is a u64 (arguments in r1-r5, the result in r0); hashes, addresses
 * and asset ids are 32 bytes.
 */
#ifndef TOS_TYPES_H
#define TOS_TYPES_H

typedef __UINT8_TYPE__ u8;
typedef __UINT16_TYPE__ u16;
typedef __UINT32_TYPE__ u32;
typedef __UINT64_TYPE__ u64;
typedef __INT8_TYPE__ i8;
typedef __INT16_TYPE__ i16;
typedef __INT32_TYPE__ i32;
typedef __INT64_TYPE__ i64;
typedef __SIZE_TYPE__ tos_size_t;

#ifndef __cplusplus
#if !defined(__bool_true_false_are_defined)
typedef _Bool bool;
#define true 1
#define false 0
#define __bool_true_false_are_defined 1
#endif
#endif

#ifndef NULL
#define NULL ((void *)0)
#endif

#define TOS_U64_MAX ((u64)0xFFFFFFFFFFFFFFFFull)
#define TOS_I64_MAX ((i64)0x7FFFFFFFFFFFFFFFll)
#define TOS_I64_MIN (-TOS_I64_MAX - 1)

/* Bytes in a hash, an address or an asset id. */
#define TOS_HASH_SIZE 32

/* A 32-byte hash, address or asset id (a struct so that it can be copied by value). */
typedef struct tos_hash {
    u8 bytes[TOS_HASH_SIZE];
} tos_hash;

/* A (pointer, length) pair, the element type of sol_log_data/sol_sha256/sol_keccak256. */
typedef struct tos_slice {
    const u8 *addr;
    u64 len;
} tos_slice;

/* Number of elements of an array. */
#define TOS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define TOS_INLINE static inline __attribute__((always_inline))
#define TOS_NOINLINE __attribute__((noinline))
#define TOS_UNUSED __attribute__((unused))

#endif /* TOS_TYPES_H */

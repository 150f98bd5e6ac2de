/* TOS contract SDK for C: entry points, exit codes and reading parameters.
 *
 * An entry point is a global function `u64 name(const u8 *input, u64 input_len)`:
 * the runtime maps the invocation's parameter bytes at 0x4_0000_0000 (writable) and
 * passes r1 = that address, r2 = their length. The same bytes can also be fetched with
 * tos_get_input_data (TOS's get_input_data). Return 0 to commit the invocation's state
 * changes; any other value fails it and rolls everything back (storage, balances,
 * events, deposits).
 *
 * `entrypoint` is the default entry point and the one other contracts reach with
 * tos_invoke_contract; `tbpf chain invoke --entry NAME` (or Runtime.invoke(entry=))
 * runs any other TOS_ENTRY function by name.
 *
 * Parameters are read with a tos_input cursor in the layout `tbpf chain invoke
 * --param` writes: integers little endian, `hash`/`addr` 32 raw bytes, `bytes`/`str`
 * a u32 length then the bytes. Reads never go past the end: a short read sets
 * `ok = false` and returns 0/NULL, so a contract checks once, at the end, with
 * tos_input_finish (which also refuses trailing bytes).
 */
#ifndef TOS_ENTRYPOINT_H
#define TOS_ENTRYPOINT_H

#include "mem.h"
#include "syscalls.h"
#include "types.h"

/* Declare/define an entry point: TOS_ENTRY(transfer) { ... uses input, input_len ... }.
 * noinline keeps one copy when another entry point (a dispatcher) calls it. */
#define TOS_ENTRY(name) \
    TOS_NOINLINE u64 name(const u8 *input TOS_UNUSED, u64 input_len TOS_UNUSED)

/* Exit codes shared by the examples (any non-zero value fails the invocation). */
#define TOS_EXIT_SUCCESS 0
#define TOS_EXIT_BAD_INPUT 1        /* malformed or missing parameters */
#define TOS_EXIT_UNAUTHORIZED 2     /* the caller may not do this */
#define TOS_EXIT_OVERFLOW 3         /* an amount would overflow a u64 */
#define TOS_EXIT_INSUFFICIENT 4     /* not enough balance, liquidity or supply */
#define TOS_EXIT_NOT_FOUND 5        /* no such key, token or record */
#define TOS_EXIT_EXISTS 6           /* already initialised / already minted */
#define TOS_EXIT_NOT_INITIALIZED 7  /* init has not run */
#define TOS_EXIT_SLIPPAGE 8         /* the result is worse than the caller's limit */
#define TOS_EXIT_SYSCALL_FAILED 9   /* a syscall returned an unexpected error code */
#define TOS_EXIT_UNKNOWN_METHOD 10  /* the dispatcher's selector byte is unknown */

/* A read cursor over the parameter bytes. */
typedef struct tos_input {
    const u8 *data;
    u64 len;
    u64 pos;
    bool ok;
} tos_input;

/* Start reading input[0..len). */
static inline void tos_input_init(tos_input *in, const u8 *data, u64 len) {
    in->data = data;
    in->len = len;
    in->pos = 0;
    in->ok = true;
}

/* Bytes not read yet. */
static inline u64 tos_input_remaining(const tos_input *in) {
    return in->ok ? in->len - in->pos : 0;
}

/* True if every read succeeded and every byte was read. */
static inline bool tos_input_finish(const tos_input *in) {
    return in->ok && in->pos == in->len;
}

/* A pointer to the next n bytes (inside the input region), or NULL if fewer remain. */
static inline const u8 *tos_read_raw(tos_input *in, u64 n) {
    if (!in->ok || n > in->len - in->pos) {
        in->ok = false;
        return NULL;
    }
    const u8 *p = in->data + in->pos;
    in->pos += n;
    return p;
}

static inline u8 tos_read_u8(tos_input *in) {
    const u8 *p = tos_read_raw(in, 1);
    return p ? p[0] : 0;
}

static inline bool tos_read_bool(tos_input *in) {
    u8 v = tos_read_u8(in);
    if (v > 1) in->ok = false;
    return v == 1;
}

static inline u16 tos_read_u16(tos_input *in) {
    const u8 *p = tos_read_raw(in, 2);
    return p ? (u16)(p[0] | (p[1] << 8)) : 0;
}

static inline u32 tos_read_u32(tos_input *in) {
    const u8 *p = tos_read_raw(in, 4);
    return p ? tos_load_u32le(p) : 0;
}

static inline u64 tos_read_u64(tos_input *in) {
    const u8 *p = tos_read_raw(in, 8);
    return p ? tos_load_u64le(p) : 0;
}

static inline i64 tos_read_i64(tos_input *in) {
    return (i64)tos_read_u64(in);
}

/* A 32-byte hash/address (`--param hash:` or `addr:`): a pointer into the input. */
static inline const u8 *tos_read_hash(tos_input *in) {
    return tos_read_raw(in, TOS_HASH_SIZE);
}

/* A u32-length-prefixed byte string (`--param bytes:` or `str:`): a pointer into the
 * input and its length in *len (0 and NULL on a short read). Not NUL-terminated. */
static inline const u8 *tos_read_bytes(tos_input *in, u64 *len) {
    u64 n = tos_read_u32(in);
    const u8 *p = tos_read_raw(in, n);
    *len = p ? n : 0;
    return p;
}

/* Copy the invocation's input into buf with tos_get_input_data (TOS's convention)
 * and start reading it; false if it does not fit in cap bytes. */
static inline bool tos_input_fetch(tos_input *in, u8 *buf, u64 cap) {
    u64 n = tos_get_input_data(buf, cap);
    if (tos_is_error(n)) {
        tos_input_init(in, buf, 0);
        in->ok = false;
        return false;
    }
    tos_input_init(in, buf, n);
    return true;
}

/* Set the invocation's return data to a little-endian u64. */
static inline void tos_return_u64(u64 value) {
    u8 buf[8];
    tos_store_u64le(buf, value);
    tos_set_return_data(buf, 8);
}

#endif /* TOS_ENTRYPOINT_H */

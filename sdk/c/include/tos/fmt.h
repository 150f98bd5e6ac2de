/* TOS contract SDK for C: formatting integers and hashes for logs.
 *
 * No printf: the tos_fmt_* functions write ASCII into a caller's buffer and return
 * the number of bytes written; tos_log_* build a short line on the stack and log it
 * with tos_log (100 gas + 1 per byte). Keep labels short: a BPF function may use at
 * most 512 bytes of stack.
 */
#ifndef TOS_FMT_H
#define TOS_FMT_H

#include "math.h"
#include "mem.h"
#include "syscalls.h"
#include "types.h"

/* Bytes tos_fmt_u64 writes at most (2^64 - 1 has 20 digits). */
#define TOS_FMT_U64_MAX 20
/* Bytes tos_fmt_i64 writes at most. */
#define TOS_FMT_I64_MAX 20

/* Decimal digits of v into out (no terminator); returns the count (1..20). */
static inline u64 tos_fmt_u64(char *out, u64 v) {
    char tmp[TOS_FMT_U64_MAX];
    u64 n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (u64 i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

/* Decimal of a signed value (a leading '-' if negative); returns the count. */
static inline u64 tos_fmt_i64(char *out, i64 v) {
    if (v < 0) {
        out[0] = '-';
        return 1 + tos_fmt_u64(out + 1, tos_abs_i64(v));
    }
    return tos_fmt_u64(out, (u64)v);
}

/* Lower-case hex of len bytes (2 * len characters); returns 2 * len. */
static inline u64 tos_fmt_hex(char *out, const u8 *data, u64 len) {
    static const char digits[16] = "0123456789abcdef";
    for (u64 i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    return 2 * len;
}

/* Log a string literal (its length is known at compile time). */
#define TOS_LOG(literal) tos_log((literal), sizeof(literal) - 1)

/* Log a NUL-terminated string. */
static inline void tos_log_str(const char *s) {
    tos_log(s, tos_strlen(s));
}

/* Longest label the tos_log_<value> helpers accept (longer ones are cut). */
#define TOS_LOG_LABEL_MAX 64

static inline u64 tos__label(char *out, const char *label) {
    u64 n = 0;
    while (label[n] != 0 && n < TOS_LOG_LABEL_MAX) {
        out[n] = label[n];
        n++;
    }
    out[n++] = ':';
    out[n++] = ' ';
    return n;
}

/* Log "label: <decimal>". */
static inline void tos_log_u64(const char *label, u64 value) {
    char line[TOS_LOG_LABEL_MAX + 2 + TOS_FMT_U64_MAX];
    u64 n = tos__label(line, label);
    n += tos_fmt_u64(line + n, value);
    tos_log(line, n);
}

/* Log "label: <signed decimal>". */
static inline void tos_log_i64(const char *label, i64 value) {
    char line[TOS_LOG_LABEL_MAX + 2 + TOS_FMT_I64_MAX + 1];
    u64 n = tos__label(line, label);
    n += tos_fmt_i64(line + n, value);
    tos_log(line, n);
}

/* Log "label: <64 hex digits>" for a 32-byte hash or address. */
static inline void tos_log_hash(const char *label, const u8 *hash) {
    char line[TOS_LOG_LABEL_MAX + 2 + 2 * TOS_HASH_SIZE];
    u64 n = tos__label(line, label);
    n += tos_fmt_hex(line + n, hash, TOS_HASH_SIZE);
    tos_log(line, n);
}

#endif /* TOS_FMT_H */

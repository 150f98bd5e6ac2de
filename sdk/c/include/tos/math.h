/* TOS contract SDK for C: integer arithmetic that sBPF and clang's BPF backend lack.
 *
 * - Checked u64 arithmetic: tos_add_u64/tos_sub_u64/tos_mul_u64 store the result and
 *   return true, or return false on overflow/underflow (and leave *out alone).
 * - Signed division: clang's BPF backend refuses `/` and `%` on signed operands
 *   ("Unsupport signed division"); tos_div_i64/tos_rem_i64 compute them with unsigned
 *   division, truncating toward zero like C. A zero divisor faults (DivideByZero),
 *   exactly like the native instruction. TOS_I64_MIN / -1 wraps to TOS_I64_MIN.
 * - 128-bit intermediates (no __int128: its multiply and divide become library calls
 *   that do not exist in the VM): tos_mul_wide, tos_div_wide, tos_mul_div, tos_isqrt_wide.
 *
 * Everything is integer-only and deterministic; no floats.
 */
#ifndef TOS_MATH_H
#define TOS_MATH_H

#include "types.h"

/* *out = a + b; false (and *out untouched) if it overflows. */
static inline bool tos_add_u64(u64 a, u64 b, u64 *out) {
    u64 r = a + b;
    if (r < a) return false;
    *out = r;
    return true;
}

/* *out = a - b; false (and *out untouched) if b > a. */
static inline bool tos_sub_u64(u64 a, u64 b, u64 *out) {
    if (b > a) return false;
    *out = a - b;
    return true;
}


static inline u64 tos_min_u64(u64 a, u64 b) { return a < b ? a : b; }
static inline u64 tos_max_u64(u64 a, u64 b) { return a > b ? a : b; }

/* |v| as a u64 (correct for TOS_I64_MIN too). */
static inline u64 tos_abs_i64(i64 v) { return v < 0 ? (u64)0 - (u64)v : (u64)v; }

/* a / b truncated toward zero (C semantics) without a signed division instruction. */
static inline i64 tos_div_i64(i64 a, i64 b) {
    u64 q = tos_abs_i64(a) / tos_abs_i64(b);
    return ((a < 0) != (b < 0)) ? (i64)((u64)0 - q) : (i64)q;
}

/* a % b with the sign of a (C semantics) without a signed remainder instruction. */
static inline i64 tos_rem_i64(i64 a, i64 b) {
    u64 r = tos_abs_i64(a) % tos_abs_i64(b);
    return a < 0 ? (i64)((u64)0 - r) : (i64)r;
}

/* An unsigned 128-bit value (hi:lo). */
typedef struct tos_u128 {
    u64 lo;
    u64 hi;
} tos_u128;

/* *out = a * b exactly (128-bit product). */
static inline void tos_mul_wide(u64 a, u64 b, tos_u128 *out) {
    const u64 mask = 0xFFFFFFFFull;
    u64 a_lo = a & mask, a_hi = a >> 32;
    u64 b_lo = b & mask, b_hi = b >> 32;
    u64 p0 = a_lo * b_lo;
    u64 p1 = a_lo * b_hi;
    u64 p2 = a_hi * b_lo;
    u64 p3 = a_hi * b_hi;
    u64 mid = (p0 >> 32) + (p1 & mask) + (p2 & mask);
    out->lo = (p0 & mask) | (mid << 32);
    out->hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
}

/* *out = a * b; false (and *out untouched) if it overflows. Written with the 128-bit
 * product: clang turns the textbook test `b > UINT64_MAX / a` into an overflow
 * intrinsic that the BPF backend lowers to a call to __multi3, which no VM has. */
static inline bool tos_mul_u64(u64 a, u64 b, u64 *out) {
    tos_u128 p;
    tos_mul_wide(a, b, &p);
    if (p.hi != 0) return false;
    *out = p.lo;
    return true;
}

/* -1, 0, 1 as a <, ==, > b. */
static inline int tos_cmp_wide(const tos_u128 *a, const tos_u128 *b) {
    if (a->hi != b->hi) return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    return 0;
}

/* *quotient = n / d (floor) if it fits in a u64, and returns true; false if d is 0
 * or the quotient needs more than 64 bits. *remainder (if not NULL) gets n % d. */
static inline bool tos_div_wide(const tos_u128 *n, u64 d, u64 *quotient, u64 *remainder) {
    if (d == 0 || n->hi >= d) return false;
    if (n->hi == 0) {
        *quotient = n->lo / d;
        if (remainder) *remainder = n->lo % d;
        return true;
    }
    /* Restoring long division, one bit of n->lo at a time; r < d throughout. */
    u64 r = n->hi;
    u64 q = 0;
    for (u64 k = 0; k < 64; k++) {
        u64 carry = r >> 63;
        r = (r << 1) | ((n->lo >> (63 - k)) & 1);
        q <<= 1;
        if (carry || r >= d) {
            r -= d;
            q |= 1;
        }
    }
    *quotient = q;
    if (remainder) *remainder = r;
    return true;
}

/* *out = floor(a * b / c) with a 128-bit intermediate; false if c is 0 or the result
 * does not fit in a u64. */
static inline bool tos_mul_div(u64 a, u64 b, u64 c, u64 *out) {
    tos_u128 p;
    tos_mul_wide(a, b, &p);
    return tos_div_wide(&p, c, out, NULL);
}

/* floor(sqrt(x)) of a 128-bit value (always fits in a u64): one bit at a time. */
static inline u64 tos_isqrt_wide(const tos_u128 *x) {
    u64 root = 0;
    for (u64 k = 0; k < 64; k++) {
        u64 candidate = root | ((u64)1 << (63 - k));
        tos_u128 square;
        tos_mul_wide(candidate, candidate, &square);
        if (tos_cmp_wide(&square, x) <= 0) root = candidate;
    }
    return root;
}

/* floor(sqrt(a * b)) (the geometric mean of two amounts). */
static inline u64 tos_isqrt_mul(u64 a, u64 b) {
    tos_u128 p;
    tos_mul_wide(a, b, &p);
    return tos_isqrt_wide(&p);
}

#endif /* TOS_MATH_H */

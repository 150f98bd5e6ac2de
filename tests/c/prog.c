/* Exercises the linker: extern syscalls, string literals, const tables, static and
 * global calls, and function pointers (callx) stored in a read-only table.
 * Input: [op (0 add, 1 mul, 2 sub), a, b, n]; returns op(a, b) * 1000 + sum of the
 * first n (at most 8) primes. Expected values are computed by hand in test_linker.py. */
typedef unsigned long u64;
typedef unsigned char u8;

extern void sol_log_(const char *message, u64 length);
extern void sol_log_64_(u64, u64, u64, u64, u64);

static const u64 primes[8] = {2, 3, 5, 7, 11, 13, 17, 19};
static const char greeting[] = "hello from C";

struct op {
    const char *name;
    u64 (*fn)(u64, u64);
};

static __attribute__((noinline)) u64 add(u64 a, u64 b) { return a + b; }
static __attribute__((noinline)) u64 mul(u64 a, u64 b) { return a * b; }
__attribute__((noinline)) u64 sub(u64 a, u64 b) { return a - b; }

static const struct op ops[3] = {{"add", add}, {"mul", mul}, {"sub", sub}};

__attribute__((noinline)) u64 sum_primes(u64 n) {
    u64 sum = 0;
    for (u64 i = 0; i < n && i < 8; i++)
        sum += primes[i];
    return sum;
}

static __attribute__((noinline)) u64 my_strlen(const char *s) {
    u64 n = 0;
    while (s[n])
        n++;
    return n;
}

u64 entrypoint(const u8 *input) {
    u64 which = input[0] % 3;
    u64 a = input[1], b = input[2];
    const struct op *op = &ops[which];
    sol_log_(greeting, my_strlen(greeting));
    sol_log_(op->name, my_strlen(op->name));
    u64 r = op->fn(a, b);
    u64 s = sum_primes(input[3]);
    sol_log_64_(which, a, b, r, s);
    return r * 1000 + s;
}

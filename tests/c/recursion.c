/* Recursive calls (call frames, stack): returns fib(input[0]). */
typedef unsigned long u64;
typedef unsigned char u8;

__attribute__((noinline)) u64 fib(u64 n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

u64 entrypoint(const u8 *input) { return fib(input[0]); }

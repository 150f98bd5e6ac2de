typedef unsigned long u64;

const u64 shared_table[4] = {100, 200, 300, 400};

static __attribute__((noinline)) u64 twice(u64 x) { return 2 * x; }

u64 lib_function(u64 x) { return twice(x) + 1; }

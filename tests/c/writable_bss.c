/* Rejected: an uninitialized (.bss) global. */
typedef unsigned long u64;
static u64 scratch[4];
u64 entrypoint(const unsigned char *input) { scratch[input[0] & 3] = 1; return scratch[0]; }

/* Rejected: data that no object defines (only calls can become syscalls). */
typedef unsigned long u64;
extern const u64 missing_table[4];
u64 entrypoint(const unsigned char *input) { return missing_table[input[0] & 3]; }

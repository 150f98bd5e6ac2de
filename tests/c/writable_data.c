/* Rejected: a writable global (sBPF programs have no writable globals). */
typedef unsigned long u64;
u64 counter = 5;
u64 entrypoint(const unsigned char *input) { counter += input[0]; return counter; }

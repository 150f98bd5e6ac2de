/* Calls a function nobody defines and no VM registers: loads without
 * reject_broken_elfs, fails at the call when run. */
typedef unsigned long u64;
extern u64 not_a_registered_syscall(u64);
u64 entrypoint(const unsigned char *input) { return not_a_registered_syscall(input[0]) + 1; }

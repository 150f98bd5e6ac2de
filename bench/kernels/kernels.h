/* Compute kernels for the JIT benchmarks.
 *
 * Each kernel is compiled twice from the same source: to sBPF with
 * `clang -target bpf -O2 -mcpu=v1 -c` (linked by TBPF) and natively with `gcc -O2`.
 * Input layout (little endian): u64 n, then kernel-specific data.
 * No libc, no floats, no writable globals (sBPF programs have none).
 */
#ifndef TBPF_BENCH_KERNELS_H
#define TBPF_BENCH_KERNELS_H
typedef unsigned long long u64;
typedef unsigned char u8;
#ifndef KERNEL_NAME
#define KERNEL_NAME entrypoint
#endif
#endif

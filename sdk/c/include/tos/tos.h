/* TOS contract SDK for C: everything, in one include.
 *
 *   #include <tos/tos.h>
 *
 *   TOS_ENTRY(entrypoint) {
 *       TOS_LOG("Hello, TOS!");
 *       return TOS_EXIT_SUCCESS;
 *   }
 *
 * Build with `tbpf build contract.c` (clang -target bpf -mcpu=v1 -O2 plus TBPF's
 * linker). Headers: types.h (u8..u64, tos_hash), syscalls.h (every syscall, return
 * codes, limits, gas costs; generated), entrypoint.h (TOS_ENTRY, exit codes, reading
 * parameters), mem.h (copy/compare), math.h (checked and 128-bit arithmetic, signed
 * division), fmt.h (formatting and logging numbers), state.h (storage keys, typed
 * values, event topics).
 */
#ifndef TOS_TOS_H
#define TOS_TOS_H

#include "types.h"
#include "syscalls.h"
#include "mem.h"
#include "math.h"
#include "fmt.h"
#include "entrypoint.h"
#include "state.h"

#endif /* TOS_TOS_H */

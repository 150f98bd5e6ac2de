/* Hello world: log a greeting and the contract's own native balance.
 *
 *   tbpf build hello_world.c
 *   tbpf chain deploy hello_world.so
 *   tbpf chain invoke <contract> --deposit 500     # logs "balance: 500"
 *
 * Entry point `entrypoint` (no parameters): logs "Hello, TOS!", the caller and the
 * contract's native balance (after the invocation's deposits), and returns the
 * balance as 8 little-endian bytes of return data.
 */
#include <tos/tos.h>

TOS_ENTRY(entrypoint) {
    TOS_LOG("Hello, TOS!");

    u8 caller[TOS_HASH_SIZE];
    tos_get_caller(caller);
    tos_log_hash("caller", caller);

    u8 self[TOS_HASH_SIZE];
    tos_get_contract_hash(self);
    u64 balance = tos_get_balance(self, TOS_NATIVE_ASSET);
    tos_log_u64("balance", balance);

    tos_return_u64(balance);
    return TOS_EXIT_SUCCESS;
}

/* Issuer: create native TOS assets and mint them (a helper for the AMM example).
 *
 * An asset is created by a contract (tos_asset_create) and only that contract can
 * mint it; accounts then hold it like the native coin and move it into contracts as
 * invocation deposits (`tbpf chain invoke --deposit AMOUNT:ASSET`).
 *
 * Entry points:
 *   create(u8 decimals, str name)         creates the asset (id = hash of this contract
 *                                         and the name) and records the caller as its
 *                                         creator; returns the 32-byte asset id
 *   mint(hash asset, addr to, u64 amount) creator only: mints and sends to `to`;
 *                                         fires Minted(asset, to) with the amount
 *   entrypoint(u8 selector, ...)          the same, selected by a first byte 0..1
 *
 * Exit codes: 1 bad input, 2 not the asset's creator, 3 supply overflow, 5 unknown
 * asset, 6 an asset with that name exists.
 */
#include <tos/tos.h>

#define CREATOR_PREFIX 'c'

TOS_ENTRY(create) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u8 decimals = tos_read_u8(&in);
    u64 name_len;
    const u8 *name = tos_read_bytes(&in, &name_len);
    if (!tos_input_finish(&in) || name_len == 0 || name_len > TOS_LIMIT_MAX_ASSET_NAME ||
        decimals > 18)
        return TOS_EXIT_BAD_INPUT;

    u8 asset[TOS_HASH_SIZE];
    u64 rc = tos_asset_create((const char *)name, name_len, decimals, asset);
    if (rc == TOS_ASSET_EXISTS) return TOS_EXIT_EXISTS;
    if (rc != TOS_OK) return TOS_EXIT_SYSCALL_FAILED;

    u8 key[TOS_KEY_HASH_SIZE];
    tos_key_hash(key, CREATOR_PREFIX, asset);
    u8 creator[TOS_HASH_SIZE];
    tos_get_caller(creator);
    tos_storage_store(key, sizeof(key), creator, TOS_HASH_SIZE);
    tos_set_return_data(asset, TOS_HASH_SIZE);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(mint) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *asset = tos_read_hash(&in);
    const u8 *to = tos_read_hash(&in);
    u64 amount = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;

    u8 key[TOS_KEY_HASH_SIZE];
    tos_key_hash(key, CREATOR_PREFIX, asset);
    u8 creator[TOS_HASH_SIZE];
    if (!tos_storage_get_hash(key, sizeof(key), creator)) return TOS_EXIT_NOT_FOUND;
    u8 caller[TOS_HASH_SIZE];
    tos_get_caller(caller);
    if (!tos_hash_eq(caller, creator)) return TOS_EXIT_UNAUTHORIZED;

    u64 rc = tos_asset_mint(asset, amount);
    if (rc == TOS_BALANCE_OVERFLOW) return TOS_EXIT_OVERFLOW;
    if (rc != TOS_OK) return TOS_EXIT_SYSCALL_FAILED;
    rc = tos_transfer(to, asset, amount);
    if (rc == TOS_BALANCE_OVERFLOW) return TOS_EXIT_OVERFLOW;
    if (rc != TOS_OK) return TOS_EXIT_SYSCALL_FAILED;

    u8 topics[3 * TOS_HASH_SIZE];
    tos_topic(topics, "Minted");
    tos_hash_copy(topics + TOS_HASH_SIZE, asset);
    tos_hash_copy(topics + 2 * TOS_HASH_SIZE, to);
    u8 data[8];
    tos_store_u64le(data, amount);
    tos_fire_event(topics, 3, data, sizeof(data));
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(entrypoint) {
    if (input_len == 0) return TOS_EXIT_BAD_INPUT;
    switch (input[0]) {
    case 0: return create(input + 1, input_len - 1);
    case 1: return mint(input + 1, input_len - 1);
    default: return TOS_EXIT_UNKNOWN_METHOD;
    }
}

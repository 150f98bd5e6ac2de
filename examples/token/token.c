/* Token: a fungible token kept in the contract's storage (an ERC-20-style ledger).
 *
 * Entry points (parameters in `tbpf chain invoke --param` notation):
 *   init(u8 decimals, str name)     once; the caller becomes the owner (the minter)
 *   mint(addr to, u64 amount)       owner only; fires Transfer(0 -> to)
 *   transfer(addr to, u64 amount)   from the caller; fires Transfer(caller -> to)
 *   balance_of(addr who)            returns the balance (u64 LE)
 *   total_supply()                  returns the supply (u64 LE)
 *   entrypoint(u8 selector, ...)    the same, selected by a first byte 0..4 (for other
 *                                   contracts: tos_invoke_contract runs `entrypoint`)
 *
 * Exit codes: 1 bad input, 2 not the owner, 3 supply or balance would overflow,
 * 4 insufficient balance, 6 already initialised, 7 not initialised.
 *
 * Storage: "owner" (32 bytes), "supply" (u64), "meta" (decimals, then the name),
 * "b" + address (u64 balance; absent = 0).
 * Event Transfer: topics ["Transfer", from, to], data: amount (u64 LE); the zero
 * address as `from` means minted.
 */
#include <tos/tos.h>

static const char OWNER_KEY[] = "owner";
static const char SUPPLY_KEY[] = "supply";
static const char META_KEY[] = "meta";
#define KEY(k) (k), (sizeof(k) - 1)
#define BALANCE_PREFIX 'b'
#define MAX_NAME 64

static u64 balance_get(const u8 *who) {
    u8 key[TOS_KEY_HASH_SIZE];
    tos_key_hash(key, BALANCE_PREFIX, who);
    u64 balance;
    tos_storage_get_u64(key, sizeof(key), &balance);
    return balance;
}

static void balance_put(const u8 *who, u64 balance) {
    u8 key[TOS_KEY_HASH_SIZE];
    tos_key_hash(key, BALANCE_PREFIX, who);
    if (balance == 0) {
        tos_storage_delete(key, sizeof(key));  /* absent means 0: free the slot */
    } else {
        tos_storage_put_u64(key, sizeof(key), balance);
    }
}

static void emit_transfer(const u8 *from, const u8 *to, u64 amount) {
    u8 topics[3 * TOS_HASH_SIZE];
    tos_topic(topics, "Transfer");
    tos_hash_copy(topics + TOS_HASH_SIZE, from);
    tos_hash_copy(topics + 2 * TOS_HASH_SIZE, to);
    u8 data[8];
    tos_store_u64le(data, amount);
    tos_fire_event(topics, 3, data, sizeof(data));
}

TOS_ENTRY(init) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u8 meta[1 + MAX_NAME];
    meta[0] = tos_read_u8(&in);
    u64 name_len;
    const u8 *name = tos_read_bytes(&in, &name_len);
    if (!tos_input_finish(&in) || name_len == 0 || name_len > MAX_NAME || meta[0] > 18)
        return TOS_EXIT_BAD_INPUT;

    u8 owner[TOS_HASH_SIZE];
    if (tos_storage_get_hash(KEY(OWNER_KEY), owner)) return TOS_EXIT_EXISTS;
    tos_get_caller(owner);
    tos_storage_store(KEY(OWNER_KEY), owner, TOS_HASH_SIZE);
    tos_mem_copy(meta + 1, name, name_len);
    tos_storage_store(KEY(META_KEY), meta, 1 + name_len);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(mint) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *to = tos_read_hash(&in);
    u64 amount = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;

    u8 owner[TOS_HASH_SIZE];
    if (!tos_storage_get_hash(KEY(OWNER_KEY), owner)) return TOS_EXIT_NOT_INITIALIZED;
    u8 caller[TOS_HASH_SIZE];
    tos_get_caller(caller);
    if (!tos_hash_eq(caller, owner)) return TOS_EXIT_UNAUTHORIZED;

    u64 supply;
    tos_storage_get_u64(KEY(SUPPLY_KEY), &supply);
    if (!tos_add_u64(supply, amount, &supply)) return TOS_EXIT_OVERFLOW;
    u64 balance;
    if (!tos_add_u64(balance_get(to), amount, &balance)) return TOS_EXIT_OVERFLOW;
    tos_storage_put_u64(KEY(SUPPLY_KEY), supply);
    balance_put(to, balance);

    u8 zero[TOS_HASH_SIZE];
    tos_mem_set(zero, 0, sizeof(zero));
    emit_transfer(zero, to, amount);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(transfer) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *to = tos_read_hash(&in);
    u64 amount = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;

    u8 from[TOS_HASH_SIZE];
    tos_get_caller(from);
    u64 from_balance = balance_get(from);
    if (from_balance < amount) return TOS_EXIT_INSUFFICIENT;
    if (!tos_hash_eq(from, to)) {
        u64 to_balance;
        /* Cannot overflow while the supply fits in a u64; checked all the same. */
        if (!tos_add_u64(balance_get(to), amount, &to_balance)) return TOS_EXIT_OVERFLOW;
        balance_put(from, from_balance - amount);
        balance_put(to, to_balance);
    }
    emit_transfer(from, to, amount);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(balance_of) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *who = tos_read_hash(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    tos_return_u64(balance_get(who));
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(total_supply) {
    if (input_len != 0) return TOS_EXIT_BAD_INPUT;
    u64 supply;
    tos_storage_get_u64(KEY(SUPPLY_KEY), &supply);
    tos_return_u64(supply);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(entrypoint) {
    if (input_len == 0) return TOS_EXIT_BAD_INPUT;
    const u8 *args = input + 1;
    u64 args_len = input_len - 1;
    switch (input[0]) {
    case 0: return init(args, args_len);
    case 1: return mint(args, args_len);
    case 2: return transfer(args, args_len);
    case 3: return balance_of(args, args_len);
    case 4: return total_supply(args, args_len);
    default: return TOS_EXIT_UNKNOWN_METHOD;
    }
}

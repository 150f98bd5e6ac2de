/* NFT: non-fungible tokens with an owner and a URI each (an ERC-721-style registry).
 *
 * Entry points (parameters in `tbpf chain invoke --param` notation):
 *   init()                          once; the caller becomes the minter
 *   mint(addr to, u64 id, str uri)  minter only; fires Transfer(0 -> to, id)
 *   transfer(addr to, u64 id)       the token's owner only; fires Transfer(owner -> to)
 *   owner_of(u64 id)                returns the owner (32 bytes)
 *   balance_of(addr who)            returns how many tokens `who` owns (u64 LE)
 *   token_uri(u64 id)               returns the URI bytes
 *   entrypoint(u8 selector, ...)    the same, selected by a first byte 0..5
 *
 * Exit codes: 1 bad input, 2 not the minter / not the token's owner, 3 count overflow,
 * 5 no such token, 6 already initialised / id already minted, 7 not initialised.
 *
 * Storage: "minter" (32 bytes), "o" + id (owner, 32 bytes), "u" + id (URI),
 * "c" + address (u64 count). Event Transfer: topics ["Transfer", from, to],
 * data: the token id (u64 LE); `from` = zero address when minted.
 */
#include <tos/tos.h>

static const char MINTER_KEY[] = "minter";
#define MINTER MINTER_KEY, (sizeof(MINTER_KEY) - 1)
#define OWNER_PREFIX 'o'
#define URI_PREFIX 'u'
#define COUNT_PREFIX 'c'
#define MAX_URI 200

static bool owner_get(u64 id, u8 *owner32) {
    u8 key[TOS_KEY_U64_SIZE];
    tos_key_u64(key, OWNER_PREFIX, id);
    return tos_storage_get_hash(key, sizeof(key), owner32);
}

static void owner_put(u64 id, const u8 *owner32) {
    u8 key[TOS_KEY_U64_SIZE];
    tos_key_u64(key, OWNER_PREFIX, id);
    tos_storage_store(key, sizeof(key), owner32, TOS_HASH_SIZE);
}

/* Add delta (+1 or -1 as u64) to who's token count; false if it would overflow. */
static bool count_add(const u8 *who, u64 delta) {
    u8 key[TOS_KEY_HASH_SIZE];
    tos_key_hash(key, COUNT_PREFIX, who);
    u64 count;
    tos_storage_get_u64(key, sizeof(key), &count);
    if (delta == 1 && count == TOS_U64_MAX) return false;
    count += delta;
    if (count == 0) {
        tos_storage_delete(key, sizeof(key));
    } else {
        tos_storage_put_u64(key, sizeof(key), count);
    }
    return true;
}

static void emit_transfer(const u8 *from, const u8 *to, u64 id) {
    u8 topics[3 * TOS_HASH_SIZE];
    tos_topic(topics, "Transfer");
    tos_hash_copy(topics + TOS_HASH_SIZE, from);
    tos_hash_copy(topics + 2 * TOS_HASH_SIZE, to);
    u8 data[8];
    tos_store_u64le(data, id);
    tos_fire_event(topics, 3, data, sizeof(data));
}

TOS_ENTRY(init) {
    if (input_len != 0) return TOS_EXIT_BAD_INPUT;
    u8 minter[TOS_HASH_SIZE];
    if (tos_storage_get_hash(MINTER, minter)) return TOS_EXIT_EXISTS;
    tos_get_caller(minter);
    tos_storage_store(MINTER, minter, TOS_HASH_SIZE);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(mint) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *to = tos_read_hash(&in);
    u64 id = tos_read_u64(&in);
    u64 uri_len;
    const u8 *uri = tos_read_bytes(&in, &uri_len);
    if (!tos_input_finish(&in) || uri_len > MAX_URI) return TOS_EXIT_BAD_INPUT;

    u8 minter[TOS_HASH_SIZE];
    if (!tos_storage_get_hash(MINTER, minter)) return TOS_EXIT_NOT_INITIALIZED;
    u8 caller[TOS_HASH_SIZE];
    tos_get_caller(caller);
    if (!tos_hash_eq(caller, minter)) return TOS_EXIT_UNAUTHORIZED;

    u8 existing[TOS_HASH_SIZE];
    if (owner_get(id, existing)) return TOS_EXIT_EXISTS;
    if (!count_add(to, 1)) return TOS_EXIT_OVERFLOW;
    owner_put(id, to);
    if (uri_len != 0) {
        u8 key[TOS_KEY_U64_SIZE];
        tos_key_u64(key, URI_PREFIX, id);
        tos_storage_store(key, sizeof(key), uri, uri_len);
    }
    u8 zero[TOS_HASH_SIZE];
    tos_mem_set(zero, 0, sizeof(zero));
    emit_transfer(zero, to, id);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(transfer) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *to = tos_read_hash(&in);
    u64 id = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;

    u8 owner[TOS_HASH_SIZE];
    if (!owner_get(id, owner)) return TOS_EXIT_NOT_FOUND;
    u8 caller[TOS_HASH_SIZE];
    tos_get_caller(caller);
    if (!tos_hash_eq(caller, owner)) return TOS_EXIT_UNAUTHORIZED;
    if (!tos_hash_eq(owner, to)) {
        count_add(owner, TOS_U64_MAX);  /* -1: the owner holds this token, count >= 1 */
        if (!count_add(to, 1)) return TOS_EXIT_OVERFLOW;
        owner_put(id, to);
    }
    emit_transfer(owner, to, id);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(owner_of) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u64 id = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    u8 owner[TOS_HASH_SIZE];
    if (!owner_get(id, owner)) return TOS_EXIT_NOT_FOUND;
    tos_set_return_data(owner, TOS_HASH_SIZE);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(balance_of) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *who = tos_read_hash(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    u8 key[TOS_KEY_HASH_SIZE];
    tos_key_hash(key, COUNT_PREFIX, who);
    u64 count;
    tos_storage_get_u64(key, sizeof(key), &count);
    tos_return_u64(count);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(token_uri) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u64 id = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    u8 owner[TOS_HASH_SIZE];
    if (!owner_get(id, owner)) return TOS_EXIT_NOT_FOUND;
    u8 key[TOS_KEY_U64_SIZE];
    tos_key_u64(key, URI_PREFIX, id);
    u8 uri[MAX_URI];
    u64 n = tos_storage_load(key, sizeof(key), uri, sizeof(uri));
    if (tos_is_error(n)) return TOS_EXIT_SYSCALL_FAILED;
    tos_set_return_data(uri, n);
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
    case 3: return owner_of(args, args_len);
    case 4: return balance_of(args, args_len);
    case 5: return token_uri(args, args_len);
    default: return TOS_EXIT_UNKNOWN_METHOD;
    }
}

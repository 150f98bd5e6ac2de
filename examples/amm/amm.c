/* AMM: a constant-product pool (x * y = k) over two native TOS assets.
 *
 * Tokens come in as invocation deposits (`--deposit AMOUNT:ASSET`): the pool sees
 * what arrived as its balance minus its recorded reserve, so a deposit and the call
 * that uses it are one atomic transaction. Liquidity shares are a native asset the
 * pool creates ("LP") and mints; they are returned by depositing them again.
 * Integer math only, with 128-bit intermediates; every rounding favours the pool.
 *
 * Entry points:
 *   init(hash asset_a, hash asset_b)     once; creates the LP asset
 *   add_liquidity(u64 min_shares)        deposit both assets; the first deposit sets
 *                                        the price and mints sqrt(a * b) shares minus
 *                                        1000 kept by the pool forever; later ones mint
 *                                        in proportion and refund the excess of one
 *                                        asset. Returns the shares (u64 LE).
 *   remove_liquidity(u64 min_a, u64 min_b)  deposit LP shares; pays out both assets
 *                                        pro rata and burns the shares. Returns a, b.
 *   swap(u64 min_out)                    deposit one asset; pays out the other:
 *                                        in' = in * 9970 / 10000 (0.3% fee, which
 *                                        stays in the pool), out = r_out - ceil(r_in *
 *                                        r_out / (r_in + in')). Returns out (u64 LE).
 *   get_reserves()                       returns reserve_a, reserve_b, total shares.
 *   entrypoint(u8 selector, ...)         the same, selected by a first byte 0..4
 *
 * Exit codes: 1 bad input (nothing or both assets deposited, same asset twice),
 * 3 overflow, 4 no liquidity / amount too small, 6 already initialised,
 * 7 not initialised, 8 slippage: the result is below the caller's minimum. A failed
 * call rolls back everything, deposits included.
 *
 * Storage: "cfg" = asset_a | asset_b | lp (96 bytes), "st" = reserve_a | reserve_b |
 * total_shares (3 x u64 LE). Events (topic, caller): AddLiquidity (a, b, shares),
 * RemoveLiquidity (a, b, shares), Swap (amount in, amount out, 0 = a->b / 1 = b->a).
 */
#include <tos/tos.h>

#define FEE_BPS 30
#define BPS 10000
#define MINIMUM_LIQUIDITY 1000

static const char CFG_KEY[] = "cfg";
static const char STATE_KEY[] = "st";
#define CFG CFG_KEY, (sizeof(CFG_KEY) - 1)
#define STATE STATE_KEY, (sizeof(STATE_KEY) - 1)

typedef struct pool {
    u8 asset_a[TOS_HASH_SIZE];
    u8 asset_b[TOS_HASH_SIZE];
    u8 lp[TOS_HASH_SIZE];
    u8 self[TOS_HASH_SIZE];
    u8 caller[TOS_HASH_SIZE];
    u64 reserve_a;
    u64 reserve_b;
    u64 shares;
} pool;

static bool pool_load(pool *p) {
    if (tos_storage_load(CFG, p->asset_a, 3 * TOS_HASH_SIZE) != 3 * TOS_HASH_SIZE)
        return false;
    u8 st[24];
    if (tos_storage_load(STATE, st, sizeof(st)) != sizeof(st)) return false;
    p->reserve_a = tos_load_u64le(st);
    p->reserve_b = tos_load_u64le(st + 8);
    p->shares = tos_load_u64le(st + 16);
    tos_get_contract_hash(p->self);
    tos_get_caller(p->caller);
    return true;
}

static void pool_save(const pool *p) {
    u8 st[24];
    tos_store_u64le(st, p->reserve_a);
    tos_store_u64le(st + 8, p->reserve_b);
    tos_store_u64le(st + 16, p->shares);
    tos_storage_store(STATE, st, sizeof(st));
}

/* What arrived in `asset` beyond its reserve (this invocation's deposit). */
static u64 deposited(const pool *p, const u8 *asset, u64 reserve) {
    u64 balance = tos_get_balance(p->self, asset);
    return balance > reserve ? balance - reserve : 0;
}

static bool pay(const pool *p, const u8 *asset, u64 amount) {
    return amount == 0 || tos_transfer(p->caller, asset, amount) == TOS_OK;
}

static void emit(const pool *p, const char *name, u64 x, u64 y, u64 z) {
    u8 topics[2 * TOS_HASH_SIZE];
    tos_topic(topics, name);
    tos_hash_copy(topics + TOS_HASH_SIZE, p->caller);
    u8 data[24];
    tos_store_u64le(data, x);
    tos_store_u64le(data + 8, y);
    tos_store_u64le(data + 16, z);
    tos_fire_event(topics, 2, data, sizeof(data));
}

static void return_u64s(u64 x, u64 y, u64 z, u64 count) {
    u8 data[24];
    tos_store_u64le(data, x);
    tos_store_u64le(data + 8, y);
    tos_store_u64le(data + 16, z);
    tos_set_return_data(data, 8 * count);
}

TOS_ENTRY(init) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    const u8 *asset_a = tos_read_hash(&in);
    const u8 *asset_b = tos_read_hash(&in);
    if (!tos_input_finish(&in) || tos_hash_eq(asset_a, asset_b)) return TOS_EXIT_BAD_INPUT;

    u8 cfg[3 * TOS_HASH_SIZE];
    if (tos_storage_load(CFG, cfg, sizeof(cfg)) != 0) return TOS_EXIT_EXISTS;
    tos_hash_copy(cfg, asset_a);
    tos_hash_copy(cfg + TOS_HASH_SIZE, asset_b);
    if (tos_asset_create("LP", 2, 0, cfg + 2 * TOS_HASH_SIZE) != TOS_OK)
        return TOS_EXIT_SYSCALL_FAILED;
    tos_storage_store(CFG, cfg, sizeof(cfg));
    u8 st[24];
    tos_mem_set(st, 0, sizeof(st));
    tos_storage_store(STATE, st, sizeof(st));
    tos_set_return_data(cfg + 2 * TOS_HASH_SIZE, TOS_HASH_SIZE);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(add_liquidity) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u64 min_shares = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    pool p;
    if (!pool_load(&p)) return TOS_EXIT_NOT_INITIALIZED;

    u64 in_a = deposited(&p, p.asset_a, p.reserve_a);
    u64 in_b = deposited(&p, p.asset_b, p.reserve_b);
    if (in_a == 0 || in_b == 0) return TOS_EXIT_BAD_INPUT;

    u64 used_a = in_a, used_b = in_b, minted, to_caller;
    if (p.shares == 0) {
        minted = tos_isqrt_mul(in_a, in_b);
        if (minted <= MINIMUM_LIQUIDITY) return TOS_EXIT_INSUFFICIENT;
        to_caller = minted - MINIMUM_LIQUIDITY;  /* the rest stays locked in the pool */
    } else {
        /* Keep the pool's ratio: use all of one asset, as much of the other as fits. */
        u64 optimal_b;
        if (!tos_mul_div(in_a, p.reserve_b, p.reserve_a, &optimal_b)) return TOS_EXIT_OVERFLOW;
        if (optimal_b <= in_b) {
            used_b = optimal_b;
        } else if (!tos_mul_div(in_b, p.reserve_a, p.reserve_b, &used_a)) {
            return TOS_EXIT_OVERFLOW;
        }
        u64 shares_a, shares_b;
        if (!tos_mul_div(used_a, p.shares, p.reserve_a, &shares_a) ||
            !tos_mul_div(used_b, p.shares, p.reserve_b, &shares_b))
            return TOS_EXIT_OVERFLOW;
        minted = tos_min_u64(shares_a, shares_b);
        if (minted == 0) return TOS_EXIT_INSUFFICIENT;
        to_caller = minted;
    }
    if (to_caller < min_shares) return TOS_EXIT_SLIPPAGE;
    if (!tos_add_u64(p.reserve_a, used_a, &p.reserve_a) ||
        !tos_add_u64(p.reserve_b, used_b, &p.reserve_b) ||
        !tos_add_u64(p.shares, minted, &p.shares))
        return TOS_EXIT_OVERFLOW;

    if (tos_asset_mint(p.lp, minted) != TOS_OK) return TOS_EXIT_OVERFLOW;
    if (!pay(&p, p.lp, to_caller) || !pay(&p, p.asset_a, in_a - used_a) ||
        !pay(&p, p.asset_b, in_b - used_b))
        return TOS_EXIT_SYSCALL_FAILED;
    pool_save(&p);
    emit(&p, "AddLiquidity", used_a, used_b, to_caller);
    return_u64s(to_caller, 0, 0, 1);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(remove_liquidity) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u64 min_a = tos_read_u64(&in);
    u64 min_b = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    pool p;
    if (!pool_load(&p)) return TOS_EXIT_NOT_INITIALIZED;
    if (p.shares == 0) return TOS_EXIT_INSUFFICIENT;

    /* The pool itself holds exactly the locked minimum; the rest was just deposited. */
    u64 returned = deposited(&p, p.lp, MINIMUM_LIQUIDITY);
    if (returned == 0) return TOS_EXIT_BAD_INPUT;
    u64 out_a, out_b;
    if (!tos_mul_div(returned, p.reserve_a, p.shares, &out_a) ||
        !tos_mul_div(returned, p.reserve_b, p.shares, &out_b))
        return TOS_EXIT_OVERFLOW;
    if (out_a < min_a || out_b < min_b) return TOS_EXIT_SLIPPAGE;

    if (tos_burn(p.lp, returned) != TOS_OK) return TOS_EXIT_SYSCALL_FAILED;
    p.shares -= returned;
    p.reserve_a -= out_a;
    p.reserve_b -= out_b;
    if (!pay(&p, p.asset_a, out_a) || !pay(&p, p.asset_b, out_b))
        return TOS_EXIT_SYSCALL_FAILED;
    pool_save(&p);
    emit(&p, "RemoveLiquidity", out_a, out_b, returned);
    return_u64s(out_a, out_b, 0, 2);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(swap) {
    tos_input in;
    tos_input_init(&in, input, input_len);
    u64 min_out = tos_read_u64(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    pool p;
    if (!pool_load(&p)) return TOS_EXIT_NOT_INITIALIZED;

    u64 in_a = deposited(&p, p.asset_a, p.reserve_a);
    u64 in_b = deposited(&p, p.asset_b, p.reserve_b);
    if ((in_a == 0) == (in_b == 0)) return TOS_EXIT_BAD_INPUT;  /* exactly one asset */
    bool a_to_b = in_a != 0;
    u64 amount_in = a_to_b ? in_a : in_b;
    u64 reserve_in = a_to_b ? p.reserve_a : p.reserve_b;
    u64 reserve_out = a_to_b ? p.reserve_b : p.reserve_a;
    if (reserve_in == 0 || reserve_out == 0) return TOS_EXIT_INSUFFICIENT;

    u64 effective_in;
    tos_mul_div(amount_in, BPS - FEE_BPS, BPS, &effective_in);  /* < amount_in: fits */
    u64 new_reserve_in;
    if (!tos_add_u64(reserve_in, effective_in, &new_reserve_in)) return TOS_EXIT_OVERFLOW;
    /* k / new_reserve_in rounded up, so that (r_in + in') * (r_out - out) >= k. */
    tos_u128 k;
    tos_mul_wide(reserve_in, reserve_out, &k);
    u64 quotient, remainder;
    tos_div_wide(&k, new_reserve_in, &quotient, &remainder);  /* <= reserve_out: fits */
    if (remainder != 0) quotient += 1;
    u64 amount_out = reserve_out - quotient;
    if (amount_out == 0) return TOS_EXIT_INSUFFICIENT;
    if (amount_out < min_out) return TOS_EXIT_SLIPPAGE;

    u64 full_in;
    if (!tos_add_u64(reserve_in, amount_in, &full_in)) return TOS_EXIT_OVERFLOW;
    if (a_to_b) {
        p.reserve_a = full_in;
        p.reserve_b = reserve_out - amount_out;
    } else {
        p.reserve_b = full_in;
        p.reserve_a = reserve_out - amount_out;
    }
    if (!pay(&p, a_to_b ? p.asset_b : p.asset_a, amount_out)) return TOS_EXIT_SYSCALL_FAILED;
    pool_save(&p);
    emit(&p, "Swap", amount_in, amount_out, a_to_b ? 0 : 1);
    return_u64s(amount_out, 0, 0, 1);
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(get_reserves) {
    if (input_len != 0) return TOS_EXIT_BAD_INPUT;
    u8 st[24];
    if (tos_storage_load(STATE, st, sizeof(st)) != sizeof(st)) return TOS_EXIT_NOT_INITIALIZED;
    tos_set_return_data(st, sizeof(st));
    return TOS_EXIT_SUCCESS;
}

TOS_ENTRY(entrypoint) {
    if (input_len == 0) return TOS_EXIT_BAD_INPUT;
    const u8 *args = input + 1;
    u64 args_len = input_len - 1;
    switch (input[0]) {
    case 0: return init(args, args_len);
    case 1: return add_liquidity(args, args_len);
    case 2: return remove_liquidity(args, args_len);
    case 3: return swap(args, args_len);
    case 4: return get_reserves(args, args_len);
    default: return TOS_EXIT_UNKNOWN_METHOD;
    }
}

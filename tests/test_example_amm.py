"""examples/amm (with examples/issuer): constant-product pool over two native assets:
add and remove liquidity, swaps with a fee, slippage limits, integer math; state,
events, balances and gas on both engines."""

from __future__ import annotations

import math

from tbpf.runtime.params import encode_params

from example_helpers import (
    ALICE, BOB, assert_same_on_engines, events, fresh_chain, scenario, topic, u64, u64s,
)

MINIMUM_LIQUIDITY = 1000


def swap_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """The contract's formula, in Python integers: fee on the input, then k rounded up."""
    effective = amount_in * 9970 // 10000
    k = reserve_in * reserve_out
    return reserve_out - -(-k // (reserve_in + effective))


def test_same_on_every_engine(engine: str) -> None:
    assert_same_on_engines("amm", engine)
    assert_same_on_engines("issuer", engine)


def test_issuer(engine: str) -> None:
    run = scenario("issuer", engine)
    gold = bytes.fromhex(run.values["gold"])
    assert run.chain.balance(BOB, gold) == 5000
    asset = run.chain.provider.get_asset(gold)
    assert (asset.owner, asset.name, asset.decimals, asset.supply) == (
        run.contracts["issuer"], b"GOLD", 2, 5000)
    minted = run.step("mint 5,000 GOLD to bob").tx.invoke
    assert events(minted) == [((topic("Minted"), gold, BOB), u64(5000))]
    assert run.step("create GOLD again (refused: exists)").tx.invoke.exit_code == 6
    assert run.step("mint by bob (refused: not the creator)").tx.invoke.exit_code == 2


def test_liquidity_and_swaps_follow_the_formula(engine: str) -> None:
    run = scenario("amm", engine)
    a, b, lp = (bytes.fromhex(run.values[k]) for k in ("asset_a", "asset_b", "lp"))
    pool = run.contracts["amm"]

    first = run.step("add_liquidity, first: 1,000,000 A + 4,000,000 B").tx.invoke
    shares = math.isqrt(1_000_000 * 4_000_000)
    assert u64s(first.return_data) == [shares - MINIMUM_LIQUIDITY]
    assert events(first) == [((topic("AddLiquidity"), ALICE),
                              u64(1_000_000) + u64(4_000_000) + u64(shares - 1000))]

    second = run.step("add_liquidity: 100,000 A + 500,000 B (100,000 B refunded)").tx.invoke
    assert u64s(second.return_data) == [shares // 10]
    reserve_a, reserve_b, total = 1_100_000, 4_400_000, shares + shares // 10

    swap1 = run.step("swap 10,000 A for B (bob)").tx.invoke
    out1 = swap_out(10_000, reserve_a, reserve_b)
    assert u64s(swap1.return_data) == [out1] and out1 == 39_521
    assert events(swap1) == [((topic("Swap"), BOB), u64(10_000) + u64(out1) + u64(0))]
    reserve_a, reserve_b = reserve_a + 10_000, reserve_b - out1

    swap2 = run.step("swap 20,000 B for A (bob)").tx.invoke
    out2 = swap_out(20_000, reserve_b, reserve_a)
    assert u64s(swap2.return_data) == [out2]
    reserve_a, reserve_b = reserve_a - out2, reserve_b + 20_000

    removed = run.step("remove_liquidity: 1,000,000 shares").tx.invoke
    out_a, out_b = 1_000_000 * reserve_a // total, 1_000_000 * reserve_b // total
    assert u64s(removed.return_data) == [out_a, out_b]
    reserve_a, reserve_b, total = reserve_a - out_a, reserve_b - out_b, total - 1_000_000

    assert u64s(run.step("get_reserves").tx.invoke.return_data) == [reserve_a, reserve_b, total]
    # The pool holds exactly its reserves, and the locked minimum of its own shares.
    assert run.chain.balance(pool, a) == reserve_a
    assert run.chain.balance(pool, b) == reserve_b
    assert run.chain.balance(pool, lp) == MINIMUM_LIQUIDITY
    assert run.chain.provider.get_asset(lp).supply == total
    # Every unit is accounted for: alice's and bob's holdings plus the pool's.
    assert run.chain.balance(ALICE, a) + run.chain.balance(BOB, a) + reserve_a == 11_000_000
    assert run.chain.balance(ALICE, b) + run.chain.balance(BOB, b) + reserve_b == 40_000_000
    assert run.chain.balance(ALICE, lp) == total - MINIMUM_LIQUIDITY
    # k never decreases across swaps (fees stay in the pool).
    assert (1_100_000 + 10_000) * (4_400_000 - out1) >= 1_100_000 * 4_400_000


def test_refusals_return_the_deposits(engine: str) -> None:
    run = scenario("amm", engine)
    for label, code in (("init again (refused: initialised)", 6),
                        ("add_liquidity below min_shares (refused: slippage)", 8),
                        ("swap with min_out too high (refused: slippage)", 8),
                        ("swap both assets at once (refused)", 1)):
        tx = run.step(label).tx
        assert tx.invoke.exit_code == code and not tx.included, label
        assert tx.invoke.events == [] and tx.invoke.return_data == b"", label


def test_swap_gas_is_mostly_syscalls(engine: str) -> None:
    """A swap's syscalls: 2 storage reads (cfg 96 bytes, state 24), 2 getters, 2
    balances, 1 transfer, 1 write (24 bytes), an event (2 topics, 24 bytes), return data
    (8 bytes); the rest are instructions (the 128-bit division loop among them)."""
    run = scenario("amm", engine)
    gas = run.step("swap 10,000 A for B (bob)").gas_used
    syscalls = ((1_000 + 3 + 96) + (1_000 + 2 + 24) + 2 * 100 + 2 * 500 + 5_000
                + (5_000 + 2 * (2 + 24)) + (375 + 2 * 125 + 8 * 24) + (100 + 8))
    assert syscalls < gas < syscalls + 2_000


def test_pool_edge_cases(engine: str) -> None:
    chain, contracts = fresh_chain("issuer", "amm", engine=engine)
    issuer, pool = contracts["issuer"], contracts["amm"]

    def call(contract: bytes, entry: str, *params: str, sender: bytes = ALICE,
             deposits=()):  # type: ignore[no-untyped-def]
        return chain.invoke(contract, entry=entry, input=encode_params(list(params)),
                            deposits=list(deposits), sender=sender, engine=engine)

    a = call(issuer, "create", "u8:0", "str:X").invoke.return_data
    b = call(issuer, "create", "u8:0", "str:Y").invoke.return_data
    for asset in (a, b):
        assert call(issuer, "mint", f"hash:{asset.hex()}", "addr:alice", "u64:100000000").included
    # Not initialised; then the same asset twice is refused.
    assert call(pool, "swap", "u64:0", deposits=[(a, 10)]).invoke.exit_code == 7
    assert call(pool, "init", f"hash:{a.hex()}", f"hash:{a.hex()}").invoke.exit_code == 1
    assert call(pool, "init", f"hash:{a.hex()}", f"hash:{b.hex()}").included
    # No liquidity yet: a swap is refused and the deposit goes back.
    refused = call(pool, "swap", "u64:0", deposits=[(a, 10)])
    assert refused.invoke.exit_code == 4 and chain.balance(pool, a) == 0
    # A first deposit whose geometric mean is at most the locked minimum is refused.
    assert call(pool, "add_liquidity", "u64:0",
                deposits=[(a, 1000), (b, 1000)]).invoke.exit_code == 4
    assert call(pool, "add_liquidity", "u64:0",
                deposits=[(a, 1000), (b, 1002)]).invoke.exit_code == 4  # isqrt = 1000
    first = call(pool, "add_liquidity", "u64:0", deposits=[(a, 1001), (b, 1001)]).invoke
    assert first.success and u64s(first.return_data) == [1]
    # One asset only: refused.
    assert call(pool, "add_liquidity", "u64:0", deposits=[(a, 5)]).invoke.exit_code == 1
    # A swap too small to pay out a unit is refused (amount too small).
    assert call(pool, "swap", "u64:0", deposits=[(a, 1)]).invoke.exit_code == 4
    # A large swap against a small pool: 128-bit intermediates, output below the reserve.
    big = call(pool, "swap", "u64:1", deposits=[(a, 90_000_000)]).invoke
    assert big.success
    out = u64s(big.return_data)[0]
    assert out == swap_out(90_000_000, 1001, 1001) and 0 < out < 1001
    # Nothing deposited at all.
    assert call(pool, "remove_liquidity", "u64:0", "u64:0").invoke.exit_code == 1

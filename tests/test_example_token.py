"""examples/token: init, mint by the owner, transfer, balance_of; overflow and
authorization checks; state, events and gas on both engines."""

from __future__ import annotations

from tbpf.runtime.params import encode_params

from example_helpers import (
    ALICE, BOB, CAROL, U64_MAX, ZERO, assert_same_on_engines, events, fresh_chain, scenario,
    topic, u64,
)


def balance_key(who: bytes) -> bytes:
    return b"b" + who


def test_same_on_every_engine(engine: str) -> None:
    assert_same_on_engines("token", engine)


def test_scenario_state(engine: str) -> None:
    run = scenario("token", engine)
    token = run.contracts["token"]
    storage = dict(run.chain.provider.iter_storage(token))
    # alice: 1,000,000 - 250 - 100 - 1; bob: 1 (he sent his 350 to carol); carol: 350.
    assert storage == {
        b"owner": ALICE,
        b"meta": b"\x06Example Token",
        b"supply": u64(1_000_000),
        balance_key(ALICE): u64(1_000_000 - 351),
        balance_key(BOB): u64(1),
        balance_key(CAROL): u64(350),
    }
    assert run.step("balance_of carol").tx.invoke.return_data == u64(350)
    assert run.step("total_supply").tx.invoke.return_data == u64(1_000_000)


def test_scenario_events(engine: str) -> None:
    run = scenario("token", engine)
    transfer = topic("Transfer")
    assert events(run.step("mint 1,000,000 to alice").tx.invoke) == [
        ((transfer, ZERO, ALICE), u64(1_000_000))]
    assert events(run.step("transfer 250 to bob (new holder)").tx.invoke) == [
        ((transfer, ALICE, BOB), u64(250))]
    assert events(run.step("transfer all of bob's 350 to carol").tx.invoke) == [
        ((transfer, BOB, CAROL), u64(350))]
    committed = [(tuple(e.topics), e.data) for e in
                 run.chain.provider.iter_events(run.contracts["token"])]
    assert [data for _, data in committed] == [u64(1_000_000), u64(250), u64(100), u64(350),
                                              u64(1)]


def test_refusals_change_nothing(engine: str) -> None:
    run = scenario("token", engine)
    for label, code in (("init again (refused: initialised)", 6),
                        ("mint by bob (refused: not the owner)", 2),
                        ("mint up to 2^64 (refused: supply overflow)", 3),
                        ("transfer by bob over his balance (refused)", 4)):
        result = run.step(label).tx
        assert result.invoke.exit_code == code, label
        assert not result.included and result.invoke.events == [], label


def test_gas_of_transfers(engine: str) -> None:
    """A transfer to an existing holder reads 8 more value bytes than one to a new
    holder (1 gas each) and parses the same input; emptying a balance deletes its key
    (1,000 + key bytes) instead of writing it (5,000 + 2 per byte)."""
    run = scenario("token", engine)
    new = run.step("transfer 250 to bob (new holder)").gas_used
    existing = run.step("transfer 100 to bob (existing holder)").gas_used
    emptying = run.step("transfer all of bob's 350 to carol").gas_used
    assert existing - new >= 8
    # store: 5,000 + 2 * (33 + 8) = 5,082; delete: 1,000 + 33.
    assert new - emptying >= 5_082 - 1_033 - 100
    via_selector = run.step("transfer through entrypoint (selector 2)").gas_used
    assert via_selector > new  # the dispatcher's own instructions


def test_owner_only_mint_and_supply_overflow(engine: str) -> None:
    chain, contracts = fresh_chain("token", engine=engine)
    token = contracts["token"]

    def call(entry: str, *params: str, sender: bytes = ALICE):  # type: ignore[no-untyped-def]
        return chain.invoke(token, entry=entry, input=encode_params(list(params)),
                            sender=sender, engine=engine)

    # Before init nobody can mint.
    assert call("mint", "addr:alice", "u64:1").invoke.exit_code == 7
    # bob initialises first: he is the owner now, alice is not.
    assert call("init", "u8:0", "str:Bob Coin", sender=BOB).included
    assert call("mint", "addr:alice", "u64:1").invoke.exit_code == 2
    assert call("mint", "addr:alice", f"u64:{U64_MAX}", sender=BOB).included
    # The supply is at the limit: one more unit overflows, for anyone.
    assert call("mint", "addr:bob", "u64:1", sender=BOB).invoke.exit_code == 3
    # alice holds all of it; a transfer to herself changes nothing but fires an event.
    to_self = call("transfer", "addr:alice", f"u64:{U64_MAX}")
    assert to_self.included
    assert chain.provider.get_storage(token, balance_key(ALICE)) == u64(U64_MAX)
    # Malformed parameters.
    assert call("init", "u8:19", "str:x").invoke.exit_code == 1
    assert call("transfer", "addr:bob").invoke.exit_code == 1
    assert call("balance_of", "addr:bob", "u8:0").invoke.exit_code == 1
    assert chain.invoke(token, input=b"\x09", sender=ALICE, engine=engine).invoke.exit_code \
        == 10

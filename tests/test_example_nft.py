"""examples/nft: mint, transfer, owner_of, balance_of, token_uri; transfers by anyone
but the owner are refused; state, events and gas on both engines."""

from __future__ import annotations

from tbpf.runtime.params import encode_params

from example_helpers import (
    ALICE, BOB, CAROL, ZERO, assert_same_on_engines, events, fresh_chain, scenario, topic,
    u64,
)


def owner_key(token_id: int) -> bytes:
    return b"o" + u64(token_id)


def test_same_on_every_engine(engine: str) -> None:
    assert_same_on_engines("nft", engine)


def test_scenario_state(engine: str) -> None:
    run = scenario("nft", engine)
    nft = run.contracts["nft"]
    assert dict(run.chain.provider.iter_storage(nft)) == {
        b"minter": ALICE,
        owner_key(1): CAROL,
        owner_key(2): ALICE,
        b"u" + u64(1): b"ipfs://tbpf-example/1",
        b"c" + ALICE: u64(1),
        b"c" + CAROL: u64(1),
        # bob received #1 and passed it on: his count went back to 0 and was deleted.
    }
    assert run.step("owner_of #1").tx.invoke.return_data == CAROL
    assert run.step("balance_of alice").tx.invoke.return_data == u64(1)
    assert run.step("token_uri #1").tx.invoke.return_data == b"ipfs://tbpf-example/1"


def test_scenario_events(engine: str) -> None:
    run = scenario("nft", engine)
    transfer = topic("Transfer")
    assert events(run.step("mint #1 to alice with a URI").tx.invoke) == [
        ((transfer, ZERO, ALICE), u64(1))]
    assert events(run.step("transfer #1 to bob").tx.invoke) == [
        ((transfer, ALICE, BOB), u64(1))]
    assert events(run.step("transfer #1 by bob to carol").tx.invoke) == [
        ((transfer, BOB, CAROL), u64(1))]
    assert len(list(run.chain.provider.iter_events(run.contracts["nft"]))) == 4


def test_refused_transfers_and_mints(engine: str) -> None:
    run = scenario("nft", engine)
    for label, code in (("mint #1 again (refused: exists)", 6),
                        ("mint by bob (refused: not the minter)", 2),
                        ("transfer #1 by alice (refused: not the owner)", 2),
                        ("transfer #9 (refused: no such token)", 5)):
        result = run.step(label).tx
        assert result.invoke.exit_code == code, label
        assert not result.included and result.invoke.events == [], label


def test_uri_costs_gas(engine: str) -> None:
    """Storing a 21-byte URI costs a storage write: 5,000 + 2 * (9 + 21)."""
    run = scenario("nft", engine)
    with_uri = run.step("mint #1 to alice with a URI").gas_used
    without = run.step("mint #2 to alice without a URI").gas_used
    # The second mint also reads alice's existing count (8 value bytes).
    assert with_uri - without >= 5_000 + 2 * (9 + 21) - 100


def test_only_the_owner_transfers(engine: str) -> None:
    chain, contracts = fresh_chain("nft", engine=engine)
    nft = contracts["nft"]

    def call(entry: str, *params: str, sender: bytes = ALICE):  # type: ignore[no-untyped-def]
        return chain.invoke(nft, entry=entry, input=encode_params(list(params)),
                            sender=sender, engine=engine)

    assert call("mint", "addr:bob", "u64:7", "str:").invoke.exit_code == 7  # no init yet
    assert call("init").included
    assert call("init", sender=BOB).invoke.exit_code == 6
    assert call("mint", "addr:bob", "u64:7", "str:x").included
    # The minter does not own bob's token: refused; bob may move it.
    assert call("transfer", "addr:alice", "u64:7").invoke.exit_code == 2
    assert call("transfer", "addr:carol", "u64:7", sender=BOB).included
    assert call("transfer", "addr:bob", "u64:7", sender=BOB).invoke.exit_code == 2
    assert call("owner_of", "u64:7").invoke.return_data == CAROL
    assert call("owner_of", "u64:8").invoke.exit_code == 5
    assert call("token_uri", "u64:8").invoke.exit_code == 5
    assert call("mint", "addr:bob", "u64:8", "str:" + "u" * 201).invoke.exit_code == 1
    # The selector dispatcher reaches the same code: 3 = owner_of.
    via = chain.invoke(nft, input=b"\x03" + u64(7), sender=BOB, engine=engine).invoke
    assert via.success and via.return_data == CAROL

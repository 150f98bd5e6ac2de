"""examples/counter: storage read/write/delete, events, named entry points, overflow."""

from __future__ import annotations

from tbpf.runtime import TBPFModule
from tbpf.examples_report import example_so

from example_helpers import (
    ALICE, U64_MAX, assert_same_on_engines, events, fresh_chain, scenario, topic, u64,
)


def test_same_on_every_engine(engine: str) -> None:
    assert_same_on_engines("counter", engine)


def test_scenario_state_and_events(engine: str) -> None:
    run = scenario("counter", engine)
    contract = run.contracts["counter"]
    first = run.step("increment by 1 (first write)").tx.invoke
    second = run.step("increment by 5").tx.invoke
    assert first.return_data == u64(1) and second.return_data == u64(6)
    assert events(first) + events(second) == [
        ((topic("Incremented"),), u64(1)), ((topic("Incremented"),), u64(6))]
    # The second run read an existing 8-byte value: 8 gas more for the read, and the
    # event data, store and log costs are the same; the parameter parsing costs more.
    assert second.gas_used > first.gas_used
    assert run.step("get").tx.invoke.return_data == u64(6)
    overflow = run.step("increment past 2^64 - 1 (refused: overflow)")
    assert overflow.tx.invoke.exit_code == 3 and not overflow.tx.included
    assert overflow.tx.invoke.events == []
    reset = run.step("reset")
    assert reset.tx.included and "Program log: counter reset" in reset.tx.invoke.logs
    again = run.step("reset again (refused: nothing to reset)")
    assert again.tx.invoke.exit_code == 5
    # Final state: the key is gone; the two committed events are on the chain.
    assert list(run.chain.provider.iter_storage(contract)) == []
    assert [e.data for e in run.chain.provider.iter_events(contract)] == [u64(1), u64(6)]


def test_overflow_leaves_the_value(engine: str) -> None:
    chain, contracts = fresh_chain("counter", engine=engine)
    counter = contracts["counter"]
    assert chain.invoke(counter, input=u64(U64_MAX - 1), sender=ALICE, engine=engine).included
    assert chain.invoke(counter, sender=ALICE, engine=engine).included
    refused = chain.invoke(counter, sender=ALICE, engine=engine)
    assert refused.invoke.exit_code == 3 and not refused.included
    assert chain.provider.get_storage(counter, b"count") == u64(U64_MAX)


def test_bad_input(engine: str) -> None:
    chain, contracts = fresh_chain("counter", engine=engine)
    counter = contracts["counter"]
    for entry, data in (("entrypoint", b"\x01\x02\x03"), ("entrypoint", u64(1) + b"\0"),
                        ("get", b"\0"), ("reset", b"\0")):
        result = chain.invoke(counter, entry=entry, input=data, sender=ALICE, engine=engine)
        assert result.invoke.exit_code == 1, (entry, data)
    assert list(chain.provider.iter_storage(counter)) == []


def test_v3_build_behaves_the_same(engine: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The committed v0 .so and a v3 relink of the same object give the same results and
    gas (built only when clang is present)."""
    import pytest
    from tbpf.build import build_contract
    from tbpf.errors import ClangNotFoundError
    from tbpf.examples_report import example_source
    try:
        v3 = build_contract([example_source("counter")], version="v3").elf
    except ClangNotFoundError as exc:
        pytest.skip(f"needs clang: {exc}")
    outcomes = []
    for elf in (example_so("counter").read_bytes(), v3):
        chain, _ = fresh_chain(engine=engine)
        tx = chain.deploy(TBPFModule(elf), sender=ALICE)
        assert tx.included, tx.error
        contract = tx.deploy.contract_hash
        runs = [chain.invoke(contract, input=u64(7), sender=ALICE, engine=engine).invoke,
                chain.invoke(contract, entry="get", sender=ALICE, engine=engine).invoke]
        outcomes.append([(r.exit_code, r.gas_used, r.return_data) for r in runs])
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1][2] == u64(7)

"""examples/hello_world: logs, the caller, the contract's own balance (both engines)."""

from __future__ import annotations

from example_helpers import ALICE, assert_same_on_engines, fresh_chain, scenario, u64


def test_same_on_every_engine(engine: str) -> None:
    assert_same_on_engines("hello_world", engine)


def test_greets_and_reports_its_balance(engine: str) -> None:
    run = scenario("hello_world", engine)
    result = run.step("greet, 500 native coins deposited").tx.invoke
    contract = run.contracts["hello_world"].hex()
    assert result.success
    assert result.logs == [
        f"Program {contract} invoke [1]",
        "Program log: Hello, TOS!",
        f"Program log: caller: {ALICE.hex()}",
        "Program log: balance: 500",
        f"Program {contract} consumed {result.gas_used} of 200000 compute units",
        f"Program {contract} success",
    ]
    assert result.return_data == u64(500)
    assert result.events == []
    # The deposit stays with the contract: the invocation succeeded.
    assert run.chain.balance(run.contracts["hello_world"]) == 500


def test_balance_accumulates_and_failed_calls_leave_nothing(engine: str) -> None:
    chain, contracts = fresh_chain("hello_world", engine=engine)
    hello = contracts["hello_world"]
    first = chain.invoke(hello, deposits=[(bytes(32), 3)], sender=ALICE, engine=engine)
    second = chain.invoke(hello, deposits=[(bytes(32), 4)], sender=ALICE, engine=engine)
    third = chain.invoke(hello, deposits=[(bytes(32), 3)], sender=ALICE, engine=engine)
    assert first.included and second.included and third.included
    assert [r.invoke.return_data for r in (first, second, third)] == [u64(3), u64(7), u64(10)]
    assert "Program log: balance: 10" in third.invoke.logs
    # Same number of digits, same gas; one more digit costs one more loop iteration
    # and one more log byte.
    assert first.invoke.gas_used == second.invoke.gas_used < third.invoke.gas_used
    # Too little gas: the contract runs out, nothing is kept (the deposit goes back).
    starved = chain.invoke(hello, deposits=[(bytes(32), 5)], gas_limit=300, sender=ALICE,
                           engine=engine)
    assert not starved.included
    assert starved.invoke.error.kind == "ExceededMaxInstructions"
    assert starved.invoke.gas_used == 300
    assert chain.balance(hello) == 10

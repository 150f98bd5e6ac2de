"""Helpers for the example-contract tests: scenario runs cached per engine, cross-engine
comparison, chains with the examples deployed, u64 packing.

A scenario (``tbpf.examples_report.SCENARIOS``) runs once per engine and process; every
test of an example reads the same run, so each contract is loaded (and JIT-compiled)
once per process.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

from tbpf.chain import Chain, dev_address
from tbpf.examples_report import STARTING_BALANCE, ScenarioRun, example_so, run_scenario
from tbpf.runtime import TBPFModule

ALICE = dev_address("alice")
BOB = dev_address("bob")
CAROL = dev_address("carol")
ZERO = bytes(32)
U64_MAX = (1 << 64) - 1


def u64(value: int) -> bytes:
    """8 little-endian bytes."""
    return struct.pack("<Q", value)


def u64s(data: bytes) -> list[int]:
    """Split bytes into little-endian u64s."""
    return [v for (v,) in struct.iter_unpack("<Q", data)]


def topic(name: str) -> bytes:
    """A 32-byte topic as the SDK's ``tos_topic`` makes it."""
    return name.encode().ljust(32, b"\0")


def events(result: Any) -> list[tuple[tuple[bytes, ...], bytes]]:
    """``(topics, data)`` of an invocation's events."""
    return [(tuple(e.topics), e.data) for e in result.events]


@functools.lru_cache(maxsize=None)
def scenario(name: str, engine: str) -> ScenarioRun:
    """The scenario of example ``name`` on ``engine`` (run once per process)."""
    return run_scenario(name, engine=engine)


def observable(run: ScenarioRun) -> list[tuple[Any, ...]]:
    """Everything a step shows the outside: exit, fault, gas, logs, events, return data."""
    out = []
    for r in run.results:
        inv = r.tx.invoke
        assert inv is not None, r.tx.error
        out.append((r.step.label, inv.exit_code, None if inv.error is None else inv.error.kind,
                    inv.gas_used, tuple(inv.logs),
                    tuple((e.contract, tuple(e.topics), e.data) for e in inv.events),
                    inv.return_data, r.tx.included))
    return out


def assert_same_on_engines(name: str, engine: str) -> None:
    """``engine``'s run of scenario ``name`` equals the interpreter's in every step and in
    the final state (gas included)."""
    reference = scenario(name, "interp")
    run = scenario(name, engine)
    assert run.problems() == [], run.problems()
    assert observable(run) == observable(reference)
    assert run.chain.provider.dump() == reference.chain.provider.dump()


def fresh_chain(*names: str, engine: str = "interp") -> tuple[Chain, dict[str, bytes]]:
    """An in-memory chain with alice and bob funded and the examples ``names`` deployed
    by alice; returns the chain and the contracts' addresses by name."""
    chain = Chain.in_memory()
    for account in (ALICE, BOB):
        assert chain.fund(account, STARTING_BALANCE).included
    contracts = {}
    for name in names:
        tx = chain.deploy(TBPFModule(example_so(name).read_bytes()), sender=ALICE)
        assert tx.included, tx.error
        contracts[name] = tx.deploy.contract_hash
    return chain, contracts

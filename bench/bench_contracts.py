"""Contract benchmarks: example contracts invoked through the chain, per engine and store.

Run: ``python3 -m pytest bench/bench_contracts.py --benchmark-only`` (no xdist).

Measured, for each engine (interp, jit) and each store (SQLite on disk with the
default ``synchronous=FULL``, and in memory):

* ``token_transfer``: ``examples/token`` ``transfer`` of 1 unit, alice to bob;
* ``nft_transfer``: ``examples/nft`` ``transfer`` of token #1, back and forth between
  alice and bob;
* ``amm_swap``: ``examples/amm`` ``swap`` of 1,000 units, alternately A for B and B for A
  (bob deposits the input asset with the call);
* ``token_transfer_block100``: 100 token transfers in one block (one commit), to show
  what batching saves;
* ``token_transfer`` also runs on SQLite with ``synchronous=NORMAL`` (store
  ``sqlite_normal``: WAL commits without an fsync each), the setting to compare with.

Each round is a whole transaction: a block with the invocation(s), executed on a child
overlay and committed to the store (``Chain.invoke`` / ``Chain.execute_block``), as a
node would run it. The contracts are loaded (and JIT-compiled) before timing. The
summary at the end (``bench/conftest.py``) prints **invocations per second = invocations
per round / median round time**, also stored in each benchmark's ``extra_info``
(``invocations_per_sec``), with the gas one invocation uses (equal on both engines).
Medians, because a few percent of rounds take several milliseconds more than the rest
(seen on both engines and stores); pytest-benchmark's OPS column is 1 / mean and
includes them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import pytest

from tbpf.chain import Chain, InvokeTx, dev_address
from tbpf.examples_report import run_scenario
from tbpf.runtime.params import encode_params

ENGINES = ["interp"] + (["jit"] if importlib.util.find_spec("llvmlite") is not None
                        and importlib.util.find_spec("jit.engine") is not None else [])
STORES = ["sqlite", "memory"]
ALICE = dev_address("alice")
BOB = dev_address("bob")


def _chain(store: str, tmp_path: Path) -> Chain:
    if store == "sqlite":
        return Chain.open(tmp_path / "state")
    if store == "sqlite_normal":
        return Chain.open(tmp_path / "state", synchronous="NORMAL")
    return Chain.in_memory()


def _record(benchmark, per_round: int, gas: int) -> None:  # type: ignore[no-untyped-def]
    median = benchmark.stats.stats.median
    benchmark.extra_info["invocations_per_round"] = per_round
    benchmark.extra_info["invocations_per_sec"] = per_round / median
    benchmark.extra_info["gas_per_invocation"] = gas


def _invoker(chain: Chain, contract: bytes, entry: str, engine: str) -> Callable[..., int]:
    def invoke(params: list[str], sender: bytes, deposits: list[tuple[bytes, int]] = ()) -> int:
        result = chain.invoke(contract, entry=entry, input=encode_params(params),
                              deposits=list(deposits), sender=sender, engine=engine)
        assert result.included, (result.error, result.invoke and result.invoke.logs)
        return result.invoke.gas_used
    return invoke


@pytest.mark.parametrize("store", STORES + ["sqlite_normal"])
@pytest.mark.parametrize("engine", ENGINES)
def test_token_transfer(benchmark, engine: str, store: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chain = _chain(store, tmp_path)
    run = run_scenario("token", engine=engine, chain=chain)
    transfer = _invoker(chain, run.contracts["token"], "transfer", engine)
    gas = transfer(["addr:bob", "u64:1"], ALICE)  # warm: loaded, compiled, bob exists
    benchmark(transfer, ["addr:bob", "u64:1"], ALICE)
    _record(benchmark, 1, gas)
    chain.close()


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("engine", ENGINES)
def test_nft_transfer(benchmark, engine: str, store: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chain = _chain(store, tmp_path)
    run = run_scenario("nft", engine=engine, chain=chain)
    transfer = _invoker(chain, run.contracts["nft"], "transfer", engine)
    # After the scenario carol owns #1 and alice #2: move #2 back and forth.
    holder = [ALICE]

    def step() -> int:
        sender = holder[0]
        receiver = BOB if sender == ALICE else ALICE
        gas = transfer([f"addr:{receiver.hex()}", "u64:2"], sender)
        holder[0] = receiver
        return gas

    gas = step()
    step()
    benchmark(step)
    _record(benchmark, 1, gas)
    chain.close()


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("engine", ENGINES)
def test_amm_swap(benchmark, engine: str, store: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chain = _chain(store, tmp_path)
    run = run_scenario("amm", engine=engine, chain=chain)
    a, b = (bytes.fromhex(run.values[k]) for k in ("asset_a", "asset_b"))
    swap = _invoker(chain, run.contracts["amm"], "swap", engine)
    direction = [a]

    def step() -> int:
        asset = direction[0]
        gas = swap(["u64:1"], BOB, [(asset, 1_000)])
        direction[0] = b if asset == a else a
        return gas

    gas = step()
    step()
    benchmark(step)
    _record(benchmark, 1, gas)
    chain.close()


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("engine", ENGINES)
def test_token_transfer_block100(benchmark, engine: str, store: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chain = _chain(store, tmp_path)
    run = run_scenario("token", engine=engine, chain=chain)
    token = run.contracts["token"]
    data = encode_params(["addr:bob", "u64:1"])

    def block() -> int:
        nonce = chain.nonce(ALICE)
        txs = [InvokeTx(ALICE, token, "transfer", data, 200_000, (), nonce + k)
               for k in range(100)]
        result = chain.execute_block(txs, engine=engine)
        assert all(r.included for r in result.results)
        return result.results[0].invoke.gas_used

    gas = block()
    benchmark(block)
    _record(benchmark, 100, gas)
    chain.close()

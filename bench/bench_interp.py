"""Interpreter throughput: guest instructions per second on three small loops.

Each benchmark loads, verifies and binds its program once and runs it once untimed, so
the timed rounds measure execution only (no assembling, verifying or handler binding).
The reported figure is ``instructions / median time``, in the ``extra_info`` of each
benchmark and in the summary printed by ``bench/conftest.py``.

Run with ``python3 -m pytest bench/bench_interp.py --benchmark-only`` (see README.md).
"""

from __future__ import annotations

import pytest

from tbpf.syscalls import solana_syscalls
from tbpf.vm import load_program, run_executable

ITERATIONS = 100_000

COUNTING_LOOP = f"""
    mov64 r0, 0
    mov64 r1, {ITERATIONS}
loop:
    add64 r0, 1
    jlt r0, r1, loop
    exit
"""

# Stores and loads of every size through r10 (the stack: gapped in v0) and the heap.
LOAD_STORE_LOOP = f"""
    lddw r9, 0x300000000
    mov64 r1, 0
    mov64 r0, 0
loop:
    stxdw [r10-8], r1
    ldxdw r2, [r10-8]
    stxw [r9+16], r2
    ldxh r3, [r9+16]
    stb [r10-24], 7
    ldxb r4, [r10-24]
    add64 r0, r3
    add64 r0, r4
    add64 r1, 1
    jlt r1, {ITERATIONS // 2}, loop
    exit
"""

CALL_LOOP = f"""
    mov64 r6, {ITERATIONS}
loop:
    call function_leaf
    add64 r6, -1
    jne r6, 0, loop
    exit
function_leaf:
    mov64 r0, 1
    exit
"""

WORKLOADS = {"counting_loop": COUNTING_LOOP, "load_store_loop": LOAD_STORE_LOOP,
             "call_loop": CALL_LOOP}


@pytest.mark.parametrize("version", ["v0", "v3"])
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_interpreter_throughput(benchmark, workload: str, version: str) -> None:
    syscalls = solana_syscalls()
    exe = load_program(WORKLOADS[workload], version=version, syscalls=syscalls)
    budget = 10 * ITERATIONS * 10

    def run():
        return run_executable(exe, engine="interp", budget=budget, syscalls=syscalls)

    warm = run()  # verify and bind outside the timed rounds
    assert warm.error is None, warm.error
    benchmark.group = "interp"
    outcome = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=0)
    assert outcome.error is None and outcome.compute_units == warm.compute_units
    median = benchmark.stats.stats.median
    benchmark.extra_info["instructions"] = outcome.compute_units
    benchmark.extra_info["insns_per_sec"] = round(outcome.compute_units / median)

"""Finding (tbpf fuzz --kind elf, seed 5): a first run waits for another program's O2.

With the JIT's default ``auto`` tier, a program run twice is recompiled at O2 on a
background thread. That compile holds the process-wide LLVM lock for the whole O2
pipeline and object emission, and every foreground tier-0 compile takes the same lock:
the first run of *any* other program waits until the background compile is done. With
``counter.so`` (6,400 instructions) hot, the first run of ``mov64 r0, 1; exit`` took
36 s on the CI machine (2 cores); the fuzzer reported it as a hang. A node that runs one
big contract repeatedly stalls every newly deployed contract this way.

Fixed: the optimized tier now compiles in a helper process (``jit.engine._Background``),
so the LLVM lock is held in this process only for the sub-millisecond link. Runs with
``--runslow``.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

SEED_FILE = Path(__file__).resolve().parents[3] / "shared" / "programs" / "solana" / "counter.so"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("jit.engine") is None, reason="no JIT"),
    pytest.mark.skipif(not SEED_FILE.exists(), reason="shared/programs is not beside the checkout"),
]


def test_a_first_run_is_not_blocked_by_a_background_tier_up():
    from jit.engine import JitConfig, JitEngine
    from tbpf.syscalls import solana_syscalls
    from tbpf.vm import load_program, run_executable
    syscalls = solana_syscalls()
    engine = JitEngine(JitConfig(tier="auto", cache_dir=None))
    big = load_program(SEED_FILE.read_bytes(), kind="elf", syscalls=syscalls)
    for _ in range(engine.config.tier_up_runs + 1):  # the last runs start the O2 compile
        run_executable(big, engine=engine, input=bytes(64), budget=1000, syscalls=syscalls)
    program = next(iter(engine.programs.values()))
    assert program.tier_up_started
    small = load_program("mov64 r0, 1\nexit", syscalls=syscalls)
    start = time.monotonic()
    out = run_executable(small, engine=engine, budget=10, syscalls=syscalls)
    waited = time.monotonic() - start
    assert out.result == 1
    assert waited < 5.0, f"first run of a 2-instruction program took {waited:.1f} s"

"""Helpers for behavioural VM tests: run on every engine, compare everything.

``run_both`` is TBPF's ``test_interpreter_and_jit!``: it runs a program on each engine
(the interpreter, the JIT as configured, and the JIT's optimized tier) with the same
inputs and asserts equal r0, error kind, error pc and details, compute units, final
registers and final memory (stack, heap, input). Memory after
``ExceededMaxInstructions`` is compared too: TBPF's JIT hands the unpayable tail of a
run to the interpreter, so even that is exact.
"""

from __future__ import annotations

from typing import Any

import tbpf
from tbpf.vm import Outcome, load_program, run_executable
from tbpf.syscalls import solana_syscalls

from conftest import ENGINES

_OPTIMIZED: Any = None


def optimized_jit() -> Any:
    """A JIT engine that compiles the optimized tier before the first run, so every
    ``run_both`` also checks the O2 code (the default engine starts on the fast tier)."""
    global _OPTIMIZED
    if _OPTIMIZED is None and "jit" in ENGINES:
        from jit.engine import JitConfig, JitEngine
        _OPTIMIZED = JitEngine(JitConfig(tier="optimized"))
    return _OPTIMIZED


def outcome_key(outcome: Outcome) -> dict[str, Any]:
    """Everything two engines must agree on."""
    err = outcome.error
    return {
        "result": outcome.result,
        "error": None if err is None else (err.kind, err.pc, err.details()),
        "compute_units": outcome.compute_units,
        "registers": outcome.registers,
        "memory": outcome.memory.snapshot() if outcome.memory is not None else None,
        "logs": outcome.logs,
        "syscalls": outcome.syscall_log,
    }


def run_both(program: Any, *, kind: str = "asm", version: str = "v0", input: bytes = b"",
             budget: int = 200_000, engines: list[str] | None = None, syscalls: Any = None,
             config: Any = None, **kwargs: Any) -> Outcome:
    """Run ``program`` on every engine; assert they agree; return the first outcome."""
    syscalls = solana_syscalls() if syscalls is None else syscalls
    exe = load_program(program, kind=kind, version=version, config=config, syscalls=syscalls)
    outcomes = []
    chosen: list[Any] = list(engines or ENGINES)
    if engines is None and optimized_jit() is not None:
        chosen.append(optimized_jit())
    for engine in chosen:
        outcomes.append(run_executable(exe, engine=engine, input=input, budget=budget,
                                       syscalls=syscalls, **kwargs))
    first = outcome_key(outcomes[0])
    for other in outcomes[1:]:
        key = outcome_key(other)
        for field, value in first.items():
            assert key[field] == value, (
                f"{other.engine} differs from {outcomes[0].engine} in {field}: "
                f"{key[field]!r} != {value!r}")
    return outcomes[0]


def result(program: str, **kwargs: Any) -> int | None:
    """r0 of ``program`` after checking both engines agree."""
    return run_both(program, **kwargs).result


__all__ = ["run_both", "result", "outcome_key", "tbpf"]

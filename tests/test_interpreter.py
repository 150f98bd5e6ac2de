"""Interpreter internals that have no JIT counterpart (so these tests are interp-only by
design): the machine cache, concurrent runs, per-run memory binding, the meter handed
back to the syscall context, and the big-endian host fallback of the aligned fast path.
Behaviour is tested on both engines everywhere else."""

from __future__ import annotations

import sys
import threading

import pytest

from interp.interpreter import Interpreter, handled_forms
from tbpf.syscalls import SyscallContext, solana_syscalls
from tbpf.vm import build_memory, initial_state, load_program, run_executable

LOAD_STORE = """
    lddw r9, 0x300000000
    lddw r2, 0x1122334455667788
    stxdw [r9+0], r2
    stxw [r9+9], r2
    stxh [r9+14], r2
    sth [r9+16], -2
    stw [r9+20], -3
    stdw [r9+24], -4
    stxdw [r10-8], r2
    stxdw [r10-4], r2
    ldxdw r3, [r9+0]
    ldxw r4, [r9+9]
    ldxh r5, [r9+14]
    ldxdw r6, [r10-8]
    ldxw r7, [r9+20]
    ldxdw r8, [r10-4]
    mov64 r0, r3
    xor64 r0, r4
    xor64 r0, r5
    xor64 r0, r6
    xor64 r0, r7
    xor64 r0, r8
    exit
"""


def test_big_endian_host_fallback_gives_identical_results(monkeypatch):
    exe = load_program(LOAD_STORE)
    native = run_executable(exe, engine=Interpreter())
    monkeypatch.setattr(sys, "byteorder", "big")
    emulated = run_executable(exe, engine=Interpreter())
    assert native.error is None
    assert (emulated.result, emulated.registers) == (native.result, native.registers)
    assert emulated.memory.snapshot() == native.memory.snapshot()


def test_bound_machine_is_reused_and_forgets_the_run_memory():
    engine = Interpreter()
    exe = load_program(LOAD_STORE)
    first = run_executable(exe, engine=engine)
    machine = next(iter(engine._cache.values()))
    assert machine.memory is None and all(v is None for v in machine.m_view)
    second = run_executable(exe, engine=engine)
    assert next(iter(engine._cache.values())) is machine
    assert first.memory is not second.memory
    assert first.memory.snapshot() == second.memory.snapshot()


def test_machine_is_shared_by_equal_registries_only():
    engine = Interpreter()
    exe = load_program("syscall probe\nexit")

    def registry(fn):
        reg = solana_syscalls().copy()
        reg.register("probe", fn)
        return reg

    def one(ctx, *args):
        return 1

    def two(ctx, *args):
        return 2

    assert run_executable(exe, engine=engine, syscalls=registry(one)).result == 1
    machine = next(iter(engine._cache.values()))
    assert run_executable(exe, engine=engine, syscalls=registry(one)).result == 1
    assert next(iter(engine._cache.values())) is machine  # a fresh but equal registry
    assert run_executable(exe, engine=engine, syscalls=registry(two)).result == 2
    assert next(iter(engine._cache.values())) is not machine


def test_cache_is_bounded():
    engine = Interpreter(cache_size=4)
    for n in range(10):
        assert run_executable(load_program(f"mov64 r0, {n}\nexit"), engine=engine).result == n
    assert len(engine._cache) <= 4


def test_concurrent_runs_of_one_program():
    engine = Interpreter()
    exe = load_program("ldxb r1, [r1+0]\nmov64 r0, 0\nloop:\nadd64 r0, 1\n"
                       "jlt r0, r1, loop\nexit")
    results: dict[int, int | None] = {}

    def worker(n: int) -> None:
        for _ in range(20):
            out = run_executable(exe, engine=engine, input=bytes([n]))
            assert out.result == n
        results[n] = out.result

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: n for n in range(1, 9)}


def test_the_meter_is_handed_back_to_the_syscall_context():
    exe = load_program("mov64 r0, 1\nmov64 r0, 2\nexit")
    memory = build_memory(exe)
    state = initial_state(exe, 10)
    ctx = SyscallContext(memory=memory, remaining=10)
    Interpreter().execute(exe, memory, state, ctx, solana_syscalls())
    assert state.remaining == ctx.remaining == 7


def test_handled_forms_is_a_copy():
    forms = handled_forms()
    forms.clear()
    assert handled_forms()


@pytest.mark.parametrize("version", ["v0", "v3"])
def test_memory_layout_not_matching_the_binding_takes_the_slow_path(version):
    """A program bound for a gapped stack (v0) run on a contiguous one, and vice versa,
    still gets exactly the memory rules of the map it runs on."""
    from tbpf.config import Config
    from tbpf.memory import MemoryMap, Region
    engine = Interpreter()
    exe = load_program("stb [r10+8], 5\nldxb r0, [r10+8]\nexit", version=version)
    default = build_memory(exe)
    gap = 0 if version == "v0" else 4096  # the opposite of what the binding expects
    regions = [r if r.name != "stack" else Region.zeroed("stack", r.vm_addr, r.length, True, gap)
               for r in default.iter_regions()]
    swapped = MemoryMap(regions, stack_frame_size=4096, max_call_depth=Config().max_call_depth,
                        fixed_frames=True)
    out = run_executable(exe, engine=engine, memory=swapped)
    if gap:   # now gapped: r10+8 is in the gap above frame 0
        assert (out.error.kind, out.error.pc) == ("StackAccessViolation", 0)
    else:     # now contiguous: r10+8 is frame 1
        assert out.error is None and out.result == 5

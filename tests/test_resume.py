"""Engines resume from any :class:`~tbpf.vm.VmState` (the JIT hands runs over to the
interpreter this way): a run cut into pieces by the budget ends exactly like one run."""

from __future__ import annotations

import pytest

from tbpf.errors import ProgramFault
from tbpf.syscalls import SyscallContext, solana_syscalls
from tbpf.vm import VmState, build_memory, get_engine, initial_state, load_program, run_executable

def run_in_slices(exe, engine, data: bytes, slice_units: int, total_budget: int):
    """Run ``exe`` with ``slice_units`` at a time, resuming from the state each slice
    leaves behind, until it stops for another reason than the budget."""
    syscalls = solana_syscalls()
    memory = build_memory(exe, data)
    state = initial_state(exe, 0)
    eng = get_engine(engine)
    left = total_budget
    while True:
        give = min(slice_units, left)
        state.remaining = give
        ctx = SyscallContext(memory=memory, remaining=give)
        try:
            result = eng.execute(exe, memory, state, ctx, syscalls)
            return result, None, total_budget - left + give - state.remaining, state, memory
        except ProgramFault as fault:
            used = give - state.remaining
            left -= used
            if fault.kind != "ExceededMaxInstructions" or left == 0:
                return None, fault, total_budget - left, state, memory


@pytest.mark.parametrize("slice_units", [1, 2, 3, 7, 50])
def test_sliced_run_equals_one_run(engine, slice_units):
    src = """
        mov64 r6, 0
        ldxb r7, [r1+0]
    loop:
        mov64 r1, r6
        call function_step
        add64 r6, 1
        jlt r6, r7, loop
        ldxdw r0, [r10-8]
        exit
    function_step:
        lddw r3, 0x300000000
        ldxdw r2, [r3+0]
        add64 r2, r1
        stxdw [r3+0], r2
        stxdw [r10-8], r2
        exit
    """
    exe = load_program(src)
    data = bytes([9])
    whole = run_executable(exe, engine=engine, input=data, budget=10_000)
    assert whole.error is None
    result, fault, used, state, memory = run_in_slices(exe, engine, data, slice_units, 10_000)
    assert fault is None
    assert result == whole.result
    assert used == whole.compute_units
    assert tuple(state.registers) == whole.registers
    assert memory.snapshot() == whole.memory.snapshot()


def test_sliced_run_reports_the_same_fault(engine):
    src = "mov64 r6, 3\ncall function_f\nexit\nfunction_f:\nadd64 r6, -1\njne r6, 0, +1\n" \
          "div64 r0, r6\ncall function_f\nexit"
    exe = load_program(src)
    whole = run_executable(exe, engine=engine, budget=1000)
    assert whole.error.kind == "DivideByZero"
    _result, fault, used, _state, _memory = run_in_slices(exe, engine, b"", 2, 1000)
    assert (fault.kind, fault.pc) == (whole.error.kind, whole.error.pc)
    assert used == whole.compute_units


def test_resume_inside_a_call_with_saved_frames(engine):
    exe = load_program("call function_f\nadd64 r0, 1\nexit\nfunction_f:\nmov64 r0, r6\nexit")
    memory = build_memory(exe)
    regs = initial_state(exe, 0).registers
    regs[10] += 8192  # inside function_f's frame
    saved = (42, 0, 0, 0, regs[10] - 8192, 1)  # r6..r10 of the caller, return to pc 1
    state = VmState(registers=regs, pc=3, frames=[saved], remaining=100)
    ctx = SyscallContext(memory=memory, remaining=100)
    result = get_engine(engine).execute(exe, memory, state, ctx, solana_syscalls())
    # function_f reads the callee's r6 (0), returns to pc 1 which adds 1
    assert result == 1
    assert state.registers[6] == 42 and state.frames == []
    assert state.remaining == 100 - 4


@pytest.mark.parametrize("pc", [3, 4, 1000])
def test_resume_outside_the_text_overruns_there(engine, pc):
    exe = load_program("mov64 r0, 1\nexit\nexit")  # 3 slots: pc 3 is the slot past the end
    memory = build_memory(exe)
    state = VmState(registers=initial_state(exe, 0).registers, pc=pc, remaining=10)
    ctx = SyscallContext(memory=memory, remaining=10)
    with pytest.raises(ProgramFault) as info:
        get_engine(engine).execute(exe, memory, state, ctx, solana_syscalls())
    assert (info.value.kind, info.value.pc) == ("ExecutionOverrun", pc)
    assert state.remaining == 9  # the missing slot is charged (SBPF_SPEC 5.2 step 2)


def test_resume_with_no_budget_left(engine):
    exe = load_program("mov64 r0, 1\nexit")
    memory = build_memory(exe)
    state = VmState(registers=initial_state(exe, 0).registers, pc=1, remaining=0)
    ctx = SyscallContext(memory=memory, remaining=0)
    with pytest.raises(ProgramFault) as info:
        get_engine(engine).execute(exe, memory, state, ctx, solana_syscalls())
    assert (info.value.kind, info.value.pc) == ("ExceededMaxInstructions", 1)


def test_huge_budgets_are_exact(engine):
    exe = load_program("mov64 r0, 5\nexit")
    for budget in (2**62 + 1, 2**64 - 1):
        out = run_executable(exe, engine=engine, budget=budget)
        assert out.result == 5 and out.compute_units == 2


@pytest.mark.parametrize("budget", [4, 5, 6, 23, 1000])
def test_interpreter_budget_chunks_are_seamless(monkeypatch, budget):
    """Interpreter-only: budgets above a chunk size run chunk by chunk; shrink the chunk
    to check the seams (the JIT has no such chunks)."""
    import interp.interpreter as interpreter
    exe = load_program("mov64 r0, 0\nmov64 r1, 7\nloop:\nadd64 r0, 1\njlt r0, r1, loop\nexit")
    reference = run_executable(exe, engine="interp", budget=budget)
    monkeypatch.setattr(interpreter, "_CHUNK", 5)
    chunked = run_executable(exe, engine="interp", budget=budget)
    assert (chunked.result, chunked.compute_units, chunked.registers) == \
        (reference.result, reference.compute_units, reference.registers)
    assert (None if chunked.error is None else (chunked.error.kind, chunked.error.pc)) == \
        (None if reference.error is None else (reference.error.kind, reference.error.pc))
    assert reference.compute_units == min(budget, 17)

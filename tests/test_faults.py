"""Every runtime fault kind with its pc, compute units and payload (SBPF_SPEC 4.4, 5.2, 6).

One table row per situation; every row runs on every engine (``run_both``), which also
checks that both report the same memory and registers. ``test_every_fault_kind_is_covered``
keeps the table honest against the error hierarchy.
"""

from __future__ import annotations

import pytest

from tbpf.errors import FaultCode, SyscallError, fault_class
from tbpf.syscalls import solana_syscalls

from vmtest import run_both

# (id, version, source, input, budget, kind, pc, compute units, details or None)
FAULTS = [
    # --- division ---------------------------------------------------------------------
    ("div64-reg-zero", "v0", "mov64 r0, 7\nmov64 r1, 0\ndiv64 r0, r1\nexit", b"", 100,
     "DivideByZero", 2, 3, ()),
    ("div32-reg-low-half-zero", "v0",
     "mov64 r0, 7\nmov64 r1, 1\nlsh64 r1, 32\ndiv32 r0, r1\nexit", b"", 100,
     "DivideByZero", 3, 4, ()),
    ("mod64-reg-zero", "v3", "mov64 r0, 7\nmov64 r1, 0\nmod64 r0, r1\nexit", b"", 100,
     "DivideByZero", 2, 3, ()),
    ("mod32-reg-zero", "v4", "mov64 r0, 7\nmov64 r1, 0\nmod32 r0, r1\nexit", b"", 100,
     "DivideByZero", 2, 3, ()),
    ("udiv32-reg-zero", "v2", "mov64 r1, 0\nudiv32 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("udiv64-reg-zero", "v2", "mov64 r1, 0\nudiv64 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("urem32-reg-zero", "v2", "mov64 r1, 0\nurem32 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("urem64-reg-zero", "v2", "mov64 r1, 0\nurem64 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("sdiv32-reg-zero", "v2", "mov64 r1, 0\nsdiv32 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("sdiv64-reg-zero", "v2", "mov64 r1, 0\nsdiv64 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("srem32-reg-zero", "v2", "mov64 r1, 0\nsrem32 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("srem64-reg-zero", "v2", "mov64 r1, 0\nsrem64 r0, r1\nexit", b"", 100,
     "DivideByZero", 1, 2, ()),
    ("sdiv64-min-by-minus-one-reg", "v2",
     "mov64 r0, 1\nlsh64 r0, 63\nmov64 r1, -1\nsdiv64 r0, r1\nexit", b"", 100,
     "DivideOverflow", 3, 4, ()),
    ("srem64-min-by-minus-one-imm", "v2", "mov64 r0, 1\nlsh64 r0, 63\nsrem64 r0, -1\nexit",
     b"", 100, "DivideOverflow", 2, 3, ()),
    ("sdiv32-min-by-minus-one-imm", "v2", "mov32 r0, 1\nlsh32 r0, 31\nsdiv32 r0, -1\nexit",
     b"", 100, "DivideOverflow", 2, 3, ()),
    ("srem32-min-by-minus-one-reg", "v2",
     "mov32 r0, 1\nlsh32 r0, 31\nmov64 r1, -1\nsrem32 r0, r1\nexit", b"", 100,
     "DivideOverflow", 3, 4, ()),
    # --- memory: every region name and stack frame numbers --------------------------------
    ("store-program", "v0", "lddw r1, 0x100000000\nstb [r1+0], 1\nexit", b"", 100,
     "AccessViolation", 2, 2, ("Store", 0x1_0000_0000, 1, "program")),
    ("store-past-stack-span-v1", "v1", "stxdw [r10-4], r1\nexit", b"", 100,
     "AccessViolation", 0, 1, ("Store", 0x2_0003_FFFC, 8, "stack")),
    ("load-v0-gap-past-frame-64", "v0", "lddw r1, 0x200041000\nldxw r0, [r1+0]\nexit", b"",
     100, "AccessViolation", 2, 2, ("Load", 0x2_0004_1000, 4, "stack")),
    ("load-past-heap", "v0", "lddw r1, 0x300007fff\nldxh r0, [r1+0]\nexit", b"", 100,
     "AccessViolation", 2, 2, ("Load", 0x3_0000_7FFF, 2, "heap")),
    ("load-past-input", "v3", "ldxw r0, [r1+2]\nexit", bytes(4), 100,
     "AccessViolation", 0, 1, ("Load", 0x4_0000_0002, 4, "input")),
    ("load-unmapped-index", "v0", "lddw r1, 0x700000000\nldxdw r0, [r1+0]\nexit", b"", 100,
     "AccessViolation", 2, 2, ("Load", 0x7_0000_0000, 8, "unallocated")),
    ("store-v3-rodata", "v3", "mov64 r1, 8\nstxh [r1+0], r1\nexit", b"", 100,
     "AccessViolation", 1, 2, ("Store", 8, 2, "allocated")),
    ("v0-frame-1", "v0", "stw [r10+8], 77\nexit", b"", 100,
     "StackAccessViolation", 0, 1, ("Store", 0x2_0000_1008, 4, 1)),
    ("v0-frame-0-below", "v0", "lddw r1, 0x1ffffffff\nldxb r0, [r1+0]\nexit", b"", 100,
     "StackAccessViolation", 2, 2, ("Load", 0x1_FFFF_FFFF, 1, 0)),
    ("v0-frame-minus-1", "v0", "lddw r1, 0x1ffffefff\nstb [r1+0], 0\nexit", b"", 100,
     "StackAccessViolation", 2, 2, ("Store", 0x1_FFFF_EFFF, 1, -1)),
    ("v0-frame-3-after-call", "v0",
     "call function_f\nexit\nfunction_f:\nldxdw r0, [r10+0]\nexit", b"", 100,
     "StackAccessViolation", 2, 2, ("Load", 0x2_0000_3000, 8, 3)),
    ("v4-frame-64", "v4", "lddw r1, 0x200040000\nstdw [r1+0], 0\nexit", b"", 100,
     "StackAccessViolation", 2, 2, ("Store", 0x2_0004_0000, 8, 64)),
    # --- control flow ---------------------------------------------------------------------
    ("call-depth", "v0", "function_f:\nmov64 r0, 1\ncall function_f\nexit", b"", 1000,
     "CallDepthExceeded", 1, 128, ()),
    ("budget-in-loop", "v0", "mov64 r0, 0\nloop:\nadd64 r0, 1\nja loop", b"", 10,
     "ExceededMaxInstructions", 2, 10, ()),
    ("budget-zero", "v0", "exit", b"", 0, "ExceededMaxInstructions", 0, 0, ()),
    ("budget-in-callee", "v0", "call function_f\nexit\nfunction_f:\nmov64 r0, 1\nexit",
     b"", 2, "ExceededMaxInstructions", 3, 2, ()),
    ("overrun-no-exit", "v0", "mov64 r0, 1\nmov64 r0, 2", b"", 100,
     "ExecutionOverrun", 2, 3, ()),
    ("overrun-after-lddw", "v0", "lddw r0, 1", b"", 100, "ExecutionOverrun", 2, 2, ()),
    ("callx-below-text", "v0", "mov64 r1, 16\ncallx r1\nexit", b"", 100,
     "CallOutsideTextSegment", 1, 2, ()),
    ("callx-past-text-v2", "v2", "mov64 r1, 1\nlsh64 r1, 32\nor64 r1, 0x28\ncallx r1\nexit",
     b"", 100, "CallOutsideTextSegment", 3, 4, ()),
    ("lddw-tail-via-callx", "v3", "mov64 r1, 1\nlsh64 r1, 32\nor64 r1, 0x28\ncallx r1\n"
     "lddw r0, 5\nexit", b"", 100, "UnsupportedInstruction", 5, 5, ()),
    ("unresolved-syscall", "v0", "mov64 r0, 1\nsyscall no_such_syscall\nexit", b"", 100,
     "UnsupportedInstruction", 1, 2, ()),
    ("unresolved-static-call", "v3", "call 100\nexit", b"", 100,
     "UnsupportedInstruction", 0, 1, ()),
]


def run_row(version, src, data, budget, **kwargs):
    return run_both(src, version=version, input=data, budget=budget, **kwargs)


@pytest.mark.parametrize("row", FAULTS, ids=[r[0] for r in FAULTS])
def test_fault(row):
    _id, version, src, data, budget, kind, pc, cu, details = row
    out = run_row(version, src, data, budget)
    assert out.error is not None, f"no fault, r0={out.result}"
    assert (out.error.kind, out.error.pc) == (kind, pc), out.error
    assert out.compute_units == cu
    assert out.result is None
    if details:
        assert out.error.details() == details


@pytest.mark.parametrize("row", [r for r in FAULTS if r[5] != "ExceededMaxInstructions"],
                         ids=[r[0] for r in FAULTS if r[5] != "ExceededMaxInstructions"])
def test_fault_counts_do_not_depend_on_a_larger_budget(row):
    _id, version, src, data, _budget, kind, pc, cu, _details = row
    out = run_row(version, src, data, 1_000_000)
    assert (out.error.kind, out.error.pc, out.compute_units) == (kind, pc, cu)


@pytest.mark.parametrize("row", [r for r in FAULTS if r[5] != "ExceededMaxInstructions"],
                         ids=[r[0] for r in FAULTS if r[5] != "ExceededMaxInstructions"])
def test_one_unit_short_stops_before_the_faulting_instruction(row):
    _id, version, src, data, _budget, _kind, _pc, cu, _details = row
    if cu == 0:
        pytest.skip("nothing ran")
    out = run_row(version, src, data, cu - 1)
    assert out.error.kind == "ExceededMaxInstructions"
    assert out.compute_units == cu - 1


def test_fault_messages_name_the_values():
    out = run_row("v0", "lddw r1, 0x300007fff\nldxh r0, [r1+0]\nexit", b"", 100)
    assert "0x300007fff" in str(out.error) and "heap" in str(out.error)
    assert "pc 2" in str(out.error)
    assert out.error.to_json() == {"kind": "AccessViolation", "pc": 2,
                                   "message": out.error.message}


# --- syscall errors ------------------------------------------------------------------------

def registry(**fns):
    reg = solana_syscalls().copy()
    for name, fn in fns.items():
        reg.register(name, fn)
    return reg


def test_syscall_abort():
    out = run_both("mov64 r0, 1\nsyscall abort\nexit", budget=100)
    assert (out.error.kind, out.error.pc, out.compute_units) == ("SyscallError", 1, 2)
    assert out.error.inner_kind == "Abort" and out.error.syscall == "abort"


def test_python_exception_inside_a_syscall_becomes_a_syscall_error():
    def broken(ctx, *args):
        raise ValueError("boom")

    out = run_both("mov64 r0, 1\nsyscall broken\nexit", syscalls=registry(broken=broken))
    assert (out.error.kind, out.error.pc, out.compute_units) == ("SyscallError", 1, 2)
    assert out.error.details() == ("HostError", "ValueError: boom", "broken")


def test_syscall_returning_a_non_integer_is_a_syscall_error():
    out = run_both("syscall bad\nexit", syscalls=registry(bad=lambda ctx, *a: "nope"))
    assert out.error.kind == "SyscallError" and out.error.inner_kind == "HostError"


def test_syscall_charges_before_failing_count():
    def charge_then_fail(ctx, *args):
        ctx.consume(40)
        raise SyscallError("InvalidLength", "bad")

    out = run_both("mov64 r0, 1\nsyscall f\nexit", syscalls=registry(f=charge_then_fail),
                   budget=1000)
    assert (out.error.kind, out.error.pc, out.compute_units) == ("SyscallError", 1, 42)
    assert out.error.inner_kind == "InvalidLength"


def test_computational_budget_exceeded_inside_a_syscall_uses_the_whole_budget():
    # sol_log_ charges max(100, len) before reading: with 50 units left it drains the meter.
    out = run_both("mov64 r2, 5\nsyscall sol_log_\nexit", input=b"hello", budget=50)
    assert (out.error.kind, out.error.pc) == ("SyscallError", 1)
    assert out.error.inner_kind == "ComputationalBudgetExceeded"
    assert out.compute_units == 50


def test_bad_pointer_inside_a_syscall():
    out = run_both("mov64 r1, 0\nmov64 r2, 5\nsyscall sol_log_\nexit", budget=1000)
    assert (out.error.kind, out.error.pc, out.compute_units) == ("SyscallError", 2, 103)
    assert out.error.inner_kind == "AccessViolation"


def test_syscall_panic():
    out = run_both("mov64 r2, 3\nmov64 r3, 7\nmov64 r4, 9\nsyscall sol_panic_\nexit",
                   input=b"lib", budget=1000)
    assert out.error.kind == "SyscallError" and out.error.inner_kind == "Panic"
    assert out.error.pc == 3 and out.compute_units == 4 + 3  # len(file) units


def test_fault_codes_map_one_to_one_onto_fault_classes():
    classes = [fault_class(code) for code in FaultCode]
    assert len(set(classes)) == len(FaultCode)
    assert all(cls.code is code for cls, code in zip(classes, FaultCode))


def test_every_fault_kind_is_covered():
    covered = {row[5] for row in FAULTS} | {"SyscallError"}
    every = {fault_class(code).kind for code in FaultCode}
    # InvalidInstruction needs an le/be with a width the verifier rejects: it cannot be
    # produced by a verified program (SBPF_SPEC 2.3), and engines only run verified code.
    assert every - covered == {"InvalidInstruction"}

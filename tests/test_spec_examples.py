"""The worked examples of SBPF_SPEC 5.2 and 9.3 and every row of Appendix A, verbatim.

Each row gives the program, version, input, budget and the expected result or fault with
its pc and compute units. As the appendix prescribes, rows that do not end in
``ExceededMaxInstructions`` also run with budget 1024 and must consume the same count.
Every run is on every engine (``run_both``).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tbpf.conformance import load_cases
from tbpf.syscalls import solana_syscalls

from vmtest import run_both

NOP = "add64 r10, 0"  # v0/v3/v4 assemble this to the no-op or64 r0, 0


def cost_free_syscalls():
    reg = solana_syscalls().copy()
    reg.register("test_nop", lambda ctx, *args: 0)
    return reg


def conformance_elf(case_id: str) -> bytes:
    """The ELF bytes of a reference conformance case (tests/conformance)."""
    path = Path(__file__).parent / "conformance" / "sbpf_execution.jsonl"
    case = next(c for c in load_cases(path) if c.id == case_id)
    return base64.b64decode(case.raw["program"])


def lines(*insns: str) -> str:
    return "\n".join(insns)


# (id, version, program, kind, input, budget, expected: int result or (kind, pc), cu)
ROWS = [
    # --- Appendix A ------------------------------------------------------------------------
    ("A1-v0", "v0", lines(NOP, "exit"), "asm", b"", 1, ("ExceededMaxInstructions", 1), 1),
    ("A1-v4", "v4", lines(NOP, "exit"), "asm", b"", 1, ("ExceededMaxInstructions", 1), 1),
    ("A2-budget-3", "v0", lines(NOP, "add r1, 0"), "asm", b"", 3, ("ExecutionOverrun", 2), 3),
    ("A2-budget-2", "v0", lines(NOP, "add r1, 0"), "asm", b"", 2,
     ("ExceededMaxInstructions", 2), 2),
    ("A2-budget-1", "v0", lines(NOP, "add r1, 0"), "asm", b"", 1,
     ("ExceededMaxInstructions", 1), 1),
    ("A3", "v0", lines(NOP, "mov64 r1, 0", "mov64 r2, 0", "div64 r1, r2", "mov64 r0, 0",
                       "exit"), "asm", b"", 3, ("ExceededMaxInstructions", 3), 3),
    ("A4", "v0", lines(NOP, "mov32 r0, 1", "mov32 r1, 0", "div r0, r1", "exit"), "asm", b"",
     4, ("DivideByZero", 3), 4),
    ("A5", "v0", lines(NOP, "mov64 r1, -1", "mov32 r0, r1", "exit"), "asm", b"", 4,
     0xFFFF_FFFF, 4),
    ("A6", "v0", lines(NOP, "lddw r0, 0x10000000c", "div32 r0, 4", "exit"), "asm", b"", 4,
     3, 4),
    ("A7", "v0", lines(NOP, "mov r0, 0", "mov r1, 0", "mov r2, 0", "lddw r0, 1", "ja +2",
                       "lddw r1, 1", "lddw r2, 1", "add r1, r2", "add r0, r1", "exit"),
     "asm", b"", 10, 2, 10),
    ("A8", "v0", lines(NOP, "mov r0, 0", "lddw r1, 1", "mov r2, 0", "exit"), "asm", b"", 3,
     ("ExceededMaxInstructions", 4), 3),
    ("A9-budget-6", "v0", lines(NOP, "mov64 r8, 1", "lsh64 r8, 32", "or64 r8, 0x30",
                                "callx r8", "lddw r0, 0x1122334455667788", "exit"),
     "asm", b"", 6, ("UnsupportedInstruction", 6), 6),
    ("A9-budget-5", "v0", lines(NOP, "mov64 r8, 1", "lsh64 r8, 32", "or64 r8, 0x30",
                                "callx r8", "lddw r0, 0x1122334455667788", "exit"),
     "asm", b"", 5, ("ExceededMaxInstructions", 6), 5),
    ("A10", "v0", lines(NOP, "mov64 r0, 3", "callx r0", "exit"), "asm", b"", 3,
     ("CallOutsideTextSegment", 2), 3),
    ("A11-high", "v0", lines(NOP, "lddw r0, 0x200000000", "callx r0", "exit"), "asm", b"", 3,
     ("CallOutsideTextSegment", 3), 3),
    ("A11-wrapped", "v0", lines(NOP, "lddw r0, 0xFFFFFFFFFFFFFFF8", "callx r0", "exit"),
     "asm", b"", 3, ("CallOutsideTextSegment", 3), 3),
    ("A12", "v0", lines(NOP, "mov64 r0, 1", "lsh64 r0, 32", "callx r0", "exit"), "asm", b"",
     4 * 64, ("CallDepthExceeded", 3), 4 * 64),
    ("A13", "v0", lines("a:", "exit", "entrypoint:", "call -2"), "asm", b"", 3,
     ("ExecutionOverrun", 2), 3),
    ("A14-v0", "v0", lines("stw [r10+8], 77", "call function_foo", "exit", "function_foo:",
                           "ldxdw r0, [r10-4088]", "exit"), "asm", b"", 1,
     ("StackAccessViolation", 0), 1),
    ("A14-v3", "v3", lines("stw [r10+8], 77", "call function_foo", "exit", "function_foo:",
                           "ldxdw r0, [r10-4088]", "exit"), "asm", b"", 5, 77, 5),
    ("A14-v4", "v4", lines("stw [r10+8], 77", "call function_foo", "exit", "function_foo:",
                           "ldxdw r0, [r10-4088]", "exit"), "asm", b"", 5, 77, 5),
    ("A15", "v0", lines(NOP, "ldxdw r0, [r1+6]", "exit"), "asm", bytes(12), 2,
     ("AccessViolation", 1), 2),
    ("A16", "v0", lines(NOP, "mov r1, 1", "mov r2, 2", "mov r3, 3", "mov r4, 4", "mov r5, 5",
                        "syscall Unresolved", "mov64 r0, 0", "exit"), "asm", b"", 7,
     ("UnsupportedInstruction", 6), 7),
    ("A17-budget-5", "v0", lines(NOP, "mov64 r2, 5", "syscall test_nop", "mov64 r0, 0",
                                 "exit"), "asm", b"", 5, 0, 5),
    ("A17-budget-4", "v0", lines(NOP, "mov64 r2, 5", "syscall test_nop", "mov64 r0, 0",
                                 "exit"), "asm", b"", 4, ("ExceededMaxInstructions", 4), 4),
    ("A18-v1", "v1", lines(NOP, "call function_foo", "exit", "function_foo:", NOP,
                           "mov r0, r10", "exit"), "asm", b"", 6, 0x2_0004_0000, 6),
    ("A19-elf", "v0", "sbpf/execution/test_relative_call_sbpfv0/0", "elf", bytes([1]), 16,
     3, 16),
    ("A20-elf", "v0", "sbpf/execution/test_callx_unaligned_text_section/0", "elf", b"", 129,
     ("CallDepthExceeded", None), 129),
    # --- SBPF_SPEC 9.3 -----------------------------------------------------------------------
    ("9.3-neg32", "v0", lines(NOP, "mov32 r0, 2", "neg32 r0", "exit"), "asm", b"", 4,
     0xFFFF_FFFE, 4),
    ("9.3-lddw", "v0", lines(NOP, "lddw r0, 0x1122334455667788", "exit"), "asm", b"", 3,
     0x1122_3344_5566_7788, 3),
    ("9.3-le32", "v0", lines(NOP, "ldxdw r0, [r1]", "le32 r0", "exit"), "asm",
     bytes.fromhex("1122334455667788"), 4, 0x4433_2211, 4),
    ("9.3-callx", "v0", lines(NOP, "mov64 r0, 0x0", "mov64 r8, 0x1", "lsh64 r8, 0x20",
                              "or64 r8, 0x38", "callx r8", "exit", "function_foo:",
                              "mov64 r0, 0x2A", "exit"), "asm", b"", 9, 42, 9),
    ("9.3-div32", "v0", lines(NOP, "mov32 r0, 1", "mov32 r1, 0", "div32 r0, r1", "exit"),
     "asm", b"", 4, ("DivideByZero", 3), 4),
    # --- SBPF_SPEC 5.2 worked counts (the others are A2, A9, A13 and 9.3-callx) --------------
    ("5.2-or64-no-exit", "v0", lines("or64 r0, 0", "add r1, 0"), "asm", b"", 3,
     ("ExecutionOverrun", 2), 3),
    ("5.2-or64-no-exit-short", "v0", lines("or64 r0, 0", "add r1, 0"), "asm", b"", 2,
     ("ExceededMaxInstructions", 2), 2),
]


def run_row(version, program, kind, data, budget):
    if kind == "elf":
        program = conformance_elf(program)
    return run_both(program, kind=kind, version=version, input=data, budget=budget,
                    syscalls=cost_free_syscalls())


def check(out, expected, cu):
    if isinstance(expected, tuple):
        kind, pc = expected
        assert out.error is not None, f"expected {kind}, got r0={out.result}"
        assert out.error.kind == kind, out.error
        if pc is not None:
            assert out.error.pc == pc
    else:
        assert out.error is None, out.error
        assert out.result == expected
    assert out.compute_units == cu


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_spec_row(row):
    _id, version, program, kind, data, budget, expected, cu = row
    check(run_row(version, program, kind, data, budget), expected, cu)


EXACT = [r for r in ROWS if not (isinstance(r[6], tuple) and r[6][0] == "ExceededMaxInstructions")]


@pytest.mark.parametrize("row", EXACT, ids=[r[0] for r in EXACT])
def test_spec_row_with_budget_1024(row):
    _id, version, program, kind, data, _budget, expected, cu = row
    check(run_row(version, program, kind, data, 1024), expected, cu)


def test_appendix_a_14_payload():
    out = run_row("v0", lines("stw [r10+8], 77", "exit"), "asm", b"", 1)
    assert out.error.details() == ("Store", 0x2_0000_1008, 4, 1)


def test_appendix_a_15_payload():
    out = run_row("v0", lines(NOP, "ldxdw r0, [r1+6]", "exit"), "asm", bytes(12), 2)
    assert out.error.details() == ("Load", 0x4_0000_0006, 8, "input")


@pytest.mark.parametrize("depth_in,budget,expected,cu", [
    (64, 5 * 64 - 2, 0, 5 * 64 - 2),
    (65, 4 * 64, ("CallDepthExceeded", None), 4 * 64),
], ids=["A21-depth-64", "A21-depth-65"])
def test_appendix_a_21_recursion(depth_in, budget, expected, cu):
    src = lines(NOP, "ldxb r1, [r1]", "add64 r1, -2", "call function_foo", "exit",
                "function_foo:", NOP, "jeq r1, 0, +2", "add64 r1, -1", "call function_foo",
                "exit")
    check(run_row("v0", src, "asm", bytes([depth_in]), budget), expected, cu)

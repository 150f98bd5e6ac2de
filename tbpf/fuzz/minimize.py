"""Delta debugging of a failing case: the smallest program and input that still fail.

Three passes over a text program (``program_kind == "raw"``), each keeping the program
verifiable and the failure present (``still_fails`` decides; it must reject a case the
verifier refuses):

1. *neutralise*: replace instructions by the no-op ``or64 r0, 0`` (an ``lddw`` by two),
   in chunks that halve down to single instructions (ddmin);
2. *remove*: delete no-op slots, fixing up every relative jump, every ``call`` target and
   the function registry so control flow is unchanged (a computed ``callx`` address
   cannot be fixed up: if it mattered, the failure disappears and the deletion is undone),
   after dropping the function registrations that no longer matter;
3. *input*: zero the input in chunks, then cut it shorter.

ELF cases are not minimized (their reproducer is the mutated file itself).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from ..errors import TBPFError
from ..isa import INSN_SIZE, Form, Insn, Op, decode_program, encode_slot
from ..verifier import verify
from .case import FuzzCase
from .smart import SpecIndex

__all__ = ["minimize", "neutralise", "delete_slots"]

Predicate = Callable[[FuzzCase], bool]


def _nop(case: FuzzCase) -> bytes:
    spec = SpecIndex(case.version).get(Op.OR, Form.ALU_IMM)
    return encode_slot(spec.opcode, 0, 0, 0, 0)


def neutralise(case: FuzzCase, pcs: Iterable[int]) -> FuzzCase:
    """``case`` with the instructions starting at ``pcs`` replaced by no-ops."""
    nop = _nop(case)
    text = bytearray(case.program)
    decoded = decode_program(case.program, case.version)
    for pc in pcs:
        insn = decoded[pc]
        slots = min(insn.size_slots if insn is not None else 1, len(decoded) - pc)
        for k in range(slots):
            text[(pc + k) * INSN_SIZE:(pc + k + 1) * INSN_SIZE] = nop
    return case.with_(program=bytes(text))


def delete_slots(case: FuzzCase, pcs: Iterable[int]) -> FuzzCase | None:
    """``case`` without the single-slot instructions at ``pcs``, with jumps, calls and
    function pcs moved so that every target keeps pointing at the same instruction (a
    deleted target becomes the instruction after it). ``None`` if impossible."""
    gone = sorted(set(pcs))
    if not gone:
        return case
    decoded = decode_program(case.program, case.version)
    n_slots = len(decoded)
    gone_set = set(gone)

    def new_pc(pc: int) -> int:
        # Slots before pc that were deleted.
        lo, hi = 0, len(gone)
        while lo < hi:
            mid = (lo + hi) // 2
            if gone[mid] < pc:
                lo = mid + 1
            else:
                hi = mid
        return pc - lo

    functions = set(case.function_pcs)
    out = bytearray()
    for insn in decoded:
        if insn is None:
            continue
        if insn.pc in gone_set:
            if insn.size_slots != 1:
                return None
            continue
        fixed = _retarget(insn, new_pc, functions, case)
        if fixed is None:
            return None
        out += fixed
    new_functions = tuple(sorted({new_pc(pc) for pc in case.function_pcs}))
    if 0 in new_functions or len(new_functions) != len(case.function_pcs) or not out:
        return None
    del n_slots
    return case.with_(program=bytes(out), function_pcs=new_functions)


def _retarget(insn: Insn, new_pc: Callable[[int], int], functions: set[int],
              case: FuzzCase) -> bytes | None:
    spec = insn.spec
    off, imm = insn.off, insn.imm
    if spec is not None:
        here = new_pc(insn.pc)
        if spec.is_jump:
            off = new_pc(insn.pc + 1 + insn.off) - here - 1
            if not -(1 << 15) <= off < (1 << 15):
                return None
        elif spec.form is Form.CALL_IMM:
            if spec.static_syscalls and insn.src == 1:
                imm = new_pc(insn.pc + 1 + insn.imm) - here - 1
            elif not spec.static_syscalls and insn.imm in functions:
                imm = new_pc(insn.imm)
    if spec is not None and spec.form is Form.LDDW:
        return Insn(insn.pc, insn.opc, insn.dst, insn.src, off, imm, spec).encode()
    return encode_slot(insn.opc, insn.dst, insn.src, off, imm)


def _verifies(case: FuzzCase) -> bool:
    try:
        verify(case.program, case.version)
    except TBPFError:
        return False
    return True


class _Budget:
    def __init__(self, max_trials: int, seconds: float | None,
                 on_trial: Callable[[], None] | None) -> None:
        self.left = max_trials
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.on_trial = on_trial
        self.trials = 0

    def spend(self) -> bool:
        if self.left <= 0 or (self.deadline is not None and time.monotonic() > self.deadline):
            return False
        self.left -= 1
        self.trials += 1
        if self.on_trial is not None:
            self.on_trial()
        return True


def _ddmin(case: FuzzCase, units_of: Callable[[FuzzCase], list[int]],
           apply: Callable[[FuzzCase, list[int]], FuzzCase | None],
           still_fails: Predicate, budget: _Budget) -> FuzzCase:
    """Apply ``apply`` to ever smaller chunks of ``units_of(case)`` while the failure
    persists (units are recomputed after every success: deleting slots renumbers them)."""
    n = 2
    units = units_of(case)
    while units:
        chunk = max(1, (len(units) + n - 1) // n)
        progress = False
        for start in range(0, len(units), chunk):
            subset = units[start:start + chunk]
            trial = apply(case, subset)
            if trial is None or not _verifies(trial):
                continue
            if not budget.spend():
                return case
            if still_fails(trial):
                case = trial
                units = units_of(case)
                n = max(2, n - 1)
                progress = True
                break
        if not progress:
            if chunk == 1:
                break
            n = min(len(units), n * 2)
    return case


def minimize(case: FuzzCase, still_fails: Predicate, *, max_trials: int = 600,
             seconds: float | None = 120.0,
             on_trial: Callable[[], None] | None = None) -> FuzzCase:
    """The smallest case found that ``still_fails`` (which must hold for ``case``).

    Args:
        case: a failing case.
        still_fails: re-runs a candidate and says whether it fails the same way.
        max_trials: most re-runs.
        seconds: wall-clock cap (the fuzzer's, not the guest's).
        on_trial: called before every re-run (the campaign's watchdog heartbeat).
    """
    if case.program_kind != "raw":
        return case
    budget = _Budget(max_trials, seconds, on_trial)
    nop = _nop(case)

    def live_pcs(c: FuzzCase) -> list[int]:
        return [i.pc for i in decode_program(c.program, c.version)
                if i is not None and c.program[i.pc * INSN_SIZE:(i.pc + 1) * INSN_SIZE] != nop]

    case = _ddmin(case, live_pcs, neutralise, still_fails, budget)

    def nop_pcs(c: FuzzCase) -> list[int]:
        return [pc for pc in range(c.num_slots)
                if c.program[pc * INSN_SIZE:(pc + 1) * INSN_SIZE] == nop]

    # Function registrations nothing calls any more.
    def drop_functions(c: FuzzCase, pcs: list[int]) -> FuzzCase:
        return c.with_(function_pcs=tuple(p for p in c.function_pcs if p not in pcs))

    case = _ddmin(case, lambda c: list(c.function_pcs), drop_functions, still_fails, budget)
    case = _ddmin(case, nop_pcs, delete_slots, still_fails, budget)

    def drop_registers(c: FuzzCase, indices: list[int]) -> FuzzCase:
        return c.with_(registers=tuple((i, v) for i, v in c.registers if i not in indices))

    case = _ddmin(case, lambda c: [i for i, _ in c.registers], drop_registers, still_fails,
                  budget)
    # Input: zero 8-byte chunks, then shorten.
    if case.input:
        def zero(c: FuzzCase, starts: list[int]) -> FuzzCase:
            data = bytearray(c.input)
            for s in starts:
                data[s:s + 8] = bytes(len(data[s:s + 8]))
            return c.with_(input=bytes(data))

        def nonzero_chunks(c: FuzzCase) -> list[int]:
            return [s for s in range(0, len(c.input), 8) if any(c.input[s:s + 8])]

        case = _ddmin(case, nonzero_chunks, zero, still_fails, budget)
        length = len(case.input)
        while length > 0:
            shorter = case.with_(input=case.input[:length // 2])
            if not budget.spend() or not still_fails(shorter):
                break
            case, length = shorter, length // 2
    return case

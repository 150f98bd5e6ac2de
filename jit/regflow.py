"""Which guest registers each compiled guest function really needs (optimized tier).

Every guest function is an LLVM function that receives r0..r10 as arguments and returns
r0..r5. Passing all eleven on every call is what made call-heavy code slow (most go on
the native stack). This analysis computes, per function ``f`` (register sets are 11-bit
masks):

* ``written(f)``: registers ``f`` may change before it exits, faults or hands over:
  its own definitions, r10 (a callee's r10 is never its caller's), the r0-r5 its callees
  return, everything a function that tail-calls ``f`` wrote (a tail call does not
  come back, so ``f`` reports those registers on its behalf), and everything a function
  that ``f`` tail-calls writes (that function returns to ``f``'s caller on ``f``'s
  behalf, so the caller must take those registers from the result).
* ``returned(f)``: ``written(f) & r0-r5``, the fields of the result a caller reads.
* ``needed(f)``: ``live-in(f) | written(f)``, the arguments ``f`` actually uses.
  Written registers are needed because when ``f`` stops (fault, hand-over, exit at
  depth 0) it stores exactly ``written(f)``; the values of the other registers are
  still those of its caller, which the caller reports in its frame record on the way
  out (see :mod:`jit.engine`, which rebuilds the full register file).

Liveness is the usual backward dataflow over the function's blocks; a call uses
``needed(callee)`` and defines ``returned(callee)``, a tail call uses ``needed(target)``,
``callx`` uses every register and defines r0-r5, a syscall uses r1-r5 and defines r0,
``exit`` uses ``returned(f)``. The three sets feed each other, so the whole program is
iterated to a fixed point (sets only grow; at most 11 bits each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tbpf.isa import Form, Insn, Op

__all__ = ["ALL_REGS", "RET_REGS", "R10_BIT", "RegisterSets", "analyze", "conservative",
           "bits"]

ALL_REGS = (1 << 11) - 1
RET_REGS = 0x3F            # r0..r5
R10_BIT = 1 << 10
_ARGS = 0x3E               # r1..r5


def bits(mask: int) -> list[int]:
    """Register numbers in ``mask``."""
    return [r for r in range(11) if mask >> r & 1]


@dataclass
class RegisterSets:
    """Per-function register masks (keys are function entry pcs)."""

    written: dict[int, int]
    returned: dict[int, int]
    needed: dict[int, int]


def conservative(functions: dict[int, list[int]]) -> RegisterSets:
    """Every function needs, writes and returns everything (the fast tier: no analysis)."""
    return RegisterSets(written={f: ALL_REGS for f in functions},
                        returned={f: RET_REGS for f in functions},
                        needed={f: ALL_REGS for f in functions})


def _static_use_def(insn: Insn) -> tuple[int, int]:
    """Uses and definitions of a non-call instruction."""
    spec = insn.spec
    assert spec is not None
    form = spec.form
    d, s = 1 << insn.dst, 1 << insn.src
    if form is Form.ALU_IMM:
        return (0 if spec.op is Op.MOV else d), d
    if form is Form.ALU_REG:
        return (s if spec.op is Op.MOV else d | s), d
    if form in (Form.NEG, Form.ENDIAN):
        return d, d
    if form is Form.LDDW:
        return 0, d
    if form is Form.LOAD:
        return s, d
    if form is Form.STORE_IMM:
        return d, 0
    if form is Form.STORE_REG:
        return d | s, 0
    if form is Form.JUMP_IMM:
        return d, 0
    if form is Form.JUMP_REG:
        return d | s, 0
    return 0, 0  # ja


def analyze(functions: dict[int, list[int]], blocks: dict[int, tuple[int, list[Insn]]],
            successors: Callable[[int], list[int]], entries: set[int],
            calls: dict[int, tuple[str, object]]) -> RegisterSets:
    """Fixed-point register sets of every compiled function (see the module docstring).

    Args:
        functions: entry pc -> its blocks' start pcs.
        blocks: block start -> (end, instructions).
        successors: block start -> successor block starts (jumps into other entries are
            tail calls).
        entries: every function entry pc.
        calls: pc -> resolution of each ``call imm`` (``"syscall"``, ``"call"``, ...).
    """
    tail_callers: dict[int, set[int]] = {f: set() for f in functions}
    callees: dict[int, set[int]] = {f: set() for f in functions}
    static_defs: dict[int, int] = {}
    for f, fblocks in functions.items():
        defs = R10_BIT
        for b in fblocks:
            if b not in blocks:
                continue
            for succ in successors(b):
                if succ != f and succ in entries and succ in tail_callers:
                    tail_callers[succ].add(f)
            for insn in blocks[b][1]:
                form = insn.spec.form  # type: ignore[union-attr]
                if form is Form.CALL_IMM:
                    kind, what = calls[insn.pc]
                    if kind == "syscall":
                        defs |= 1
                    elif kind == "call" and what in functions:
                        callees[f].add(what)  # type: ignore[arg-type]
                elif form is Form.CALL_REG:
                    defs |= RET_REGS
                else:
                    defs |= _static_use_def(insn)[1]
        static_defs[f] = defs

    tail_callees: dict[int, set[int]] = {f: set() for f in functions}
    for g, hs in tail_callers.items():
        for h in hs:
            tail_callees[h].add(g)
    written = {f: static_defs[f] for f in functions}
    needed = {f: written[f] for f in functions}
    changed = True
    while changed:
        changed = False
        for f in functions:
            w = static_defs[f]
            for g in callees[f]:
                w |= written[g] & RET_REGS
            for h in tail_callers[f]:
                w |= written[h]
            for g in tail_callees[f]:
                # A tail call does not come back: what g writes, f's caller sees as f's.
                w |= written[g]
            n = _live_in(f, functions[f], blocks, successors, entries, calls, written,
                         needed) | w
            if w != written[f] or n != needed[f]:
                written[f] = w
                needed[f] = n
                changed = True
    return RegisterSets(written=written,
                        returned={f: w & RET_REGS for f, w in written.items()},
                        needed=needed)


def _live_in(f: int, fblocks: list[int], blocks: dict[int, tuple[int, list[Insn]]],
             successors: Callable[[int], list[int]], entries: set[int],
             calls: dict[int, tuple[str, object]], written: dict[int, int],
             needed: dict[int, int]) -> int:
    returned = written[f] & RET_REGS
    live: dict[int, int] = {b: 0 for b in fblocks}
    members = set(fblocks)
    changed = True
    while changed:
        changed = False
        for b in reversed(fblocks):
            if b not in blocks:
                continue  # the overrun block uses nothing
            out = 0
            for succ in successors(b):
                if succ in members and (succ == f or succ not in entries):
                    out |= live.get(succ, 0)
                elif succ in needed:
                    out |= needed[succ]  # a tail call passes what the target needs
                else:
                    out |= ALL_REGS
            cur = out
            for insn in reversed(blocks[b][1]):
                form = insn.spec.form  # type: ignore[union-attr]
                if form is Form.CALL_IMM:
                    kind, what = calls[insn.pc]
                    if kind == "syscall":
                        cur = (cur & ~1) | _ARGS
                    elif kind == "call" and what in needed:
                        cur = (cur & ~written[what] & RET_REGS | cur & ~RET_REGS) \
                            | needed[what]  # type: ignore[index]
                    elif kind == "call":
                        cur = ALL_REGS
                elif form is Form.CALL_REG:
                    cur = ALL_REGS
                elif form is Form.EXIT:
                    cur = returned
                else:
                    use, define = _static_use_def(insn)
                    cur = (cur & ~define) | use
            if cur != live[b]:
                live[b] = cur
                changed = True
    return live[f] if f in live else ALL_REGS

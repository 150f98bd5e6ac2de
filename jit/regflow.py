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
* ``may_in(f)[b]``: registers ``f`` may have changed when block ``b`` starts (forward
  dataflow; at the entry nothing, or everything ``f`` reports for a function that is
  tail-called).
* ``needed(f)``: ``live-in(f)``, the arguments ``f`` actually uses. When ``f`` stops
  (fault, hand-over, exit at depth 0) or records its frame at a call it stores the
  registers it may have changed by then, :func:`site_mask`; the values of the other
  registers are still those of its caller, which the caller reports in its frame
  record on the way out (see :mod:`jit.engine`, which rebuilds the full register file).
  Every place where ``f`` may stop or record its frame therefore *uses* its site mask:
  a register changed on one path to it but not on another arrives as an argument.

Liveness is the usual backward dataflow over the function's blocks; a call uses
``needed(callee)`` and defines ``returned(callee)``, a tail call uses ``needed(target)``,
``callx`` uses every register and defines r0-r5, a syscall uses r1-r5 and defines r0,
``exit`` uses ``written(f)`` and every block start uses its site mask. That covers every
place inside a block where the function may stop too: what the block itself defined
before such a place is defined on every path to it, and the rest was already used at the
block start. The three sets feed each other, so the whole program is
iterated to a fixed point (sets only grow; at most 11 bits each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tbpf.isa import Form, Insn, Op

__all__ = ["ALL_REGS", "RET_REGS", "R10_BIT", "RegisterSets", "analyze", "conservative",
           "bits", "insn_defs", "site_mask"]

ALL_REGS = (1 << 11) - 1
RET_REGS = 0x3F            # r0..r5
R10_BIT = 1 << 10
_ARGS = 0x3E               # r1..r5


def site_mask(may: int, written: int) -> int:
    """What a function stores when it stops where it may have changed ``may``."""
    return (may & written) | R10_BIT


def bits(mask: int) -> list[int]:
    """Register numbers in ``mask``."""
    return [r for r in range(11) if mask >> r & 1]


@dataclass
class RegisterSets:
    """Per-function register masks (keys are function entry pcs)."""

    written: dict[int, int]
    returned: dict[int, int]
    needed: dict[int, int]
    may_in: dict[int, dict[int, int]]
    """Function entry -> block start -> registers possibly changed when it starts."""

    def block_may(self, f: int, block: int) -> int:
        """``may_in(f)[block]`` (everything for a block the analysis did not see)."""
        return self.may_in.get(f, {}).get(block, ALL_REGS)


def conservative(functions: dict[int, list[int]]) -> RegisterSets:
    """Every function needs, writes and returns everything (the fast tier: no analysis)."""
    return RegisterSets(written={f: ALL_REGS for f in functions},
                        returned={f: RET_REGS for f in functions},
                        needed={f: ALL_REGS for f in functions},
                        may_in={})


def insn_defs(insn: Insn, calls: dict[int, tuple[str, object]],
              written: dict[int, int]) -> int:
    """Registers ``insn`` changes when control continues after it (the lowering tracks
    its site masks with this same rule)."""
    form = insn.spec.form  # type: ignore[union-attr]
    if form is Form.CALL_IMM:
        kind, what = calls[insn.pc]
        if kind == "syscall":
            return 1
        if kind == "call" and what in written:
            return written[what] & RET_REGS  # type: ignore[index]
        return 0  # never continues
    if form is Form.CALL_REG:
        return RET_REGS
    return _static_use_def(insn)[1]


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
    # The least fixed point: start from nothing needed and grow (every set only grows).
    needed = {f: 0 for f in functions}
    may_in: dict[int, dict[int, int]] = {}
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
            if w != written[f]:
                written[f] = w
                changed = True
            # Entered by a tail call, f reports the jumping function's registers too.
            start = w if tail_callers[f] else 0
            may_in[f] = _may_in(f, start, functions[f], blocks, successors, entries, calls,
                                written)
            n = _live_in(f, functions[f], blocks, successors, entries, calls, written,
                         needed, may_in[f])
            if n != needed[f]:
                needed[f] = n
                changed = True
    return RegisterSets(written=written,
                        returned={f: w & RET_REGS for f, w in written.items()},
                        needed=needed, may_in=may_in)


def _may_in(f: int, start: int, fblocks: list[int],
            blocks: dict[int, tuple[int, list[Insn]]],
            successors: Callable[[int], list[int]], entries: set[int],
            calls: dict[int, tuple[str, object]], written: dict[int, int]) -> dict[int, int]:
    """Registers ``f`` may have changed at each block start (forward, union at joins)."""
    may = {b: 0 for b in fblocks}
    may[f] = start
    members = set(fblocks)
    changed = True
    while changed:
        changed = False
        for b in fblocks:
            if b not in blocks:
                continue
            out = may[b]
            for insn in blocks[b][1]:
                out |= insn_defs(insn, calls, written)
            for succ in successors(b):
                if succ in members and (succ == f or succ not in entries):
                    if may[succ] | out != may[succ]:
                        may[succ] |= out
                        changed = True
    return may


def _live_in(f: int, fblocks: list[int], blocks: dict[int, tuple[int, list[Insn]]],
             successors: Callable[[int], list[int]], entries: set[int],
             calls: dict[int, tuple[str, object]], written: dict[int, int],
             needed: dict[int, int], may_in: dict[int, int]) -> int:
    own = written[f]
    live: dict[int, int] = {b: 0 for b in fblocks}
    members = set(fblocks)
    changed = True
    while changed:
        changed = False
        for b in reversed(fblocks):
            if b not in blocks:
                # The overrun block only stops (ExecutionOverrun) with its site mask.
                cur = site_mask(may_in.get(b, ALL_REGS), own)
                if cur != live[b]:
                    live[b] = cur
                    changed = True
                continue
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
                    cur = own  # returns returned(f), or stops at depth 0 storing written(f)
                else:
                    use, define = _static_use_def(insn)
                    cur = (cur & ~define) | use
            # The meter check at the block start, and (see the module docstring) every
            # other place in the block where the function may stop.
            cur |= site_mask(may_in[b], own)
            if cur != live[b]:
                live[b] = cur
                changed = True
    return live[f] if f in live else ALL_REGS

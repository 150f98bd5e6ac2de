"""Guess which region each load/store will hit, so the JIT can test that region first.

A forward dataflow over one guest function tracks, for every register, the memory
region its value probably points into (an index 0..7, the ``vm_addr >> 32`` of the
region) or "unknown". Pointers come from the entry registers (r1 = input in the
program's entry function, r10 = stack everywhere), from ``lddw``/``mov`` constants, and
flow through copies and pointer arithmetic (``ptr +/- const``, ``ptr + unknown``).
Everything else is unknown; after a call, r0-r5 are unknown and r6-r10 keep their value.

The guess is only a hint: the lowering tests the guessed region with loop-invariant
loads of its row (which LLVM hoists out of loops) and falls back to the general
translation whenever the guess is wrong, so a wrong guess costs speed, never
correctness.
"""

from __future__ import annotations

from typing import Callable

from tbpf.isa import Form, Insn, Op
from tbpf.memory import REGION_INPUT, REGION_STACK

__all__ = ["UNKNOWN", "guess_regions"]

UNKNOWN = -1
_NUM_INDEXES = 8
State = tuple[int, ...]


def _meet(a: State, b: State) -> State:
    return tuple(x if x == y else UNKNOWN for x, y in zip(a, b))


def _region_of_constant(value: int) -> int:
    index = (value & ((1 << 64) - 1)) >> 32
    return index if index < _NUM_INDEXES else UNKNOWN


def _transfer(state: list[int], insn: Insn) -> None:
    spec = insn.spec
    assert spec is not None
    form, op, d, s = spec.form, spec.op, insn.dst, insn.src
    if form is Form.LDDW:
        state[d] = _region_of_constant(insn.imm)
    elif form is Form.ALU_IMM:
        if op is Op.MOV:
            state[d] = _region_of_constant(insn.imm) if spec.width == 64 else UNKNOWN
        elif not (op in (Op.ADD, Op.SUB) and spec.width == 64):
            state[d] = UNKNOWN
    elif form is Form.ALU_REG:
        if spec.width == 64 and op is Op.MOV:
            state[d] = state[s]
        elif spec.width == 64 and op is Op.ADD:
            a, b = state[d], state[s]
            state[d] = a if b == UNKNOWN else b if a == UNKNOWN else UNKNOWN
        elif not (spec.width == 64 and op is Op.SUB and state[s] == UNKNOWN):
            state[d] = UNKNOWN
    elif form in (Form.NEG, Form.ENDIAN, Form.LOAD):
        state[d] = UNKNOWN
    elif form in (Form.CALL_IMM, Form.CALL_REG):
        for r in range(6):
            state[r] = UNKNOWN


def guess_regions(entry: int, fblocks: list[int], blocks: dict[int, tuple[int, list[Insn]]],
                  successors: Callable[[int], list[int]], is_program_entry: bool) -> dict[int, int]:
    """pc of each load/store in the function -> its guessed region index (or UNKNOWN)."""
    init = [UNKNOWN] * 11
    init[10] = REGION_STACK
    if is_program_entry:
        init[1] = REGION_INPUT
    members = set(fblocks)
    states: dict[int, State] = {entry: tuple(init)}
    work = [entry]
    while work:
        b = work.pop()
        if b not in blocks:
            continue
        state = list(states[b])
        for insn in blocks[b][1]:
            _transfer(state, insn)
        out = tuple(state)
        for succ in successors(b):
            if succ not in members:
                continue
            old = states.get(succ)
            new = out if old is None else _meet(old, out)
            if new != old:
                states[succ] = new
                work.append(succ)
    guesses: dict[int, int] = {}
    for b, state_in in states.items():
        if b not in blocks:
            continue
        state = list(state_in)
        for insn in blocks[b][1]:
            form = insn.spec.form  # type: ignore[union-attr]
            if form is Form.LOAD:
                guesses[insn.pc] = state[insn.src]
            elif form in (Form.STORE_IMM, Form.STORE_REG):
                guesses[insn.pc] = state[insn.dst]
            _transfer(state, insn)
    return guesses

"""The *dumb* generator: random bytes as program text.

Most of these programs fail verification; the campaign counts those rejections and
compares only the programs the verifier accepts (like the reference's ``dumb_jit_diff``).
To get a useful share past the verifier, a slot's opcode byte is, with some probability,
drawn from the version's decode table instead of uniformly, and register fields are
drawn from ``0..10``; everything else (offsets, immediates, unused fields, the second
slot of ``lddw``) stays uniformly random.
"""

from __future__ import annotations

from ..config import DEFAULT_HEAP_SIZE
from ..isa import INSN_SIZE, decode_table, encode_slot
from ..versions import SBPFVersion
from .case import FuzzCase
from .chooser import Chooser

__all__ = ["generate_dumb"]


def generate_dumb(ch: Chooser, version: SBPFVersion | None = None, *, max_slots: int = 16,
                  versions: tuple[SBPFVersion, ...] = tuple(SBPFVersion)) -> FuzzCase:
    """Random text of 1..``max_slots`` slots (sometimes a ragged length), random input.

    Args:
        ch: the source of choices.
        version: the SBPF version (default: drawn from ``versions``).
        max_slots: most slots.
        versions: versions to draw from.
    """
    v = version if version is not None else ch.choice(versions)
    n = ch.integer(1, max_slots)
    style = ch.weighted([("bytes", 1), ("opcodes", 3)])
    if style == "bytes":
        text = ch.bytes(n * INSN_SIZE + (ch.integer(1, 7) if ch.chance(1, 20) else 0))
    else:
        valid = [s.opcode for s in decode_table(v) if s is not None]
        out = bytearray()
        for _ in range(n):
            opc = ch.choice(valid) if ch.chance(7, 8) else ch.integer(0, 255)
            dst = ch.integer(0, 10) if ch.chance(7, 8) else ch.integer(0, 15)
            src = ch.integer(0, 10) if ch.chance(7, 8) else ch.integer(0, 15)
            off = ch.integer(-3, n) if ch.chance(3, 4) else ch.integer(-(1 << 15), (1 << 15) - 1)
            imm = ch.integer(-(1 << 31), (1 << 31) - 1) if ch.chance(1, 2) else ch.integer(-8, 64)
            out += encode_slot(opc, dst, src, off, imm)
        text = bytes(out)
    budget = ch.weighted([(ch.integer(1, 32), 1), (1_000, 3)])
    return FuzzCase(kind="dumb", version=v, program=text, input=ch.bytes(ch.integer(0, 128)),
                    input_writable=not ch.chance(1, 10), budget=budget,
                    heap_size=DEFAULT_HEAP_SIZE)

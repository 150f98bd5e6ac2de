"""Structure-aware mutations of ELF files for the loader's hostile-input tests.

Every mutator takes a ``random.Random`` and the file and returns a new file. They know
just enough ELF to aim at the fields the loader reads (header, program and section
headers, dynamic entries, relocations, symbols, names, instructions) and otherwise flip
bits, truncate and extend. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import struct
from typing import Callable

from tbpf.isa import CALL_IMM_OPCODE, EXIT_OPCODE, LDDW_OPCODE, AluOp, InsnClass, JmpOp, Source

__all__ = ["mutate", "MUTATORS"]

Mutator = Callable[[random.Random, bytearray], bytearray]

_EHDR_FIELDS = [  # (offset, size) of every ELF header field the loader reads
    (4, 1), (5, 1), (6, 1), (7, 1), (8, 1), (9, 7), (16, 2), (18, 2), (20, 4), (24, 8),
    (32, 8), (40, 8), (48, 4), (52, 2), (54, 2), (56, 2), (58, 2), (60, 2), (62, 2)]
_PHDR_FIELDS = [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 8), (48, 8)]
_SHDR_FIELDS = [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 4), (44, 4),
                (48, 8), (56, 8)]
_SYM_FIELDS = [(0, 4), (4, 1), (6, 2), (8, 8), (16, 8)]
_FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}
_CALLX = InsnClass.JMP | JmpOp.CALL | Source.X
_NAMES = [b".text", b".rodata", b".bss", b".data", b".data.rel.ro", b".symtab", b".strtab",
          b".dynstr", b".eh_frame", b".dynamic", b".text.x", b".bss.x"]


def _u(data: bytearray, offset: int, size: int) -> int:
    if offset < 0 or offset + size > len(data):
        return 0
    return int.from_bytes(data[offset:offset + size], "little")


def _interesting(rng: random.Random, size: int, old: int, data: bytearray) -> int:
    bits = 8 * size if size <= 8 else 64
    top = (1 << bits) - 1
    n = len(data)
    choices = [0, 1, 2, 3, 7, 8, 9, 15, 16, 24, 56, 64, 0x100, 0x120, n, n - 1, n + 1, n - 8,
               n - 4, n // 2, top, top - 1, top - 7, top - n, 1 << (bits - 1),
               (1 << (bits - 1)) - 1, old + 1, old - 1, old + 8, old - 8, old * 2, old + n,
               old ^ (1 << rng.randrange(bits)), rng.getrandbits(bits),
               (1 << 32), (1 << 32) - 1, (1 << 33), 0x1_0000_0120]
    return rng.choice(choices) & top


def _set(data: bytearray, offset: int, size: int, value: int) -> None:
    if 0 <= offset and offset + size <= len(data):
        data[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _tables(data: bytearray) -> tuple[list[int], list[tuple[int, int, int, int, int, int]]]:
    """Offsets of program headers and ``(offset, type, sh_offset, sh_size, entsize, name)``
    of section headers, as far as they are inside the file."""
    phoff, phnum = _u(data, 32, 8), _u(data, 56, 2)
    phdrs = [phoff + 56 * i for i in range(min(phnum, 64)) if phoff + 56 * (i + 1) <= len(data)]
    shoff, shnum = _u(data, 40, 8), _u(data, 60, 2)
    shdrs = []
    for i in range(min(shnum, 256)):
        at = shoff + 64 * i
        if at + 64 > len(data):
            break
        shdrs.append((at, _u(data, at + 4, 4), _u(data, at + 24, 8), _u(data, at + 32, 8),
                      _u(data, at + 56, 8), _u(data, at, 4)))
    return phdrs, shdrs


def flip_bits(rng: random.Random, data: bytearray) -> bytearray:
    for _ in range(rng.randint(1, 8)):
        if data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    return data


def write_bytes(rng: random.Random, data: bytearray) -> bytearray:
    if data:
        i = rng.randrange(len(data))
        k = rng.choice([1, 2, 4, 8])
        _set(data, i, min(k, len(data) - i), rng.choice([0, 0xFF, 0x7F, 0x80, LDDW_OPCODE,
                                                         CALL_IMM_OPCODE, EXIT_OPCODE,
                                                         rng.getrandbits(64)]))
    return data


def truncate(rng: random.Random, data: bytearray) -> bytearray:
    n = len(data)
    cut = rng.choice([0, 1, 16, 51, 52, 63, 64, 100, rng.randrange(n + 1), n - 1, n - 8,
                      n - 16, n // 2])
    return data[:max(0, min(n, cut))]


def extend(rng: random.Random, data: bytearray) -> bytearray:
    extra = rng.choice([1, 7, 8, 64, 512])
    return data + bytes(rng.getrandbits(8) for _ in range(extra))


def header_field(rng: random.Random, data: bytearray) -> bytearray:
    offset, size = rng.choice(_EHDR_FIELDS)
    _set(data, offset, size, _interesting(rng, size, _u(data, offset, size), data))
    return data


def special_header(rng: random.Random, data: bytearray) -> bytearray:
    which = rng.randrange(3)
    if which == 0:
        _set(data, 48, 4, rng.choice([0, 1, 2, 3, 4, 5, 0x20, 0xFF]))      # e_flags
    elif which == 1:
        _set(data, 18, 2, rng.choice([0, 62, 247, 263, 0xFFFF]))           # e_machine
    else:
        _set(data, 16, 2, rng.choice([0, 1, 2, 3, 4]))                     # e_type
    return data


def phdr_field(rng: random.Random, data: bytearray) -> bytearray:
    phdrs, _ = _tables(data)
    if phdrs:
        base = rng.choice(phdrs)
        offset, size = rng.choice(_PHDR_FIELDS)
        if offset == 0 and rng.random() < 0.5:
            _set(data, base, 4, rng.choice([0, 1, 2, 6, 0x6474E551]))
        else:
            _set(data, base + offset, size,
                 _interesting(rng, size, _u(data, base + offset, size), data))
    return data


def shdr_field(rng: random.Random, data: bytearray) -> bytearray:
    _, shdrs = _tables(data)
    if shdrs:
        at = rng.choice(shdrs)[0]
        offset, size = rng.choice(_SHDR_FIELDS)
        if offset == 4 and rng.random() < 0.5:
            value = rng.choice([0, 1, 2, 3, 4, 6, 8, 9, 11, 14])
        elif offset == 8 and rng.random() < 0.5:
            value = rng.choice([0, 1, 2, 3, 4, 6, 7, 0x80000000])
        elif offset in (16, 24) and rng.random() < 0.3:
            # overlap another section or the header tables
            other = rng.choice(shdrs)
            value = other[2] + rng.choice([0, 8, -8, other[3]])
        else:
            value = _interesting(rng, size, _u(data, at + offset, size), data)
        _set(data, at + offset, size, value)
    return data


def _entries(data: bytearray, types: tuple[int, ...], entsize: int) -> list[int]:
    _, shdrs = _tables(data)
    out = []
    for _at, sh_type, sh_offset, sh_size, _ent, _name in shdrs:
        if sh_type in types and sh_offset + sh_size <= len(data):
            out.extend(sh_offset + entsize * i for i in range(min(sh_size // entsize, 4096)))
    return out


def dynamic_entry(rng: random.Random, data: bytearray) -> bytearray:
    entries = _entries(data, (6,), 16)
    if entries:
        at = rng.choice(entries)
        if rng.random() < 0.5:
            _set(data, at, 8, rng.choice([0, 5, 6, 10, 11, 17, 18, 19, 30, 34, 35, 1 << 63]))
        else:
            _set(data, at + 8, 8, _interesting(rng, 8, _u(data, at + 8, 8), data))
    return data


def relocation(rng: random.Random, data: bytearray) -> bytearray:
    entries = _entries(data, (9,), 16)
    if entries:
        at = rng.choice(entries)
        which = rng.randrange(4)
        old = _u(data, at, 8)
        if which == 0:  # r_offset: the second slot of an lddw, past the end, ...
            _set(data, at, 8, rng.choice([old + 8, old + 4, old - 8, len(data) - 4,
                                          len(data) - 12, len(data), 0,
                                          _interesting(rng, 8, old, data)]))
        elif which == 1:  # type
            _set(data, at + 8, 4, rng.choice([0, 1, 2, 3, 4, 8, 10, 11, 0xFFFFFFFF]))
        elif which == 2:  # symbol index
            _set(data, at + 12, 4, rng.choice([0, 1, 2, 3, 100, 0xFFFFFFFF]))
        else:  # duplicate another entry
            other = rng.choice(entries)
            data[at:at + 16] = data[other:other + 16]
    return data


def symbol(rng: random.Random, data: bytearray) -> bytearray:
    entries = _entries(data, (2, 11), 24)
    if entries:
        at = rng.choice(entries)
        offset, size = rng.choice(_SYM_FIELDS)
        if offset == 4 and rng.random() < 0.5:
            value = rng.choice([0, 1, 2, 3, 0x12, 0x22, 0xEF])
        else:
            value = _interesting(rng, size, _u(data, at + offset, size), data)
        _set(data, at + offset, size, value)
    return data


def names(rng: random.Random, data: bytearray) -> bytearray:
    _, shdrs = _tables(data)
    tables = [s for s in shdrs if s[1] == 3 and s[2] + s[3] <= len(data) and s[3] > 1]
    if tables:
        _at, _t, offset, size, _e, _n = rng.choice(tables)
        start = offset + rng.randrange(size)
        if rng.random() < 0.5:  # an unterminated run of name bytes
            run = rng.choice([16, 17, 64, 65, 255, 300])
            for i in range(start, min(start + run, offset + size)):
                data[i] = 0x41
        else:
            name = rng.choice(_NAMES) + b"\0"
            end = min(start + len(name), offset + size)
            data[start:end] = name[:end - start]
    return data


def instruction(rng: random.Random, data: bytearray) -> bytearray:
    _, shdrs = _tables(data)
    code = [s for s in shdrs if s[1] == 1 and s[3] >= 8 and s[2] + s[3] <= len(data)]
    if code:
        _at, _t, offset, size, _e, _n = rng.choice(code)
        slot = offset + 8 * rng.randrange(size // 8)
        opc = rng.choice([CALL_IMM_OPCODE, CALL_IMM_OPCODE, _CALLX, LDDW_OPCODE, EXIT_OPCODE,
                          InsnClass.JMP | JmpOp.JA, 0, InsnClass.ALU64 | AluOp.MOV | Source.X,
                          InsnClass.ALU64 | AluOp.ADD, InsnClass.ALU32 | AluOp.ADD,
                          InsnClass.JMP32 | JmpOp.JEQ, rng.getrandbits(8)])
        imm = rng.choice([-1, 0, 1, -2, 2, 0x7FFFFFFF, -0x80000000, rng.getrandbits(32),
                          0x207559BD])
        struct.pack_into("<BBhi", data, slot, opc, rng.getrandbits(8),
                         rng.choice([0, 1, -1, 2, 0x7FFF]),
                         imm if imm < 0x80000000 else imm - (1 << 32))
    return data


MUTATORS: list[Mutator] = [flip_bits, write_bytes, truncate, extend, header_field,
                           special_header, phdr_field, shdr_field, shdr_field, dynamic_entry,
                           relocation, relocation, symbol, names, instruction, instruction]


def mutate(rng: random.Random, data: bytes) -> tuple[bytes, list[str]]:
    """One to four mutations of ``data``; returns the file and the mutators used."""
    out = bytearray(data)
    used = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        mutator = rng.choice(MUTATORS)
        used.append(mutator.__name__)
        out = mutator(rng, out)
    return bytes(out), used

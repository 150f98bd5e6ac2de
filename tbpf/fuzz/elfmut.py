"""The *elf* generator: mutations of valid ELF files (and clang-built objects).

A case is one seed file with 1-4 mutations: bit flips and byte writes; interesting values
written into ELF header, program header and section header fields (0, 1, the file
size +-1, all ones, the sign bit, the old value +-1/+-8/x2...); corrupted symbols,
relocations and dynamic entries; rewritten ``.text`` instructions; truncation,
appended or inserted garbage; and other ``e_flags`` versions.

The campaign asserts the loader contract on each: :func:`tbpf.elf.load_elf` returns an
``Executable`` or raises an ``ELFError`` (never another exception, never its last-resort
net, never a hang), and a program that loads and verifies runs identically on both
engines.

Seeds: the ELF files under the corpus directories (default: the repository's
``shared/programs`` beside the checkout, ``tests/elfs`` and ``$TBPF_FUZZ_ELF_CORPUS``),
plus small C programs compiled with ``clang -target bpf -c`` when clang and the linker
are available.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..isa import INSN_SIZE, decode_table, encode_slot
from ..versions import SBPFVersion
from .case import FuzzCase
from .chooser import Chooser

__all__ = ["ElfSeed", "elf_loader_available", "default_corpus_dirs", "load_corpus",
           "clang_seeds", "mutate_elf", "LoaderUnavailable"]

_MAX_SEED_SIZE = 1 << 20
_ELF_MAGIC = b"\x7fELF"


class LoaderUnavailable(Exception):
    """``tbpf.elf`` is not present in this checkout (the elf kind cannot run)."""


def elf_loader_available() -> bool:
    """True if :mod:`tbpf.elf` exists."""
    return importlib.util.find_spec("tbpf.elf") is not None


def linker_available() -> bool:
    """True if relocatable objects can be loaded (:mod:`tbpf.linker` exists)."""
    return importlib.util.find_spec("tbpf.linker") is not None


@dataclass(frozen=True)
class ElfSeed:
    """A valid file to mutate."""

    name: str
    data: bytes

    @property
    def is_object(self) -> bool:
        """A relocatable object (``e_type == ET_REL``)."""
        return len(self.data) > 0x12 and struct.unpack_from("<H", self.data, 0x10)[0] == 1


def default_corpus_dirs() -> list[Path]:
    """Where seed files are looked for by default (only existing directories)."""
    root = Path(__file__).resolve().parents[2]
    dirs = [root.parent / "shared" / "programs", root / "tests" / "elfs"]
    env = os.environ.get("TBPF_FUZZ_ELF_CORPUS")
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    return [d for d in dirs if d.is_dir()]


def load_corpus(paths: list[Path]) -> list[ElfSeed]:
    """Every ELF file (``.so``, ``.o``, ``.elf``) under ``paths`` (files or directories),
    sorted by path for reproducibility."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += [f for f in p.rglob("*") if f.suffix in (".so", ".o", ".elf")
                      and f.is_file()]
        elif p.is_file():
            files.append(p)
    seeds = []
    for f in sorted(set(files)):
        data = f.read_bytes()
        if data[:4] == _ELF_MAGIC and len(data) <= _MAX_SEED_SIZE:
            seeds.append(ElfSeed(f.name, data))
    return seeds


_C_SEEDS = {
    "arith": """
unsigned long entrypoint(unsigned long *input) {
    unsigned long a = input[0], b = input[1];
    long s = (long)a / ((long)b | 1);
    return (a * 31 + b) ^ (a >> 7) ^ (unsigned long)s ^ (a % (b | 1));
}
""",
    "loop": """
static unsigned long table[8] = {1, 2, 3, 5, 8, 13, 21, 34};
unsigned long entrypoint(unsigned char *input) {
    unsigned long acc = 0;
    for (int i = 0; i < 16; i++) acc = acc * 131 + input[i] + table[i & 7];
    return acc;
}
""",
    "calls": """
static const char msg[] = "hello from clang";
__attribute__((noinline)) static unsigned long mix(unsigned long x, unsigned long y) {
    return (x << 3) ^ (y >> 2) ^ msg[x & 15];
}
unsigned long entrypoint(unsigned long *input) {
    unsigned long r = 0;
    for (int i = 0; i < 4; i++) r = mix(r + input[i], input[i + 1]);
    input[5] = r;
    return r;
}
""",
}


def clang_seeds(cache_dir: Path | None = None) -> list[ElfSeed]:
    """Small C programs compiled with ``clang -target bpf -O2 -c`` (relocatable objects).

    Empty if clang is not on PATH or :mod:`tbpf.linker` (which loads objects) is absent.
    Compiled once per cache directory (default: a per-user temporary directory).
    """
    clang = shutil.which("clang")
    if clang is None or not linker_available():
        return []
    cache = cache_dir or Path(tempfile.gettempdir()) / f"tbpf-fuzz-clang-{os.getuid()}"
    cache.mkdir(parents=True, exist_ok=True)
    seeds = []
    for name, source in sorted(_C_SEEDS.items()):
        digest = hashlib.sha256(source.encode()).hexdigest()[:12]
        obj = cache / f"{name}-{digest}.o"
        if not obj.exists():
            src = cache / f"{name}-{digest}.c"
            src.write_text(source)
            tmp = obj.with_suffix(".o.tmp")
            try:
                subprocess.run([clang, "-target", "bpf", "-O2", "-c", str(src), "-o", str(tmp)],
                               check=True, capture_output=True, timeout=60)
            except (subprocess.SubprocessError, OSError):
                continue
            tmp.replace(obj)
        seeds.append(ElfSeed(f"clang:{name}.o", obj.read_bytes()))
    return seeds


# --------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------

_EHDR_FIELDS = ((0x04, 1), (0x05, 1), (0x06, 1), (0x07, 1), (0x10, 2), (0x12, 2), (0x14, 4),
                (0x18, 8), (0x20, 8), (0x28, 8), (0x30, 4), (0x34, 2), (0x36, 2), (0x38, 2),
                (0x3A, 2), (0x3C, 2), (0x3E, 2))
_PHDR_FIELDS = ((0x00, 4), (0x04, 4), (0x08, 8), (0x10, 8), (0x18, 8), (0x20, 8), (0x28, 8),
                (0x30, 8))
_SHDR_FIELDS = ((0x00, 4), (0x04, 4), (0x08, 8), (0x10, 8), (0x18, 8), (0x20, 8), (0x28, 4),
                (0x2C, 4), (0x30, 8), (0x38, 8))
# Entry layouts by section type: SHT_SYMTAB/SHT_DYNSYM (24 bytes), SHT_REL (16),
# SHT_RELA (24), SHT_DYNAMIC (16).
_ENTRY_FIELDS = {
    2: (24, ((0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8))),
    11: (24, ((0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8))),
    9: (16, ((0, 8), (8, 4), (12, 4))),
    4: (24, ((0, 8), (8, 4), (12, 4), (16, 8))),
    6: (16, ((0, 8), (8, 8))),
}


@dataclass(frozen=True)
class _Layout:
    """Where the tables of a (valid) seed file are."""

    size: int
    phdrs: tuple[int, ...]
    shdrs: tuple[int, ...]
    sections: tuple[tuple[int, int, int], ...]  # (sh_type, offset, size)
    text: tuple[int, int] | None
    version: SBPFVersion


def _layout(data: bytes) -> _Layout:
    def u(fmt: str, off: int) -> int:
        try:
            return int(struct.unpack_from(fmt, data, off)[0])
        except struct.error:
            return 0

    phoff, shoff = u("<Q", 0x20), u("<Q", 0x28)
    phentsize, phnum = u("<H", 0x36), u("<H", 0x38)
    shentsize, shnum = u("<H", 0x3A), u("<H", 0x3C)
    phdrs = tuple(phoff + i * phentsize for i in range(phnum)
                  if phentsize and phoff + (i + 1) * phentsize <= len(data))
    shdrs = tuple(shoff + i * shentsize for i in range(shnum)
                  if shentsize and shoff + (i + 1) * shentsize <= len(data))
    sections = []
    text = None
    for sh in shdrs:
        sh_type, flags, off, size = u("<I", sh + 4), u("<Q", sh + 8), u("<Q", sh + 0x18), \
            u("<Q", sh + 0x20)
        if off + size <= len(data):
            sections.append((sh_type, off, size))
            if flags & 0x4 and sh_type == 1 and text is None and size >= INSN_SIZE:
                text = (off, size)
    flags = u("<I", 0x30)
    version = SBPFVersion(flags) if flags in SBPFVersion._value2member_map_ else SBPFVersion.V0
    return _Layout(len(data), phdrs, shdrs, tuple(sections), text, version)


def _interesting(ch: Chooser, old: int, width: int, file_size: int) -> int:
    mask = (1 << (8 * width)) - 1
    value = ch.choice((0, 1, 2, 3, 4, 7, 8, 0x10, 0x40, 0x38, 0x100, file_size, file_size - 1,
                       file_size + 1, file_size // 2, mask, mask >> 1, (mask >> 1) + 1,
                       old + 1, old - 1, old + 8, old - 8, old * 2, old ^ (1 << ch.below(8 * width)),
                       ch.integer(0, mask), 0x1_0000_0000, 0x1_0000_0000 - 1, 0x2_0000_0000))
    return value & mask


def _write(buf: bytearray, off: int, width: int, value: int) -> None:
    if 0 <= off and off + width <= len(buf):
        buf[off:off + width] = value.to_bytes(width, "little")


def _read(buf: bytearray, off: int, width: int) -> int:
    if 0 <= off and off + width <= len(buf):
        return int.from_bytes(buf[off:off + width], "little")
    return 0


def _mutate_once(ch: Chooser, buf: bytearray, lay: _Layout) -> str:
    """Apply one mutation in place; return its description."""
    what = ch.weighted([("flip", 3), ("byte", 2), ("ehdr", 4), ("phdr", 3), ("shdr", 4),
                        ("entry", 4), ("text", 4), ("truncate", 1), ("append", 1),
                        ("insert", 1), ("version", 1), ("strings", 1)])
    if not buf:
        buf += ch.bytes(ch.integer(1, 64))
        return "fill"
    if what == "flip":
        off = ch.below(len(buf)) if ch.chance(1, 2) else ch.below(min(len(buf), 0x40 + 64))
        bit = ch.below(8)
        buf[off] ^= 1 << bit
        return f"flip {off:#x}.{bit}"
    if what == "byte":
        off = ch.below(len(buf))
        buf[off] = ch.choice((0, 0xFF, 0x7F, 0x80, ch.integer(0, 255)))
        return f"byte {off:#x}"
    if what == "ehdr":
        off, width = ch.choice(_EHDR_FIELDS)
        _write(buf, off, width, _interesting(ch, _read(buf, off, width), width, len(buf)))
        return f"ehdr {off:#x}"
    if what == "phdr" and lay.phdrs:
        base = ch.choice(lay.phdrs)
        off, width = ch.choice(_PHDR_FIELDS)
        _write(buf, base + off, width,
               _interesting(ch, _read(buf, base + off, width), width, len(buf)))
        return f"phdr {base:#x}+{off:#x}"
    if what == "shdr" and lay.shdrs:
        base = ch.choice(lay.shdrs)
        off, width = ch.choice(_SHDR_FIELDS)
        _write(buf, base + off, width,
               _interesting(ch, _read(buf, base + off, width), width, len(buf)))
        return f"shdr {base:#x}+{off:#x}"
    if what == "entry":
        tables = [(t, o, s) for t, o, s in lay.sections if t in _ENTRY_FIELDS and s]
        if tables:
            sh_type, off, size = ch.choice(tables)
            entsize, fields = _ENTRY_FIELDS[sh_type]
            count = size // entsize
            if count:
                entry = off + entsize * ch.below(count)
                foff, width = ch.choice(fields)
                _write(buf, entry + foff, width,
                       _interesting(ch, _read(buf, entry + foff, width), width, len(buf)))
                return f"entry type {sh_type} {entry:#x}+{foff}"
    if what == "text" and lay.text is not None:
        off, size = lay.text
        slot = off + INSN_SIZE * ch.below(size // INSN_SIZE)
        how = ch.choice(("insn", "imm", "off", "regs"))
        if how == "insn":
            valid = [s.opcode for s in decode_table(lay.version) if s is not None]
            new = encode_slot(ch.choice(valid), ch.integer(0, 10), ch.integer(0, 10),
                              ch.integer(-8, 8), ch.integer(-(1 << 31), (1 << 31) - 1))
            if slot + INSN_SIZE <= len(buf):
                buf[slot:slot + INSN_SIZE] = new
        elif how == "imm":
            _write(buf, slot + 4, 4, _interesting(ch, _read(buf, slot + 4, 4), 4, len(buf)))
        elif how == "off":
            _write(buf, slot + 2, 2, _interesting(ch, _read(buf, slot + 2, 2), 2, len(buf)))
        else:
            value = ch.integer(0, 255)
            if slot + 1 < len(buf):
                buf[slot + 1] = value
        return f"text {slot:#x} {how}"
    if what == "truncate":
        cut = ch.below(len(buf)) if ch.chance(1, 2) else ch.below(min(len(buf), 0x200))
        del buf[cut:]
        return f"truncate {cut:#x}"
    if what == "append":
        buf += ch.bytes(ch.integer(1, 256))
        return "append"
    if what == "insert":
        at = ch.below(len(buf))
        buf[at:at] = ch.bytes(ch.choice((1, 4, 8, ch.integer(1, 64))))
        return f"insert {at:#x}"
    if what == "version":
        _write(buf, 0x30, 4, ch.choice((0, 1, 2, 3, 4, 5, 0x20, 0xFFFF_FFFF)))
        return "e_flags"
    strtabs = [(o, s) for t, o, s in lay.sections if t == 3 and s]
    if strtabs:
        off, size = ch.choice(strtabs)
        pos = off + ch.below(size)
        value = ch.choice((0, 0x2E, 0xFF, ch.integer(0x20, 0x7E)))
        if pos < len(buf):  # an earlier mutation may have cut the file
            buf[pos] = value
        return f"strings {pos:#x}"
    buf[ch.below(len(buf))] ^= 0xFF
    return "xor"


def mutate_elf(ch: Chooser, seeds: list[ElfSeed]) -> FuzzCase:
    """A mutated copy of one of ``seeds`` (1-4 mutations) with a random input.

    Raises:
        ValueError: ``seeds`` is empty.
    """
    if not seeds:
        raise ValueError("no ELF seed files")
    seed = ch.choice(seeds)
    lay = _layout(seed.data)
    buf = bytearray(seed.data)
    notes = [f"{seed.name}:"]
    for _ in range(ch.weighted([(1, 4), (2, 3), (3, 2), (4, 1)])):
        notes.append(_mutate_once(ch, buf, lay))
    version = SBPFVersion(lay.version)
    return FuzzCase(kind="elf", version=version, program=bytes(buf),
                    program_kind="obj" if seed.is_object else "elf",
                    input=ch.bytes(ch.choice((0, 8, 64, ch.integer(0, 512)))),
                    budget=ch.choice((1_000, 5_000, ch.integer(1, 200))), note=" ".join(notes))

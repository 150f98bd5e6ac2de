"""A linker for stock BPF toolchains: ``clang -target bpf -c`` objects to sBPF ELFs.

Upstream ``ld.lld`` has no BPF target, so a relocatable ``.o`` (``ET_REL``) from stock
clang cannot become a Solana-style ``.so`` without help. This module owns that step:

* it reads one or more ``.o`` files (hand-written, bounds-checked parsing: the input is
  untrusted; every problem is an :class:`~tbpf.errors.ELFError` subclass, usually
  :class:`~tbpf.errors.LinkError`);
* merges every executable section into one ``.text`` and every read-only data section
  (``.rodata*``, ``.data.rel.ro*``) into one ``.rodata``;
* resolves symbols across objects: a ``call`` (``R_BPF_64_32``) to a function no object
  defines becomes a syscall, keyed by ``murmur3(name)``; an internal call becomes a
  pc-relative ``call`` (``src=1``); ``R_BPF_64_64`` (``lddw`` of an address, addend in the
  immediate) and ``R_BPF_64_ABS64`` (pointers inside read-only data) become addresses in
  the program's address space;
* rejects what sBPF cannot run: writable data (``.data``, ``.bss``, common symbols:
  sBPF programs have no writable globals), 32-bit ALU instructions (eBPF zero-extends
  their results, sBPF sign-extends ``add32``/``sub32``/``mul32``; compile with
  ``-mcpu=v1`` or ``-mcpu=v2``), relocations it cannot express;
* writes an ELF the reference loader accepts: **v0** is an ``ET_DYN`` with
  ``.dynamic``/``.dynsym``/``.dynstr``/``.rel.dyn`` (``R_BPF_64_RELATIVE`` for addresses,
  ``R_BPF_64_32`` for syscalls), ``sh_addr == sh_offset`` for every section so that
  ``reject_broken_elfs`` holds; **v3** is the strict layout of SBPF_SPEC 8.8 (a read-only
  segment at ``0x0``, the bytecode at ``0x1_0000_0000``, static syscalls, no relocations).
  Both carry a ``.symtab`` with the function names for the disassembler.

The layouts and their rationale are in ``docs/elf.md``.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Sequence, Union

from .config import MAX_ELF_SIZE
from .elf import (
    DT_NULL, DT_REL, DT_RELENT, DT_RELSZ, DT_STRSZ, DT_STRTAB, DT_SYMENT, DT_SYMTAB,
    DT_TEXTREL, DYN, EHDR, EHDR_SIZE, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_BPF, EM_SBPF,
    ET_DYN, ET_REL, EV_CURRENT, PF_R, PF_X, PHDR, PHDR_SIZE, PT_DYNAMIC, PT_LOAD, R_BPF_64_32,
    R_BPF_64_64, R_BPF_64_ABS32, R_BPF_64_ABS64, R_BPF_64_NODYLD32, R_BPF_64_RELATIVE,
    R_BPF_NONE, REL, REL_SIZE, SHDR, SHDR_SIZE, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS,
    SHN_COMMON, SHN_UNDEF, SHT_DYNAMIC, SHT_DYNSYM, SHT_NOBITS, SHT_PROGBITS, SHT_REL,
    SHT_RELA, SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_NOTYPE,
    STT_OBJECT, STT_SECTION, SYM, SYM_SIZE, Shdr,
)
from .errors import (
    LinkError, UndefinedSymbolError, UnsupportedRelocationError,
    WritableSectionNotSupportedError, WrongMachineError,
)
from .hashing import symbol_hash
from .isa import CALL_IMM_OPCODE, INSN_SIZE, LDDW_OPCODE, AluOp, InsnClass, JmpOp, Source
from .memory import MM_BYTECODE_START, MM_REGION_SIZE, MM_RODATA_START
from .versions import SBPFVersion, parse_version

__all__ = ["link_objects", "ObjectInput", "CLANG_FLAGS", "ENTRY_SYMBOL"]

ObjectInput = Union[bytes, bytearray, memoryview, tuple[str, Union[bytes, bytearray, memoryview]]]
"""An object to link: its bytes, or ``(display name, bytes)``."""

CLANG_FLAGS = ("-target", "bpf", "-mcpu=v1", "-O2", "-ffreestanding", "-fno-builtin",
               "-fno-stack-protector", "-c")
"""The ``clang`` flags TBPF's tests and docs use to build objects for this linker.

``-mcpu=v1`` (or ``v2``) keeps clang from emitting 32-bit ALU instructions, whose
results eBPF zero-extends but sBPF sign-extends (``-mcpu=v3`` enables them)."""

ENTRY_SYMBOL = "entrypoint"
"""The function the program starts at, unless the caller names another."""

_SHF_EXCLUDE = 0x8000_0000
_SHN_LORESERVE = 0xFF00
_SHT_INIT_ARRAY, _SHT_FINI_ARRAY, _SHT_PREINIT_ARRAY = 14, 15, 16
_MAX_ALIGN = 4096
_CALLX_OPCODE = InsnClass.JMP | JmpOp.CALL | Source.X
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_M64 = (1 << 64) - 1
_RELOC_NAMES = {R_BPF_NONE: "R_BPF_NONE", R_BPF_64_64: "R_BPF_64_64",
                R_BPF_64_ABS64: "R_BPF_64_ABS64", R_BPF_64_ABS32: "R_BPF_64_ABS32",
                R_BPF_64_NODYLD32: "R_BPF_64_NODYLD32", R_BPF_64_32: "R_BPF_64_32"}


# --------------------------------------------------------------------------------------
# Reading relocatable objects
# --------------------------------------------------------------------------------------

@dataclass
class _Section:
    index: int
    name: str
    sh: Shdr
    data: bytes
    kind: str = "skip"   # "text", "rodata", "writable" or "skip"
    out_offset: int = 0  # offset inside the merged .text or .rodata


@dataclass
class _Symbol:
    index: int
    raw_name: bytes
    name: str
    info: int
    shndx: int
    value: int
    size: int

    @property
    def bind(self) -> int:
        return self.info >> 4

    @property
    def type(self) -> int:
        return self.info & 0xF


@dataclass
class _Object:
    label: str
    sections: list[_Section] = field(default_factory=list)
    symbols: list[_Symbol] = field(default_factory=list)
    # (target section index, [(r_offset, r_type, r_sym)])
    relocations: list[tuple[int, list[tuple[int, int, int]]]] = field(default_factory=list)


def _cstr(data: bytes, table: Shdr, offset: int, what: str, label: str) -> bytes:
    if table.sh_type != SHT_STRTAB:
        raise LinkError(f"{label}: {what}: string table is not SHT_STRTAB")
    end = table.sh_offset + table.sh_size
    start = table.sh_offset + offset
    if offset >= table.sh_size or end > len(data):
        raise LinkError(f"{label}: {what}: name offset {offset} outside its string table")
    nul = data.find(b"\0", start, end)
    if nul < 0:
        raise LinkError(f"{label}: {what}: unterminated name")
    return data[start:nul]


def _read_object(label: str, data: bytes) -> _Object:
    if len(data) < EHDR_SIZE or data[:4] != ELFMAG:
        raise LinkError(f"{label}: not an ELF file")
    (_mag, ei_class, ei_data, _ver, _abi, _abiv, _pad, e_type, e_machine, _e_version,
     _entry, _phoff, e_shoff, _flags, _ehsize, _phentsize, _phnum, e_shentsize, e_shnum,
     e_shstrndx) = EHDR.unpack_from(data, 0)
    if ei_class != ELFCLASS64 or ei_data != ELFDATA2LSB:
        raise LinkError(f"{label}: not a 64-bit little-endian ELF")
    if e_type != ET_REL:
        raise LinkError(f"{label}: not a relocatable object (e_type {e_type}); "
                        f"link the .o files of `clang -target bpf -c`")
    if e_machine not in (EM_BPF, EM_SBPF):
        raise WrongMachineError(f"{label}: e_machine {e_machine}, expected {EM_BPF} (BPF)")
    if e_shnum == 0 or e_shentsize != SHDR_SIZE:
        raise LinkError(f"{label}: no usable section header table")
    if e_shoff % 8 or e_shoff + e_shnum * SHDR_SIZE > len(data):
        raise LinkError(f"{label}: section header table outside the file")
    if e_shstrndx >= e_shnum:
        raise LinkError(f"{label}: section name table index {e_shstrndx} out of range")
    shdrs = [Shdr._make(t) for t in
             SHDR.iter_unpack(data[e_shoff:e_shoff + e_shnum * SHDR_SIZE])]
    shstrtab = shdrs[e_shstrndx]
    obj = _Object(label)
    for index, sh in enumerate(shdrs):
        name = _cstr(data, shstrtab, sh.sh_name, f"section #{index}", label).decode(
            "utf-8", errors="replace") if index else ""
        content = b""
        if sh.sh_type != SHT_NOBITS and index:
            if sh.sh_offset + sh.sh_size > len(data):
                raise LinkError(f"{label}: section {name} outside the file")
            content = data[sh.sh_offset:sh.sh_offset + sh.sh_size]
        obj.sections.append(_Section(index, name, sh, content))

    symtabs = [s for s in obj.sections if s.sh.sh_type == SHT_SYMTAB]
    if len(symtabs) > 1:
        raise LinkError(f"{label}: more than one symbol table")
    symtab_index = symtabs[0].index if symtabs else None
    if symtabs:
        table = symtabs[0]
        if len(table.data) % SYM_SIZE:
            raise LinkError(f"{label}: symbol table size is not a multiple of {SYM_SIZE}")
        if table.sh.sh_link >= e_shnum:
            raise LinkError(f"{label}: symbol table links to a missing string table")
        strtab = shdrs[table.sh.sh_link]
        for index, (st_name, st_info, _other, st_shndx, st_value, st_size) in \
                enumerate(SYM.iter_unpack(table.data)):
            raw = _cstr(data, strtab, st_name, f"symbol #{index}", label) if st_name else b""
            if index and st_shndx == 0xFFFF:
                raise LinkError(f"{label}: extended section indices are not supported")
            if 0 < st_shndx < _SHN_LORESERVE and st_shndx >= e_shnum:
                raise LinkError(f"{label}: symbol #{index} names a missing section")
            obj.symbols.append(_Symbol(index, raw, raw.decode("utf-8", errors="replace"),
                                       st_info, st_shndx, st_value, st_size))

    for sec in obj.sections:
        sh = sec.sh
        if sh.sh_type not in (SHT_REL, SHT_RELA):
            continue
        if sh.sh_info >= e_shnum:
            raise LinkError(f"{label}: relocation section {sec.name} targets a missing section")
        if sh.sh_type == SHT_RELA:
            obj.relocations.append((sh.sh_info, [(-1, -1, -1)]))  # checked when linking
            continue
        if sh.sh_link != symtab_index:
            raise LinkError(f"{label}: relocation section {sec.name} does not use the "
                            f"symbol table")
        if len(sec.data) % REL_SIZE:
            raise LinkError(f"{label}: relocation section {sec.name} has a partial entry")
        entries = [(r_offset, r_info & 0xFFFF_FFFF, r_info >> 32)
                   for r_offset, r_info in REL.iter_unpack(sec.data)]
        obj.relocations.append((sh.sh_info, entries))
    return obj


def _classify(obj: _Object) -> None:
    """Decide which sections are code, read-only data, writable data or ignored."""
    for sec in obj.sections:
        sh = sec.sh
        if sec.index == 0 or not sh.sh_flags & SHF_ALLOC or sh.sh_flags & _SHF_EXCLUDE:
            continue
        if sec.name.startswith(".eh_frame"):
            continue  # unwind tables: nothing in an sBPF program reads them
        if sh.sh_type in (_SHT_INIT_ARRAY, _SHT_FINI_ARRAY, _SHT_PREINIT_ARRAY):
            if sh.sh_size:
                raise LinkError(f"{obj.label}: {sec.name}: global constructors and "
                                f"destructors are not supported (no code runs before "
                                f"the entrypoint)")
            continue
        if sh.sh_type not in (SHT_PROGBITS, SHT_NOBITS):
            continue
        if sh.sh_flags & SHF_EXECINSTR:
            if sh.sh_type == SHT_NOBITS:
                raise LinkError(f"{obj.label}: {sec.name}: executable section without "
                                f"contents")
            sec.kind = "text"
        elif sh.sh_flags & SHF_WRITE and not sec.name.startswith(".data.rel.ro"):
            # .data.rel.ro is written only by relocation; everything else is real
            # writable data.
            sec.kind = "writable" if sh.sh_size else "skip"
        else:
            sec.kind = "rodata"
    for sec in obj.sections:
        if sec.kind == "writable":
            names = [s.name for s in obj.symbols
                     if s.shndx == sec.index and s.type != STT_SECTION and s.name]
            raise WritableSectionNotSupportedError(sec.name, _writable_hint(obj.label, names))
    common = [s.name for s in obj.symbols if s.shndx == SHN_COMMON]
    if common:
        raise WritableSectionNotSupportedError(".bss", _writable_hint(obj.label, common))


def _writable_hint(label: str, names: list[str]) -> str:
    what = (f"global {', '.join(f'`{n}`' for n in names[:5])}"
            + (" ..." if len(names) > 5 else "")) if names else "writable data"
    return (f"{label}: {what} is writable; sBPF programs have no writable globals "
            f"(make it `const`, or keep state in the input/account data or on the stack)")


# --------------------------------------------------------------------------------------
# Linking
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    """Where a symbol lives: ``segment`` is "text", "rodata" or "abs"."""

    segment: str
    offset: int


@dataclass
class _Layout:
    version: SBPFVersion
    text_size: int
    rodata_size: int
    text_vaddr: int       # what the ELF says (sh_addr / p_vaddr)
    rodata_vaddr: int
    text_file_offset: int
    rodata_file_offset: int
    n_phdrs: int

    def vm_address(self, target: _Target, addend: int) -> int:
        """The address the running program sees."""
        if target.segment == "abs":
            return (target.offset + addend) & _M64
        return (self.elf_address(target) + self._vm_bias(target) + addend) & _M64

    def elf_address(self, target: _Target) -> int:
        base = self.text_vaddr if target.segment == "text" else self.rodata_vaddr
        return base + target.offset

    def _vm_bias(self, target: _Target) -> int:
        # v0 maps the whole file image at 0x1_0000_0000 (text_vaddr = that + sh_addr);
        # v3 ELF addresses already are VM addresses.
        return MM_REGION_SIZE if self.version is SBPFVersion.V0 else 0


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


class _Linker:
    def __init__(self, objects: list[_Object], version: SBPFVersion, entry: str,
                 allow_alu32: bool, max_output_size: int) -> None:
        self.objects = objects
        self.version = version
        self.entry = entry
        self.allow_alu32 = allow_alu32
        self.max_output_size = max_output_size
        self.globals: dict[bytes, tuple[_Object, _Symbol]] = {}
        self.text = bytearray()
        self.rodata = bytearray()
        self.rodata_align = 8
        # v0 dynamic relocations: (segment, offset inside it, kind, payload)
        self.relative: list[tuple[str, int]] = []
        self.syscall_calls: list[tuple[int, bytes]] = []   # (text offset, name)
        self.function_calls: list[tuple[int, int]] = []    # (text offset, target offset)

    # --- layout -----------------------------------------------------------------------
    def place_sections(self) -> None:
        text_size = 0
        rodata_size = 8 if self.version is not SBPFVersion.V0 else 0  # v3: nothing at NULL
        for obj in self.objects:
            for sec in obj.sections:
                if sec.kind == "text":
                    if sec.sh.sh_size % INSN_SIZE:
                        raise LinkError(f"{obj.label}: {sec.name}: size {sec.sh.sh_size} is "
                                        f"not a multiple of {INSN_SIZE}")
                    sec.out_offset = text_size
                    text_size += sec.sh.sh_size
                elif sec.kind == "rodata":
                    align = sec.sh.sh_addralign or 1
                    if align & (align - 1) or align > _MAX_ALIGN:
                        raise LinkError(f"{obj.label}: {sec.name}: unsupported alignment "
                                        f"{align}")
                    self.rodata_align = max(self.rodata_align, align)
                    rodata_size = _align(rodata_size, align)
                    sec.out_offset = rodata_size
                    rodata_size += sec.sh.sh_size
                if text_size + rodata_size > self.max_output_size:
                    raise LinkError(f"the linked program would exceed "
                                    f"{self.max_output_size} bytes")
        if text_size == 0:
            raise LinkError("no code: the objects have no executable section")
        if rodata_size == 8 and self.version is not SBPFVersion.V0:
            rodata_size = 0  # only the NULL pad: no read-only segment at all
        self.text = bytearray(text_size)
        self.rodata = bytearray(rodata_size)
        for obj in self.objects:
            for sec in obj.sections:
                if sec.kind == "text":
                    self.text[sec.out_offset:sec.out_offset + len(sec.data)] = sec.data
                elif sec.kind == "rodata" and sec.sh.sh_type != SHT_NOBITS:
                    self.rodata[sec.out_offset:sec.out_offset + len(sec.data)] = sec.data

    def layout(self) -> _Layout:
        text_size, rodata_size = len(self.text), len(self.rodata)
        if self.version is SBPFVersion.V0:
            n_phdrs = 4 if rodata_size else 3
            text_off = EHDR_SIZE + PHDR_SIZE * n_phdrs
            rodata_off = _align(text_off + text_size, self.rodata_align)
            return _Layout(self.version, text_size, rodata_size, text_off, rodata_off,
                           text_off, rodata_off, n_phdrs)
        n_phdrs = 2 if rodata_size else 1
        rodata_off = EHDR_SIZE + PHDR_SIZE * n_phdrs
        padded = _align(rodata_size, INSN_SIZE)  # p_filesz must be a multiple of 8
        self.rodata.extend(bytes(padded - rodata_size))
        return _Layout(self.version, text_size, padded, MM_BYTECODE_START, MM_RODATA_START,
                       rodata_off + padded, rodata_off, n_phdrs)

    # --- symbols ----------------------------------------------------------------------
    def collect_globals(self) -> None:
        for obj in self.objects:
            for sym in obj.symbols[1:]:
                if sym.bind not in (STB_GLOBAL, STB_WEAK) or sym.shndx == SHN_UNDEF:
                    continue
                old = self.globals.get(sym.raw_name)
                if old is None or (old[1].bind == STB_WEAK and sym.bind == STB_GLOBAL):
                    self.globals[sym.raw_name] = (obj, sym)
                elif sym.bind == STB_GLOBAL and old[1].bind == STB_GLOBAL:
                    raise LinkError(f"symbol `{sym.name}` is defined in {old[0].label} and "
                                    f"in {obj.label}")

    def definition(self, obj: _Object, sym: _Symbol) -> tuple[_Object, _Symbol] | None:
        """The definition a reference to ``sym`` (from ``obj``) resolves to."""
        if sym.bind == STB_LOCAL and sym.shndx != SHN_UNDEF:
            return obj, sym
        found = self.globals.get(sym.raw_name)
        if found is not None:
            return found
        if sym.shndx != SHN_UNDEF:
            return obj, sym
        return None

    def target_of(self, obj: _Object, sym: _Symbol) -> _Target:
        """The place a defined symbol names (raises for symbols TBPF cannot place)."""
        if sym.shndx == SHN_ABS:
            return _Target("abs", sym.value)
        if sym.shndx == SHN_COMMON or sym.shndx >= len(obj.sections):
            raise LinkError(f"{obj.label}: symbol `{sym.name}` has no usable section")
        sec = obj.sections[sym.shndx]
        if sec.kind not in ("text", "rodata"):
            raise LinkError(f"{obj.label}: symbol `{sym.name or sec.name}` is in section "
                            f"{sec.name or '#' + str(sec.index)}, which is not linked "
                            f"(only code and read-only data are)")
        if sym.value > sec.sh.sh_size:
            raise LinkError(f"{obj.label}: symbol `{sym.name}` lies outside its section")
        return _Target(sec.kind, sec.out_offset + sym.value)

    def entry_offset(self) -> int:
        found = self.globals.get(self.entry.encode())
        if found is None:
            raise LinkError(f"no global function `{self.entry}` to start at (define "
                            f"`uint64_t {self.entry}(const uint8_t *input)`)")
        target = self.target_of(*found)
        if target.segment != "text" or target.offset % INSN_SIZE:
            raise LinkError(f"`{self.entry}` is not a function")
        return target.offset

    # --- relocation -------------------------------------------------------------------
    def relocate(self, layout: _Layout) -> None:
        for obj in self.objects:
            for target_index, entries in obj.relocations:
                sec = obj.sections[target_index]
                if sec.kind not in ("text", "rodata"):
                    continue  # debug info, BTF, unwind tables: not linked
                if entries and entries[0][0] == -1:
                    raise UnsupportedRelocationError(
                        -1, f"{obj.label}: RELA relocations for {sec.name} (clang -target "
                            f"bpf emits REL)")
                for r_offset, r_type, r_sym in entries:
                    self.apply(obj, sec, r_offset, r_type, r_sym, layout)

    def apply(self, obj: _Object, sec: _Section, r_offset: int, r_type: int, r_sym: int,
              layout: _Layout) -> None:
        where = f"{obj.label}: {sec.name}+{r_offset:#x}"
        if r_type == R_BPF_NONE:
            return
        if r_sym == 0 or r_sym >= len(obj.symbols):
            raise LinkError(f"{where}: relocation names symbol #{r_sym}, which does not exist")
        sym = obj.symbols[r_sym]
        name = sym.name or (obj.sections[sym.shndx].name
                            if 0 < sym.shndx < len(obj.sections) else f"#{r_sym}")
        if r_type == R_BPF_64_64:
            self.apply_lddw(obj, sec, r_offset, sym, name, where, layout)
        elif r_type == R_BPF_64_ABS64:
            self.apply_abs64(obj, sec, r_offset, sym, name, where, layout)
        elif r_type == R_BPF_64_32:
            self.apply_call(obj, sec, r_offset, sym, name, where)
        elif r_type in (R_BPF_64_ABS32, R_BPF_64_NODYLD32):
            raise UnsupportedRelocationError(
                r_type, f"{where}: {_RELOC_NAMES[r_type]} against `{name}`: a 32-bit "
                        f"address cannot hold an sBPF address")
        else:
            raise UnsupportedRelocationError(r_type, f"{where}: against `{name}`")

    def resolve(self, obj: _Object, sym: _Symbol, name: str, where: str) -> _Target:
        found = self.definition(obj, sym)
        if found is None:
            raise UndefinedSymbolError(name, f"{where}: only calls to undefined functions "
                                             f"can become syscalls")
        return self.target_of(*found)

    def apply_lddw(self, obj: _Object, sec: _Section, r_offset: int, sym: _Symbol,
                   name: str, where: str, layout: _Layout) -> None:
        if sec.kind != "text" or r_offset % INSN_SIZE or r_offset + 16 > sec.sh.sh_size:
            raise UnsupportedRelocationError(R_BPF_64_64, f"{where}: not on an lddw "
                                                          f"instruction")
        pos = sec.out_offset + r_offset
        if self.text[pos] != LDDW_OPCODE or self.text[pos + INSN_SIZE] != 0:
            raise UnsupportedRelocationError(R_BPF_64_64, f"{where}: not on an lddw "
                                                          f"instruction")
        target = self.resolve(obj, sym, name, where)
        # REL: the addend is the value already in the two immediates.
        addend = (_U32.unpack_from(self.text, pos + 4)[0]
                  | _U32.unpack_from(self.text, pos + 12)[0] << 32)
        value = layout.vm_address(target, addend)
        if layout.version is SBPFVersion.V0 and target.segment != "abs":
            elf_value = (layout.elf_address(target) + addend) & _M64
            if 0 < elf_value < MM_REGION_SIZE:
                # As the Solana toolchain does: the ELF address plus R_BPF_64_RELATIVE;
                # the loader adds 0x1_0000_0000.
                value = elf_value
                self.relative.append(("text", pos))
        _U32.pack_into(self.text, pos + 4, value & 0xFFFF_FFFF)
        _U32.pack_into(self.text, pos + 12, value >> 32)

    def apply_abs64(self, obj: _Object, sec: _Section, r_offset: int, sym: _Symbol,
                    name: str, where: str, layout: _Layout) -> None:
        if sec.kind != "rodata" or sec.sh.sh_type == SHT_NOBITS or \
                r_offset + 8 > sec.sh.sh_size:
            raise UnsupportedRelocationError(R_BPF_64_ABS64, f"{where}: 64-bit address "
                                                             f"outside read-only data")
        pos = sec.out_offset + r_offset
        target = self.resolve(obj, sym, name, where)
        addend = _U64.unpack_from(self.rodata, pos)[0]
        value = layout.vm_address(target, addend)
        if layout.version is SBPFVersion.V0 and target.segment != "abs":
            elf_value = (layout.elf_address(target) + addend) & _M64
            if 0 < elf_value < MM_REGION_SIZE:
                # The loader reads the upper word of a data pointer (an old toolchain
                # quirk it keeps) and stores 0x1_0000_0000 + that.
                value = elf_value << 32
                self.relative.append(("rodata", pos))
        _U64.pack_into(self.rodata, pos, value)

    def apply_call(self, obj: _Object, sec: _Section, r_offset: int, sym: _Symbol,
                   name: str, where: str) -> None:
        if sec.kind != "text" or r_offset % INSN_SIZE or r_offset + 8 > sec.sh.sh_size:
            raise UnsupportedRelocationError(R_BPF_64_32, f"{where}: not on a call "
                                                          f"instruction")
        pos = sec.out_offset + r_offset
        if self.text[pos] != CALL_IMM_OPCODE:
            raise UnsupportedRelocationError(R_BPF_64_32, f"{where}: not on a call "
                                                          f"instruction")
        found = self.definition(obj, sym)
        if found is None:
            self.syscall_calls.append((pos, sym.raw_name))
            if self.version is SBPFVersion.V0:
                _U32.pack_into(self.text, pos + 4, 0xFFFF_FFFF)  # the loader fills it in
            else:
                self.text[pos + 1] &= 0x0F  # src = 0: a static syscall
                _U32.pack_into(self.text, pos + 4, symbol_hash(sym.raw_name))
            return
        target = self.target_of(*found)
        if target.segment != "text":
            raise LinkError(f"{where}: call to `{name}`, which is not code")
        # LLVM's encoding: the immediate is (byte offset from the symbol) / 8 - 1.
        imm = _I32.unpack_from(self.text, pos + 4)[0]
        target_offset = target.offset + (imm + 1) * INSN_SIZE
        if not 0 <= target_offset < len(self.text) or target_offset % INSN_SIZE:
            raise LinkError(f"{where}: call to `{name}` lands outside the code")
        relative = (target_offset - pos) // INSN_SIZE - 1
        self.text[pos + 1] = (self.text[pos + 1] & 0x0F) | 0x10  # src = 1: internal call
        if relative == -1:
            # A call to its own slot: -1 means "unresolved" to the v0 loader.
            if self.version is not SBPFVersion.V0:
                raise LinkError(f"{where}: a call to its own instruction cannot be encoded")
            self.function_calls.append((pos, target_offset))
        _I32.pack_into(self.text, pos + 4, relative)

    # --- instruction checks -----------------------------------------------------------
    def check_code(self, function_names: list[tuple[int, str]]) -> None:
        starts = [off for off, _ in function_names]
        n = len(self.text) // INSN_SIZE
        i = 0
        while i < n:
            pos = i * INSN_SIZE
            opc = self.text[pos]
            if opc == LDDW_OPCODE:
                i += 2
                continue
            if (opc & 7 == InsnClass.ALU32 and opc & 0xF0 != AluOp.END
                    and not self.allow_alu32):
                k = bisect_right(starts, pos) - 1
                fn = f" in `{function_names[k][1]}`" if k >= 0 else ""
                raise LinkError(f"32-bit ALU instruction (opcode {opc:#04x}) at .text+"
                                f"{pos:#x}{fn}: eBPF zero-extends 32-bit results, sBPF "
                                f"sign-extends them; compile with -mcpu=v1 or -mcpu=v2, "
                                f"never -mcpu=v3 (or pass allow_alu32 if the code is "
                                f"written for sBPF semantics)")
            if opc == _CALLX_OPCODE:
                self.encode_callx(pos)
            i += 1

    def encode_callx(self, pos: int) -> None:
        """Put ``callx``'s register where the output version reads it.

        LLVM before 19 writes the register into ``imm`` (which is where v0 reads it);
        newer LLVM writes it into ``dst`` (where v3+ read it). Accept either.
        """
        imm = _I32.unpack_from(self.text, pos + 4)[0]
        dst = self.text[pos + 1] & 0x0F
        if imm and dst or not 0 <= imm <= 15:
            return  # not a form a compiler emits: leave it for the verifier to judge
        reg = imm or dst
        if self.version.callx_uses_dst_reg:
            self.text[pos + 1] = (self.text[pos + 1] & 0xF0) | reg
            _I32.pack_into(self.text, pos + 4, 0)
        else:
            self.text[pos + 1] &= 0xF0
            _I32.pack_into(self.text, pos + 4, reg)

    def symbols_for_output(self) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """``(functions, objects)``: ``(offset, name)`` in ``.text`` and ``.rodata``."""
        functions: dict[int, str] = {}
        objects: dict[int, str] = {}
        for obj in self.objects:
            for sym in obj.symbols[1:]:
                if not sym.name or sym.type not in (STT_FUNC, STT_OBJECT, STT_NOTYPE):
                    continue
                if not 0 < sym.shndx < len(obj.sections):
                    continue
                sec = obj.sections[sym.shndx]
                if sym.value >= sec.sh.sh_size:
                    continue
                offset = sec.out_offset + sym.value
                if sec.kind == "text" and sym.type == STT_FUNC and offset % INSN_SIZE == 0:
                    functions.setdefault(offset, sym.name)
                elif sec.kind == "rodata" and sym.type == STT_OBJECT:
                    objects.setdefault(offset, sym.name)
        return sorted(functions.items()), sorted(objects.items())


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------

class _StringTable:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self._index: dict[bytes, int] = {b"": 0}

    def add(self, name: bytes) -> int:
        if name not in self._index:
            self._index[name] = len(self.data)
            self.data += name + b"\0"
        return self._index[name]


@dataclass
class _OutSection:
    name: bytes
    sh_type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int = 0
    info: int = 0
    align: int = 1
    entsize: int = 0


def _sym(name: int, info: int, shndx: int, value: int, size: int = 0) -> bytes:
    return SYM.pack(name, info, 0, shndx, value, size)


def _symtab(functions: list[tuple[int, str]], objects: list[tuple[int, str]],
            function_base: int, object_base: int, text_index: int, rodata_index: int,
            entry_offset: int, entry: str) -> tuple[bytes, bytes, int]:
    """``.symtab`` and ``.strtab`` contents and the index of the first global."""
    strtab = _StringTable()
    locals_: list[bytes] = [bytes(SYM_SIZE)]
    globals_: list[bytes] = []
    for offset, name in functions:
        is_entry = offset == entry_offset and name == entry
        record = _sym(strtab.add(name.encode()),
                      ((STB_GLOBAL if is_entry else STB_LOCAL) << 4) | STT_FUNC,
                      text_index, function_base + offset)
        (globals_ if is_entry else locals_).append(record)
    for offset, name in objects:
        locals_.append(_sym(strtab.add(name.encode()), (STB_LOCAL << 4) | STT_OBJECT,
                            rodata_index, object_base + offset))
    return b"".join(locals_ + globals_), bytes(strtab.data), len(locals_)


class _Image:
    """An ELF file being assembled: section contents at chosen offsets."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.sections: list[_OutSection] = [_OutSection(b"", 0, 0, 0, 0, 0)]

    def place(self, offset: int, data: bytes | bytearray) -> int:
        if offset < len(self.buf):  # pragma: no cover - a layout bug
            raise LinkError("internal: overlapping output sections")
        self.buf.extend(bytes(offset - len(self.buf)))
        self.buf.extend(data)
        return offset

    def add_section(self, section: _OutSection) -> int:
        self.sections.append(section)
        return len(self.sections) - 1

    def finish(self, header: bytes, phdrs: list[bytes]) -> bytes:
        shstrtab = _StringTable()
        names = [shstrtab.add(s.name) for s in self.sections]
        shstr_name = shstrtab.add(b".shstrtab")
        shstr_offset = len(self.buf)
        self.buf.extend(shstrtab.data)
        self.sections.append(_OutSection(b".shstrtab", SHT_STRTAB, 0, 0, shstr_offset,
                                         len(shstrtab.data)))
        names.append(shstr_name)
        shoff = _align(len(self.buf), 8)
        self.buf.extend(bytes(shoff - len(self.buf)))
        for s, name in zip(self.sections, names):
            self.buf.extend(SHDR.pack(name, s.sh_type, s.flags, s.addr, s.offset, s.size,
                                      s.link, s.info, s.align, s.entsize))
        out = bytearray(self.buf)
        hdr = bytearray(header)
        # e_shoff, e_shnum, e_shstrndx are known only now.
        struct.pack_into("<Q", hdr, 40, shoff)
        struct.pack_into("<HH", hdr, 60, len(self.sections), len(self.sections) - 1)
        out[:EHDR_SIZE] = hdr
        ph = b"".join(phdrs)
        out[EHDR_SIZE:EHDR_SIZE + len(ph)] = ph
        return bytes(out)


def _header(version: SBPFVersion, entry: int, n_phdrs: int) -> bytes:
    return EHDR.pack(ELFMAG, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0, 0, bytes(7), ET_DYN,
                     EM_BPF, EV_CURRENT, entry, EHDR_SIZE, 0, int(version), EHDR_SIZE,
                     PHDR_SIZE, n_phdrs, SHDR_SIZE, 0, 0)


def _phdr(p_type: int, flags: int, offset: int, vaddr: int, size: int, align: int) -> bytes:
    return PHDR.pack(p_type, flags, offset, vaddr, vaddr, size, size, align)


def _write_v0(linker: _Linker, layout: _Layout, entry_offset: int) -> bytes:
    image = _Image()
    text_off = image.place(layout.text_file_offset, linker.text)
    text_index = image.add_section(_OutSection(b".text", SHT_PROGBITS,
                                               SHF_ALLOC | SHF_EXECINSTR, text_off, text_off,
                                               len(linker.text), align=INSN_SIZE))
    rodata_index = 0
    if linker.rodata:
        ro_off = image.place(layout.rodata_file_offset, linker.rodata)
        rodata_index = image.add_section(_OutSection(b".rodata", SHT_PROGBITS, SHF_ALLOC,
                                                     ro_off, ro_off, len(linker.rodata),
                                                     align=linker.rodata_align))

    # Dynamic symbols: the entrypoint, each syscall once, functions called from their
    # own slot (see _Linker.apply_call).
    dynstr = _StringTable()
    dynsyms = [bytes(SYM_SIZE),
               _sym(dynstr.add(linker.entry.encode()), (STB_GLOBAL << 4) | STT_FUNC,
                    text_index, layout.text_vaddr + entry_offset)]
    sym_index: dict[bytes, int] = {}
    rels: list[tuple[int, int, int]] = []  # (file offset, type, symbol)
    for segment, pos in linker.relative:
        base = layout.text_file_offset if segment == "text" else layout.rodata_file_offset
        rels.append((base + pos, R_BPF_64_RELATIVE, 0))
    for pos, name in linker.syscall_calls:
        if name not in sym_index:
            sym_index[name] = len(dynsyms)
            dynsyms.append(_sym(dynstr.add(name), (STB_GLOBAL << 4) | STT_NOTYPE,
                                SHN_UNDEF, 0))
        rels.append((layout.text_file_offset + pos, R_BPF_64_32, sym_index[name]))
    for pos, target in linker.function_calls:
        index = len(dynsyms)
        dynsyms.append(_sym(dynstr.add(f"function_{target // INSN_SIZE}".encode()),
                            (STB_GLOBAL << 4) | STT_FUNC, text_index,
                            layout.text_vaddr + target))
        rels.append((layout.text_file_offset + pos, R_BPF_64_32, index))
    rels.sort()

    # .dynamic, .dynsym, .dynstr, .rel.dyn follow the code and data, addresses = offsets.
    end = layout.rodata_file_offset + len(linker.rodata) if linker.rodata \
        else layout.text_file_offset + len(linker.text)
    n_dyn = 5 + (4 if rels else 0)
    dynamic_off = _align(end, 8)
    dynsym_off = dynamic_off + n_dyn * DYN.size
    dynstr_off = dynsym_off + len(dynsyms) * SYM_SIZE
    rel_off = _align(dynstr_off + len(dynstr.data), 8)
    tags = [(DT_SYMTAB, dynsym_off), (DT_SYMENT, SYM_SIZE), (DT_STRTAB, dynstr_off),
            (DT_STRSZ, len(dynstr.data))]
    if rels:
        tags = [(DT_REL, rel_off), (DT_RELSZ, len(rels) * REL_SIZE), (DT_RELENT, REL_SIZE),
                (DT_TEXTREL, 0)] + tags
    tags.append((DT_NULL, 0))
    dynamic = b"".join(DYN.pack(tag, value) for tag, value in tags)
    dynstr_index = len(image.sections) + 2
    dynsym_index = len(image.sections) + 1
    image.place(dynamic_off, dynamic)
    image.add_section(_OutSection(b".dynamic", SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE,
                                  dynamic_off, dynamic_off, len(dynamic), link=dynstr_index,
                                  align=8, entsize=DYN.size))
    image.place(dynsym_off, b"".join(dynsyms))
    image.add_section(_OutSection(b".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsym_off, dynsym_off,
                                  len(dynsyms) * SYM_SIZE, link=dynstr_index, info=2,
                                  align=8, entsize=SYM_SIZE))
    image.place(dynstr_off, dynstr.data)
    image.add_section(_OutSection(b".dynstr", SHT_STRTAB, SHF_ALLOC, dynstr_off, dynstr_off,
                                  len(dynstr.data)))
    alloc_end = dynstr_off + len(dynstr.data)
    if rels:
        rel_data = b"".join(REL.pack(offset, (sym << 32) | r_type)
                            for offset, r_type, sym in rels)
        image.place(rel_off, rel_data)
        image.add_section(_OutSection(b".rel.dyn", SHT_REL, SHF_ALLOC, rel_off, rel_off,
                                      len(rel_data), link=dynsym_index, align=8,
                                      entsize=REL_SIZE))
        alloc_end = rel_off + len(rel_data)

    functions, objects = linker.symbols_for_output()
    symtab, strtab, first_global = _symtab(functions, objects, layout.text_vaddr,
                                           layout.rodata_vaddr, text_index, rodata_index,
                                           entry_offset, linker.entry)
    symtab_off = image.place(_align(len(image.buf), 8), symtab)
    strtab_index = len(image.sections) + 1
    image.add_section(_OutSection(b".symtab", SHT_SYMTAB, 0, 0, symtab_off, len(symtab),
                                  link=strtab_index, info=first_global, align=8,
                                  entsize=SYM_SIZE))
    strtab_off = image.place(len(image.buf), strtab)
    image.add_section(_OutSection(b".strtab", SHT_STRTAB, 0, 0, strtab_off, len(strtab)))

    phdrs = [_phdr(PT_LOAD, PF_R | PF_X, text_off, text_off, len(linker.text), 8)]
    if linker.rodata:
        phdrs.append(_phdr(PT_LOAD, PF_R, layout.rodata_file_offset,
                           layout.rodata_file_offset, len(linker.rodata), 8))
    phdrs.append(_phdr(PT_LOAD, PF_R, dynamic_off, dynamic_off, alloc_end - dynamic_off, 8))
    phdrs.append(_phdr(PT_DYNAMIC, PF_R, dynamic_off, dynamic_off, len(dynamic), 8))
    assert len(phdrs) == layout.n_phdrs
    header = _header(SBPFVersion.V0, layout.text_vaddr + entry_offset, len(phdrs))
    return image.finish(header, phdrs)


def _write_v3(linker: _Linker, layout: _Layout, entry_offset: int) -> bytes:
    image = _Image()
    phdrs = []
    rodata_index = 0
    if linker.rodata:
        ro_off = image.place(layout.rodata_file_offset, linker.rodata)
        rodata_index = image.add_section(_OutSection(b".rodata", SHT_PROGBITS, SHF_ALLOC,
                                                     MM_RODATA_START, ro_off,
                                                     len(linker.rodata), align=8))
        phdrs.append(_phdr(PT_LOAD, PF_R, ro_off, MM_RODATA_START, len(linker.rodata), 8))
    text_off = image.place(layout.text_file_offset, linker.text)
    text_index = image.add_section(_OutSection(b".text", SHT_PROGBITS,
                                               SHF_ALLOC | SHF_EXECINSTR, MM_BYTECODE_START,
                                               text_off, len(linker.text), align=INSN_SIZE))
    phdrs.append(_phdr(PT_LOAD, PF_X, text_off, MM_BYTECODE_START, len(linker.text), 8))
    functions, objects = linker.symbols_for_output()
    symtab, strtab, first_global = _symtab(functions, objects, MM_BYTECODE_START,
                                           MM_RODATA_START, text_index, rodata_index,
                                           entry_offset, linker.entry)
    symtab_off = image.place(_align(len(image.buf), 8), symtab)
    strtab_index = len(image.sections) + 1
    image.add_section(_OutSection(b".symtab", SHT_SYMTAB, 0, 0, symtab_off, len(symtab),
                                  link=strtab_index, info=first_global, align=8,
                                  entsize=SYM_SIZE))
    strtab_off = image.place(len(image.buf), strtab)
    image.add_section(_OutSection(b".strtab", SHT_STRTAB, 0, 0, strtab_off, len(strtab)))
    assert len(phdrs) == layout.n_phdrs
    header = _header(linker.version, MM_BYTECODE_START + entry_offset, len(phdrs))
    return image.finish(header, phdrs)


def link_objects(objects: Sequence[ObjectInput], *,
                 version: "str | int | SBPFVersion" = SBPFVersion.V0,
                 entry: str = ENTRY_SYMBOL, allow_alu32: bool = False,
                 max_output_size: int = MAX_ELF_SIZE) -> bytes:
    """Link relocatable BPF objects into an sBPF ELF.

    Args:
        objects: the ``.o`` files (bytes, or ``(name, bytes)`` for messages).
        version: ``v0`` (dynamic relocations, the classic Solana layout) or ``v3`` (strict
            headers, static syscalls).
        entry: the global function execution starts at.
        allow_alu32: accept 32-bit ALU instructions (only for code written for sBPF's
            sign-extending semantics).
        max_output_size: refuse to produce more code plus read-only data than this.

    Returns:
        the ELF file's bytes; :func:`tbpf.load_elf` loads them.

    Raises:
        LinkError: unusable input (not a BPF object, undefined entry, duplicate symbols,
            32-bit ALU code, ...); :class:`~tbpf.errors.UndefinedSymbolError` and
            :class:`~tbpf.errors.UnsupportedRelocationError` are subclasses.
        WritableSectionNotSupportedError: the objects have writable data.
        WrongMachineError: an object is not for BPF.
    """
    v = parse_version(version)
    if v not in (SBPFVersion.V0, SBPFVersion.V3):
        raise LinkError(f"TBPF links for v0 or v3, not {v.label}")
    if not objects:
        raise LinkError("nothing to link")
    parsed: list[_Object] = []
    for n, item in enumerate(objects):
        if isinstance(item, tuple):
            label, raw = item
        else:
            label, raw = f"object #{n}", item
        data = memoryview(raw).tobytes()
        try:
            obj = _read_object(label, data)
        except (struct.error, IndexError, ValueError, OverflowError) as exc:
            raise LinkError(f"{label}: malformed object: {exc}") from exc
        _classify(obj)
        parsed.append(obj)
    linker = _Linker(parsed, v, entry, allow_alu32, max_output_size)
    linker.place_sections()
    linker.collect_globals()
    entry_offset = linker.entry_offset()
    layout = linker.layout()
    linker.relocate(layout)
    functions, _objects = linker.symbols_for_output()
    linker.check_code(functions)
    if v is SBPFVersion.V0:
        return _write_v0(linker, layout, entry_offset)
    return _write_v3(linker, layout, entry_offset)

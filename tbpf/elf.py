"""The sBPF ELF loader (SBPF_SPEC section 8): bytes in, :class:`Executable` out.

What this module owns:

* the ELF constants and record layouts every other TBPF module uses (the linker imports
  them from here);
* ``load_elf``: the size cap, the version from ``e_flags`` (8.1), the lenient parser of
  v0-v2 files with the reference's exact check order and error mapping (8.2), the
  semantic validation (8.3), relocation (8.4), the function registry (8.5), the entry
  point (8.6) and the read-only region (8.7); the strict loader of v3/v4 files (8.8);
  relocatable objects (``e_type == ET_REL``, ``clang -target bpf -c``) are linked in
  memory by :mod:`tbpf.linker` and then loaded like any ``.so``.

The parser is hand-written with :mod:`struct` rather than pyelftools because the
reference's error *order* is observable (which check fails first decides the error kind)
and every offset, size and count must be bounds-checked by TBPF anyway. Arithmetic that is
checked in the reference (``err_checked_add``) raises ``ValueOutOfBounds`` here when the
result leaves u64; arithmetic that saturates there saturates here. The file is never
trusted: no ``struct.error``, ``IndexError``, ``UnicodeError``, ``OverflowError`` or
``MemoryError`` escapes :func:`load_elf` (a last-resort net turns one into
``ValueOutOfBoundsError`` chained to the cause; the fuzz tests assert the net never fires).

This module must not import the engines.
"""

from __future__ import annotations

import struct
from typing import Iterator, NamedTuple

from .config import Config
from .errors import (
    ELFError, EntrypointOutOfBoundsError, FailedToParseError, InvalidEntrypointError,
    InvalidProgramHeaderError, InvalidVirtualAddressError, NotOneTextSectionError,
    ProgramTooLargeError, RelativeJumpOutOfBoundsError, SymbolHashCollisionError,
    UnknownRelocationError, UnknownSymbolError, UnresolvedSymbolError,
    UnsupportedSBPFVersionError, ValueOutOfBoundsError, WritableSectionNotSupportedError,
    WrongAbiError, WrongMachineError, WrongTypeError,
)
from .executable import ENTRYPOINT_KEY, ENTRYPOINT_NAME, Executable, FunctionRegistry
from .hashing import symbol_hash
from .isa import CALL_IMM_OPCODE, INSN_SIZE
from .memory import MM_BYTECODE_START, MM_REGION_SIZE, MM_RODATA_START, MM_STACK_START
from .syscalls import SyscallRegistry, solana_syscalls
from .versions import SBPFVersion

__all__ = [
    "load_elf", "sbpf_version_of", "is_relocatable_object",
    # constants shared with the linker
    "ELFMAG", "ELFCLASS64", "ELFDATA2LSB", "EV_CURRENT", "ELFOSABI_NONE",
    "ET_REL", "ET_DYN", "EM_BPF", "EM_SBPF",
    "PT_LOAD", "PT_DYNAMIC", "PF_X", "PF_W", "PF_R",
    "SHT_NULL", "SHT_PROGBITS", "SHT_SYMTAB", "SHT_STRTAB", "SHT_RELA", "SHT_DYNAMIC",
    "SHT_NOBITS", "SHT_REL", "SHT_DYNSYM",
    "SHF_WRITE", "SHF_ALLOC", "SHF_EXECINSTR",
    "STT_NOTYPE", "STT_OBJECT", "STT_FUNC", "STT_SECTION", "STB_LOCAL", "STB_GLOBAL",
    "STB_WEAK", "SHN_UNDEF", "SHN_ABS", "SHN_COMMON",
    "DT_NULL", "DT_STRTAB", "DT_SYMTAB", "DT_STRSZ", "DT_SYMENT", "DT_REL", "DT_RELSZ",
    "DT_RELENT", "DT_TEXTREL", "DT_NUM",
    "R_BPF_NONE", "R_BPF_64_64", "R_BPF_64_ABS64", "R_BPF_64_ABS32", "R_BPF_64_NODYLD32",
    "R_BPF_64_RELATIVE", "R_BPF_64_32",
    "EHDR", "PHDR", "SHDR", "SYM", "DYN", "REL",
    "EHDR_SIZE", "PHDR_SIZE", "SHDR_SIZE", "SYM_SIZE", "DYN_SIZE", "REL_SIZE",
    "SECTION_NAME_LENGTH_MAXIMUM", "SYMBOL_NAME_LENGTH_MAXIMUM",
    "DEBUG_SYMBOL_NAME_LENGTH_MAXIMUM",
]

# --------------------------------------------------------------------------------------
# ELF constants (the subset sBPF uses)
# --------------------------------------------------------------------------------------

ELFMAG = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
EV_CURRENT = 1
ELFOSABI_NONE = 0
ET_REL = 1
ET_DYN = 3
EM_BPF = 247
EM_SBPF = 263
PT_LOAD = 1
PT_DYNAMIC = 2
PF_X = 1
PF_W = 2
PF_R = 4
SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_DYNAMIC = 6
SHT_NOBITS = 8
SHT_REL = 9
SHT_DYNSYM = 11
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_SECTION = 3
STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2
SHN_UNDEF = 0
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
DT_NULL = 0
DT_STRTAB = 5
DT_SYMTAB = 6
DT_STRSZ = 10
DT_SYMENT = 11
DT_REL = 17
DT_RELSZ = 18
DT_RELENT = 19
DT_TEXTREL = 22
DT_NUM = 35
"""Dynamic tags at or above this value are ignored by the loader (SBPF_SPEC 8.2 step 8)."""

# Relocation types. The reference names them after x86-64 (NONE 0, 64 1, RELATIVE 8,
# 32 10); LLVM's BPF backend uses the same numbers for its R_BPF_* types.
R_BPF_NONE = 0
R_BPF_64_64 = 1
R_BPF_64_ABS64 = 2
R_BPF_64_ABS32 = 3
R_BPF_64_NODYLD32 = 4
R_BPF_64_RELATIVE = 8
R_BPF_64_32 = 10

EHDR = struct.Struct("<4sBBBBB7sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
DYN = struct.Struct("<QQ")
REL = struct.Struct("<QQ")
EHDR_SIZE = EHDR.size  # 64
PHDR_SIZE = PHDR.size  # 56
SHDR_SIZE = SHDR.size  # 64
SYM_SIZE = SYM.size  # 24
DYN_SIZE = DYN.size  # 16
REL_SIZE = REL.size  # 16
_ALIGN = 8  # alignment of every table the reference casts (Elf64Phdr/Shdr/Sym/Dyn/Rel)

SECTION_NAME_LENGTH_MAXIMUM = 16
"""Section names must be NUL-terminated within this many bytes (lenient parser)."""
SYMBOL_NAME_LENGTH_MAXIMUM = 64
"""Dynamic symbol names read by relocation (consensus relevant)."""
DEBUG_SYMBOL_NAME_LENGTH_MAXIMUM = 255
"""Static symbol names read for debug labels."""

_U64_MAX = (1 << 64) - 1
_E_FLAGS_OFFSET = 48
_E_TYPE_OFFSET = 16
_E_PHNUM_OFFSET = 56
_IMM_OFFSET = 4  # byte offset of the immediate inside a slot
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")


class Ehdr(NamedTuple):
    """The ELF file header (fields as in ``Elf64_Ehdr``; ``e_ident`` split up)."""

    ei_mag: bytes
    ei_class: int
    ei_data: int
    ei_version: int
    ei_osabi: int
    ei_abiversion: int
    ei_pad: bytes
    e_type: int
    e_machine: int
    e_version: int
    e_entry: int
    e_phoff: int
    e_shoff: int
    e_flags: int
    e_ehsize: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int


class Phdr(NamedTuple):
    """A program header (``Elf64_Phdr``)."""

    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_align: int

    def file_range(self) -> tuple[int, int] | None:
        """``[p_offset, p_offset + p_filesz)`` (saturating) for ``PT_LOAD``, else None."""
        if self.p_type != PT_LOAD:
            return None
        return self.p_offset, min(self.p_offset + self.p_filesz, _U64_MAX)

    def vm_range(self) -> tuple[int, int]:
        """``[p_vaddr, p_vaddr + p_memsz)`` (saturating)."""
        return self.p_vaddr, min(self.p_vaddr + self.p_memsz, _U64_MAX)


class Shdr(NamedTuple):
    """A section header (``Elf64_Shdr``)."""

    sh_name: int
    sh_type: int
    sh_flags: int
    sh_addr: int
    sh_offset: int
    sh_size: int
    sh_link: int
    sh_info: int
    sh_addralign: int
    sh_entsize: int

    def file_range(self) -> tuple[int, int] | None:
        """Bytes in the file (saturating end), or None for ``SHT_NOBITS``."""
        if self.sh_type == SHT_NOBITS:
            return None
        return self.sh_offset, min(self.sh_offset + self.sh_size, _U64_MAX)

    def vm_range(self) -> tuple[int, int]:
        """``[sh_addr, sh_addr + sh_size)`` (saturating)."""
        return self.sh_addr, min(self.sh_addr + self.sh_size, _U64_MAX)

    @property
    def is_writable(self) -> bool:
        """``SHF_ALLOC | SHF_WRITE`` both set."""
        return self.sh_flags & (SHF_ALLOC | SHF_WRITE) == SHF_ALLOC | SHF_WRITE


class Sym(NamedTuple):
    """A symbol (``Elf64_Sym``)."""

    st_name: int
    st_info: int
    st_other: int
    st_shndx: int
    st_value: int
    st_size: int

    @property
    def is_function(self) -> bool:
        """``STT_FUNC``."""
        return self.st_info & 0xF == STT_FUNC


# --------------------------------------------------------------------------------------
# Error helpers: the reference's ElfParserError variants, already mapped (SBPF_SPEC 8.1)
# --------------------------------------------------------------------------------------

def _invalid_file_header() -> ELFError:
    return FailedToParseError("invalid file header")


def _invalid_section_header() -> ELFError:
    return FailedToParseError("invalid section header")


def _overlap() -> ELFError:
    return FailedToParseError("values overlap")


def _invalid_alignment() -> ELFError:
    return FailedToParseError("invalid alignment")


def _invalid_size() -> ELFError:
    return FailedToParseError("invalid size")


def _invalid_dynamic() -> ELFError:
    return FailedToParseError("invalid dynamic section table")


def _oob(detail: str = "") -> ELFError:
    return ValueOutOfBoundsError(detail)


def _checked_add(a: int, b: int) -> int:
    """u64 addition that fails like the reference's ``err_checked_add``."""
    total = a + b
    if total > _U64_MAX:
        raise _oob("arithmetic overflow")
    return total


def _sat_add(a: int, b: int) -> int:
    return min(a + b, _U64_MAX)


def _sat_sub(a: int, b: int) -> int:
    return max(a - b, 0)


def _no_overlap(a: tuple[int, int], b: tuple[int, int]) -> None:
    # Literal reference semantics: an empty range strictly inside another overlaps.
    if not (a[1] <= b[0] or b[1] <= a[0]):
        raise _overlap()


def _lossy(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------
# Top level
# --------------------------------------------------------------------------------------

def is_relocatable_object(data: bytes) -> bool:
    """True if ``data`` is an ELF relocatable object for the linker: ``e_type == ET_REL``
    and no program headers (``e_phnum == 0``).

    The second condition keeps every file the reference loads on the reference's path:
    its strict (v3+) loader ignores ``e_type`` but needs program headers.
    """
    return (len(data) >= EHDR_SIZE and data[:4] == ELFMAG
            and int.from_bytes(data[_E_TYPE_OFFSET:_E_TYPE_OFFSET + 2], "little") == ET_REL
            and int.from_bytes(data[_E_PHNUM_OFFSET:_E_PHNUM_OFFSET + 2], "little") == 0)


def sbpf_version_of(data: bytes) -> SBPFVersion | None:
    """The version selected by ``e_flags`` (SBPF_SPEC 2.1), ``None`` for a reserved value.

    Raises:
        ValueOutOfBoundsError: the file is shorter than 52 bytes.
    """
    if len(data) < _E_FLAGS_OFFSET + 4:
        raise _oob("file too short for e_flags")
    e_flags = _U32.unpack_from(data, _E_FLAGS_OFFSET)[0]
    return SBPFVersion(e_flags) if e_flags <= SBPFVersion.V4 else None


def load_elf(data: bytes | bytearray | memoryview, config: Config | None = None, *,
             syscalls: SyscallRegistry | None = None) -> Executable:
    """Load an sBPF ELF (``.so``) or a relocatable BPF object (``.o``).

    Args:
        data: the file's bytes.
        config: loader settings (version set, ``reject_broken_elfs``, ``optimize_rodata``,
            ``max_elf_size``, ``enable_symbol_and_section_labels``); default ``Config()``.
        syscalls: the syscall registry the program will run with (hash collisions and,
            with ``reject_broken_elfs``, unresolved syscalls are checked against it);
            default: TBPF's core Solana syscalls, as :func:`tbpf.run` uses.

    Returns:
        the :class:`Executable` (``source_kind`` ``"elf"``, or ``"obj"`` for a ``.o``).

    Raises:
        ProgramTooLargeError: over ``config.max_elf_size`` (checked before parsing).
        ELFError: a subclass whose ``kind`` names the reference loader error (SBPF_SPEC
            6.3), or a :class:`~tbpf.errors.LinkError` subclass for an unusable ``.o``.
    """
    config = config or Config()
    syscalls = solana_syscalls() if syscalls is None else syscalls
    raw = memoryview(data).tobytes()
    if len(raw) > config.max_elf_size:
        raise ProgramTooLargeError(len(raw), config.max_elf_size)
    try:
        if is_relocatable_object(raw):
            return _load_object(raw, config, syscalls)
        return _load_shared_object(raw, config, syscalls, "elf")
    except ELFError:
        raise
    except (struct.error, IndexError, KeyError, ValueError, OverflowError, UnicodeError,
            MemoryError, RecursionError) as exc:
        # Last-resort net: a TBPF bug, but never a traceback for a hostile file.
        raise ValueOutOfBoundsError(f"malformed ELF: {type(exc).__name__}: {exc}") from exc


def _load_object(raw: bytes, config: Config, syscalls: SyscallRegistry) -> Executable:
    from .linker import link_objects
    enabled = config.enabled_sbpf_versions
    # A clang object carries no sBPF version (e_flags 0); link it for the oldest enabled
    # version that TBPF's linker can emit.
    for version in (SBPFVersion.V0, SBPFVersion.V3):
        if version in enabled:
            break
    else:
        raise UnsupportedSBPFVersionError("a relocatable object links as v0 or v3; "
                                          "neither is enabled")
    linked = link_objects([("<object>", raw)], version=version,
                          max_output_size=max(config.max_elf_size, len(raw)))
    return _load_shared_object(linked, config, syscalls, "obj")


def _load_shared_object(raw: bytes, config: Config, syscalls: SyscallRegistry,
                        source_kind: str) -> Executable:
    version = sbpf_version_of(raw)
    if version is None or version not in config.enabled_sbpf_versions:
        detail = "reserved e_flags value" if version is None else f"{version.label} is not enabled"
        raise UnsupportedSBPFVersionError(detail)
    if version.enable_stricter_elf_headers:
        exe = _load_strict(raw, version, config)
    else:
        exe = _load_lenient(raw, version, config, syscalls)
    exe.source_kind = source_kind
    return exe


# --------------------------------------------------------------------------------------
# Lenient parser (SBPF_SPEC 8.2)
# --------------------------------------------------------------------------------------

def _parse_ehdr(data: bytes) -> Ehdr:
    if len(data) < EHDR_SIZE:
        raise _oob("file shorter than the ELF header")
    return Ehdr._make(EHDR.unpack_from(data, 0))


def _table_range(offset: int, entry_size: int, count: int) -> tuple[int, int]:
    return offset, _checked_add(entry_size * count, offset)


def _slice_check(data: bytes, start: int, end: int, entry_size: int) -> None:
    """The reference's ``slice_from_bytes``: size multiple, inside the file, aligned."""
    length = end - start if end >= start else 0
    if length % entry_size:
        raise _invalid_size()
    if start > end or end > len(data):
        raise _oob()
    if start % _ALIGN:
        raise _invalid_alignment()


def _get_string(data: bytes, section: Shdr, offset: int, maximum: int) -> bytes:
    """A NUL-terminated string inside a ``SHT_STRTAB`` section (reference semantics)."""
    if section.sh_type != SHT_STRTAB:
        raise _invalid_section_header()
    start = _checked_add(section.sh_offset, offset)
    end = min(_checked_add(section.sh_offset, section.sh_size), _checked_add(start, maximum))
    if start > end or end > len(data):
        raise _oob("string outside the file")
    nul = data.find(b"\0", start, end)
    if nul < 0:
        unterminated = _lossy(data[start:end])
        raise FailedToParseError(f"Section or symbol name `{unterminated}` is longer than "
                                 f"`{maximum}` bytes")
    return data[start:nul]


class _Elf64:
    """The result of the lenient parser: headers, tables and the dynamic information."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        eh = _parse_ehdr(data)
        self.header = eh
        if (eh.ei_mag != ELFMAG or eh.ei_class != ELFCLASS64 or eh.ei_data != ELFDATA2LSB
                or eh.ei_version != EV_CURRENT or eh.e_version != EV_CURRENT
                or eh.e_ehsize != EHDR_SIZE or eh.e_phentsize != PHDR_SIZE
                or eh.e_shentsize != SHDR_SIZE or eh.e_shstrndx >= eh.e_shnum):
            raise _invalid_file_header()
        fh_range = (0, EHDR_SIZE)
        ph_range = _table_range(eh.e_phoff, PHDR_SIZE, eh.e_phnum)
        _no_overlap(fh_range, ph_range)
        _slice_check(data, ph_range[0], ph_range[1], PHDR_SIZE)
        sh_range = _table_range(eh.e_shoff, SHDR_SIZE, eh.e_shnum)
        _no_overlap(fh_range, sh_range)
        _no_overlap(ph_range, sh_range)
        _slice_check(data, sh_range[0], sh_range[1], SHDR_SIZE)
        self.phdrs = [Phdr._make(t) for t in
                      PHDR.iter_unpack(data[ph_range[0]:ph_range[1]])]
        self.shdrs = [Shdr._make(t) for t in
                      SHDR.iter_unpack(data[sh_range[0]:sh_range[1]])]
        if not self.shdrs or self.shdrs[0].sh_type != SHT_NULL:
            raise _invalid_section_header()

        vaddr = 0
        for ph in self.phdrs:
            if ph.p_type != PT_LOAD:
                continue
            if ph.p_vaddr < vaddr:
                raise InvalidProgramHeaderError("PT_LOAD segments not in ascending p_vaddr "
                                                "order")
            if _checked_add(ph.p_offset, ph.p_filesz) > len(data):
                raise _oob("segment outside the file")
            vaddr = ph.p_vaddr

        offset = 0
        for sh in self.shdrs:
            if sh.sh_type == SHT_NOBITS:
                continue
            section_range = (sh.sh_offset, _checked_add(sh.sh_offset, sh.sh_size))
            _no_overlap(section_range, fh_range)
            _no_overlap(section_range, ph_range)
            _no_overlap(section_range, sh_range)
            if section_range[0] < offset:
                raise FailedToParseError("sections not in ascending order")
            offset = section_range[1]
            if offset > len(data):
                raise _oob("section outside the file")

        self.shstrtab = self.shdrs[eh.e_shstrndx] if eh.e_shstrndx != SHN_UNDEF else None
        self.names: list[bytes] = []
        self.symtab: Shdr | None = None
        self.strtab: Shdr | None = None
        self.dynstr: Shdr | None = None
        self._parse_sections()
        self.dynamic = [0] * DT_NUM
        self.rel_table: tuple[int, int] | None = None  # (file offset, count)
        self.dynsym_table: tuple[int, int] | None = None
        self._parse_dynamic()

    # --- sections ---------------------------------------------------------------------
    def _parse_sections(self) -> None:
        if self.shstrtab is None:
            raise FailedToParseError("no section name string table found")
        for sh in self.shdrs:
            name = _get_string(self.data, self.shstrtab, sh.sh_name,
                               SECTION_NAME_LENGTH_MAXIMUM)
            self.names.append(name)
            for wanted, attr in ((b".symtab", "symtab"), (b".strtab", "strtab"),
                                 (b".dynstr", "dynstr")):
                if name == wanted:
                    if getattr(self, attr) is not None:
                        raise _invalid_section_header()
                    setattr(self, attr, sh)

    def sections(self) -> Iterator[tuple[bytes, Shdr]]:
        """``(name, header)`` in table order (every name was readable at parse time)."""
        return zip(self.names, self.shdrs)

    def section_by_name(self, name: bytes) -> Shdr | None:
        """The first section called ``name``."""
        for this, sh in self.sections():
            if this == name:
                return sh
        return None

    # --- dynamic ----------------------------------------------------------------------
    def _parse_dynamic(self) -> None:
        data = self.data
        table: tuple[int, int] | None = None
        dyn_ph = next((ph for ph in self.phdrs if ph.p_type == PT_DYNAMIC), None)
        if dyn_ph is not None:
            # Any problem with PT_DYNAMIC only means "fall back to SHT_DYNAMIC".
            end = dyn_ph.p_offset + dyn_ph.p_filesz
            if end <= _U64_MAX:
                try:
                    _slice_check(data, dyn_ph.p_offset, end, DYN_SIZE)
                    table = (dyn_ph.p_offset, end)
                except ELFError:
                    table = None
        if table is None:
            dyn_sh = next((sh for sh in self.shdrs if sh.sh_type == SHT_DYNAMIC), None)
            if dyn_sh is not None:
                end = dyn_sh.sh_offset + dyn_sh.sh_size
                if end > _U64_MAX:
                    raise _invalid_dynamic()
                try:
                    _slice_check(data, dyn_sh.sh_offset, end, DYN_SIZE)
                except ELFError:
                    raise _invalid_dynamic() from None
                table = (dyn_sh.sh_offset, end)
        if table is None:
            return  # a static file: no relocations
        for d_tag, d_val in DYN.iter_unpack(data[table[0]:table[1]]):
            if d_tag == DT_NULL:
                break
            if d_tag >= DT_NUM:
                continue
            self.dynamic[d_tag] = d_val
        self.rel_table = self._parse_dynamic_relocations()
        self.dynsym_table = self._parse_dynamic_symbol_table()

    def _program_header_for_vaddr(self, vaddr: int) -> Phdr | None:
        for ph in self.phdrs:
            # The end is computed (and may overflow) before the containment test.
            end = _checked_add(ph.p_vaddr, ph.p_memsz)
            if ph.p_vaddr <= vaddr < end:
                return ph
        return None

    def _parse_dynamic_relocations(self) -> tuple[int, int] | None:
        vaddr = self.dynamic[DT_REL]
        if vaddr == 0:
            return None
        if self.dynamic[DT_RELENT] != REL_SIZE:
            raise _invalid_dynamic()
        size = self.dynamic[DT_RELSZ]
        if size == 0:
            raise _invalid_dynamic()
        ph = self._program_header_for_vaddr(vaddr)
        if ph is not None:
            offset = _checked_add(vaddr - ph.p_vaddr, ph.p_offset)
        else:
            # Old toolchains put DT_REL outside every segment: use the section headers.
            sh = next((s for s in self.shdrs if s.sh_addr == vaddr), None)
            if sh is None:
                raise _invalid_dynamic()
            offset = sh.sh_offset
        end = _checked_add(offset, size)
        try:
            _slice_check(self.data, offset, end, REL_SIZE)
        except ELFError:
            raise _invalid_dynamic() from None
        return offset, size // REL_SIZE

    def _parse_dynamic_symbol_table(self) -> tuple[int, int] | None:
        vaddr = self.dynamic[DT_SYMTAB]
        if vaddr == 0:
            return None
        sh = next((s for s in self.shdrs if s.sh_addr == vaddr), None)
        if sh is None:
            raise _invalid_dynamic()
        return self.symbol_table_of(sh)

    def symbol_table_of(self, sh: Shdr) -> tuple[int, int]:
        """``(file offset, count)`` of a ``SHT_SYMTAB``/``SHT_DYNSYM`` section."""
        if sh.sh_type not in (SHT_SYMTAB, SHT_DYNSYM):
            raise _invalid_section_header()
        end = _checked_add(sh.sh_offset, sh.sh_size)
        _slice_check(self.data, sh.sh_offset, end, SYM_SIZE)
        return sh.sh_offset, sh.sh_size // SYM_SIZE

    # --- accessors --------------------------------------------------------------------
    def relocations(self) -> Iterator[tuple[int, int, int]]:
        """``(r_offset, type, symbol index)`` of every dynamic relocation, in order."""
        if self.rel_table is None:
            return
        offset, count = self.rel_table
        for r_offset, r_info in REL.iter_unpack(self.data[offset:offset + count * REL_SIZE]):
            yield r_offset, r_info & 0xFFFF_FFFF, r_info >> 32

    def dynamic_symbol(self, index: int) -> Sym | None:
        """Dynamic symbol ``index``, or None."""
        if self.dynsym_table is None or index >= self.dynsym_table[1]:
            return None
        return Sym._make(SYM.unpack_from(self.data, self.dynsym_table[0] + index * SYM_SIZE))

    def dynamic_symbol_name(self, st_name: int) -> bytes:
        """Name of a dynamic symbol from the section named ``.dynstr`` (max 64 bytes)."""
        if self.dynstr is None:
            raise FailedToParseError("no dynamic string table")
        return _get_string(self.data, self.dynstr, st_name, SYMBOL_NAME_LENGTH_MAXIMUM)

    def static_symbols(self) -> list[Sym]:
        """``.symtab`` entries, or ``[]`` if it is missing or unreadable."""
        if self.symtab is None:
            return []
        try:
            offset, count = self.symbol_table_of(self.symtab)
        except ELFError:
            return []
        return [Sym._make(t) for t in SYM.iter_unpack(self.data[offset:offset + count * SYM_SIZE])]

    def static_symbol_name(self, st_name: int) -> bytes:
        """Name of a ``.symtab`` symbol from ``.strtab`` (max 255 bytes)."""
        if self.strtab is None:
            raise FailedToParseError("no string table")
        return _get_string(self.data, self.strtab, st_name, DEBUG_SYMBOL_NAME_LENGTH_MAXIMUM)


# --------------------------------------------------------------------------------------
# Lenient loader (SBPF_SPEC 8.3-8.7)
# --------------------------------------------------------------------------------------

def _validate(elf: _Elf64) -> Shdr:
    """SBPF_SPEC 8.3; returns the ``.text`` section header."""
    eh = elf.header
    # WrongClass / WrongEndianess cannot happen here: the parser rejected them already.
    if eh.ei_osabi != ELFOSABI_NONE:
        raise WrongAbiError()
    if eh.e_machine not in (EM_BPF, EM_SBPF):
        raise WrongMachineError(f"e_machine {eh.e_machine}, expected {EM_BPF} or {EM_SBPF}")
    if eh.e_type != ET_DYN:
        raise WrongTypeError(f"e_type {eh.e_type}, expected {ET_DYN} (ET_DYN)")
    if sum(1 for name in elf.names if name == b".text") != 1:
        raise NotOneTextSectionError()
    for name, sh in elf.sections():
        if name.startswith(b".bss") or (sh.is_writable and name.startswith(b".data")
                                        and not name.startswith(b".data.rel")):
            raise WritableSectionNotSupportedError(_lossy(name))
    size = len(elf.data)
    for sh in elf.shdrs:
        end = sh.sh_offset + sh.sh_size
        if end > _U64_MAX or end > size:
            raise _oob("section outside the file")
    text = elf.section_by_name(b".text")
    assert text is not None  # exactly one, checked above
    if not text.vm_range()[0] <= eh.e_entry < text.vm_range()[1]:
        raise EntrypointOutOfBoundsError()
    return text


def _read_u32(buf: bytearray, offset: int) -> int:
    if offset + 4 > len(buf):
        raise _oob("relocation outside the file")
    return int(_U32.unpack_from(buf, offset)[0])


def _write_u32(buf: bytearray, offset: int, value: int) -> None:
    if offset + 4 > len(buf):
        raise _oob("relocation outside the file")
    _U32.pack_into(buf, offset, value & 0xFFFF_FFFF)


def _relocate(elf: _Elf64, buf: bytearray, text: Shdr, functions: FunctionRegistry,
              syscalls: SyscallRegistry, config: Config, labels: dict[int, str]) -> None:
    """SBPF_SPEC 8.4 (and the label registration of the reference).

    ``labels`` only names the functions found by pc-relative calls (the reference calls
    them ``function_<pc>``); keys and pcs never depend on it.
    """
    keep_names = config.enable_symbol_and_section_labels
    text_range = text.file_range() or (0, 0)
    if text_range[1] > len(buf):
        raise _oob(".text outside the file")
    text_start = text_range[0]
    n_slots = (text_range[1] - text_range[0]) // INSN_SIZE

    # Pass 1: pc-relative calls become hashed keys.
    for i in range(n_slots):
        pos = text_start + i * INSN_SIZE
        if buf[pos] != CALL_IMM_OPCODE:
            continue
        imm = _I32.unpack_from(buf, pos + _IMM_OFFSET)[0]
        if imm == -1:
            continue
        target = i + 1 + imm
        if not 0 <= target < n_slots:
            raise RelativeJumpOutOfBoundsError(i)
        # The key is murmur3(pc) whatever the symbol is called, so a label that happens
        # to be "entrypoint" must not reach register_hashed as the name.
        label = labels.get(target)
        if label is None or label == ENTRYPOINT_NAME:
            label = f"function_{target}"
        key = functions.register_hashed(target, label, syscalls, keep_names)
        _U32.pack_into(buf, pos + _IMM_OFFSET, key)

    # Pass 2: dynamic relocations, in table order, on the bytes left by earlier ones.
    text_lo, text_hi = text.vm_range()
    for r_offset, r_type, r_sym in elf.relocations():
        imm_offset = _sat_add(r_offset, _IMM_OFFSET)
        if r_type == R_BPF_64_64:
            addend = _read_u32(buf, imm_offset)
            symbol = elf.dynamic_symbol(r_sym)
            if symbol is None:
                raise UnknownSymbolError(r_sym)
            addr = _sat_add(symbol.st_value, addend)
            if addr < MM_REGION_SIZE:
                addr += MM_REGION_SIZE
            _write_u32(buf, imm_offset, addr)
            _write_u32(buf, _sat_add(imm_offset, INSN_SIZE), addr >> 32)
        elif r_type == R_BPF_64_RELATIVE:
            if text_range[0] <= r_offset < text_range[1]:
                # An lddw: the address is split over the two immediates.
                high_offset = _sat_add(_sat_add(r_offset, INSN_SIZE), _IMM_OFFSET)
                low = _read_u32(buf, imm_offset)
                high = _read_u32(buf, high_offset)
                addr = (high << 32) | low
                if addr == 0:
                    raise InvalidVirtualAddressError(0)
                if addr < MM_REGION_SIZE:
                    addr += MM_REGION_SIZE
                _write_u32(buf, imm_offset, addr)
                _write_u32(buf, high_offset, addr >> 32)
            else:
                # A pointer in data. Old toolchains stored only the address's low half,
                # shifted into the upper word; the reference keeps reading it that way.
                addr = MM_REGION_SIZE + _read_u32(buf, imm_offset)
                if r_offset + 8 > len(buf):
                    raise _oob("relocation outside the file")
                _U64.pack_into(buf, r_offset, addr)
        elif r_type == R_BPF_64_32:
            symbol = elf.dynamic_symbol(r_sym)
            if symbol is None:
                raise UnknownSymbolError(r_sym)
            try:
                name = elf.dynamic_symbol_name(symbol.st_name)
            except ELFError:
                raise UnknownSymbolError(symbol.st_name) from None
            if symbol.is_function and symbol.st_value != 0:
                if not text_lo <= symbol.st_value < text_hi:
                    raise _oob(f"function symbol {_lossy(name)!r} outside .text")
                target = (symbol.st_value - text.sh_addr) // INSN_SIZE
                key = _register_named(functions, target, name, syscalls, keep_names)
            else:
                key = symbol_hash(name)
                if config.reject_broken_elfs and key not in syscalls:
                    raise UnresolvedSymbolError(_lossy(name), r_offset // INSN_SIZE, r_offset)
            _write_u32(buf, imm_offset, key)
        else:
            raise UnknownRelocationError(r_type)

    if keep_names:
        for symbol in elf.static_symbols():
            if symbol.st_info & 0xEF != STT_FUNC:
                continue
            if not text_lo <= symbol.st_value < text_hi:
                raise _oob("function symbol outside .text")
            target = (symbol.st_value - text.sh_addr) // INSN_SIZE
            try:
                name = elf.static_symbol_name(symbol.st_name)
            except ELFError:
                continue  # a label we cannot read only costs that label
            _register_named(functions, target, name, syscalls, True)


def _register_named(functions: FunctionRegistry, pc: int, name: bytes,
                    syscalls: SyscallRegistry, keep_name: bool) -> int:
    # The reference compares raw bytes with "entrypoint"; a lossy decode cannot turn
    # anything else into that string.
    text = ENTRYPOINT_NAME if name == ENTRYPOINT_NAME.encode() else _lossy(name)
    return functions.register_hashed(pc, text, syscalls, keep_name)


def _parse_ro_sections(config: Config, elf: _Elf64,
                       buf: bytearray) -> tuple[int, bytes, bool]:
    """SBPF_SPEC 8.7: ``(region vm address, region bytes, borrowed)``."""
    lowest = _U64_MAX
    highest = 0
    fill = 0
    invalid_offsets = False
    first_index = last_index = 0
    count = 0
    slices: list[tuple[int, bytes]] = []
    for index, (name, sh) in enumerate(elf.sections()):
        if name not in (b".text", b".rodata", b".data.rel.ro", b".eh_frame"):
            continue
        if count == 0:
            first_index = index
        last_index = index
        count += 1
        if not invalid_offsets and sh.sh_addr != sh.sh_offset:
            invalid_offsets = True
        if (config.reject_broken_elfs and invalid_offsets) or \
                _sat_add(sh.sh_addr, MM_REGION_SIZE) > MM_STACK_START:
            raise _oob("read-only section address")
        file_range = sh.file_range() or (0, 0)
        if file_range[1] > len(buf):
            raise _oob("read-only section outside the file")
        content = bytes(buf[file_range[0]:file_range[1]])
        lowest = min(lowest, sh.sh_addr)
        highest = max(highest, _sat_add(sh.sh_addr, len(content)))
        fill = _sat_add(fill, len(content))
        if content:
            slices.append((sh.sh_addr, content))
    if config.reject_broken_elfs and _sat_add(lowest, fill) > highest:
        raise _oob("read-only sections overlap")
    can_borrow = not invalid_offsets and last_index + 1 - first_index == count
    if config.optimize_rodata and can_borrow:
        vm_addr = lowest if lowest >= MM_REGION_SIZE else lowest + MM_REGION_SIZE
        if highest > len(buf):
            raise _oob("read-only region outside the file")
        return vm_addr, bytes(buf[lowest:highest]), True
    if config.optimize_rodata:
        # Only [lowest, highest) is mapped, at 0x1_0000_0000 + lowest.
        length = _sat_sub(highest, lowest)
    else:
        # Agave: the whole [0x1_0000_0000, 0x1_0000_0000 + highest) is mapped.
        lowest = 0
        length = highest
    if length > len(buf):
        raise _oob("read-only region larger than the file")
    region = bytearray(length)
    for addr, content in slices:
        start = _sat_sub(addr, lowest)
        if start + len(content) > length:  # pragma: no cover - excluded by construction
            raise _oob("read-only section outside the region")
        region[start:start + len(content)] = content
    vm_addr = lowest if lowest >= MM_REGION_SIZE else lowest + MM_REGION_SIZE
    return vm_addr, bytes(region), False


def _lenient_labels(elf: _Elf64, text: Shdr) -> dict[int, str]:
    """Function names by pc from ``.symtab`` then ``.dynsym``; never fails."""
    labels: dict[int, str] = {}
    lo, hi = text.vm_range()

    def add(symbol: Sym, read_name: "object") -> None:
        if not symbol.is_function or not lo <= symbol.st_value < hi or symbol.st_name == 0:
            return
        pc = (symbol.st_value - text.sh_addr) // INSN_SIZE
        if pc in labels:
            return
        try:
            name = read_name(symbol.st_name)  # type: ignore[operator]
        except ELFError:
            return
        if name:
            labels[pc] = _lossy(name)

    for symbol in elf.static_symbols():
        add(symbol, elf.static_symbol_name)
    if elf.dynsym_table is not None:
        for index in range(1, elf.dynsym_table[1]):
            dynamic = elf.dynamic_symbol(index)
            if dynamic is not None:
                add(dynamic, elf.dynamic_symbol_name)
    return labels


def _load_lenient(data: bytes, version: SBPFVersion, config: Config,
                  syscalls: SyscallRegistry) -> Executable:
    elf = _Elf64(data)
    text = _validate(elf)
    text_vaddr = _sat_add(text.sh_addr, MM_REGION_SIZE)
    if config.reject_broken_elfs and text.sh_addr != text.sh_offset:
        raise _oob(".text sh_addr differs from sh_offset")
    if text_vaddr >= MM_STACK_START:
        raise _oob(".text address outside the program region")
    buf = bytearray(data)
    functions = FunctionRegistry()
    labels = _lenient_labels(elf, text)
    _relocate(elf, buf, text, functions, syscalls, config, labels)

    offset = _sat_sub(elf.header.e_entry, text.sh_addr)
    if offset % INSN_SIZE:
        raise InvalidEntrypointError()
    entry_pc = offset // INSN_SIZE
    functions.unregister(ENTRYPOINT_KEY)
    functions.register_hashed(entry_pc, ENTRYPOINT_NAME, syscalls)

    ro_vm_addr, ro_data, borrowed = _parse_ro_sections(config, elf, buf)
    if config.optimize_rodata and ro_vm_addr >> 32 != 1:
        raise _oob("read-only region outside the program region")
    text_range = text.file_range() or (0, 0)
    text_len = text_range[1] - text_range[0]
    if borrowed:
        text_bytes = bytes(buf[text_range[0]:text_range[1]])
    else:
        # The owned region is authoritative when read-only sections overlap.
        start = text_vaddr - ro_vm_addr
        text_bytes = ro_data[start:start + text_len]
    if len(text_bytes) != text_len:  # pragma: no cover - excluded by construction
        raise _oob(".text outside the read-only region")
    return Executable(version=version, text=text_bytes, text_vaddr=text_vaddr,
                      entry_pc=entry_pc, functions=functions, ro_vm_addr=ro_vm_addr,
                      ro_data=ro_data, config=config, labels=labels,
                      source_kind="elf")


# --------------------------------------------------------------------------------------
# Strict loader (SBPF_SPEC 8.8)
# --------------------------------------------------------------------------------------

def _load_strict(data: bytes, version: SBPFVersion, config: Config) -> Executable:
    eh = _parse_ehdr(data)
    ph_end = EHDR_SIZE + PHDR_SIZE * eh.e_phnum
    if (eh.ei_mag != ELFMAG or eh.ei_class != ELFCLASS64 or eh.ei_data != ELFDATA2LSB
            or eh.ei_version != EV_CURRENT or eh.ei_osabi != ELFOSABI_NONE
            or eh.ei_abiversion != 0 or eh.ei_pad != bytes(7) or eh.e_machine != EM_BPF
            or eh.e_version != EV_CURRENT or eh.e_phoff != EHDR_SIZE
            or eh.e_ehsize != EHDR_SIZE or eh.e_phentsize != PHDR_SIZE or eh.e_phnum == 0
            or ph_end > len(data)):
        raise _invalid_file_header()
    phdrs = [Phdr._make(t) for t in PHDR.iter_unpack(data[EHDR_SIZE:ph_end])]
    expected = [(PF_R, MM_RODATA_START), (PF_X, MM_BYTECODE_START)]
    skip_rodata = phdrs[0].p_flags != PF_R
    if skip_rodata:
        expected = expected[1:]
    elif eh.e_phnum < 2:
        raise _invalid_file_header()
    expected_offset = ph_end
    size = len(data)
    for ph, (flags, vaddr) in zip(phdrs, expected):
        if (ph.p_type != PT_LOAD or ph.p_flags != flags or ph.p_offset != expected_offset
                or ph.p_offset >= size or ph.p_offset % INSN_SIZE
                or ph.p_vaddr != vaddr or ph.p_paddr != vaddr
                or ph.p_filesz != ph.p_memsz or ph.p_filesz > _sat_sub(size, ph.p_offset)
                or ph.p_filesz % INSN_SIZE or ph.p_memsz >= MM_REGION_SIZE):
            raise InvalidProgramHeaderError()
        expected_offset = _sat_add(expected_offset, ph.p_filesz)
    if skip_rodata:
        ro_range = (ph_end, ph_end)
        bytecode = phdrs[0]
    else:
        ro_range = phdrs[0].file_range() or (0, 0)
        bytecode = phdrs[1]
    lo, hi = bytecode.vm_range()
    last_byte = _sat_sub(_sat_add(eh.e_entry, INSN_SIZE), 1)
    if not lo <= last_byte < hi or eh.e_entry % INSN_SIZE:
        raise _invalid_file_header()
    entry_pc = _sat_sub(eh.e_entry, bytecode.p_vaddr) // INSN_SIZE
    text_range = bytecode.file_range() or (0, 0)
    functions = FunctionRegistry()
    found = _strict_labels(data, eh, (EHDR_SIZE, ph_end), bytecode)
    if config.enable_symbol_and_section_labels:
        for pc, name in found:
            try:
                # The reference keys these debug labels by the pc truncated to u32.
                functions.register(pc & 0xFFFF_FFFF, name, pc)
            except SymbolHashCollisionError:
                pass  # debug labels never fail a load
    n_slots = (text_range[1] - text_range[0]) // INSN_SIZE
    labels: dict[int, str] = {}
    for pc, name in found:
        if pc < n_slots:
            labels.setdefault(pc, name)
    return Executable(version=version, text=data[text_range[0]:text_range[1]],
                      text_vaddr=bytecode.p_vaddr, entry_pc=entry_pc, functions=functions,
                      ro_vm_addr=MM_RODATA_START, ro_data=data[ro_range[0]:ro_range[1]],
                      config=config, labels=labels, source_kind="elf")


def _strict_labels(data: bytes, eh: Ehdr, ph_range: tuple[int, int],
                   bytecode: Phdr) -> list[tuple[int, str]]:
    """``(pc, name)`` of the function symbols of a strict ELF's ``.symtab``, in table
    order: the reference's debug labels (anything unreadable means no labels, never a
    failed load)."""
    labels: list[tuple[int, str]] = []
    try:
        sh_range = _table_range(eh.e_shoff, SHDR_SIZE, eh.e_shnum)
        _no_overlap((0, EHDR_SIZE), sh_range)
        _no_overlap(ph_range, sh_range)
        _slice_check(data, sh_range[0], sh_range[1], SHDR_SIZE)
        shdrs = [Shdr._make(t) for t in SHDR.iter_unpack(data[sh_range[0]:sh_range[1]])]
        if eh.e_shstrndx == SHN_UNDEF:
            return labels
        if eh.e_shstrndx >= len(shdrs):
            return labels
        shstrtab = shdrs[eh.e_shstrndx]
        strtab = symtab = None
        for sh in shdrs:
            try:
                name = _get_string(data, shstrtab, sh.sh_name, SECTION_NAME_LENGTH_MAXIMUM)
            except ELFError:
                continue
            if name == b".strtab":
                strtab = sh
            if name == b".symtab":
                symtab = sh
        if strtab is None or symtab is None:
            return labels
        end = _checked_add(symtab.sh_offset, symtab.sh_size)
        _slice_check(data, symtab.sh_offset, end, SYM_SIZE)
        for fields in SYM.iter_unpack(data[symtab.sh_offset:end]):
            symbol = Sym._make(fields)
            if symbol.st_info & STT_FUNC == 0:
                continue
            pc = _sat_sub(symbol.st_value, bytecode.p_vaddr) // INSN_SIZE
            try:
                name = _get_string(data, strtab, symbol.st_name,
                                   DEBUG_SYMBOL_NAME_LENGTH_MAXIMUM)
            except ELFError:
                continue
            labels.append((pc, _lossy(name)))
    except ELFError:
        return []
    return labels

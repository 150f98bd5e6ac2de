"""Build small relocatable BPF objects (``ET_REL``) in tests, without clang.

The layout mirrors what ``clang -target bpf -c`` writes (``.text``, ``.rodata``,
``.rel.text``, ``.rel.rodata``, ``.symtab``, ``.strtab``; REL relocations with the addend
in place), so the linker sees the same shapes as with real objects. Used by the synthetic
600 KB load-time test and by the mutation tests when clang is absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tbpf.elf import (
    EHDR, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_BPF, ET_REL, EV_CURRENT, REL, SHDR, SHF_ALLOC,
    SHF_EXECINSTR, SHT_PROGBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STB_LOCAL,
    STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION, SYM,
)
from tbpf.elf import R_BPF_64_32, R_BPF_64_64, R_BPF_64_ABS64
from tbpf.isa import (
    CALL_IMM_OPCODE, EXIT_OPCODE, LDDW_OPCODE, AluOp, InsnClass, MemSize, Source, encode_slot,
)

__all__ = ["ObjectBuilder", "slot", "synthetic_object", "MOV64_IMM", "ADD64_IMM",
           "ADD64_REG", "LDXDW"]

MOV64_IMM = InsnClass.ALU64 | AluOp.MOV | Source.K
ADD64_IMM = InsnClass.ALU64 | AluOp.ADD | Source.K
ADD64_REG = InsnClass.ALU64 | AluOp.ADD | Source.X
LDXDW = InsnClass.LDX | 0x60 | MemSize.DW


def slot(opc: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One 8-byte instruction slot."""
    return encode_slot(opc, dst, src, off, imm)


@dataclass
class ObjectBuilder:
    """Accumulates code, read-only data, symbols and relocations; ``build()`` writes the ELF.

    Symbols are ``(name, section, value, type, bind)`` with section ``"text"``,
    ``"rodata"`` or ``None`` (undefined). Relocations are ``(section, offset, type,
    symbol name)``; the section symbols ``.text``/``.rodata`` can be named too.
    """

    text: bytearray = field(default_factory=bytearray)
    rodata: bytearray = field(default_factory=bytearray)
    symbols: list[tuple[str, str | None, int, int, int]] = field(default_factory=list)
    relocations: list[tuple[str, int, int, str]] = field(default_factory=list)

    def function(self, name: str, code: bytes, *, global_: bool = True) -> int:
        """Append a function; returns its byte offset in ``.text``."""
        offset = len(self.text)
        self.text += code
        self.symbols.append((name, "text", offset, STT_FUNC,
                             STB_GLOBAL if global_ else STB_LOCAL))
        return offset

    def data(self, name: str, content: bytes, align: int = 8) -> int:
        """Append a read-only object; returns its offset in ``.rodata``."""
        while len(self.rodata) % align:
            self.rodata.append(0)
        offset = len(self.rodata)
        self.rodata += content
        self.symbols.append((name, "rodata", offset, STT_OBJECT, STB_LOCAL))
        return offset

    def extern(self, name: str) -> None:
        """Declare an undefined global (a syscall, for calls)."""
        if not any(s[0] == name for s in self.symbols):
            self.symbols.append((name, None, 0, STT_NOTYPE, STB_GLOBAL))

    def reloc(self, section: str, offset: int, r_type: int, symbol: str) -> None:
        """Add a relocation in ``section`` ("text" or "rodata") at ``offset``."""
        self.relocations.append((section, offset, r_type, symbol))

    def build(self) -> bytes:
        """The object file's bytes."""
        strtab = bytearray(b"\0")

        def add_str(s: str) -> int:
            index = len(strtab)
            strtab.extend(s.encode() + b"\0")
            return index

        section_index = {"text": 1, "rodata": 2}
        # null, section symbols, locals, globals (ELF wants locals first).
        syms = [(0, 0, 0, 0)]
        names = {".text": 1, ".rodata": 2}
        syms.append((0, (STB_LOCAL << 4) | STT_SECTION, 1, 0))
        syms.append((0, (STB_LOCAL << 4) | STT_SECTION, 2, 0))
        ordered = [s for s in self.symbols if s[4] == STB_LOCAL] + \
                  [s for s in self.symbols if s[4] != STB_LOCAL]
        first_global = 3 + sum(1 for s in self.symbols if s[4] == STB_LOCAL)
        for name, section, value, typ, bind in ordered:
            names[name] = len(syms)
            syms.append((add_str(name), (bind << 4) | typ,
                         section_index[section] if section else 0, value))
        symtab = b"".join(SYM.pack(n, info, 0, shndx, value, 0)
                          for n, info, shndx, value in syms)
        rel = {"text": bytearray(), "rodata": bytearray()}
        for section, offset, r_type, symbol in self.relocations:
            rel[section] += REL.pack(offset, (names[symbol] << 32) | r_type)

        shstrtab = bytearray(b"\0")

        def add_sh(s: str) -> int:
            index = len(shstrtab)
            shstrtab.extend(s.encode() + b"\0")
            return index

        body = bytearray(bytes(64))
        sections = [(0, 0, 0, 0, 0, 0, 0, 0, 0)]

        def put(content: bytes, align: int = 8) -> int:
            while len(body) % align:
                body.append(0)
            offset = len(body)
            body.extend(content)
            return offset

        text_off = put(bytes(self.text))
        sections.append((add_sh(".text"), SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, text_off,
                         len(self.text), 0, 0, 8, 0))
        ro_off = put(bytes(self.rodata))
        sections.append((add_sh(".rodata"), SHT_PROGBITS, SHF_ALLOC, ro_off, len(self.rodata),
                         0, 0, 8, 0))
        rt_off = put(bytes(rel["text"]))
        sections.append((add_sh(".rel.text"), SHT_REL, 0, rt_off, len(rel["text"]), 5, 1, 8,
                         16))
        rr_off = put(bytes(rel["rodata"]))
        sections.append((add_sh(".rel.rodata"), SHT_REL, 0, rr_off, len(rel["rodata"]), 5, 2,
                         8, 16))
        st_off = put(symtab)
        sections.append((add_sh(".symtab"), SHT_SYMTAB, 0, st_off, len(symtab), 6,
                         first_global, 8, 24))
        str_off = put(bytes(strtab), 1)
        sections.append((add_sh(".strtab"), SHT_STRTAB, 0, str_off, len(strtab), 0, 0, 1, 0))
        shstr_name = add_sh(".shstrtab")
        shstr_off = put(bytes(shstrtab), 1)
        sections.append((shstr_name, SHT_STRTAB, 0, shstr_off, len(shstrtab), 0, 0, 1, 0))
        shoff = put(b"")
        for name, sh_type, flags, offset, size, link, info, align, entsize in sections:
            body += SHDR.pack(name, sh_type, flags, 0, offset, size, link, info, align, entsize)
        body[:64] = EHDR.pack(ELFMAG, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0, 0, bytes(7),
                              ET_REL, EM_BPF, EV_CURRENT, 0, 0, shoff, 0, 64, 0, 0, 64,
                              len(sections), len(sections) - 1)
        return bytes(body)


def synthetic_object(n_functions: int) -> ObjectBuilder:
    """A large program shaped like compiler output.

    ``entrypoint`` calls ``f_0`` and returns its result; ``f_i`` loads ``table[i]`` through
    an ``lddw`` of ``.rodata`` (``R_BPF_64_64``), every 16th function calls the syscall
    ``sol_log_64_`` (logging r1..r5), then every function calls the global ``leaf``
    (``R_BPF_64_32``), which returns ``r1 + 1``; ``.rodata`` also holds a table of
    pointers to every function (``R_BPF_64_ABS64``). So ``entrypoint`` returns
    ``table[0] + 1 = 1`` and logs one line.
    """
    b = ObjectBuilder()
    b.extern("sol_log_64_")
    table = b"".join(i.to_bytes(8, "little") for i in range(n_functions))
    table_off = b.data("table", table)
    leaf = b.function("leaf", slot(MOV64_IMM, 0, 0, 0, 1) + slot(ADD64_REG, 0, 1)
                      + slot(EXIT_OPCODE))
    entry_at = len(b.text)
    # entrypoint: call f_0 (resolved through R_BPF_64_32 against f_0), exit
    b.function("entrypoint", slot(CALL_IMM_OPCODE, 0, 1, 0, -1) + slot(EXIT_OPCODE))
    b.reloc("text", entry_at, R_BPF_64_32, "f_0")
    for i in range(n_functions):
        start = len(b.text)
        code = bytearray()
        code += slot(LDDW_OPCODE, 1, 0, 0, table_off + 8 * i) + slot(0)
        code += slot(LDXDW, 1, 1, 0, 0)
        b.reloc("text", start, R_BPF_64_64, ".rodata")
        if i % 16 == 0:
            b.reloc("text", start + len(code), R_BPF_64_32, "sol_log_64_")
            code += slot(CALL_IMM_OPCODE, 0, 1, 0, -1)
        b.reloc("text", start + len(code), R_BPF_64_32, "leaf")
        code += slot(CALL_IMM_OPCODE, 0, 1, 0, -1)
        for _ in range(8):
            code += slot(ADD64_IMM, 6, 0, 0, 1)
        code += slot(EXIT_OPCODE)
        b.function(f"f_{i}", bytes(code), global_=False)
    pointers = bytearray()
    for name, section, value, _typ, _bind in list(b.symbols):
        if section == "text" and name.startswith("f_"):
            pointers += value.to_bytes(8, "little")  # REL addend: offset in .text
    ptr_off = b.data("function_table", bytes(pointers))
    for k in range(len(pointers) // 8):
        b.reloc("rodata", ptr_off + 8 * k, R_BPF_64_ABS64, ".text")
    return b

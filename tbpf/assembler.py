"""Assembler for the reference sBPF assembly syntax (SBPF_SPEC 9).

Grammar (whitespace separates statements; inside a statement only spaces are allowed)::

    program    := ws* (statement ws*)*
    statement  := label | directive | instruction
    label      := IDENT ':'                       IDENT = [A-Za-z0-9_]+
    directive  := '.' [A-Za-z0-9]+ ' '* operands  (only ``.fill COUNT, VALUE``)
    instruction:= [A-Za-z0-9]+ ' '* operands
    operands   := (operand (',' ' '* operand)*)?
    operand    := 'r' DIGITS | integer | '[' 'r' DIGITS ' '* integer? ']' | IDENT
    integer    := ('+'|'-')? ' '* ('0x' HEX+ | DIGITS)

Mnemonics and encodings come from :func:`tbpf.isa.assembler_mnemonics`. Errors name the
line, column and token, and carry the reference message (e.g. ``Invalid immediate
4294967296``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .config import Config
from .errors import AssemblerError
from .executable import ENTRYPOINT_NAME, Executable, FunctionRegistry
from .hashing import symbol_hash
from .isa import (
    FRAME_PTR_REG, AluOp, AsmShape, InsnClass, Source, assembler_mnemonics, encode_slot,
)
from .syscalls import SyscallRegistry
from .versions import SBPFVersion, parse_version

__all__ = ["assemble", "assemble_program", "parse_asm", "Statement", "Register", "Integer",
           "Memory", "Label"]

MAX_ASM_SLOTS = 1 << 20
"""Largest program the assembler produces (8 MiB of slots): a one-line ``.fill`` must
not be able to allocate unbounded memory."""
_I16 = (-(1 << 15), (1 << 15) - 1)
_I32 = (-(1 << 31), (1 << 31) - 1)
_U64 = 1 << 64


@dataclass(frozen=True)
class Register:
    """Operand ``rN``."""

    num: int

    def __repr__(self) -> str:
        return f"Register({self.num})"


@dataclass(frozen=True)
class Integer:
    """Integer operand (already reinterpreted as i64 like the reference)."""

    value: int

    def __repr__(self) -> str:
        return f"Integer({self.value})"


@dataclass(frozen=True)
class Memory:
    """Memory operand ``[rN+OFF]``."""

    reg: int
    off: int

    def __repr__(self) -> str:
        return f"Memory({self.reg}, {self.off})"


@dataclass(frozen=True)
class Label:
    """Label operand."""

    name: str

    def __repr__(self) -> str:
        return f"Label({self.name!r})".replace("'", '"')


Operand = Union[Register, Integer, Memory, Label]


@dataclass(frozen=True)
class Statement:
    """A parsed statement: ``kind`` is ``"label"``, ``"directive"`` or ``"instruction"``."""

    kind: str
    name: str
    operands: tuple[Operand, ...]
    line: int
    column: int


def _is_ident(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def _is_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def where(self, pos: int | None = None) -> tuple[int, int]:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return line, col

    def error(self, message: str, pos: int | None = None) -> AssemblerError:
        pos = self.pos if pos is None else pos
        line, col = self.where(pos)
        token = self.text[pos:pos + 1] if pos < len(self.text) else "end of input"
        return AssemblerError(message, line=line, column=col, token=token)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def take_while(self, pred: "callable[[str], bool]") -> str:  # type: ignore[valid-type]
        start = self.pos
        while self.pos < len(self.text) and pred(self.text[self.pos]):
            self.pos += 1
        return self.text[start:self.pos]

    def parse(self) -> list[Statement]:
        out: list[Statement] = []
        self.skip_ws()
        while self.pos < len(self.text):
            out.append(self.statement())
            self.skip_ws()
        return out

    def statement(self) -> Statement:
        start = self.pos
        line, col = self.where()
        ident = self.take_while(_is_ident)
        if ident and self.peek() == ":":
            self.pos += 1
            return Statement("label", ident, (), line, col)
        self.pos = start
        if self.peek() == ".":
            self.pos += 1
            name = self.take_while(_is_alnum)
            if not name:
                raise self.error("expected a directive name")
            self.skip_spaces()
            return Statement("directive", name, self.operands(), line, col)
        name = self.take_while(_is_alnum)
        if not name:
            raise self.error(f"Parse error: unexpected {self.peek()!r}")
        self.skip_spaces()
        return Statement("instruction", name, self.operands(), line, col)

    def operands(self) -> tuple[Operand, ...]:
        ops: list[Operand] = []
        first = self.operand()
        if first is None:
            return ()
        ops.append(first)
        while self.peek() == ",":
            self.pos += 1
            self.skip_spaces()
            op = self.operand()
            if op is None:
                raise self.error("Parse error: expected an operand after ','")
            ops.append(op)
        return tuple(ops)

    def register(self) -> int | None:
        if self.peek() == "r" and self.pos + 1 < len(self.text) \
                and self.text[self.pos + 1].isdigit() and self.text[self.pos + 1].isascii():
            self.pos += 1
            digits = self.take_while(lambda c: c.isascii() and c.isdigit())
            return int(digits)
        return None

    def integer(self) -> int | None:
        start = self.pos
        sign = 1
        if self.peek() in ("+", "-"):
            sign = -1 if self.peek() == "-" else 1
            self.pos += 1
            self.skip_spaces()
        if self.text.startswith("0x", self.pos) and self.pos + 2 < len(self.text) \
                and self.text[self.pos + 2] in "0123456789abcdefABCDEF":
            self.pos += 2
            digits = self.take_while(lambda c: c in "0123456789abcdefABCDEF")
            value = int(digits, 16)
            value = 0 if value >= _U64 else value  # u64 overflow reads as 0
            value = value - _U64 if value >= 1 << 63 else value  # as i64
        else:
            digits = self.take_while(lambda c: c.isascii() and c.isdigit())
            if not digits:
                self.pos = start
                return None
            value = int(digits)
            value = 0 if value >= 1 << 63 else value  # i64 overflow reads as 0
        result = sign * value
        # The reference multiplies in i64: keep the result in that range.
        return ((result + (1 << 63)) % _U64) - (1 << 63)

    def operand(self) -> Operand | None:
        reg = self.register()
        if reg is not None:
            return Register(reg)
        num = self.integer()
        if num is not None:
            return Integer(num)
        if self.peek() == "[":
            self.pos += 1
            base = self.register()
            if base is None:
                raise self.error("Parse error: expected a register after '['")
            self.skip_spaces()
            off = self.integer()
            if self.peek() != "]":
                raise self.error("Parse error: expected ']'")
            self.pos += 1
            return Memory(base, 0 if off is None else off)
        name = self.take_while(_is_ident)
        if name:
            return Label(name)
        return None


def parse_asm(text: str) -> list[Statement]:
    """Parse assembly text into statements.

    Raises:
        AssemblerError: on a syntax error (with line and column).
    """
    return _Parser(text).parse()


def _check_fields(dst: int, src: int, off: int, imm: int) -> None:
    if not 0 <= dst < 16:
        raise ValueError(f"Invalid destination register {dst}")
    if not 0 <= src < 16:
        raise ValueError(f"Invalid source register {src}")
    if not _I16[0] <= off <= _I16[1]:
        raise ValueError(f"Invalid offset {off}")
    if not _I32[0] <= imm <= _I32[1]:
        raise ValueError(f"Invalid immediate {imm}")


def _slot(opc: int, dst: int, src: int, off: int, imm: int) -> bytes:
    _check_fields(dst, src, off, imm)
    return encode_slot(opc, dst, src, off, imm)


_NOOP = encode_slot(InsnClass.ALU64 | Source.K | AluOp.OR, 0, 0, 0, 0)


def _assemble(text: str, version: SBPFVersion) -> tuple[bytes, FunctionRegistry, dict[int, str]]:
    statements = parse_asm(text)
    mnemonics = assembler_mnemonics(version)
    static = version.static_syscalls
    functions = FunctionRegistry()
    labels: dict[str, int] = {ENTRYPOINT_NAME: 0}
    debug_labels: dict[int, str] = {}

    def fail(st: Statement, message: str) -> AssemblerError:
        return AssemblerError(message, line=st.line, column=st.column, token=st.name)

    # Pass 1: label addresses.
    pc = 0
    for st in statements:
        if st.kind == "label":
            if st.name.startswith("function_") or st.name == ENTRYPOINT_NAME:
                functions.register(pc, st.name, pc)
                debug_labels[pc] = st.name
            labels[st.name] = pc
        elif st.kind == "directive":
            if st.name == "fill" and len(st.operands) == 2 and all(
                    isinstance(o, Integer) for o in st.operands):
                count = st.operands[0].value  # type: ignore[union-attr]
                if count < 0 or pc + count > MAX_ASM_SLOTS:
                    raise fail(st, f"Invalid fill count {count} (programs are limited to "
                                   f"{MAX_ASM_SLOTS} slots)")
                pc += count
        else:
            pc += 2 if st.name == "lddw" else 1

    def resolve(st: Statement, here: int, name: str) -> int:
        if name not in labels:
            raise fail(st, f"Label not found {name}")
        return labels[name] - here - 1

    # Pass 2: encode.
    out = bytearray()
    pc = 0
    for st in statements:
        if st.kind == "label":
            continue
        if st.kind == "directive":
            ops = st.operands
            if st.name == "fill" and len(ops) == 2 and isinstance(ops[0], Integer) \
                    and isinstance(ops[1], Integer):
                value = ops[1].value % _U64
                slot = encode_slot(value & 0xFF, (value >> 8) & 0xF, (value >> 12) & 0xF,
                                   (value >> 16) & 0xFFFF, (value >> 32) & 0xFFFF_FFFF)
                out += slot * ops[0].value
                pc += ops[0].value
                continue
            raise fail(st, f"Invalid directive {st.name!r}".replace("'", '"'))
        entry = mnemonics.get(st.name)
        if entry is None:
            raise fail(st, f'Invalid instruction "{st.name}"')
        shape, opc, width = entry
        ops = st.operands
        try:
            out += _encode(shape, opc, width, ops, pc, version, static, functions,
                           lambda name, here=pc, st=st: resolve(st, here, name))
        except ValueError as exc:
            raise fail(st, str(exc)) from None
        pc += 2 if shape is AsmShape.LOAD_DW_IMM else 1
    return bytes(out), functions, debug_labels


def _encode(shape: AsmShape, opc: int, width: int, ops: tuple[Operand, ...], pc: int,
            version: SBPFVersion, static: bool, functions: FunctionRegistry,
            resolve: "callable[[str], int]") -> bytes:  # type: ignore[valid-type]
    x = Source.X
    match shape, ops:
        case AsmShape.ALU_BINARY, (Register(dst), Register(src)):
            return _slot(opc | x, dst, src, 0, 0)
        case AsmShape.ALU_BINARY, (Register(dst), Integer(imm)) \
                if dst == FRAME_PTR_REG and opc == InsnClass.ALU64 | Source.K | AluOp.ADD:
            # add64 r10, imm: a real stack bump only where the program moves r10 itself.
            if version.manual_stack_frame_bump:
                return _slot(opc, FRAME_PTR_REG, 0, 0, imm)
            return _NOOP
        case AsmShape.ALU_BINARY, (Register(dst), Integer(imm)):
            return _slot(opc, dst, 0, 0, imm)
        case AsmShape.ALU_UNARY, (Register(dst),):
            return _slot(opc, dst, 0, 0, 0)
        case AsmShape.LOAD_REG, (Register(dst), Memory(src, off)):
            return _slot(opc, dst, src, off, 0)
        case AsmShape.STORE_REG, (Memory(dst, off), Register(src)):
            return _slot(opc, dst, src, off, 0)
        case AsmShape.STORE_IMM, (Memory(dst, off), Integer(imm)):
            return _slot(opc, dst, 0, off, imm)
        case AsmShape.NO_OPERAND, ():
            return _slot(opc, 0, 0, 0, 0)
        case AsmShape.JUMP_UNCONDITIONAL, (Integer(off),):
            return _slot(opc, 0, 0, off, 0)
        case AsmShape.JUMP_UNCONDITIONAL, (Label(name),):
            return _slot(opc, 0, 0, resolve(name), 0)
        case AsmShape.JUMP_CONDITIONAL, (Register(dst), Register(src), Integer(off)):
            return _slot(opc | x, dst, src, off, 0)
        case AsmShape.JUMP_CONDITIONAL, (Register(dst), Integer(imm), Integer(off)):
            return _slot(opc, dst, 0, off, imm)
        case AsmShape.JUMP_CONDITIONAL, (Register(dst), Register(src), Label(name)):
            return _slot(opc | x, dst, src, resolve(name), 0)
        case AsmShape.JUMP_CONDITIONAL, (Register(dst), Integer(imm), Label(name)):
            return _slot(opc, dst, 0, resolve(name), imm)
        case AsmShape.CALL_IMM, (Integer(rel),):
            target = rel + pc + 1
            functions.register(target & 0xFFFF_FFFF, f"function_{target}", target)
            return _slot(opc, 0, int(static), 0, rel if static else target)
        case AsmShape.CALL_IMM, (Label(name),):
            target = resolve(name) + pc + 1
            return _slot(opc, 0, int(static), 0, target - pc - 1 if static else target)
        case AsmShape.SYSCALL, (Label(name),):
            key = symbol_hash(name)
            return _slot(opc, 0, 0, 0, key - (1 << 32) if key & 0x8000_0000 else key)
        case AsmShape.SYSCALL, (Integer(imm),):
            return _slot(opc, 0, 0, 0, imm)
        case AsmShape.CALL_REG, (Register(reg),):
            if version.callx_uses_src_reg:
                return _slot(opc, 0, reg, 0, 0)
            if version.callx_uses_dst_reg:
                return _slot(opc, reg, 0, 0, 0)
            return _slot(opc, 0, 0, 0, reg)
        case AsmShape.ENDIAN, (Register(dst),):
            return _slot(opc, dst, 0, 0, width)
        case AsmShape.LOAD_DW_IMM, (Register(dst), Integer(imm)):
            value = imm % _U64
            lo = value & 0xFFFF_FFFF
            hi = value >> 32
            _check_fields(dst, 0, 0, 0)
            return encode_slot(opc, dst, 0, 0, lo) + encode_slot(0, 0, 0, 0, hi)
    raise ValueError(f"Unexpected operands: [{', '.join(repr(o) for o in ops)}]")


def assemble(text: str, version: "str | int | SBPFVersion" = SBPFVersion.V0) -> bytes:
    """Assemble ``text`` for ``version`` into raw 8-byte slots.

    Raises:
        AssemblerError: with the line, column, token and the reference message.

    >>> assemble("mov64 r0, 1\\nexit").hex()
    'b7000000010000009500000000000000'
    """
    return _assemble(text, parse_version(version))[0]


def assemble_program(text: str, version: "str | int | SBPFVersion" = SBPFVersion.V0, *,
                     config: Config | None = None,
                     syscalls: SyscallRegistry | None = None) -> Executable:
    """Assemble ``text`` into an :class:`Executable` with its function registry.

    Labels named ``function_*`` and ``entrypoint`` are registered under their pc (the
    reference assembler's convention); the entry is the ``entrypoint`` label or pc 0.

    Raises:
        AssemblerError, SymbolHashCollisionError.
    """
    v = parse_version(version)
    text_bytes, functions, labels = _assemble(text, v)
    return Executable.from_text_bytes(text_bytes, v, config=config, syscalls=syscalls,
                                      functions=functions, labels=labels, source_kind="asm")

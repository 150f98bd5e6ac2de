"""THE instruction table of sBPF (SBPF_SPEC sections 1 and 2).

Every opcode byte, mnemonic, operand shape, version gate and verifier rule is defined
here, once; the assembler, disassembler, verifier, interpreter and JIT all read this
table and nothing else. No other module may type an opcode byte or a mnemonic.

* Field enums (:class:`InsnClass`, :class:`AluOp`, :class:`JmpOp`, :class:`PqrOp`,
  :class:`MemSize`) compose each opcode byte.
* :class:`OpSpec` describes one opcode as valid in one version, including the semantic
  flags that differ between versions (sign extension of 32-bit results, swapped ``sub``
  operands, where ``callx`` keeps its register, static syscalls). Engines dispatch on
  ``spec.op``/``spec.form`` and these flags; they never test the version themselves.
* :func:`decode_table` returns the 256-entry table for a version (``None`` = invalid).
* :class:`Insn` is a decoded instruction. ``pc`` is a slot index; an ``lddw`` occupies
  two slots and is decoded into one :class:`Insn` whose ``imm`` is the full 64-bit value.
* :func:`assembler_mnemonics` gives the assembler its name → encoding map. Like the
  reference assembler it is (almost) version independent: it encodes any mnemonic it
  knows and leaves validity to the verifier.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from functools import lru_cache
from typing import Iterator

from .versions import SBPFVersion

__all__ = [
    "INSN_SIZE", "FRAME_PTR_REG", "FIRST_SCRATCH_REG", "SCRATCH_REGS", "NUM_REGISTERS",
    "R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10",
    "InsnClass", "Source", "AluOp", "JmpOp", "PqrOp", "MemSize", "Form", "Op", "VerifyRule",
    "OpSpec", "Insn", "all_specs", "decode_table", "decode_slot", "encode_slot",
    "decode_program", "assembler_mnemonics", "AsmShape", "LDDW_OPCODE", "is_lddw_opcode",
    "CALL_IMM_OPCODE", "EXIT_OPCODE",
]

INSN_SIZE = 8
"""Bytes per instruction slot."""
NUM_REGISTERS = 11
"""r0..r10."""
FRAME_PTR_REG = 10
"""r10, the read-only frame pointer."""
FIRST_SCRATCH_REG = 6
"""r6..r9 are callee-saved (saved and restored by the VM on internal calls)."""
SCRATCH_REGS = 4
R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)

_SLOT = struct.Struct("<BBhi")


class InsnClass(IntEnum):
    """The low three bits of the opcode."""

    LD = 0
    LDX = 1
    ST = 2
    STX = 3
    ALU32 = 4      # v2: also the relocated loads
    JMP = 5
    JMP32 = 6      # v3+; in v2 this class is PQR
    ALU64 = 7      # v2: also the relocated stores

    @classmethod
    def PQR(cls) -> "InsnClass":  # noqa: N802 - the reference name
        """Class 6 read as PQR (v2 only)."""
        return cls.JMP32


class Source(IntEnum):
    """Bit 3 of ALU/JMP opcodes: immediate (K) or register (X) operand."""

    K = 0x00
    X = 0x08


class AluOp(IntEnum):
    """Operation nibble of the ALU32/ALU64 classes."""

    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0
    HOR = 0xF0


class JmpOp(IntEnum):
    """Operation nibble of the JMP/JMP32 classes."""

    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0


class PqrOp(IntEnum):
    """Operation bits of the v2 PQR class (bit 4, 0x10, selects 64-bit and is not part of it)."""

    UHMUL = 0x20
    UDIV = 0x40
    UREM = 0x60
    LMUL = 0x80
    SHMUL = 0xA0
    SDIV = 0xC0
    SREM = 0xE0


PQR_WIDTH_64 = 0x10


class MemSize(IntEnum):
    """Size bits of load/store opcodes (classic and the v2 relocated encodings)."""

    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18
    B1 = 0x20   # v2
    B2 = 0x30   # v2
    B4 = 0x80   # v2
    B8 = 0x90   # v2


MODE_MEM = 0x60
MODE_IMM = 0x00


class Form(Enum):
    """Operand shape of an instruction (what the assembler parses and the engines bind)."""

    ALU_IMM = "alu-imm"
    ALU_REG = "alu-reg"
    NEG = "unary"
    ENDIAN = "endian"
    LDDW = "lddw"
    LOAD = "load"
    STORE_IMM = "store-imm"
    STORE_REG = "store-reg"
    JA = "jump"
    JUMP_IMM = "jump-imm"
    JUMP_REG = "jump-reg"
    CALL_IMM = "call-imm"
    CALL_REG = "call-reg"
    EXIT = "exit"


class Op(Enum):
    """The semantic operation engines dispatch on."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    OR = "or"
    AND = "and"
    LSH = "lsh"
    RSH = "rsh"
    NEG = "neg"
    MOD = "mod"
    XOR = "xor"
    MOV = "mov"
    ARSH = "arsh"
    LE = "le"
    BE = "be"
    HOR = "hor"
    LMUL = "lmul"
    UHMUL = "uhmul"
    SHMUL = "shmul"
    UDIV = "udiv"
    UREM = "urem"
    SDIV = "sdiv"
    SREM = "srem"
    LDDW = "lddw"
    LDX = "ldx"
    ST = "st"
    STX = "stx"
    JA = "ja"
    JEQ = "jeq"
    JGT = "jgt"
    JGE = "jge"
    JLT = "jlt"
    JLE = "jle"
    JSET = "jset"
    JNE = "jne"
    JSGT = "jsgt"
    JSGE = "jsge"
    JSLT = "jslt"
    JSLE = "jsle"
    CALL = "call"
    CALLX = "callx"
    EXIT = "exit"


class VerifyRule(Enum):
    """The opcode-specific check the verifier applies (SBPF_SPEC 7)."""

    NONE = "none"
    DIV_IMM_NONZERO = "div-imm-nonzero"
    SHIFT_IMM = "shift-imm"          # 0 <= imm < width
    ENDIAN_IMM = "endian-imm"        # imm in {16, 32, 64}
    STACK_BUMP = "stack-bump"        # add64 r10, imm with imm % 64 == 0 (v1/v2)
    JUMP = "jump"                    # target in the text and not an opcode-0 slot
    CALLX_REG = "callx-reg"          # register number 0..=9
    LDDW = "lddw"                    # not last; second slot opcode 0


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One opcode as it exists in one set of versions.

    Attributes:
        opcode: the opcode byte.
        mnemonic: the canonical assembly spelling (``le``/``be`` get the width appended).
        form: operand shape.
        op: semantic operation.
        width: 32 or 64: the operand width of ALU, PQR and jump operations.
        mem_size: bytes accessed by a load/store (0 otherwise).
        sign_extend_result: a 32-bit result is sign-extended to 64 bits (instead of
            zero-extended). True for add32/sub32/mul32 in v0/v1/v3/v4 and for
            ``mov32 reg`` in v2.
        swap_imm_operands: ``sub imm`` computes ``imm - dst`` (v2).
        imm_zero_extended: a 64-bit K form uses ``zx(imm)`` instead of ``sx(imm)``
            (v2 ``uhmul64``/``udiv64``/``urem64``).
        callx_reg_field: where ``callx`` keeps its register: ``"imm"``, ``"src"`` or ``"dst"``.
        static_syscalls: ``call`` resolves by ``src`` (v3+) instead of by registry key.
        dst_may_be_r10: the verifier allows ``dst == 10`` (stores; ``add64 r10`` in v1/v2).
        rule: the opcode-specific verifier check.
        versions: the versions in which this exact spec is valid.
    """

    opcode: int
    mnemonic: str
    form: Form
    op: Op
    width: int = 64
    mem_size: int = 0
    sign_extend_result: bool = False
    swap_imm_operands: bool = False
    imm_zero_extended: bool = False
    callx_reg_field: str = ""
    static_syscalls: bool = False
    dst_may_be_r10: bool = False
    rule: VerifyRule = VerifyRule.NONE
    versions: frozenset[SBPFVersion] = field(default_factory=frozenset, compare=False)

    @property
    def is_store(self) -> bool:
        """True for ``st*``/``stx*``."""
        return self.op in (Op.ST, Op.STX)

    @property
    def is_jump(self) -> bool:
        """True for ``ja`` and the conditional jumps (JMP and JMP32)."""
        return self.form in (Form.JA, Form.JUMP_IMM, Form.JUMP_REG)

    @property
    def is_conditional_jump(self) -> bool:
        """True for the conditional jumps."""
        return self.form in (Form.JUMP_IMM, Form.JUMP_REG)

    @property
    def source(self) -> Source:
        """K or X, from the opcode."""
        return Source(self.opcode & Source.X)

    def key(self) -> tuple[object, ...]:
        """Everything but ``versions``: two versions share a spec iff their keys match."""
        return (self.opcode, self.mnemonic, self.form, self.op, self.width, self.mem_size,
                self.sign_extend_result, self.swap_imm_operands, self.imm_zero_extended,
                self.callx_reg_field, self.static_syscalls, self.dst_may_be_r10, self.rule)


_ALU_MNEMONIC = {
    AluOp.ADD: Op.ADD, AluOp.SUB: Op.SUB, AluOp.MUL: Op.MUL, AluOp.DIV: Op.DIV,
    AluOp.OR: Op.OR, AluOp.AND: Op.AND, AluOp.LSH: Op.LSH, AluOp.RSH: Op.RSH,
    AluOp.MOD: Op.MOD, AluOp.XOR: Op.XOR, AluOp.MOV: Op.MOV, AluOp.ARSH: Op.ARSH,
}
_JUMP_OPS = {
    JmpOp.JEQ: Op.JEQ, JmpOp.JGT: Op.JGT, JmpOp.JGE: Op.JGE, JmpOp.JLT: Op.JLT,
    JmpOp.JLE: Op.JLE, JmpOp.JSET: Op.JSET, JmpOp.JNE: Op.JNE, JmpOp.JSGT: Op.JSGT,
    JmpOp.JSGE: Op.JSGE, JmpOp.JSLT: Op.JSLT, JmpOp.JSLE: Op.JSLE,
}
_PQR_OPS = {
    PqrOp.LMUL: (Op.LMUL, (32, 64)), PqrOp.UHMUL: (Op.UHMUL, (64,)),
    PqrOp.SHMUL: (Op.SHMUL, (64,)), PqrOp.UDIV: (Op.UDIV, (32, 64)),
    PqrOp.UREM: (Op.UREM, (32, 64)), PqrOp.SDIV: (Op.SDIV, (32, 64)),
    PqrOp.SREM: (Op.SREM, (32, 64)),
}
_MEM_SUFFIX = {1: "b", 2: "h", 4: "w", 8: "dw"}
_CLASSIC_SIZES = {MemSize.B: 1, MemSize.H: 2, MemSize.W: 4, MemSize.DW: 8}
_MOVED_SIZES = {MemSize.B1: 1, MemSize.B2: 2, MemSize.B4: 4, MemSize.B8: 8}


def _specs_for(v: SBPFVersion) -> Iterator[OpSpec]:
    """Every valid opcode of version ``v`` (the loops that generate the table)."""
    # ALU32 / ALU64 binary operations.
    for cls, width in ((InsnClass.ALU32, 32), (InsnClass.ALU64, 64)):
        for alu, op in _ALU_MNEMONIC.items():
            if op in (Op.MUL, Op.DIV, Op.MOD) and v.enable_pqr:
                continue
            for src in Source:
                opcode = cls | src | alu
                form = Form.ALU_REG if src is Source.X else Form.ALU_IMM
                rule = VerifyRule.NONE
                if op in (Op.DIV, Op.MOD) and src is Source.K:
                    rule = VerifyRule.DIV_IMM_NONZERO
                elif op in (Op.LSH, Op.RSH, Op.ARSH) and src is Source.K:
                    rule = VerifyRule.SHIFT_IMM
                sext = False
                if width == 32:
                    if op in (Op.ADD, Op.SUB, Op.MUL):
                        sext = not v.explicit_sign_extension_of_results
                    elif op is Op.MOV and src is Source.X:
                        sext = v.explicit_sign_extension_of_results
                dst10 = False
                if op is Op.ADD and width == 64 and src is Source.K and v.manual_stack_frame_bump:
                    dst10 = True
                    rule = VerifyRule.STACK_BUMP
                yield OpSpec(opcode, f"{op.value}{width}", form, op, width,
                             sign_extend_result=sext,
                             swap_imm_operands=(op is Op.SUB and src is Source.K
                                                and v.swap_sub_reg_imm_operands),
                             dst_may_be_r10=dst10, rule=rule)
        if not v.disable_neg:
            yield OpSpec(cls | AluOp.NEG, f"neg{width}", Form.NEG, Op.NEG, width)
    # Byte swaps (ALU32 class, the K/X bit selects le/be).
    if not v.disable_le:
        yield OpSpec(InsnClass.ALU32 | Source.K | AluOp.END, "le", Form.ENDIAN, Op.LE, 32,
                     rule=VerifyRule.ENDIAN_IMM)
    yield OpSpec(InsnClass.ALU32 | Source.X | AluOp.END, "be", Form.ENDIAN, Op.BE, 32,
                 rule=VerifyRule.ENDIAN_IMM)
    # Wide immediates: lddw, or hor64 where lddw is disabled.
    if v.disable_lddw:
        yield OpSpec(InsnClass.ALU64 | Source.K | AluOp.HOR, "hor64", Form.ALU_IMM, Op.HOR, 64)
    else:
        yield OpSpec(InsnClass.LD | MODE_IMM | MemSize.DW, "lddw", Form.LDDW, Op.LDDW, 64,
                     rule=VerifyRule.LDDW)
    # PQR (v2).
    if v.enable_pqr:
        for pqr, (op, widths) in _PQR_OPS.items():
            for width in widths:
                for src in Source:
                    opcode = InsnClass.JMP32 | src | pqr | (PQR_WIDTH_64 if width == 64 else 0)
                    is_div = op in (Op.UDIV, Op.UREM, Op.SDIV, Op.SREM)
                    yield OpSpec(opcode, f"{op.value}{width}",
                                 Form.ALU_REG if src is Source.X else Form.ALU_IMM, op, width,
                                 imm_zero_extended=(width == 64 and op in (
                                     Op.UHMUL, Op.UDIV, Op.UREM)),
                                 rule=(VerifyRule.DIV_IMM_NONZERO
                                       if is_div and src is Source.K else VerifyRule.NONE))
    # Loads and stores.
    if v.move_memory_instruction_classes:
        for size_code, size in _MOVED_SIZES.items():
            sfx = _MEM_SUFFIX[size]
            yield OpSpec(InsnClass.ALU32 | Source.X | size_code, f"ldx{sfx}", Form.LOAD,
                         Op.LDX, mem_size=size)
            yield OpSpec(InsnClass.ALU64 | Source.K | size_code, f"st{sfx}", Form.STORE_IMM,
                         Op.ST, mem_size=size, dst_may_be_r10=True)
            yield OpSpec(InsnClass.ALU64 | Source.X | size_code, f"stx{sfx}", Form.STORE_REG,
                         Op.STX, mem_size=size, dst_may_be_r10=True)
    else:
        for size_code, size in _CLASSIC_SIZES.items():
            sfx = _MEM_SUFFIX[size]
            yield OpSpec(InsnClass.LDX | MODE_MEM | size_code, f"ldx{sfx}", Form.LOAD, Op.LDX,
                         mem_size=size)
            yield OpSpec(InsnClass.ST | MODE_MEM | size_code, f"st{sfx}", Form.STORE_IMM,
                         Op.ST, mem_size=size, dst_may_be_r10=True)
            yield OpSpec(InsnClass.STX | MODE_MEM | size_code, f"stx{sfx}", Form.STORE_REG,
                         Op.STX, mem_size=size, dst_may_be_r10=True)
    # Jumps.
    yield OpSpec(InsnClass.JMP | JmpOp.JA, "ja", Form.JA, Op.JA, rule=VerifyRule.JUMP)
    jump_classes = [(InsnClass.JMP, 64, "")]
    if v.enable_jmp32:
        jump_classes.append((InsnClass.JMP32, 32, "32"))
    for cls, width, sfx in jump_classes:
        for jop, op in _JUMP_OPS.items():
            for src in Source:
                yield OpSpec(cls | src | jop, f"{op.value}{sfx}",
                             Form.JUMP_REG if src is Source.X else Form.JUMP_IMM, op, width,
                             rule=VerifyRule.JUMP)
    # Calls and exit.
    yield OpSpec(InsnClass.JMP | JmpOp.CALL, "call", Form.CALL_IMM, Op.CALL,
                 static_syscalls=v.static_syscalls)
    callx_field = "src" if v.callx_uses_src_reg else "dst" if v.callx_uses_dst_reg else "imm"
    yield OpSpec(InsnClass.JMP | Source.X | JmpOp.CALL, "callx", Form.CALL_REG, Op.CALLX,
                 callx_reg_field=callx_field, rule=VerifyRule.CALLX_REG)
    yield OpSpec(InsnClass.JMP | JmpOp.EXIT, "exit", Form.EXIT, Op.EXIT)


@lru_cache(maxsize=None)
def _all_specs() -> tuple[OpSpec, ...]:
    merged: dict[tuple[object, ...], tuple[OpSpec, set[SBPFVersion]]] = {}
    for v in SBPFVersion:
        for spec in _specs_for(v):
            entry = merged.setdefault(spec.key(), (spec, set()))
            entry[1].add(v)
    out = []
    for spec, versions in merged.values():
        out.append(OpSpec(**{f: getattr(spec, f) for f in spec.__dataclass_fields__
                             if f != "versions"}, versions=frozenset(versions)))
    return tuple(sorted(out, key=lambda s: (s.opcode, min(s.versions))))


def all_specs() -> tuple[OpSpec, ...]:
    """The whole table: every distinct :class:`OpSpec` with the versions it is valid in."""
    return _all_specs()


@lru_cache(maxsize=None)
def decode_table(version: SBPFVersion) -> tuple[OpSpec | None, ...]:
    """The 256-entry opcode table of ``version``; ``None`` marks an invalid opcode."""
    table: list[OpSpec | None] = [None] * 256
    for spec in _all_specs():
        if version in spec.versions:
            if table[spec.opcode] is not None:
                raise AssertionError(f"opcode {spec.opcode:#x} defined twice for {version}")
            table[spec.opcode] = spec
    return tuple(table)


LDDW_OPCODE = InsnClass.LD | MODE_IMM | MemSize.DW
"""The opcode of ``lddw`` (0x18); the loader patches its two immediates."""
CALL_IMM_OPCODE = InsnClass.JMP | JmpOp.CALL
"""The opcode of ``call imm`` (0x85); the loader relocates it."""
EXIT_OPCODE = InsnClass.JMP | JmpOp.EXIT
"""The opcode of ``exit``."""


def is_lddw_opcode(opc: int) -> bool:
    """True if ``opc`` is the two-slot ``lddw`` opcode (in versions that have it)."""
    return opc == LDDW_OPCODE


@dataclass(frozen=True, slots=True)
class Insn:
    """A decoded instruction.

    Attributes:
        pc: slot index of the (first) slot.
        opc: opcode byte.
        dst: destination register field (0..15).
        src: source register field (0..15).
        off: signed 16-bit offset.
        imm: signed 32-bit immediate; for ``lddw`` the full unsigned 64-bit value.
        spec: the table entry, or ``None`` for an opcode invalid in the version.
    """

    pc: int
    opc: int
    dst: int
    src: int
    off: int
    imm: int
    spec: OpSpec | None = None

    @property
    def size_slots(self) -> int:
        """Slots occupied: 2 for ``lddw``, else 1."""
        return 2 if self.spec is not None and self.spec.form is Form.LDDW else 1

    def encode(self) -> bytes:
        """Encode back to 8 bytes (16 for ``lddw``).

        >>> Insn(0, 0xb7, 1, 0, 0, -1).encode().hex()
        'b7010000ffffffff'
        """
        if self.spec is not None and self.spec.form is Form.LDDW:
            lo = self.imm & 0xFFFF_FFFF
            hi = (self.imm >> 32) & 0xFFFF_FFFF
            return (encode_slot(self.opc, self.dst, self.src, self.off, _i32(lo))
                    + encode_slot(0, 0, 0, 0, _i32(hi)))
        return encode_slot(self.opc, self.dst, self.src, self.off, self.imm)


def _i32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def encode_slot(opc: int, dst: int, src: int, off: int, imm: int) -> bytes:
    """Pack one 8-byte slot. ``imm`` may be given signed or unsigned (low 32 bits kept).

    >>> encode_slot(0x95, 0, 0, 0, 0).hex()
    '9500000000000000'
    """
    return _SLOT.pack(opc & 0xFF, ((src & 0xF) << 4) | (dst & 0xF), _i16(off), _i32(imm))


def _i16(value: int) -> int:
    value &= 0xFFFF
    return value - 0x1_0000 if value & 0x8000 else value


def decode_slot(text: bytes | bytearray | memoryview, pc: int) -> tuple[int, int, int, int, int]:
    """Raw fields ``(opc, dst, src, off, imm)`` of slot ``pc`` (no version, no table).

    Raises:
        IndexError: if the slot is not entirely inside ``text``.

    >>> decode_slot(bytes.fromhex('b7010000ffffffff'), 0)
    (183, 1, 0, 0, -1)
    """
    if pc < 0 or (pc + 1) * INSN_SIZE > len(text):
        raise IndexError(f"slot {pc} is outside the {len(text)}-byte text")
    opc, regs, off, imm = _SLOT.unpack_from(text, pc * INSN_SIZE)
    return opc, regs & 0xF, regs >> 4, off, imm


def decode_program(text: bytes | bytearray | memoryview,
                   version: SBPFVersion) -> tuple[Insn | None, ...]:
    """Decode every slot of ``text`` for ``version``, without verifying.

    Returns a tuple indexed by pc. An ``lddw`` whose second slot exists is merged into one
    :class:`Insn` at its first pc and ``None`` stands at the second pc. Invalid opcodes
    decode to an :class:`Insn` with ``spec=None``. A trailing partial slot is ignored.
    """
    table = decode_table(version)
    n_slots = len(text) // INSN_SIZE
    out: list[Insn | None] = []
    pc = 0
    while pc < n_slots:
        opc, dst, src, off, imm = decode_slot(text, pc)
        spec = table[opc]
        if spec is not None and spec.form is Form.LDDW and pc + 1 < n_slots:
            hi = decode_slot(text, pc + 1)[4]
            value = (imm & 0xFFFF_FFFF) | ((hi & 0xFFFF_FFFF) << 32)
            out.append(Insn(pc, opc, dst, src, off, value, spec))
            out.append(None)
            pc += 2
            continue
        out.append(Insn(pc, opc, dst, src, off, imm, spec))
        pc += 1
    return tuple(out)


class AsmShape(Enum):
    """How the assembler reads the operands of a mnemonic (reference ``InstructionType``)."""

    ALU_BINARY = "alu-binary"
    ALU_UNARY = "alu-unary"
    LOAD_DW_IMM = "lddw"
    LOAD_REG = "load-reg"
    STORE_IMM = "store-imm"
    STORE_REG = "store-reg"
    JUMP_UNCONDITIONAL = "ja"
    JUMP_CONDITIONAL = "jcc"
    SYSCALL = "syscall"
    CALL_IMM = "call-imm"
    CALL_REG = "call-reg"
    ENDIAN = "endian"
    NO_OPERAND = "exit"


_FORM_SHAPE = {
    Form.ALU_IMM: AsmShape.ALU_BINARY, Form.ALU_REG: AsmShape.ALU_BINARY,
    Form.NEG: AsmShape.ALU_UNARY, Form.ENDIAN: AsmShape.ENDIAN, Form.LDDW: AsmShape.LOAD_DW_IMM,
    Form.LOAD: AsmShape.LOAD_REG, Form.STORE_IMM: AsmShape.STORE_IMM,
    Form.STORE_REG: AsmShape.STORE_REG, Form.JA: AsmShape.JUMP_UNCONDITIONAL,
    Form.JUMP_IMM: AsmShape.JUMP_CONDITIONAL, Form.JUMP_REG: AsmShape.JUMP_CONDITIONAL,
    Form.CALL_IMM: AsmShape.CALL_IMM, Form.CALL_REG: AsmShape.CALL_REG,
    Form.EXIT: AsmShape.NO_OPERAND,
}


@lru_cache(maxsize=None)
def assembler_mnemonics(version: SBPFVersion) -> dict[str, tuple[AsmShape, int, int]]:
    """Map every accepted mnemonic to ``(shape, opcode with the K bit, endian width)``.

    Binary ALU and conditional-jump shapes OR in :data:`Source.X` for a register operand.
    Mnemonics come from the specs of ``version`` first and then from the other versions,
    so (like the reference) ``hor64``, ``jeq32`` or ``mul64`` assemble in any version and
    the verifier decides. Aliases: no suffix = 64-bit for ALU and PQR, ``jXX64`` = ``jXX``,
    ``le16``..``be64`` carry their width, ``syscall`` shares ``call``'s opcode.
    """
    out: dict[str, tuple[AsmShape, int, int]] = {}
    order = [version] + [v for v in SBPFVersion if v is not version]
    for v in order:
        for spec in decode_table(v):
            if spec is None:
                continue
            shape = _FORM_SHAPE[spec.form]
            base = spec.opcode & ~Source.X if shape in (
                AsmShape.ALU_BINARY, AsmShape.JUMP_CONDITIONAL) else spec.opcode
            names: list[str] = []
            width_arg = 0
            if spec.form is Form.ENDIAN:
                for w in (16, 32, 64):
                    out.setdefault(f"{spec.mnemonic}{w}", (shape, base, w))
                continue
            names.append(spec.mnemonic)
            if spec.form in (Form.ALU_IMM, Form.ALU_REG, Form.NEG) and spec.width == 64:
                names.append(spec.op.value)
            if spec.is_conditional_jump and spec.width == 64:
                names.append(f"{spec.op.value}64")
            if spec.form is Form.CALL_IMM:
                out.setdefault("syscall", (AsmShape.SYSCALL, base, 0))
            for name in names:
                out.setdefault(name, (shape, base, width_arg))
    return out

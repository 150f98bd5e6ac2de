"""The reference interpreter: the normative semantics of TBPF (SBPF_SPEC 2-5).

Design (readable first, then fast):

* Every verified slot is *bound* once, before the loop, to a zero-argument closure
  (``handler() -> next pc``) built by a factory for its form/operation. Operands, masks
  and targets are closure constants, so the loop never looks anything up by name.
* The arithmetic of every ALU, PQR and conditional-jump operation is written down once,
  as a Python expression in the tables :data:`ALU_SEMANTICS` and :data:`JUMP_CONDITIONS`
  (SBPF_SPEC 2.3-2.6). At import each expression is compiled into a handler factory with
  the operand baked in (the constant ``k`` of an immediate form or the source register),
  so an ``add64`` costs one closure call and no helper call.
* The loop is the metering rule of SBPF_SPEC 5.2::

      for unpaid in range(left, 0, -1):   # step 1: stop when nothing is left to pay
          pc = code[pc]()                 # step 2 is the countdown; steps 3-5: run it

  ``left`` is ``prev - due``, the compute units left on the host meter; while an
  instruction runs, ``unpaid - 1`` units are left (its own unit is already charged), so
  every fault counts the faulting instruction. ``code[n]`` is the overrun sentinel.
* Rare events leave the loop by exception: ``exit`` at depth 0 and syscalls (which must
  synchronise the meter) raise pre-built traps caught around the loop; guest faults are
  :class:`~tbpf.errors.ProgramFault` subclasses (the loop fills in their ``pc``).
* Guest memory is the run's :class:`~tbpf.memory.MemoryMap`. Load/store handlers inline
  the common case (region by ``vm_addr >> 32``, bounds, permission, and the v0 gapped
  stack of SBPF_SPEC 4.3) and fall back to :meth:`MemoryMap.translate`, which owns every
  rule of SBPF_SPEC 4 and raises the exact fault.

A bound machine is cached per program and syscall set and reused by later runs; the
interpreter can also *resume* from any :class:`~tbpf.vm.VmState` (the JIT hands over to
it when the remaining budget cannot pay for a whole block, or for a ``callx`` into the
middle of a block).
"""

from __future__ import annotations

import struct
import sys
import threading
from typing import Any, Callable

from tbpf.arith import U32_MASK, U64_MASK, bswap16, bswap32, bswap64
from tbpf.errors import (
    AccessType, CallDepthExceededError, CallOutsideTextSegmentError, DivideByZeroError,
    DivideOverflowError, ExceededMaxInstructionsError, ExecutionOverrunError, InternalError,
    ProgramFault, UnsupportedInstructionError,
)
from tbpf.executable import Executable
from tbpf.isa import INSN_SIZE, Form, Insn, Op, OpSpec, all_specs
from tbpf.memory import REGION_STACK, MemoryMap
from tbpf.syscalls import Syscall, SyscallContext, SyscallRegistry, invoke_syscall
from tbpf.vm import VmState

__all__ = ["Interpreter", "handled_forms", "ALU_SEMANTICS", "JUMP_CONDITIONS"]

Handler = Callable[[], int]

M64 = U64_MASK
M32 = U32_MASK
S64 = 1 << 63
S32 = 1 << 31
_NUM_FAST_REGIONS = 5  # region indices 0..4 (rodata, program, stack, heap, input)
_CHUNK = 1 << 62       # budgets above this run in chunks so range() stays on C longs

_UNPACK = {2: struct.Struct("<H").unpack_from, 4: struct.Struct("<I").unpack_from,
           8: struct.Struct("<Q").unpack_from}
_PACK = {2: struct.Struct("<H").pack_into, 4: struct.Struct("<I").pack_into,
         8: struct.Struct("<Q").pack_into}


class _ExitTrap(Exception):
    """``exit`` at call depth 0."""


class _SyscallTrap(Exception):
    """A ``call`` that resolved to a syscall; the loop runs it with a synchronised meter."""

    def __init__(self, syscall: Syscall) -> None:
        super().__init__(syscall.name)
        self.syscall = syscall


_EXIT = _ExitTrap()


class _Machine:
    """One program bound to handlers. Per-run state lives in mutable containers that the
    handlers close over, so a machine is reused run after run (never by two at once)."""

    def __init__(self, exe: Executable, insns: tuple[Insn | None, ...],
                 syscalls: SyscallRegistry) -> None:
        self.exe = exe
        self.syscalls = syscalls
        # Every syscall key a `call` resolved at bind time, and what it resolved to: the
        # machine may serve any registry that resolves these keys to equal syscalls.
        self.resolved: dict[int, Syscall | None] = {}
        self.lock = threading.Lock()
        self.regs: list[int] = [0] * 11
        self.frames: list[tuple[int, int, int, int, int, int]] = []
        # Fast-path tables for region indices 0..4; a length of -1 sends every access of
        # that region to MemoryMap.translate (unmapped index, or a layout the handlers
        # were not bound for).
        self.m_start: list[int] = [0] * _NUM_FAST_REGIONS
        self.m_len: list[int] = [-1] * _NUM_FAST_REGIONS
        self.m_wlen: list[int] = [-1] * _NUM_FAST_REGIONS
        # (The view tables hold None for such slots; handlers never index them because
        # the bounds check against -1 fails first.)
        self.m_view: list[Any] = [None] * _NUM_FAST_REGIONS
        # m_wide[size][i]: region i's bytes as a view of size-byte integers.
        self.m_wide: dict[int, list[Any]] = {
            size: [None] * _NUM_FAST_REGIONS for size in (1, 2, 4, 8)}
        self.memory: MemoryMap | None = None
        config = exe.config
        self.max_call_depth = config.max_call_depth
        self.frame_bump = config.frame_bump(exe.version)
        # The gap of the stack this program runs with (SBPF_SPEC 4.3); handlers bound
        # with a gap translate stack addresses inline.
        self.stack_gap = config.stack_frame_size if config.stack_gaps(exe.version) else 0
        self.num_slots = len(insns)
        self.code: list[Handler] = [self._bind(insn, pc) for pc, insn in enumerate(insns)]
        self.code.append(self._overrun(len(insns)))

    # --- per-run setup ----------------------------------------------------------------
    def attach(self, memory: MemoryMap) -> None:
        """Point the fast-path tables at this run's regions."""
        self.memory = memory
        for i in range(_NUM_FAST_REGIONS):
            region = memory.regions[i] if i < len(memory.regions) else None
            expected_gap = self.stack_gap if i == REGION_STACK else 0
            if region is None or region.gap_size != expected_gap:
                self.m_start[i], self.m_len[i], self.m_wlen[i], self.m_view[i] = 0, -1, -1, None
                for views in self.m_wide.values():
                    views[i] = None
            else:
                self.m_start[i] = region.vm_addr
                self.m_len[i] = region.length
                self.m_wlen[i] = region.length if region.writable else -1
                self.m_view[i] = region.view
                for size, views in self.m_wide.items():
                    views[i] = _wide_view(region.view, size)

    def run(self, memory: MemoryMap, state: VmState, ctx: SyscallContext) -> int:
        """Run from ``state`` until exit or fault; ``state`` is updated either way."""
        pc = state.pc
        left = state.remaining
        if not 0 <= pc <= self.num_slots:
            # A resumed state outside the text: 5.2 steps 1-3 at that pc.
            if left <= 0:
                raise ExceededMaxInstructionsError(pc=pc)
            state.remaining = ctx.remaining = left - 1
            raise ExecutionOverrunError(pc=pc)
        self.attach(memory)
        r = self.regs
        r[:] = state.registers
        frames = self.frames
        frames[:] = state.frames
        code = self.code
        try:
            while True:
                try:
                    while left > 0:
                        stop = left - _CHUNK if left > _CHUNK else 0
                        try:
                            for unpaid in range(left, stop, -1):
                                pc = code[pc]()
                        except BaseException:
                            left = unpaid - 1  # the interrupted instruction was charged
                            raise
                        left = stop
                    raise ExceededMaxInstructionsError(pc=pc)
                except _SyscallTrap as trap:
                    trap.__traceback__ = None  # the instance is reused: drop old frames
                    ctx.remaining = left
                    ctx.frame_depth = len(frames)
                    try:
                        r[0] = invoke_syscall(trap.syscall, ctx, r[1], r[2], r[3], r[4], r[5])
                    finally:
                        left = ctx.remaining
                    pc += 1
        except _ExitTrap as done:
            done.__traceback__ = None
            return r[0]
        except ProgramFault as fault:
            if fault.pc is None:
                fault.pc = pc
            raise
        finally:
            state.registers = list(r)
            state.frames = list(frames)
            state.pc = pc
            state.remaining = ctx.remaining = left
            self.detach()

    def detach(self) -> None:
        """Drop this run's views (so the machine keeps no region alive between runs)."""
        self.memory = None
        for i in range(_NUM_FAST_REGIONS):
            self.m_view[i] = None
            for views in self.m_wide.values():
                views[i] = None

    # --- binding ----------------------------------------------------------------------
    def _bind(self, insn: Insn | None, pc: int) -> Handler:
        if insn is None:
            return self._unsupported(pc, "second slot of lddw")
        spec = insn.spec
        if spec is None:
            return self._unsupported(pc, f"opcode {insn.opc:#x}")
        factory = _FACTORIES.get((spec.form, spec.op))
        if factory is None:
            raise InternalError(f"no interpreter handler for {spec.mnemonic}")
        return factory(self, insn)

    @staticmethod
    def _unsupported(pc: int, detail: str) -> Handler:
        def unsupported() -> int:
            raise UnsupportedInstructionError(detail, pc=pc)
        return unsupported

    @staticmethod
    def _overrun(pc: int) -> Handler:
        def overrun() -> int:
            raise ExecutionOverrunError(pc=pc)
        return overrun

    def resolve(self, key: int) -> Syscall | None:
        """The syscall ``key`` names in this machine's registry (recorded for reuse)."""
        syscall = self.syscalls.get(key)
        self.resolved[key] = syscall
        return syscall

    def serves(self, exe: Executable, syscalls: SyscallRegistry) -> bool:
        """True if this machine is bound exactly as it would be for ``exe``/``syscalls``."""
        return self.exe is exe and all(syscalls.get(key) == syscall
                                       for key, syscall in self.resolved.items())

    def load_slow(self, vm_addr: int, size: int) -> int:
        """Load through the full translation rules (gaps, faults)."""
        view, offset = self.memory.translate(AccessType.LOAD, vm_addr, size)  # type: ignore[union-attr]
        return view[offset] if size == 1 else _UNPACK[size](view, offset)[0]

    def store_slow(self, vm_addr: int, size: int, value: int) -> None:
        """Store through the full translation rules (gaps, faults, permissions)."""
        view, offset = self.memory.translate(AccessType.STORE, vm_addr, size)  # type: ignore[union-attr]
        if size == 1:
            view[offset] = value & 0xFF
        else:
            _PACK[size](view, offset, value & ((1 << (8 * size)) - 1))


# ======================================================================================
# Handler factories. Each takes (machine, insn) and returns handler() -> next pc.
# ======================================================================================

Factory = Callable[[_Machine, Insn], Handler]


# --- arithmetic: the semantic tables --------------------------------------------------

def _nonzero(divisor: int) -> int:
    """The divisor of a register-form division (SBPF_SPEC 2.3, 2.4, 2.6)."""
    if divisor == 0:
        raise DivideByZeroError()
    return divisor


def _trunc_quotient(x: int, y: int) -> int:
    """Rust's truncating signed division (Python's ``//`` floors)."""
    q = abs(x) // abs(y)
    return -q if (x < 0) != (y < 0) else q


def _sdiv(a: int, b: int, bits: int) -> int:
    """``sdiv32``/``sdiv64`` on the low ``bits`` of two register values."""
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    x, y = ((a & mask) ^ sign) - sign, ((b & mask) ^ sign) - sign
    if y == 0:
        raise DivideByZeroError()
    if y == -1 and x == -sign:
        raise DivideOverflowError()
    return _trunc_quotient(x, y) & mask


def _srem(a: int, b: int, bits: int) -> int:
    """``srem32``/``srem64``: the remainder takes the sign of the dividend."""
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    x, y = ((a & mask) ^ sign) - sign, ((b & mask) ^ sign) - sign
    if y == 0:
        raise DivideByZeroError()
    if y == -1 and x == -sign:
        raise DivideOverflowError()
    return (x - _trunc_quotient(x, y) * y) & mask


ALU_SEMANTICS: dict[tuple[Op, int], str] = {
    # (op, width) -> the new dst as an expression over {a} (dst) and {b} (the operand:
    # sx(imm), zx(imm) or the 32 bits of imm for an immediate form, see _alu_constant;
    # the source register for a register form). {div} is {b} checked for zero (register
    # forms only: the verifier rejects a zero immediate divisor). A 32-bit result is
    # zero-extended here; specs with ``sign_extend_result`` sign-extend it afterwards.
    (Op.ADD, 64): "({a} + {b}) & M64",
    (Op.SUB, 64): "({a} - {b}) & M64",
    (Op.MUL, 64): "({a} * {b}) & M64",
    (Op.DIV, 64): "{a} // {div}",
    (Op.MOD, 64): "{a} % {div}",
    (Op.OR, 64): "{a} | {b}",
    (Op.AND, 64): "{a} & {b}",
    (Op.XOR, 64): "{a} ^ {b}",
    (Op.MOV, 64): "{b}",
    (Op.LSH, 64): "({a} << ({b} & 63)) & M64",
    (Op.RSH, 64): "{a} >> ({b} & 63)",
    (Op.ARSH, 64): "((({a} ^ S64) - S64) >> ({b} & 63)) & M64",
    (Op.HOR, 64): "{a} | (({b} & M32) << 32)",
    (Op.LMUL, 64): "({a} * {b}) & M64",
    (Op.UHMUL, 64): "({a} * {b}) >> 64",
    (Op.SHMUL, 64): "(((({a} ^ S64) - S64) * (({b} ^ S64) - S64)) >> 64) & M64",
    (Op.UDIV, 64): "{a} // {div}",
    (Op.UREM, 64): "{a} % {div}",
    (Op.SDIV, 64): "_sdiv({a}, {b}, 64)",
    (Op.SREM, 64): "_srem({a}, {b}, 64)",
    (Op.NEG, 64): "(-{a}) & M64",
    (Op.ADD, 32): "({a} + {b}) & M32",
    (Op.SUB, 32): "({a} - {b}) & M32",
    (Op.MUL, 32): "({a} * {b}) & M32",
    (Op.DIV, 32): "({a} & M32) // {div}",
    (Op.MOD, 32): "({a} & M32) % {div}",
    (Op.OR, 32): "({a} | {b}) & M32",
    (Op.AND, 32): "{a} & {b} & M32",
    (Op.XOR, 32): "({a} ^ {b}) & M32",
    (Op.MOV, 32): "{b} & M32",
    (Op.LSH, 32): "({a} << ({b} & 31)) & M32",
    (Op.RSH, 32): "({a} & M32) >> ({b} & 31)",
    (Op.ARSH, 32): "(((({a} & M32) ^ S32) - S32) >> ({b} & 31)) & M32",
    (Op.LMUL, 32): "({a} * {b}) & M32",
    (Op.UDIV, 32): "({a} & M32) // {div}",
    (Op.UREM, 32): "({a} & M32) % {div}",
    (Op.SDIV, 32): "_sdiv({a}, {b}, 32)",
    (Op.SREM, 32): "_srem({a}, {b}, 32)",
    (Op.NEG, 32): "(-{a}) & M32",
}
"""The arithmetic of SBPF_SPEC 2.3, 2.4 and 2.6, one expression per operation."""

# Immediate forms whose operand is already in range drop the masks (same value).
_ALU_IMM_SHORTCUTS: dict[tuple[Op, int], str] = {
    (Op.MOV, 32): "{b}",
    (Op.LSH, 64): "({a} << {b}) & M64",
    (Op.RSH, 64): "{a} >> {b}",
    (Op.ARSH, 64): "((({a} ^ S64) - S64) >> {b}) & M64",
    (Op.LSH, 32): "({a} << {b}) & M32",
    (Op.RSH, 32): "({a} & M32) >> {b}",
    (Op.ARSH, 32): "(((({a} & M32) ^ S32) - S32) >> {b}) & M32",
}
_SUB_SWAPPED = {64: "({b} - {a}) & M64", 32: "({b} - {a}) & M32"}
_SIGN_EXTEND_32 = "((({0}) ^ S32) - S32) & M64"

JUMP_CONDITIONS: dict[Op, str] = {
    # op -> the branch condition over {a} (dst) and {b} (operand). Signed comparisons
    # compare the operands with their sign bit flipped, which orders two's-complement
    # values as unsigned ones (see _jump_operands).
    Op.JEQ: "{a} == {b}",
    Op.JNE: "{a} != {b}",
    Op.JGT: "{a} > {b}",
    Op.JGE: "{a} >= {b}",
    Op.JLT: "{a} < {b}",
    Op.JLE: "{a} <= {b}",
    Op.JSET: "{a} & {b}",
    Op.JSGT: "{a} > {b}",
    Op.JSGE: "{a} >= {b}",
    Op.JSLT: "{a} < {b}",
    Op.JSLE: "{a} <= {b}",
}
"""The conditions of SBPF_SPEC 2.5 (JMP and JMP32)."""
_SIGNED_JUMPS = frozenset({Op.JSGT, Op.JSGE, Op.JSLT, Op.JSLE})

# Names the compiled expressions may use.
_TEMPLATE_GLOBALS: dict[str, object] = {
    "M64": M64, "M32": M32, "S64": S64, "S32": S32, "_nonzero": _nonzero,
    "_sdiv": _sdiv, "_srem": _srem,
}

# A compiled factory: make(r, d, s, k, nxt, target) -> handler.
_Maker = Callable[[list[int], int, int, int, int, int], Handler]


def _compile(name: str, body: str) -> _Maker:
    """Compile ``body`` (one statement, over the closure names ``r d s k nxt target``)
    into a factory of zero-argument handlers called ``name``."""
    source = (f"def make(r, d, s, k, nxt, target):\n"
              f"    def {name}():\n"
              f"        {body}\n"
              f"    return {name}\n")
    namespace = dict(_TEMPLATE_GLOBALS)
    exec(compile(source, f"<tbpf handler {name}>", "exec"), namespace)  # noqa: S102
    return namespace["make"]  # type: ignore[return-value]


def _alu_key(spec: OpSpec) -> tuple[object, ...]:
    return (spec.form, spec.op, spec.width, spec.sign_extend_result, spec.swap_imm_operands)


def _alu_maker(spec: OpSpec) -> _Maker:
    """The handler factory of one ALU/PQR/NEG spec, compiled from :data:`ALU_SEMANTICS`."""
    key = (spec.op, spec.width)
    imm = spec.form is Form.ALU_IMM
    if spec.swap_imm_operands:
        expr = _SUB_SWAPPED[spec.width]
    elif imm and key in _ALU_IMM_SHORTCUTS:
        expr = _ALU_IMM_SHORTCUTS[key]
    else:
        expr = ALU_SEMANTICS[key]
    if spec.width == 32 and spec.sign_extend_result:
        expr = _SIGN_EXTEND_32.format(expr)
    if imm:
        b = div = "k"
    else:
        b = "r[s]"
        div = "_nonzero(r[s])" if spec.width == 64 else "_nonzero(r[s] & M32)"
    name = f"{spec.mnemonic}_{'imm' if imm else 'reg' if spec.form is Form.ALU_REG else 'unary'}"
    return _compile(name, f"r[d] = {expr.format(a='r[d]', b=b, div=div)}\n        return nxt")


def _alu_constant(spec: OpSpec, imm: int) -> int:
    """The K operand: ``sx(imm)`` for 64-bit operations (``zx(imm)`` where the spec says
    so), the immediate's 32 bits for 32-bit ones."""
    if spec.width == 32 or spec.imm_zero_extended:
        return imm & M32
    return imm & M64


def _jump_operands(spec: OpSpec) -> tuple[str, str, int, int]:
    """``(a, b, mask, flip)`` of a conditional jump: operand expressions and how the K
    constant is prepared (``(sx(imm) & mask) ^ flip``)."""
    flip_bit = 0
    if spec.op in _SIGNED_JUMPS:
        flip_bit = S64 if spec.width == 64 else S32
    src = "r[s]" if spec.form is Form.JUMP_REG else "k"
    if spec.width == 64:
        a, b, mask = "r[d]", src, M64
    else:
        a, b, mask = "(r[d] & M32)", src if src == "k" else "(r[s] & M32)", M32
    if flip_bit:
        a = f"({a} ^ {'S64' if spec.width == 64 else 'S32'})"
        if src != "k":
            b = f"({b} ^ {'S64' if spec.width == 64 else 'S32'})"
    return a, b, mask, flip_bit


def _jump_maker(spec: OpSpec) -> _Maker:
    """The handler factory of one conditional jump, compiled from :data:`JUMP_CONDITIONS`."""
    a, b, _mask, _flip = _jump_operands(spec)
    cond = JUMP_CONDITIONS[spec.op].format(a=a, b=b)
    form = "imm" if spec.form is Form.JUMP_IMM else "reg"
    return _compile(f"{spec.mnemonic}_{form}", f"return target if {cond} else nxt")


_MAKERS: dict[tuple[object, ...], _Maker] = {}
for _spec in all_specs():
    if _spec.form in (Form.ALU_IMM, Form.ALU_REG, Form.NEG):
        _MAKERS[_alu_key(_spec)] = _alu_maker(_spec)
    elif _spec.is_conditional_jump:
        _MAKERS[(_spec.form, _spec.op, _spec.width)] = _jump_maker(_spec)


def _alu(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    k = _alu_constant(spec, insn.imm) if spec.form is Form.ALU_IMM else 0
    return _MAKERS[_alu_key(spec)](m.regs, insn.dst, insn.src, k, insn.pc + 1, 0)


def _jump(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    _a, _b, mask, flip = _jump_operands(spec)
    k = ((insn.imm & M64) & mask) ^ flip if spec.form is Form.JUMP_IMM else 0
    return _MAKERS[(spec.form, spec.op, spec.width)](
        m.regs, insn.dst, insn.src, k, insn.pc + 1, insn.pc + 1 + insn.off)


def _endian(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    r = m.regs
    d = insn.dst
    nxt = insn.pc + 1
    width = insn.imm
    if spec.op is Op.LE:
        mask = {16: 0xFFFF, 32: M32, 64: M64}[width]

        def le() -> int:
            r[d] &= mask
            return nxt
        return le
    swap = {16: bswap16, 32: bswap32, 64: bswap64}[width]

    def be() -> int:
        r[d] = swap(r[d])
        return nxt
    return be


def _lddw(m: _Machine, insn: Insn) -> Handler:
    r = m.regs
    d = insn.dst
    value = insn.imm & M64
    nxt = insn.pc + 2

    def lddw() -> int:
        r[d] = value
        return nxt
    return lddw


# --- memory ---------------------------------------------------------------------------
#
# Fast path: region index ``i = vm_addr >> 32`` (0..4), offset ``o`` into the region,
# bounds (and, for stores, writability: ``m_wlen`` is -1 for a read-only region). The
# address is not wrapped to 64 bits first: ``r + off`` lies in [-2^15, 2^64 + 2^15), and
# an address that needs wrapping fails the bounds check (index -1 reads region 4's start,
# so the offset is negative) and is wrapped on the slow path. A
# naturally aligned access goes through a memoryview cast to its width (``m_wide``), any
# other through ``struct``. With a gapped stack (v0), an offset in region 2 is first
# translated like ``Region.host_offset``: bit ``gap`` set means "in a gap" (-1, so the
# slow path raises the fault), otherwise the frame's host offset. Only the first byte is
# tested for the gap, exactly as the reference does. Everything else goes through
# ``MemoryMap.translate``, which raises the precise error.

_WIDE_FORMAT = {1: "B", 2: "H", 4: "I", 8: "Q"}
_SHIFT = {1: 0, 2: 1, 4: 2, 8: 3}


class _LittleEndianWords:
    """Index ``i`` is the little-endian ``size``-byte integer at byte ``i * size``: the
    aligned view for big-endian hosts, where a native-order cast would be wrong."""

    def __init__(self, view: memoryview, size: int) -> None:
        self.view = view
        self.size = size

    def __getitem__(self, index: int) -> int:
        o = index * self.size
        return int.from_bytes(self.view[o:o + self.size], "little")

    def __setitem__(self, index: int, value: int) -> None:
        o = index * self.size
        self.view[o:o + self.size] = value.to_bytes(self.size, "little")


def _wide_view(view: memoryview, size: int) -> Any:
    """``view`` read as little-endian unsigned integers of ``size`` bytes (the whole ones):
    a memoryview (or, on big-endian hosts, a :class:`_LittleEndianWords`)."""
    if size == 1:
        return view
    if sys.byteorder != "little":
        return _LittleEndianWords(view, size)
    whole = view[: len(view) - len(view) % size]
    return whole.cast(_WIDE_FORMAT[size])  # type: ignore[call-overload]


def _unaligned_reader(size: int) -> Callable[[memoryview, int], int]:
    if size == 1:
        return lambda view, o: view[o]
    unpack = _UNPACK[size]
    return lambda view, o: unpack(view, o)[0]


def _ldx(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    r = m.regs
    d, s, off, size = insn.dst, insn.src, insn.off, spec.mem_size
    nxt = insn.pc + 1
    starts, lens, views, wide = m.m_start, m.m_len, m.m_view, m.m_wide[size]
    shift, misalign = _SHIFT[size], size - 1
    read = _unaligned_reader(size)
    slow = m.load_slow
    gap, frame_base, in_frame = m.stack_gap, -m.stack_gap, m.stack_gap - 1
    if gap:
        def ldx_gapped() -> int:
            a = r[s] + off
            i = a >> 32
            if i < 5:
                o = a - starts[i]
                if i == 2:
                    o = -1 if o & gap else ((o >> 1) & frame_base) | (o & in_frame)
                if 0 <= o and o + size <= lens[i]:
                    r[d] = read(views[i], o) if o & misalign else wide[i][o >> shift]
                    return nxt
            r[d] = slow(a & M64, size)
            return nxt
        return ldx_gapped

    def ldx() -> int:
        a = r[s] + off
        i = a >> 32
        if i < 5:
            o = a - starts[i]
            if 0 <= o and o + size <= lens[i]:
                r[d] = read(views[i], o) if o & misalign else wide[i][o >> shift]
                return nxt
        r[d] = slow(a & M64, size)
        return nxt
    return ldx


def _unaligned_writer(size: int) -> Callable[[memoryview, int, int], None]:
    if size == 1:
        def write_byte(view: memoryview, o: int, value: int) -> None:
            view[o] = value
        return write_byte
    return _PACK[size]


def _store(m: _Machine, insn: Insn) -> Handler:
    """``st*`` (the value is the bound constant) and ``stx*`` (the source register)."""
    spec = insn.spec
    assert spec is not None
    r = m.regs
    d, s, off, size = insn.dst, insn.src, insn.off, spec.mem_size
    nxt = insn.pc + 1
    starts, wlens, views, wide = m.m_start, m.m_wlen, m.m_view, m.m_wide[size]
    shift, misalign = _SHIFT[size], size - 1
    write = _unaligned_writer(size)
    slow = m.store_slow
    mask = (1 << (8 * size)) - 1
    gap, frame_base, in_frame = m.stack_gap, -m.stack_gap, m.stack_gap - 1
    if spec.form is Form.STORE_IMM:
        value = insn.imm & M64 & mask  # sx(imm), truncated to the access size
        if gap:
            def st_gapped() -> int:
                a = r[d] + off
                i = a >> 32
                if i < 5:
                    o = a - starts[i]
                    if i == 2:
                        o = -1 if o & gap else ((o >> 1) & frame_base) | (o & in_frame)
                    if 0 <= o and o + size <= wlens[i]:
                        if o & misalign:
                            write(views[i], o, value)
                        else:
                            wide[i][o >> shift] = value
                        return nxt
                slow(a & M64, size, value)
                return nxt
            return st_gapped

        def st() -> int:
            a = r[d] + off
            i = a >> 32
            if i < 5:
                o = a - starts[i]
                if 0 <= o and o + size <= wlens[i]:
                    if o & misalign:
                        write(views[i], o, value)
                    else:
                        wide[i][o >> shift] = value
                    return nxt
            slow(a & M64, size, value)
            return nxt
        return st
    if gap:
        def stx_gapped() -> int:
            a = r[d] + off
            i = a >> 32
            if i < 5:
                o = a - starts[i]
                if i == 2:
                    o = -1 if o & gap else ((o >> 1) & frame_base) | (o & in_frame)
                if 0 <= o and o + size <= wlens[i]:
                    if o & misalign:
                        write(views[i], o, r[s] & mask)
                    else:
                        wide[i][o >> shift] = r[s] & mask
                    return nxt
            slow(a & M64, size, r[s])
            return nxt
        return stx_gapped

    def stx() -> int:
        a = r[d] + off
        i = a >> 32
        if i < 5:
            o = a - starts[i]
            if 0 <= o and o + size <= wlens[i]:
                if o & misalign:
                    write(views[i], o, r[s] & mask)
                else:
                    wide[i][o >> shift] = r[s] & mask
                return nxt
        slow(a & M64, size, r[s])
        return nxt
    return stx


# --- jumps and calls ------------------------------------------------------------------

def _ja(m: _Machine, insn: Insn) -> Handler:
    target = insn.pc + 1 + insn.off

    def ja() -> int:
        return target
    return ja


def _call_to(m: _Machine, pc: int, target: int) -> Handler:
    """An internal call from ``pc`` to ``target`` (SBPF_SPEC 3.2): save r6-r10 and the
    return pc, check the depth, move r10 (fixed-frame versions)."""
    r = m.regs
    frames = m.frames
    limit = m.max_call_depth - 1
    max_depth = m.max_call_depth
    bump = m.frame_bump
    ret = pc + 1
    if bump:
        def call() -> int:
            if len(frames) >= limit:
                raise CallDepthExceededError(max_depth)
            frames.append((r[6], r[7], r[8], r[9], r[10], ret))
            r[10] = (r[10] + bump) & M64
            return target
        return call

    def call_no_bump() -> int:
        if len(frames) >= limit:
            raise CallDepthExceededError(max_depth)
        frames.append((r[6], r[7], r[8], r[9], r[10], ret))
        return target
    return call_no_bump


def _call_imm(m: _Machine, insn: Insn) -> Handler:
    """``call imm``: syscall, internal call or ``UnsupportedInstruction`` (SBPF_SPEC 3.4).

    Resolution depends only on the program and the syscall registry, so it happens here,
    at bind time."""
    spec = insn.spec
    assert spec is not None
    pc = insn.pc
    key = insn.imm & M32
    exe = m.exe
    target: int | None = None
    syscall: Syscall | None = None
    if spec.static_syscalls:
        if insn.src == 0:
            syscall = m.resolve(key)
        elif insn.src == 1:
            t = pc + 1 + insn.imm
            if 0 <= t < exe.num_slots:
                target = t
    else:
        syscall = m.resolve(key)
        if syscall is None:
            found = exe.functions.lookup_by_key(key)
            if found is not None:
                target = found[1]
                if not 0 <= target < exe.num_slots:
                    def call_outside() -> int:
                        raise CallOutsideTextSegmentError()
                    return call_outside
    if syscall is not None:
        trap = _SyscallTrap(syscall)

        def syscall_() -> int:
            raise trap
        return syscall_
    if target is None:
        return _Machine._unsupported(pc, f"call to unresolved function or syscall {key:#x}")
    return _call_to(m, pc, target)


def _callx(m: _Machine, insn: Insn) -> Handler:
    """``callx``: push a frame, then jump to the slot containing the register's address
    (SBPF_SPEC 3.5); the range check follows the push."""
    spec = insn.spec
    assert spec is not None
    field = spec.callx_reg_field
    reg = insn.src if field == "src" else insn.dst if field == "dst" else insn.imm
    push_and_go = _call_to(m, insn.pc, 0)
    r = m.regs
    text_vaddr = m.exe.text_vaddr
    text_len = len(m.exe.text)

    def callx() -> int:
        addr = r[reg]
        push_and_go()
        target = ((addr - text_vaddr) & M64) // INSN_SIZE
        if (target + 1) * INSN_SIZE > text_len:
            raise CallOutsideTextSegmentError(addr)
        return target
    return callx


def _exit(m: _Machine, insn: Insn) -> Handler:
    r = m.regs
    frames = m.frames

    def exit_() -> int:
        if not frames:
            raise _EXIT
        r[6], r[7], r[8], r[9], r[10], ret = frames.pop()
        return ret
    return exit_


_FACTORIES: dict[tuple[Form, Op], Factory] = {
    (Form.ENDIAN, Op.LE): _endian,
    (Form.ENDIAN, Op.BE): _endian,
    (Form.LDDW, Op.LDDW): _lddw,
    (Form.LOAD, Op.LDX): _ldx,
    (Form.STORE_IMM, Op.ST): _store,
    (Form.STORE_REG, Op.STX): _store,
    (Form.JA, Op.JA): _ja,
    (Form.CALL_IMM, Op.CALL): _call_imm,
    (Form.CALL_REG, Op.CALLX): _callx,
    (Form.EXIT, Op.EXIT): _exit,
}
for _spec in all_specs():
    if _spec.form in (Form.ALU_IMM, Form.ALU_REG, Form.NEG):
        _FACTORIES[(_spec.form, _spec.op)] = _alu
    elif _spec.is_conditional_jump:
        _FACTORIES[(_spec.form, _spec.op)] = _jump
del _spec


def handled_forms() -> set[tuple[Form, Op]]:
    """Every ``(form, op)`` the interpreter can bind (for the table-coverage test)."""
    return set(_FACTORIES)


class Interpreter:
    """The reference interpreter engine (``engine="interp"``)."""

    name = "interp"

    def __init__(self, cache_size: int = 64) -> None:
        self._cache: dict[tuple[int, frozenset[int]], _Machine] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _machine(self, exe: Executable, syscalls: SyscallRegistry) -> _Machine:
        key = (id(exe), syscalls.keys())
        with self._lock:
            machine = self._cache.get(key)
            if machine is not None and machine.serves(exe, syscalls) \
                    and machine.lock.acquire(blocking=False):
                return machine
        machine = _Machine(exe, exe.verify(), syscalls)
        machine.lock.acquire()
        with self._lock:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = machine
        return machine

    def execute(self, exe: Executable, memory: MemoryMap, state: VmState,
                ctx: SyscallContext, syscalls: SyscallRegistry) -> int:
        """Run ``exe`` from ``state`` on ``memory``; returns r0 or raises a ProgramFault.

        ``state`` holds the registers, pc, call frames and remaining compute units at the
        end, whatever the outcome. ``state.pc`` may be any slot (the JIT hands runs over
        mid-program); a pc outside the text faults with ``ExecutionOverrun`` there.
        """
        machine = self._machine(exe, syscalls)
        try:
            return machine.run(memory, state, ctx)
        finally:
            machine.lock.release()

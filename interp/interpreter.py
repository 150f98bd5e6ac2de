"""The reference interpreter: the normative semantics of TBPF (SBPF_SPEC 2-5).

Design (readable first, then fast):

* Every verified slot is *bound* once, before the loop, to a zero-argument closure
  (``handler() -> next pc``) built by a factory named after its form/operation
  (``alu64_add_imm``, ``ldx``, ``jump_reg``...). Operands, masks and targets are
  closure constants, so the loop never looks anything up by name.
* The loop is the metering rule of SBPF_SPEC 5.2, verbatim::

      while left > 0:          # step 1: an instruction that cannot be paid stops the run
          left -= 1            # step 2: every instruction costs 1 (lddw too)
          pc = code[pc]()      # steps 3-5: overrun sentinel at code[n], execute

  ``left`` is ``prev - due``: the compute units left on the host meter.
* Rare events leave the loop by exception: ``exit`` at depth 0 and syscalls (which must
  synchronise the meter) raise pre-built traps caught around the loop; guest faults are
  :class:`~tbpf.errors.ProgramFault` subclasses (the loop fills in their ``pc``).
* Guest memory is the run's :class:`~tbpf.memory.MemoryMap`: handlers inline the common
  case (region by ``vm_addr >> 32``, bounds, permission) and fall back to
  :meth:`MemoryMap.translate`, which owns every rule of SBPF_SPEC 4 (gaps, error kinds).

A bound machine is cached per program and syscall set and reused by later runs; the
interpreter can also *resume* from any :class:`~tbpf.vm.VmState` (the JIT hands over to
it when the remaining budget cannot pay for a whole block, or for a ``callx`` into the
middle of a block).
"""

from __future__ import annotations

import struct
import threading
from typing import Callable

from tbpf.arith import U32_MASK, U64_MASK, bswap16, bswap32, bswap64, mulhi_signed, mulhi_unsigned
from tbpf.errors import (
    AccessType, CallDepthExceededError, CallOutsideTextSegmentError, DivideByZeroError,
    DivideOverflowError, ExceededMaxInstructionsError, ExecutionOverrunError, ProgramFault,
    SyscallError, UnsupportedInstructionError,
)
from tbpf.executable import Executable
from tbpf.isa import INSN_SIZE, Form, Insn, Op
from tbpf.memory import MemoryMap
from tbpf.syscalls import Syscall, SyscallContext, SyscallRegistry, invoke_syscall
from tbpf.vm import VmState

__all__ = ["Interpreter"]

Handler = Callable[[], int]

M64 = U64_MASK
M32 = U32_MASK
SIGN64 = 1 << 63
SIGN32 = 1 << 31
_NUM_SLOTS_FAST = 5  # region indices 0..4 have a fast path

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


def _sx(imm: int) -> int:
    """``sx(imm)``: a signed 32-bit immediate as an unsigned 64-bit value."""
    return imm & M64


class _Machine:
    """One program bound to handlers. Per-run state lives in mutable containers that the
    handlers close over, so a machine is reused run after run (never by two at once)."""

    def __init__(self, exe: Executable, insns: tuple[Insn | None, ...],
                 syscalls: SyscallRegistry) -> None:
        self.exe = exe
        self.syscalls = syscalls
        self.lock = threading.Lock()
        self.regs: list[int] = [0] * 11
        self.frames: list[tuple[int, int, int, int, int, int]] = []
        # Fast-path tables for region indices 0..4; a length of -1 sends every access of
        # that region to MemoryMap.translate (gapped stack, unmapped index).
        self.m_start: list[int] = [0] * _NUM_SLOTS_FAST
        self.m_len: list[int] = [-1] * _NUM_SLOTS_FAST
        self.m_wlen: list[int] = [-1] * _NUM_SLOTS_FAST
        self.m_view: list[memoryview | None] = [None] * _NUM_SLOTS_FAST
        self.memory: MemoryMap | None = None
        config = exe.config
        self.max_call_depth = config.max_call_depth
        self.frame_bump = config.frame_bump(exe.version)
        self.code: list[Handler] = [self._bind(insn, pc, insns) for pc, insn in enumerate(insns)]
        self.code.append(self._overrun(len(insns)))

    # --- per-run setup ----------------------------------------------------------------
    def attach(self, memory: MemoryMap) -> None:
        """Point the fast-path tables at this run's regions."""
        self.memory = memory
        for i in range(_NUM_SLOTS_FAST):
            region = memory.regions[i] if i < len(memory.regions) else None
            if region is None or region.gap_size:
                self.m_start[i], self.m_len[i], self.m_wlen[i], self.m_view[i] = 0, -1, -1, None
            else:
                self.m_start[i] = region.vm_addr
                self.m_len[i] = region.length
                self.m_wlen[i] = region.length if region.writable else -1
                self.m_view[i] = region.view

    def run(self, memory: MemoryMap, state: VmState, ctx: SyscallContext) -> int:
        """Run from ``state`` until exit or fault; ``state`` is updated either way."""
        self.attach(memory)
        r = self.regs
        r[:] = state.registers
        frames = self.frames
        frames[:] = state.frames
        code = self.code
        pc = state.pc
        left = state.remaining
        try:
            while True:
                try:
                    while left > 0:
                        left -= 1
                        pc = code[pc]()
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
            state.remaining = left
            self.memory = None

    # --- binding ----------------------------------------------------------------------
    def _bind(self, insn: Insn | None, pc: int, insns: tuple[Insn | None, ...]) -> Handler:
        if insn is None:
            return self._unsupported(pc, "second slot of lddw")
        spec = insn.spec
        if spec is None:
            return self._unsupported(pc, f"opcode {insn.opc:#x}")
        factory = _FACTORIES.get((spec.form, spec.op))
        if factory is None:
            if spec.form in (Form.ALU_IMM, Form.ALU_REG):
                factory = _alu_factory(spec.form, spec.op, spec.width)
            else:
                raise AssertionError(f"no interpreter handler for {spec.mnemonic}")
        return factory(self, insn)

    @staticmethod
    def _unsupported(pc: int, detail: str) -> Handler:
        def handler() -> int:
            raise UnsupportedInstructionError(detail, pc=pc)
        return handler

    @staticmethod
    def _overrun(n_slots: int) -> Handler:
        def handler() -> int:
            raise ExecutionOverrunError(pc=n_slots)
        return handler

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


def _alu_operand(insn: Insn, width: int, zero_extended_imm: bool = False) -> int:
    """The K operand: ``sx(imm)`` for 64-bit ops (``zx`` where the spec says so), the
    immediate's 32 bits for 32-bit ops."""
    if width == 32 or zero_extended_imm:
        return insn.imm & M32
    return _sx(insn.imm)


def _alu_factory(form: Form, op: Op, width: int) -> Factory:
    """Generic ALU factory: ``dst = fn(dst, operand)`` through a pure function.

    Used for the less frequent operations (the hot ones have hand-written handlers)."""
    def factory(m: _Machine, insn: Insn) -> Handler:
        spec = insn.spec
        assert spec is not None
        fn = _alu_function(spec.op, spec.width, spec.sign_extend_result, spec.swap_imm_operands)
        r = m.regs
        d = insn.dst
        nxt = insn.pc + 1
        pc = insn.pc
        if form is Form.ALU_IMM:
            k = _alu_operand(insn, spec.width, spec.imm_zero_extended)

            def alu_imm() -> int:
                r[d] = fn(r[d], k, pc)
                return nxt
            return alu_imm
        s = insn.src

        def alu_reg() -> int:
            r[d] = fn(r[d], r[s], pc)
            return nxt
        return alu_reg
    return factory


def _sext32(v: int) -> int:
    return (((v & M32) ^ SIGN32) - SIGN32) & M64


def _i32(v: int) -> int:
    return ((v & M32) ^ SIGN32) - SIGN32


def _i64(v: int) -> int:
    return (v ^ SIGN64) - SIGN64


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _alu_function(op: Op, width: int, sext: bool, swap: bool) -> Callable[[int, int, int], int]:
    """The semantics of one ALU/PQR operation as ``fn(dst, operand, pc) -> new dst``.

    ``operand`` is already the K value (see :func:`_alu_operand`) or the source register.
    This is the semantic oracle of SBPF_SPEC 2.3, 2.4 and 2.6.
    """
    def fin32(v: int) -> int:
        return _sext32(v) if sext else v & M32

    if width == 64:
        table: dict[Op, Callable[[int, int, int], int]] = {
            Op.ADD: lambda a, b, pc: (a + b) & M64,
            Op.SUB: (lambda a, b, pc: (b - a) & M64) if swap else (lambda a, b, pc: (a - b) & M64),
            Op.MUL: lambda a, b, pc: (a * b) & M64,
            Op.DIV: lambda a, b, pc: a // _nonzero(b, pc),
            Op.MOD: lambda a, b, pc: a % _nonzero(b, pc),
            Op.OR: lambda a, b, pc: a | b,
            Op.AND: lambda a, b, pc: a & b,
            Op.XOR: lambda a, b, pc: a ^ b,
            Op.MOV: lambda a, b, pc: b,
            Op.LSH: lambda a, b, pc: (a << (b & 63)) & M64,
            Op.RSH: lambda a, b, pc: a >> (b & 63),
            Op.ARSH: lambda a, b, pc: (_i64(a) >> (b & 63)) & M64,
            Op.HOR: lambda a, b, pc: a | ((b & M32) << 32),
            Op.LMUL: lambda a, b, pc: (a * b) & M64,
            Op.UHMUL: lambda a, b, pc: mulhi_unsigned(a, b),
            Op.SHMUL: lambda a, b, pc: mulhi_signed(a, b),
            Op.UDIV: lambda a, b, pc: a // _nonzero(b, pc),
            Op.UREM: lambda a, b, pc: a % _nonzero(b, pc),
            Op.SDIV: lambda a, b, pc: _sdiv(_i64(a), _i64(b), -SIGN64, pc) & M64,
            Op.SREM: lambda a, b, pc: _srem(_i64(a), _i64(b), -SIGN64, pc) & M64,
        }
    else:
        table = {
            Op.ADD: lambda a, b, pc: fin32((a & M32) + (b & M32)),
            Op.SUB: ((lambda a, b, pc: fin32((b & M32) - (a & M32))) if swap
                     else (lambda a, b, pc: fin32((a & M32) - (b & M32)))),
            Op.MUL: lambda a, b, pc: fin32((a & M32) * (b & M32)),
            Op.DIV: lambda a, b, pc: (a & M32) // _nonzero(b & M32, pc),
            Op.MOD: lambda a, b, pc: (a & M32) % _nonzero(b & M32, pc),
            Op.OR: lambda a, b, pc: (a | b) & M32,
            Op.AND: lambda a, b, pc: (a & b) & M32,
            Op.XOR: lambda a, b, pc: (a ^ b) & M32,
            Op.MOV: lambda a, b, pc: fin32(b),
            Op.LSH: lambda a, b, pc: ((a & M32) << (b & 31)) & M32,
            Op.RSH: lambda a, b, pc: (a & M32) >> (b & 31),
            Op.ARSH: lambda a, b, pc: (_i32(a) >> (b & 31)) & M32,
            Op.LMUL: lambda a, b, pc: ((a & M32) * (b & M32)) & M32,
            Op.UDIV: lambda a, b, pc: (a & M32) // _nonzero(b & M32, pc),
            Op.UREM: lambda a, b, pc: (a & M32) % _nonzero(b & M32, pc),
            Op.SDIV: lambda a, b, pc: _sdiv(_i32(a), _i32(b), -SIGN32, pc) & M32,
            Op.SREM: lambda a, b, pc: _srem(_i32(a), _i32(b), -SIGN32, pc) & M32,
        }
    return table[op]


def _nonzero(divisor: int, pc: int) -> int:
    if divisor == 0:
        raise DivideByZeroError(pc=pc)
    return divisor


def _sdiv(a: int, b: int, minimum: int, pc: int) -> int:
    if b == 0:
        raise DivideByZeroError(pc=pc)
    if a == minimum and b == -1:
        raise DivideOverflowError(pc=pc)
    return _trunc_div(a, b)


def _srem(a: int, b: int, minimum: int, pc: int) -> int:
    if b == 0:
        raise DivideByZeroError(pc=pc)
    if a == minimum and b == -1:
        raise DivideOverflowError(pc=pc)
    return a - _trunc_div(a, b) * b


# --- hot ALU64 handlers (hand-written so the common case costs one closure call) -----

def _alu64_imm(op: Op) -> Factory:
    def factory(m: _Machine, insn: Insn) -> Handler:
        spec = insn.spec
        assert spec is not None
        r = m.regs
        d = insn.dst
        k = _sx(insn.imm)
        nxt = insn.pc + 1
        if op is Op.ADD:
            def add64_imm() -> int:
                r[d] = (r[d] + k) & M64
                return nxt
            return add64_imm
        if op is Op.SUB and not spec.swap_imm_operands:
            def sub64_imm() -> int:
                r[d] = (r[d] - k) & M64
                return nxt
            return sub64_imm
        if op is Op.MOV:
            def mov64_imm() -> int:
                r[d] = k
                return nxt
            return mov64_imm
        if op is Op.AND:
            def and64_imm() -> int:
                r[d] &= k
                return nxt
            return and64_imm
        if op is Op.OR:
            def or64_imm() -> int:
                r[d] |= k
                return nxt
            return or64_imm
        if op is Op.XOR:
            def xor64_imm() -> int:
                r[d] ^= k
                return nxt
            return xor64_imm
        if op is Op.LSH:
            def lsh64_imm() -> int:
                r[d] = (r[d] << k) & M64
                return nxt
            return lsh64_imm
        if op is Op.RSH:
            def rsh64_imm() -> int:
                r[d] >>= k
                return nxt
            return rsh64_imm
        if op is Op.MUL:
            def mul64_imm() -> int:
                r[d] = (r[d] * k) & M64
                return nxt
            return mul64_imm
        return _alu_factory(Form.ALU_IMM, op, 64)(m, insn)
    return factory


def _alu64_reg(op: Op) -> Factory:
    def factory(m: _Machine, insn: Insn) -> Handler:
        r = m.regs
        d = insn.dst
        s = insn.src
        nxt = insn.pc + 1
        if op is Op.ADD:
            def add64_reg() -> int:
                r[d] = (r[d] + r[s]) & M64
                return nxt
            return add64_reg
        if op is Op.SUB:
            def sub64_reg() -> int:
                r[d] = (r[d] - r[s]) & M64
                return nxt
            return sub64_reg
        if op is Op.MOV:
            def mov64_reg() -> int:
                r[d] = r[s]
                return nxt
            return mov64_reg
        if op is Op.AND:
            def and64_reg() -> int:
                r[d] &= r[s]
                return nxt
            return and64_reg
        if op is Op.OR:
            def or64_reg() -> int:
                r[d] |= r[s]
                return nxt
            return or64_reg
        if op is Op.XOR:
            def xor64_reg() -> int:
                r[d] ^= r[s]
                return nxt
            return xor64_reg
        if op is Op.MUL:
            def mul64_reg() -> int:
                r[d] = (r[d] * r[s]) & M64
                return nxt
            return mul64_reg
        return _alu_factory(Form.ALU_REG, op, 64)(m, insn)
    return factory


def _alu32_mov_imm(m: _Machine, insn: Insn) -> Handler:
    r = m.regs
    d = insn.dst
    k = insn.imm & M32  # mov32 imm zero-extends in every version
    nxt = insn.pc + 1

    def mov32_imm() -> int:
        r[d] = k
        return nxt
    return mov32_imm


def _neg(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    r = m.regs
    d = insn.dst
    nxt = insn.pc + 1
    mask = M64 if spec.width == 64 else M32

    def neg() -> int:
        r[d] = (-r[d]) & mask
        return nxt
    return neg


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

def _ldx(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    r = m.regs
    d, s, off, size = insn.dst, insn.src, insn.off, spec.mem_size
    nxt = insn.pc + 1
    starts, lens, views = m.m_start, m.m_len, m.m_view
    slow = m.load_slow
    if size == 1:
        def ldxb() -> int:
            a = (r[s] + off) & M64
            i = a >> 32
            if i < 5:
                o = a - starts[i]
                if 0 <= o < lens[i]:
                    r[d] = views[i][o]  # type: ignore[index]
                    return nxt
            r[d] = slow(a, 1)
            return nxt
        return ldxb
    unpack = _UNPACK[size]

    def ldx() -> int:
        a = (r[s] + off) & M64
        i = a >> 32
        if i < 5:
            o = a - starts[i]
            if 0 <= o and o + size <= lens[i]:
                r[d] = unpack(views[i], o)[0]
                return nxt
        r[d] = slow(a, size)
        return nxt
    return ldx


def _store(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    r = m.regs
    d, s, off, size = insn.dst, insn.src, insn.off, spec.mem_size
    nxt = insn.pc + 1
    starts, wlens, views = m.m_start, m.m_wlen, m.m_view
    slow = m.store_slow
    mask = (1 << (8 * size)) - 1
    if spec.form is Form.STORE_IMM:
        value = _sx(insn.imm) & mask

        def st() -> int:
            a = (r[d] + off) & M64
            i = a >> 32
            if i < 5:
                o = a - starts[i]
                if 0 <= o and o + size <= wlens[i]:
                    if size == 1:
                        views[i][o] = value  # type: ignore[index]
                    else:
                        _PACK[size](views[i], o, value)
                    return nxt
            slow(a, size, value)
            return nxt
        return st
    if size == 1:
        def stxb() -> int:
            a = (r[d] + off) & M64
            i = a >> 32
            if i < 5:
                o = a - starts[i]
                if 0 <= o < wlens[i]:
                    views[i][o] = r[s] & 0xFF  # type: ignore[index]
                    return nxt
            slow(a, 1, r[s])
            return nxt
        return stxb
    pack = _PACK[size]

    def stx() -> int:
        a = (r[d] + off) & M64
        i = a >> 32
        if i < 5:
            o = a - starts[i]
            if 0 <= o and o + size <= wlens[i]:
                pack(views[i], o, r[s] & mask)
                return nxt
        slow(a, size, r[s])
        return nxt
    return stx


# --- jumps ----------------------------------------------------------------------------

def _ja(m: _Machine, insn: Insn) -> Handler:
    target = insn.pc + 1 + insn.off

    def ja() -> int:
        return target
    return ja


_CMP: dict[Op, Callable[[int, int], bool]] = {
    Op.JEQ: lambda a, b: a == b,
    Op.JNE: lambda a, b: a != b,
    Op.JGT: lambda a, b: a > b,
    Op.JGE: lambda a, b: a >= b,
    Op.JLT: lambda a, b: a < b,
    Op.JLE: lambda a, b: a <= b,
    Op.JSET: lambda a, b: (a & b) != 0,
}
_SIGNED_AS_UNSIGNED = {Op.JSGT: Op.JGT, Op.JSGE: Op.JGE, Op.JSLT: Op.JLT, Op.JSLE: Op.JLE}


def _jump(m: _Machine, insn: Insn) -> Handler:
    """Conditional jumps. Signed comparisons flip the sign bit of both operands and
    compare unsigned, which orders two's-complement values correctly."""
    spec = insn.spec
    assert spec is not None
    r = m.regs
    d, s = insn.dst, insn.src
    target = insn.pc + 1 + insn.off
    nxt = insn.pc + 1
    op = spec.op
    signed = op in _SIGNED_AS_UNSIGNED
    base = _SIGNED_AS_UNSIGNED.get(op, op)
    if spec.width == 64:
        mask, flip = M64, (SIGN64 if signed else 0)
    else:
        mask, flip = M32, (SIGN32 if signed else 0)
    imm_form = spec.form is Form.JUMP_IMM
    k = ((_sx(insn.imm) & mask) ^ flip) if imm_form else 0

    if base is Op.JEQ and imm_form:
        if mask == M64:
            def jeq_imm() -> int:
                return target if r[d] == k else nxt
            return jeq_imm
    if base is Op.JNE and imm_form and mask == M64:
        def jne_imm() -> int:
            return target if r[d] != k else nxt
        return jne_imm
    cmp = _CMP[base]
    if imm_form:
        if mask == M64 and not flip:
            if base is Op.JGT:
                def jgt_imm() -> int:
                    return target if r[d] > k else nxt
                return jgt_imm
            if base is Op.JLT:
                def jlt_imm() -> int:
                    return target if r[d] < k else nxt
                return jlt_imm

        def jump_imm() -> int:
            return target if cmp((r[d] & mask) ^ flip, k) else nxt
        return jump_imm

    def jump_reg() -> int:
        return target if cmp((r[d] & mask) ^ flip, (r[s] & mask) ^ flip) else nxt
    return jump_reg


# --- calls ----------------------------------------------------------------------------

def _push_frame_factory(m: _Machine, pc: int) -> Callable[[], None]:
    """Save r6-r10 and the return pc, check the depth, move r10 (SBPF_SPEC 3.2)."""
    r = m.regs
    frames = m.frames
    limit = m.max_call_depth - 1
    bump = m.frame_bump
    ret = pc + 1
    depth_error_limit = m.max_call_depth

    def push() -> None:
        if len(frames) >= limit:
            raise CallDepthExceededError(depth_error_limit, pc=pc)
        frames.append((r[6], r[7], r[8], r[9], r[10], ret))
        r[10] = (r[10] + bump) & M64
    return push


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
            syscall = m.syscalls.get(key)
        elif insn.src == 1:
            t = pc + 1 + insn.imm
            if 0 <= t < exe.num_slots:
                target = t
    else:
        syscall = m.syscalls.get(key)
        if syscall is None:
            found = exe.functions.lookup_by_key(key)
            if found is not None:
                target = found[1]
                if not 0 <= target < exe.num_slots:
                    def call_outside() -> int:
                        raise CallOutsideTextSegmentError(pc=pc)
                    return call_outside
    if syscall is not None:
        trap = _SyscallTrap(syscall)

        def syscall_() -> int:
            raise trap
        return syscall_
    if target is None:
        return _Machine._unsupported(pc, f"call to unresolved function or syscall {key:#x}")
    push = _push_frame_factory(m, pc)
    tgt = target

    def call() -> int:
        push()
        return tgt
    return call


def _callx(m: _Machine, insn: Insn) -> Handler:
    spec = insn.spec
    assert spec is not None
    r = m.regs
    pc = insn.pc
    field = spec.callx_reg_field
    reg = insn.src if field == "src" else insn.dst if field == "dst" else insn.imm
    push = _push_frame_factory(m, pc)
    text_vaddr = m.exe.text_vaddr
    text_len = len(m.exe.text)

    def callx() -> int:
        addr = r[reg]
        push()
        target = ((addr - text_vaddr) & M64) // INSN_SIZE
        if (target + 1) * INSN_SIZE > text_len:
            raise CallOutsideTextSegmentError(addr, pc=pc)
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
    (Form.NEG, Op.NEG): _neg,
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
for _op in (Op.JEQ, Op.JGT, Op.JGE, Op.JLT, Op.JLE, Op.JSET, Op.JNE, Op.JSGT, Op.JSGE,
            Op.JSLT, Op.JSLE):
    _FACTORIES[(Form.JUMP_IMM, _op)] = _jump
    _FACTORIES[(Form.JUMP_REG, _op)] = _jump


def _alu_dispatch(form: Form, op: Op) -> Factory:
    """ALU factory: hot 64-bit forms are hand-written, everything else is generic."""
    hot64 = _alu64_imm(op) if form is Form.ALU_IMM else _alu64_reg(op)
    generic = _alu_factory(form, op, 0)

    def factory(m: _Machine, insn: Insn) -> Handler:
        spec = insn.spec
        assert spec is not None
        if spec.width == 64 and spec.op not in (Op.LMUL, Op.UHMUL, Op.SHMUL, Op.UDIV, Op.UREM,
                                                Op.SDIV, Op.SREM, Op.HOR):
            return hot64(m, insn)
        if spec.width == 32 and op is Op.MOV and form is Form.ALU_IMM:
            return _alu32_mov_imm(m, insn)
        return generic(m, insn)
    return factory


for _op in (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.OR, Op.AND, Op.LSH, Op.RSH, Op.MOD, Op.XOR,
            Op.MOV, Op.ARSH, Op.HOR, Op.LMUL, Op.UHMUL, Op.SHMUL, Op.UDIV, Op.UREM, Op.SDIV,
            Op.SREM):
    _FACTORIES[(Form.ALU_IMM, _op)] = _alu_dispatch(Form.ALU_IMM, _op)
    _FACTORIES[(Form.ALU_REG, _op)] = _alu_dispatch(Form.ALU_REG, _op)


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
            if machine is not None and machine.exe is exe and machine.syscalls is syscalls \
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
        end, whatever the outcome.
        """
        machine = self._machine(exe, syscalls)
        try:
            return machine.run(memory, state, ctx)
        finally:
            machine.lock.release()

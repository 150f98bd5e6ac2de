"""The *smart* generator: valid sBPF programs built from the opcode table.

Every program it returns passes :func:`tbpf.verifier.verify` for its version (the
generator checks this itself and raises :class:`~tbpf.errors.InternalError` otherwise).
Shape of a program::

    prologue   ldxdw r0, r2..r9, r1 <- the first ten u64s of the input
    body       random templates (below), nested inside forward branches and bounded loops
    epilogue   xor64 r0, r1..r9; exit         (every register reaches r0)
    functions  function_<pc>: small bodies ending in exit (internal call targets)

Body templates: any ALU/PQR/endian/``lddw``/``hor64`` instruction of the version's
decode table with operands the verifier accepts (interesting immediates: 0, -1, INT_MIN,
shift widths); division and remainder with zero and INT_MIN/-1 operands; shifts by
register amounts >= the width; loads and stores (every width and form) at addresses in
every region, at their edges, in v0 stack gaps, below the stack and in unmapped space,
through a base register or ``r10``; forward conditional jumps (JMP and JMP32);
counter-bounded loops; internal ``call`` (including recursion), ``callx`` to function
starts, unaligned addresses, the second slot of an ``lddw``, past the end of the text,
below it and to arbitrary body pcs; internal calls into the middle of the body and
into the second slot of an ``lddw``; jumps and fall-through into another function's
entry (tail calls for the JIT); unknown syscalls and call targets; core Solana
syscalls with valid and invalid pointers; ``add64 r10`` stack bumps (v1/v2); early
exits; unbounded backward jumps (the small budgets end them).

Only the version's decode table is consulted for encodings: no opcode byte is typed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..config import DEFAULT_HEAP_SIZE, Config
from ..errors import InternalError, VerifierError
from ..isa import (
    FRAME_PTR_REG, INSN_SIZE, Form, Op, OpSpec, VerifyRule, decode_table, encode_slot,
)
from ..memory import MM_HEAP_START, MM_INPUT_START, MM_PROGRAM_START, MM_STACK_START
from ..syscalls import solana_syscalls
from ..verifier import verify
from ..versions import SBPFVersion
from .case import FuzzCase
from .chooser import Chooser

__all__ = ["generate_smart", "SmartOptions", "SpecIndex"]

U64 = (1 << 64) - 1
I32_MIN = -(1 << 31)
I32_MAX = (1 << 31) - 1
I64_MIN_U = 1 << 63

INTERESTING_IMM32 = (0, 1, -1, 2, -2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256,
                     0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, I32_MIN, -0x7FFF_FFFF, 0x4000_0000)
INTERESTING_U64 = (0, 1, U64, I64_MIN_U, I64_MIN_U - 1, 0xFFFF_FFFF, 0x8000_0000,
                   0x1_0000_0000, 0xFFFF_FFFF_8000_0000, 0x7FFF_FFFF, 0x1_0000_0001,
                   0x8000_0000_0000_0001, 0xFF, 0xFFFF, 0x0123_4567_89AB_CDEF)

#: The core syscalls the smart generator calls (cheap and deterministic).
SYSCALL_NAMES = ("sol_log_64_", "sol_memcpy_", "sol_memmove_", "sol_memset_", "sol_memcmp_",
                 "sol_remaining_compute_units", "abort", "sol_log_", "sol_log_compute_units_",
                 "sol_get_stack_height", "sol_log_pubkey", "sol_set_return_data",
                 "sol_get_return_data", "sol_get_clock_sysvar", "sol_get_rent_sysvar",
                 "sol_get_epoch_schedule_sysvar", "sol_sha256", "sol_keccak256",
                 "sol_log_data", "sol_panic_")


@dataclass(frozen=True)
class SmartOptions:
    """Size and mix of smart programs.

    Attributes:
        min_insns: fewest slots (about; the prologue and epilogue count).
        max_insns: most slots (templates may overshoot by a few).
        max_functions: most internal functions.
        versions: versions to draw from (default: all).
    """

    min_insns: int = 20
    max_insns: int = 60
    max_functions: int = 3
    versions: tuple[SBPFVersion, ...] = tuple(SBPFVersion)


class SpecIndex:
    """The decode table of one version, grouped the way the generators need it."""

    def __init__(self, version: SBPFVersion) -> None:
        self.version = version
        specs = [s for s in decode_table(version) if s is not None]
        self.specs: tuple[OpSpec, ...] = tuple(specs)
        self._by_key = {(s.op, s.form, s.width, s.mem_size): s for s in specs}
        self.alu = tuple(s for s in specs if s.form in (Form.ALU_IMM, Form.ALU_REG, Form.NEG,
                                                        Form.ENDIAN))
        self.mem = tuple(s for s in specs if s.form in (Form.LOAD, Form.STORE_IMM,
                                                        Form.STORE_REG))
        self.loads = tuple(s for s in self.mem if s.form is Form.LOAD)
        self.cond_jumps = tuple(s for s in specs if s.is_conditional_jump)
        self.divs = tuple(s for s in self.alu if s.op in (Op.DIV, Op.MOD, Op.UDIV, Op.UREM,
                                                          Op.SDIV, Op.SREM))
        self.shifts = tuple(s for s in self.alu if s.op in (Op.LSH, Op.RSH, Op.ARSH)
                            and s.form is Form.ALU_REG)
        self.alu32 = tuple(s for s in self.alu if s.width == 32
                           and s.form in (Form.ALU_IMM, Form.ALU_REG))

    def get(self, op: Op, form: Form, width: int = 64, mem_size: int = 0) -> OpSpec:
        """The spec for ``op``/``form``/``width``/``mem_size``.

        Raises:
            KeyError: the version has no such instruction.
        """
        return self._by_key[(op, form, width, mem_size)]

    def has(self, op: Op, form: Form, width: int = 64, mem_size: int = 0) -> bool:
        """True if the version has that instruction."""
        return (op, form, width, mem_size) in self._by_key


@dataclass
class _Item:
    spec: OpSpec
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    jump: str | None = None           # label of a jump target
    call: str | None = None           # label of an internal call target
    call_delta: int = 0               # slots after that label (the tail of an lddw)
    addr: tuple[str, int] | None = None  # (label, byte delta): imm = text address
    part: str = "full"                # for addr with mov32/hor64 pairs: "lo" or "hi"
    tail: tuple[int, int, int] = (0, 0, 0)  # dst, src, off of an lddw's second slot

    @property
    def slots(self) -> int:
        return 2 if self.spec.form is Form.LDDW else 1


_END = "__end__"


class _Builder:
    """Instructions with symbolic labels, laid out and encoded at the end."""

    def __init__(self) -> None:
        self.items: list[_Item] = []
        self.labels: dict[str, int] = {}
        self.n_slots = 0
        self._next = 0

    def new_label(self) -> str:
        self._next += 1
        return f"L{self._next}"

    def place(self, label: str) -> None:
        self.labels[label] = len(self.items)

    def emit(self, item: _Item) -> None:
        self.items.append(item)
        self.n_slots += item.slots

    def encode(self, version: SBPFVersion,
               function_labels: Sequence[str | tuple[str, int]]) -> tuple[bytes, tuple[int, ...]]:
        pcs = []
        pc = 0
        for item in self.items:
            pcs.append(pc)
            pc += item.slots
        total = pc

        def pc_of(label: str) -> int:
            if label == _END:
                return total
            idx = self.labels[label]
            return pcs[idx] if idx < len(pcs) else total

        out = bytearray()
        for item, pc in zip(self.items, pcs):
            imm, off, src = item.imm, item.off, item.src
            if item.jump is not None:
                off = pc_of(item.jump) - pc - 1
            if item.call is not None:
                target = pc_of(item.call) + item.call_delta
                if version.static_syscalls:
                    src, imm = 1, target - pc - 1
                else:
                    src, imm = 0, target
            if item.addr is not None:
                value = (MM_PROGRAM_START + INSN_SIZE * pc_of(item.addr[0]) + item.addr[1]) & U64
                if item.part == "lo":
                    imm = value & 0xFFFF_FFFF
                elif item.part == "hi":
                    imm = value >> 32
                else:
                    imm = value
            if item.spec.form is Form.LDDW:
                imm &= U64
                out += encode_slot(item.spec.opcode, item.dst, src, off, imm & 0xFFFF_FFFF)
                out += encode_slot(0, item.tail[0], item.tail[1], item.tail[2], imm >> 32)
            else:
                out += encode_slot(item.spec.opcode, item.dst, src, off, imm)
        functions = tuple(sorted({pc_of(f) if isinstance(f, str) else pc_of(f[0]) + f[1]
                                  for f in function_labels}))
        return bytes(out), functions


class _Gen:
    """State of one smart program under construction."""

    def __init__(self, ch: Chooser, version: SBPFVersion, opts: SmartOptions) -> None:
        self.ch = ch
        self.v = version
        self.idx = SpecIndex(version)
        self.b = _Builder()
        self.reserved: set[int] = set()
        self.opts = opts
        self.functions: list[str] = []
        self.extra_functions: list[tuple[str, int]] = []
        self.current_function = -1
        self.heap_size = ch.weighted([(DEFAULT_HEAP_SIZE, 8), (0, 1), (1024, 1),
                                      (2 * DEFAULT_HEAP_SIZE, 1), (ch.integer(1, 4100), 2)])
        self.input_len = 80 + ch.integer(0, 176)
        self.config = Config(heap_size=self.heap_size)
        self.syscalls = solana_syscalls()
        self.loop_depth = 0
        self.limit = opts.max_insns

    # --- small helpers ------------------------------------------------------------------
    def spec(self, op: Op, form: Form, width: int = 64, mem_size: int = 0) -> OpSpec:
        return self.idx.get(op, form, width, mem_size)

    def reg_w(self) -> int:
        """A writable register (r0..r9) that no enclosing loop uses as its counter."""
        free = [r for r in range(10) if r not in self.reserved]
        return self.ch.choice(free)

    def reg_any(self) -> int:
        return self.ch.integer(0, FRAME_PTR_REG)

    def imm32(self) -> int:
        if self.ch.chance(1, 2):
            return self.ch.choice(INTERESTING_IMM32)
        return self.ch.integer(I32_MIN, I32_MAX)

    def u64(self) -> int:
        if self.ch.chance(1, 2):
            return self.ch.choice(INTERESTING_U64)
        return self.ch.integer(0, U64)

    def emit(self, spec: OpSpec, **fields: object) -> None:
        item = _Item(spec, **fields)  # type: ignore[arg-type]
        if self.ch.chance(1, 8):
            self.noise(item)
        self.b.emit(item)

    def noise(self, item: _Item) -> None:
        """Random values in the fields ``item``'s form does not use (the verifier does not
        require them to be zero, so an engine must ignore them)."""
        ch = self.ch
        form = item.spec.form
        field = item.spec.callx_reg_field
        used = {
            Form.ALU_IMM: {"dst", "imm"}, Form.ALU_REG: {"dst", "src"}, Form.NEG: {"dst"},
            Form.ENDIAN: {"dst", "imm"}, Form.LDDW: {"dst", "imm"},
            Form.LOAD: {"dst", "src", "off"}, Form.STORE_IMM: {"dst", "off", "imm"},
            Form.STORE_REG: {"dst", "src", "off"}, Form.JA: {"off"},
            Form.JUMP_IMM: {"dst", "off", "imm"}, Form.JUMP_REG: {"dst", "src", "off"},
            Form.CALL_IMM: {"imm", "src"}, Form.CALL_REG: {field}, Form.EXIT: set(),
        }[form]
        if "src" not in used:
            item.src = ch.integer(0, FRAME_PTR_REG)
        if "off" not in used and item.jump is None:
            item.off = ch.integer(-(1 << 15), (1 << 15) - 1)
        if "imm" not in used and item.addr is None and item.call is None:
            item.imm = ch.integer(I32_MIN, I32_MAX)
        if "dst" not in used:
            item.dst = ch.integer(0, 9)  # dst = r10 is rejected outside stores
        if form is Form.LDDW:
            item.tail = (ch.integer(0, 15), ch.integer(0, 15), ch.integer(-(1 << 15), (1 << 15) - 1))

    def mov_imm(self, reg: int, imm: int) -> None:
        self.emit(self.spec(Op.MOV, Form.ALU_IMM), dst=reg, imm=imm)

    def load_imm64(self, reg: int, value: int) -> None:
        """``reg = value`` in two slots: ``lddw``, or ``mov32`` + ``hor64`` where lddw is gone."""
        value &= U64
        if self.idx.has(Op.LDDW, Form.LDDW):
            self.emit(self.spec(Op.LDDW, Form.LDDW), dst=reg, imm=value)
        else:
            self.emit(self.spec(Op.MOV, Form.ALU_IMM, 32), dst=reg, imm=_i32(value & 0xFFFF_FFFF))
            self.emit(self.spec(Op.HOR, Form.ALU_IMM), dst=reg, imm=_i32(value >> 32))

    def load_text_addr(self, reg: int, label: str, delta: int) -> None:
        """``reg = text_vaddr + 8 * pc(label) + delta`` (resolved at layout time)."""
        if self.idx.has(Op.LDDW, Form.LDDW):
            self.emit(self.spec(Op.LDDW, Form.LDDW), dst=reg, addr=(label, delta))
        else:
            self.emit(self.spec(Op.MOV, Form.ALU_IMM, 32), dst=reg, addr=(label, delta),
                      part="lo")
            self.emit(self.spec(Op.HOR, Form.ALU_IMM), dst=reg, addr=(label, delta), part="hi")

    def operand_imm(self, spec: OpSpec) -> int:
        """An immediate the verifier accepts for ``spec``."""
        rule = spec.rule
        if rule is VerifyRule.SHIFT_IMM:
            return self.ch.integer(0, spec.width - 1)
        if rule is VerifyRule.ENDIAN_IMM:
            return self.ch.choice((16, 32, 64))
        imm = self.imm32()
        if rule is VerifyRule.DIV_IMM_NONZERO and imm == 0:
            imm = self.ch.choice((1, -1, I32_MIN, 3))
        return imm

    # --- addresses ----------------------------------------------------------------------
    def frame_pointer(self) -> int:
        return self.config.initial_frame_pointer(self.v)

    def address(self) -> int:
        """A guest address in (or just outside) one of the regions."""
        ch = self.ch
        region = ch.weighted([("stack", 5), ("fp", 4), ("heap", 4), ("input", 5), ("ro", 2),
                              ("program", 1), ("gap", 2), ("below_stack", 1),
                              ("unmapped", 2), ("null", 1)])
        stack_span = self.config.stack_size * (2 if self.config.stack_gaps(self.v) else 1)
        if region == "stack":
            return MM_STACK_START + ch.integer(0, stack_span + 64)
        if region == "fp":
            return self.frame_pointer() - ch.integer(-16, self.config.stack_frame_size + 16)
        if region == "heap":
            edge = ch.choice((0, 1, 2, 4, 8, 9))
            return MM_HEAP_START + (self.heap_size - edge if ch.chance(1, 3) and self.heap_size
                                    else ch.integer(0, max(self.heap_size, 1) + 8))
        if region == "input":
            edge = ch.choice((0, 1, 2, 4, 8, 9))
            return MM_INPUT_START + (self.input_len - edge if ch.chance(1, 3)
                                     else ch.integer(0, self.input_len + 8))
        if region == "ro":
            base = 0 if self.v.enable_lower_rodata_vaddr else MM_PROGRAM_START
            return base + ch.integer(0, self.opts.max_insns * INSN_SIZE + 64)
        if region == "program":
            return MM_PROGRAM_START + ch.integer(0, self.opts.max_insns * INSN_SIZE + 64)
        if region == "gap":
            frame = self.config.stack_frame_size
            return MM_STACK_START + frame * (2 * ch.integer(0, 4) + 1) + ch.integer(0, frame - 1)
        if region == "below_stack":
            return MM_STACK_START - ch.integer(1, 2 * self.config.stack_frame_size + 16)
        if region == "unmapped":
            return ch.choice((0x5_0000_0000, 0x6_0000_0010, U64 - 7, I64_MIN_U,
                              I64_MIN_U - 8, 0x4_FFFF_FFFF, MM_INPUT_START - 8))
        return ch.integer(0, 16)

    def pointer_into(self, reg: int, size_hint: int = 8) -> None:
        """``reg`` = an address (mostly a valid one for ``size_hint`` bytes)."""
        ch = self.ch
        if ch.chance(2, 3):
            choice = ch.choice(("fp", "heap", "input"))
            if choice == "fp":
                addr = self.frame_pointer() - ch.integer(size_hint, max(size_hint, 512))
                addr -= addr % 8 if ch.chance(3, 4) else 0
            elif choice == "heap" and self.heap_size >= size_hint:
                addr = MM_HEAP_START + ch.integer(0, self.heap_size - size_hint)
            else:
                addr = MM_INPUT_START + ch.integer(0, max(0, self.input_len - size_hint))
        else:
            addr = self.address()
        self.load_imm64(reg, addr)

    # --- templates ----------------------------------------------------------------------
    def t_alu(self) -> None:
        spec = self.ch.choice(self.idx.alu)
        dst = self.reg_w()
        if spec.form is Form.ALU_IMM:
            if spec.width == 32 and self.ch.chance(1, 4):
                self.mov_imm(dst, self.ch.choice((0x7FFF_FFFF, I32_MIN, -1, 0x4000_0000)))
            self.emit(spec, dst=dst, imm=self.operand_imm(spec))
        elif spec.form is Form.ALU_REG:
            self.emit(spec, dst=dst, src=self.reg_any())
        elif spec.form is Form.ENDIAN:
            self.emit(spec, dst=dst, imm=self.operand_imm(spec))
        else:
            self.emit(spec, dst=dst)

    def t_imm64(self) -> None:
        self.load_imm64(self.reg_w(), self.u64())

    def t_div_corner(self) -> None:
        spec = self.ch.choice(self.idx.divs)
        ch = self.ch
        x = self.reg_w()
        y = self.ch.choice([r for r in range(10) if r != x and r not in self.reserved])
        kind = ch.choice(("i64min", "i32min", "random", "zero", "one"))
        if kind == "i64min":
            self.load_imm64(x, I64_MIN_U)
        elif kind == "i32min":
            self.mov_imm(x, I32_MIN)
        elif kind == "zero":
            self.mov_imm(x, 0)
        elif kind == "one":
            self.mov_imm(x, 1)
        if spec.form is Form.ALU_REG:
            minus_one = kind in ("i64min", "i32min") and ch.chance(1, 2)
            self.mov_imm(y, -1 if minus_one else ch.choice((0, -1, 1, I32_MIN, -2, 0x7FFF_FFFF)))
            if ch.chance(1, 4):
                self.load_imm64(y, ch.choice((1 << 32, 0xFFFF_FFFF_0000_0000, U64,
                                              0xFFFF_FFFF)))
            self.emit(spec, dst=x, src=y)
        else:
            self.emit(spec, dst=x, imm=ch.choice((-1, 1, I32_MIN, 0x7FFF_FFFF, -2)))

    def t_shift_corner(self) -> None:
        spec = self.ch.choice(self.idx.shifts)
        x = self.reg_w()
        y = self.ch.choice([r for r in range(10) if r != x and r not in self.reserved])
        self.mov_imm(y, self.ch.choice((31, 32, 33, 63, 64, 65, 127, 128, -1, I32_MIN)))
        self.emit(spec, dst=x, src=y)

    def t_sign_extension(self) -> None:
        spec = self.ch.choice(self.idx.alu32)
        x = self.reg_w()
        self.mov_imm(x, self.ch.choice((0x7FFF_FFFF, I32_MIN, -1, 0x7FFF_FFFE)))
        if spec.form is Form.ALU_IMM:
            self.emit(spec, dst=x, imm=self.operand_imm(spec))
        else:
            self.emit(spec, dst=x, src=self.reg_any())

    def t_mem(self) -> None:
        ch = self.ch
        spec = ch.choice(self.idx.mem)
        base = self.reg_w()
        off = ch.integer(-64, 64) if ch.chance(3, 4) else ch.integer(-(1 << 15), (1 << 15) - 1)
        addr = self.address()
        self.load_imm64(base, addr - off)
        self._access(spec, base, off)

    def t_stack(self) -> None:
        ch = self.ch
        spec = ch.choice(self.idx.mem)
        frame = self.config.stack_frame_size
        if ch.chance(3, 4):
            off = -ch.integer(1, frame // 8) * ch.choice((1, 8)) if ch.chance(3, 4) else -ch.integer(1, frame)
        else:
            off = ch.integer(-frame - 64, frame + 64)
        self._access(spec, FRAME_PTR_REG, max(-(1 << 15), min((1 << 15) - 1, off)))

    def _access(self, spec: OpSpec, base: int, off: int) -> None:
        if spec.form is Form.LOAD:
            dst = self.reg_w()
            self.emit(spec, dst=dst, src=base, off=off)
        elif spec.form is Form.STORE_IMM:
            self.emit(spec, dst=base, off=off, imm=self.imm32())
        else:
            self.emit(spec, dst=base, src=self.reg_any(), off=off)

    def _cond_jump(self, target: str) -> None:
        spec = self.ch.choice(self.idx.cond_jumps)
        if spec.form is Form.JUMP_IMM:
            # The verifier rejects dst = r10 in every non-store instruction, jumps too.
            self.emit(spec, dst=self.ch.integer(0, 9), imm=self.imm32(), jump=target)
        else:
            self.emit(spec, dst=self.ch.integer(0, 9), src=self.reg_any(), jump=target)

    def t_branch(self, depth: int) -> None:
        end = self.b.new_label()
        if self.ch.chance(1, 6):
            self.emit(self.spec(Op.JA, Form.JA), jump=end)
        else:
            self._cond_jump(end)
        self.body(self.ch.integer(1, 4), depth + 1)
        self.b.place(end)

    def t_loop(self, depth: int) -> None:
        if self.loop_depth >= 2:
            self.t_alu()
            return
        ch = self.ch
        free = [r for r in range(6, 10) if r not in self.reserved] or \
            [r for r in range(10) if r not in self.reserved]
        counter = ch.choice(free)
        self.mov_imm(counter, ch.integer(1, 6))
        top = self.b.new_label()
        self.b.place(top)
        self.reserved.add(counter)
        self.loop_depth += 1
        self.body(ch.integer(1, 4), depth + 1)
        self.loop_depth -= 1
        self.reserved.discard(counter)
        self.emit(self.spec(Op.ADD, Form.ALU_IMM), dst=counter, imm=-1)
        op = ch.choice((Op.JNE, Op.JSGT, Op.JGT))
        width = 32 if self.idx.has(op, Form.JUMP_IMM, 32) and ch.chance(1, 3) else 64
        self.emit(self.spec(op, Form.JUMP_IMM, width), dst=counter, imm=0, jump=top)

    def t_call_odd(self) -> None:
        """An internal call to something that is not a function start: an instruction in
        the middle of the main body, or the second slot of an ``lddw`` (v0-v2 register
        the target as a function, as a loader would for a symbol there)."""
        ch = self.ch
        first_body = 10  # after the prologue: never pc 0
        if ch.chance(1, 2) and self.idx.has(Op.LDDW, Form.LDDW):
            label, delta = self.b.new_label(), 1
            self.b.place(label)
            self.load_imm64(self.reg_w(), self.u64())
        elif len(self.b.items) > first_body:
            label, delta = self.b.new_label(), 0
            self.b.labels[label] = ch.integer(first_body, len(self.b.items) - 1)
        else:
            self.t_alu()
            return
        if not self.v.static_syscalls:
            self.extra_functions.append((label, delta))
        self.emit(self.spec(Op.CALL, Form.CALL_IMM), call=label, call_delta=delta)

    def t_call(self) -> None:
        if not self.functions:
            self.t_alu()
            return
        me = self.current_function
        if me >= 0 and not self.ch.chance(1, 8):
            candidates = self.functions[me + 1:]
        else:
            candidates = self.functions  # recursion is possible: depth and budget end it
        if not candidates:
            self.t_alu()
            return
        self.emit(self.spec(Op.CALL, Form.CALL_IMM), call=self.ch.choice(candidates))

    def t_callx(self) -> None:
        ch = self.ch
        spec = self.spec(Op.CALLX, Form.CALL_REG)
        reg = self.reg_w()
        what = ch.weighted([("function", 4), ("unaligned", 2), ("lddw_tail", 2),
                            ("past_end", 2), ("below", 1), ("body", 2), ("register", 1)])
        if what in ("function", "unaligned") and self.functions:
            delta = 0 if what == "function" else ch.integer(1, 7)
            self.load_text_addr(reg, ch.choice(self.functions), delta)
        elif what == "lddw_tail" and self.idx.has(Op.LDDW, Form.LDDW):
            here = self.b.new_label()
            self.b.place(here)
            self.load_text_addr(reg, here, INSN_SIZE)
        elif what == "past_end":
            self.load_text_addr(reg, _END, ch.choice((0, 1, 8, -1)))
        elif what == "below":
            self.load_imm64(reg, ch.choice((MM_PROGRAM_START - 8, 0, MM_PROGRAM_START - 1,
                                            U64 - 7)))
        elif what == "body" and self.b.items:
            label = self.b.new_label()
            self.b.labels[label] = ch.below(len(self.b.items))
            self.load_text_addr(reg, label, 0)
        # "register": call whatever the register holds.
        field = spec.callx_reg_field
        fields = {"imm": {"imm": reg}, "src": {"src": reg}, "dst": {"dst": reg}}[field]
        self.emit(spec, **fields)

    def t_bad_call(self) -> None:
        ch = self.ch
        spec = self.spec(Op.CALL, Form.CALL_IMM)
        if self.v.static_syscalls:
            kind = ch.choice(("unknown_syscall", "outside", "bad_src"))
            if kind == "unknown_syscall":
                self.emit(spec, src=0, imm=ch.integer(I32_MIN, I32_MAX))
            elif kind == "outside":
                self.emit(spec, src=1, imm=ch.choice((1000, -1000, I32_MAX, I32_MIN)))
            else:
                self.emit(spec, src=ch.integer(2, 10), imm=ch.integer(-4, 4))
        else:
            self.emit(spec, src=ch.choice((0, 1)), imm=ch.choice((ch.integer(I32_MIN, I32_MAX),
                                                                  ch.integer(1, 40))))

    def t_syscall(self) -> None:
        ch = self.ch
        name = ch.choice(SYSCALL_NAMES)
        syscall = self.syscalls.by_name(name)
        if syscall is None:  # pragma: no cover - the registry is TBPF's own
            raise InternalError(f"core syscall {name} missing")
        if name in ("sol_memcpy_", "sol_memmove_"):
            n = ch.choice((0, 1, 8, 16, ch.integer(0, 64), 300, U64))
            self.pointer_into(1, 64)
            if ch.chance(1, 4):
                self.emit(self.spec(Op.MOV, Form.ALU_REG), dst=2, src=1)
                self.emit(self.spec(Op.ADD, Form.ALU_IMM), dst=2, imm=ch.integer(-8, 8))
            else:
                self.pointer_into(2, 64)
            self.load_imm64(3, n)
        elif name == "sol_memset_":
            self.pointer_into(1, 64)
            self.mov_imm(2, self.imm32())
            self.load_imm64(3, ch.choice((0, 1, 7, 32, ch.integer(0, 64), 5000, U64)))
        elif name == "sol_memcmp_":
            self.pointer_into(1, 32)
            self.pointer_into(2, 32)
            self.mov_imm(3, ch.choice((0, 1, 8, 32, ch.integer(0, 40))))
            self.pointer_into(4, 4)
        elif name in ("sol_log_", "sol_set_return_data"):
            self.pointer_into(1, 16)
            self.mov_imm(2, ch.choice((0, 1, 5, 16, ch.integer(0, 40), 2000)))
        elif name == "sol_panic_":
            self.pointer_into(1, 8)
            self.mov_imm(2, ch.choice((0, 3, 8)))
        elif name == "sol_get_return_data":
            self.pointer_into(1, 16)
            self.mov_imm(2, ch.choice((0, 4, 16, 64)))
            self.pointer_into(3, 32)
        elif name in ("sol_log_pubkey", "sol_get_clock_sysvar", "sol_get_rent_sysvar",
                      "sol_get_epoch_schedule_sysvar"):
            self.pointer_into(1, 40)
        elif name in ("sol_sha256", "sol_keccak256", "sol_log_data"):
            self._slices()
        # Other syscalls take the registers as they are (sol_log_64_ logs r1..r5).
        self.emit(self.spec(Op.CALL, Form.CALL_IMM), src=0, imm=_i32(syscall.key))

    def _slices(self) -> None:
        """r1 = one or two (ptr, len) slices on the stack, r2 = count, r3 = result ptr."""
        ch = self.ch
        stdw = self.spec(Op.STX, Form.STORE_REG, 64, 8)
        st_imm = self.spec(Op.ST, Form.STORE_IMM, 64, 8)
        count = ch.choice((0, 1, 2, 1))
        scratch = 4
        for i in range(count):
            self.pointer_into(scratch, 16)
            self.emit(stdw, dst=FRAME_PTR_REG, src=scratch, off=-64 + 16 * i)
            self.emit(st_imm, dst=FRAME_PTR_REG, off=-56 + 16 * i,
                      imm=ch.choice((0, 1, 16, 32, ch.integer(0, 64), -1)))
        self.emit(self.spec(Op.MOV, Form.ALU_REG), dst=1, src=FRAME_PTR_REG)
        self.emit(self.spec(Op.ADD, Form.ALU_IMM), dst=1, imm=ch.choice((-64, -64, -60)))
        self.mov_imm(2, count if ch.chance(7, 8) else ch.integer(0, 30000))
        self.emit(self.spec(Op.MOV, Form.ALU_REG), dst=3, src=FRAME_PTR_REG)
        self.emit(self.spec(Op.ADD, Form.ALU_IMM), dst=3, imm=ch.choice((-32, -31, -128)))

    def t_stack_bump(self) -> None:
        spec = self.spec(Op.ADD, Form.ALU_IMM)
        if spec.rule is not VerifyRule.STACK_BUMP:
            self.t_stack()
            return
        self.emit(spec, dst=FRAME_PTR_REG, imm=64 * self.ch.integer(-16, 2))

    def t_exit(self) -> None:
        self.emit(self.spec(Op.EXIT, Form.EXIT))

    def t_into_function(self) -> None:
        """A jump (conditional or not) into another function's entry: the callee then
        returns to *this* function's caller (the JIT lowers it as a tail call)."""
        if not self.functions:
            self.t_alu()
            return
        target = self.ch.choice(self.functions)
        if self.ch.chance(1, 3):
            self.emit(self.spec(Op.JA, Form.JA), jump=target)
        else:
            self._cond_jump(target)

    def t_back_jump(self) -> None:
        if not self.b.items:
            self.t_alu()
            return
        if self.functions and self.ch.chance(1, 3):
            label = self.ch.choice(self.functions)  # into another function's body
        else:
            label = self.b.new_label()
            self.b.labels[label] = self.ch.below(len(self.b.items))
        if self.ch.chance(1, 2):
            self.emit(self.spec(Op.JA, Form.JA), jump=label)
        else:
            self._cond_jump(label)

    # --- structure ----------------------------------------------------------------------
    def body(self, n: int, depth: int = 0) -> None:
        """``n`` templates at nesting ``depth``."""
        for _ in range(n):
            if self.b.n_slots >= self.limit:
                return
            self.template(depth)

    def template(self, depth: int) -> None:
        ch = self.ch
        nested = depth < 3
        choice = ch.weighted([
            ("alu", 30), ("imm64", 4), ("div", 6), ("shift", 3), ("sext", 3), ("mem", 12),
            ("stack", 6), ("branch", 9 if nested else 0), ("loop", 3 if nested else 0),
            ("call", 4), ("callx", 3), ("syscall", 7), ("bad_call", 1), ("odd_call", 1),
            ("bump", 1),
            ("exit", 1), ("back", 1), ("into_function", 2),
        ])
        {
            "alu": self.t_alu, "imm64": self.t_imm64, "div": self.t_div_corner,
            "shift": self.t_shift_corner, "sext": self.t_sign_extension, "mem": self.t_mem,
            "stack": self.t_stack, "branch": lambda: self.t_branch(depth),
            "loop": lambda: self.t_loop(depth), "call": self.t_call, "callx": self.t_callx,
            "syscall": self.t_syscall, "bad_call": self.t_bad_call,
            "odd_call": self.t_call_odd, "bump": self.t_stack_bump,
            "exit": self.t_exit, "back": self.t_back_jump,
            "into_function": self.t_into_function,
        }[choice]()

    def program(self) -> tuple[bytes, tuple[int, ...]]:
        ch = self.ch
        target = ch.integer(self.opts.min_insns, self.opts.max_insns)
        n_functions = ch.integer(0, self.opts.max_functions)
        self.functions = [f"F{i}" for i in range(n_functions)]
        ldxdw = self.spec(Op.LDX, Form.LOAD, 64, 8)
        for reg in (0, 2, 3, 4, 5, 6, 7, 8, 9, 1):  # r1 (the input pointer) last
            self.emit(ldxdw, dst=reg, src=1, off=8 * reg)
        main_target = target * 3 // 4 if n_functions else target
        self.limit = main_target - 10
        while self.b.n_slots < self.limit:
            self.template(0)
        xor = self.spec(Op.XOR, Form.ALU_REG)
        for reg in range(1, 10):
            self.emit(xor, dst=0, src=reg)
        self.emit(self.spec(Op.EXIT, Form.EXIT))
        per_function = max(2, (target - main_target) // max(1, n_functions))
        for i, name in enumerate(self.functions):
            self.b.place(name)
            self.current_function = i
            self.limit = self.b.n_slots + per_function - 1
            while self.b.n_slots < self.limit:
                self.template(1)
            if ch.chance(1, 6):
                # No final exit: the last function runs off the end (ExecutionOverrun),
                # the others fall through into the next function's entry (an edge the
                # JIT compiles as a tail call).
                self.t_alu()
            else:
                self.emit(self.spec(Op.EXIT, Form.EXIT))
        return self.b.encode(self.v, [*self.functions, *self.extra_functions])

    def input_bytes(self) -> bytes:
        ch = self.ch
        head = b"".join(
            (self.u64() if ch.chance(1, 2) else ch.integer(0, 64)).to_bytes(8, "little")
            for _ in range(10))
        return head + ch.bytes(self.input_len - len(head))


def _i32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def generate_smart(ch: Chooser, version: SBPFVersion | None = None,
                   options: SmartOptions | None = None) -> FuzzCase:
    """A random valid program with its input, budget and heap size.

    Args:
        ch: the source of choices (same choices, same case).
        version: the SBPF version (default: drawn from ``options.versions``).
        options: sizes and versions.

    Raises:
        InternalError: the generated program does not verify (a generator bug).
    """
    opts = options or SmartOptions()
    v = version if version is not None else ch.choice(opts.versions)
    gen = _Gen(ch, v, opts)
    text, functions = gen.program()
    try:
        verify(text, v)
    except VerifierError as err:  # pragma: no cover - a generator bug
        raise InternalError(f"smart generator produced an unverifiable {v.label} program: "
                            f"{err.kind}: {err}") from err
    budget = ch.weighted([(ch.integer(1, 64), 2), (ch.integer(65, 2_000), 2), (20_000, 6)])
    registers: tuple[tuple[int, int], ...] = ()
    if ch.chance(1, 12):
        # Preset registers (the API allows it): r0/r2..r9 are overwritten by the
        # prologue, so what matters is r1 (the prologue's base) and r10 (an unusual
        # frame pointer takes the JIT off its trusted-frame-pointer path).
        fp = gen.frame_pointer()
        registers = ((1, ch.choice((MM_INPUT_START, MM_INPUT_START + 8, MM_HEAP_START, 0))),
                     (10, ch.choice((fp, fp - 64, fp + 8, fp + 4096, MM_STACK_START,
                                     MM_HEAP_START + 512, fp - 1))))
    return FuzzCase(kind="smart", version=v, program=text, function_pcs=functions,
                    input=gen.input_bytes(), input_writable=not ch.chance(1, 10),
                    budget=budget, heap_size=gen.heap_size, registers=registers)

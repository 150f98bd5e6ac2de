"""Lower a verified sBPF program to LLVM IR text (no ``llvmlite.binding`` here).

Design (SBPF_SPEC 12.3, LLVMLITE_NOTES):

* **One LLVM function per program** (``tbpf_entry``) with an explicit guest call stack in
  the context (``ctx.frames``). sBPF control flow does not respect function boundaries
  (``callx`` may enter any slot, ``exit`` returns to whatever frame is on top), so a
  single function with a ``switch`` over the statically known return sites is exact
  by construction and keeps call depth and r6-r10 restoration identical to the
  interpreter. The depth limit also bounds host stack use (there is none).
* Guest registers, the meter and the call depth live in entry-block ``alloca``\\ s;
  the optimised tier promotes them to SSA (SROA/mem2reg).
* **A basic block per guest block** (``pc_<n>``); leaders are the entry, jump targets,
  slots after control transfers and syscalls, call targets and the ``callx`` entry
  candidates (registered functions, labels, text addresses found in ``lddw``
  immediates and in the read-only data).
* **Metering** is per block and exact: a block of ``L`` instructions runs only if the
  meter holds at least ``L``; otherwise the run is handed to the interpreter at the
  block's first slot with the exact state (``STATUS_BAIL``), which finishes it
  instruction by instruction. A fault at index ``j`` of a block refunds ``L - j - 1``.
  Syscalls store the meter, call back into Python and reload it.
* **Bounds checks** are inline: region by ``vm_addr >> 32`` from the read-only region
  table, offset and length, write permission, the v0 stack gaps (only the first byte
  is tested, as the reference does). ``r10 + const`` stack accesses inside the
  current frame skip the check (the frame is always mapped) when the frame pointer is
  known to be the VM's own.
* **No undefined behaviour reaches LLVM**: shift amounts are masked, divisions are
  guarded (zero, and MIN / -1 for the signed ones), no ``nsw``/``nuw``/``exact``,
  guest accesses are ``align 1`` through ``inttoptr`` without ``inbounds``.

The IR is built as text with f-strings (about 20x cheaper than ``llvmlite.ir``, which
matters for the fast tier's compile-time budget); it can be inspected and tested as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tbpf.errors import FaultCode
from tbpf.executable import Executable
from tbpf.isa import INSN_SIZE, Form, Insn, Op
from tbpf.memory import MM_STACK_START, REGION_STACK
from tbpf.syscalls import Syscall, SyscallRegistry

from . import abi

__all__ = ["LoweringOptions", "LoweredProgram", "lower", "lowered_forms", "ENTRY_SYMBOL"]

ENTRY_SYMBOL = "tbpf_entry"
M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def _i64(value: int) -> str:
    """An i64 constant as LLVM spells it (signed decimal)."""
    value &= M64
    return str(value - (1 << 64) if value >> 63 else value)


def _i32(value: int) -> str:
    value &= M32
    return str(value - (1 << 32) if value >> 31 else value)


@dataclass(frozen=True)
class LoweringOptions:
    """Choices that change the generated code (part of the cache key).

    Attributes:
        trust_frame_pointer: r10 holds the VM's own frame pointer at entry, so
            ``[r10 + const]`` accesses inside the current frame need no check. Must be
            False if the caller presets r10 to anything else.
    """

    trust_frame_pointer: bool = True


@dataclass(frozen=True)
class LoweredProgram:
    """IR text plus what the engine needs to run it.

    Attributes:
        ir: the LLVM module.
        syscalls: the syscall of each callback index used by the code.
        entry_points: slots a ``callx`` can enter directly (others hand over to the
            interpreter).
        num_blocks: basic blocks emitted.
        num_instructions: guest instructions lowered.
    """

    ir: str
    syscalls: tuple[Syscall, ...]
    entry_points: frozenset[int]
    num_blocks: int
    num_instructions: int


_ALU_BINOP = {Op.ADD: "add", Op.SUB: "sub", Op.MUL: "mul", Op.OR: "or", Op.AND: "and",
              Op.XOR: "xor", Op.LMUL: "mul"}
_SHIFT = {Op.LSH: "shl", Op.RSH: "lshr", Op.ARSH: "ashr"}
_UDIV = {Op.DIV: "udiv", Op.MOD: "urem", Op.UDIV: "udiv", Op.UREM: "urem"}
_SDIV = {Op.SDIV: "sdiv", Op.SREM: "srem"}
_ICMP = {Op.JEQ: "eq", Op.JNE: "ne", Op.JGT: "ugt", Op.JGE: "uge", Op.JLT: "ult",
         Op.JLE: "ule", Op.JSGT: "sgt", Op.JSGE: "sge", Op.JSLT: "slt", Op.JSLE: "sle"}


def lowered_forms() -> set[tuple[Form, Op]]:
    """Every ``(form, op)`` the lowering handles (for the table-coverage test)."""
    out: set[tuple[Form, Op]] = set()
    for op in list(_ALU_BINOP) + list(_SHIFT) + list(_UDIV) + list(_SDIV) + [
            Op.MOV, Op.HOR, Op.UHMUL, Op.SHMUL]:
        out.add((Form.ALU_IMM, op))
        out.add((Form.ALU_REG, op))
    out |= {(Form.NEG, Op.NEG), (Form.ENDIAN, Op.LE), (Form.ENDIAN, Op.BE),
            (Form.LDDW, Op.LDDW), (Form.LOAD, Op.LDX), (Form.STORE_IMM, Op.ST),
            (Form.STORE_REG, Op.STX), (Form.JA, Op.JA), (Form.CALL_IMM, Op.CALL),
            (Form.CALL_REG, Op.CALLX), (Form.EXIT, Op.EXIT)}
    for op in list(_ICMP) + [Op.JSET]:
        out.add((Form.JUMP_IMM, op))
        out.add((Form.JUMP_REG, op))
    return out


class _Lowerer:
    def __init__(self, exe: Executable, insns: tuple[Insn | None, ...],
                 syscalls: SyscallRegistry, options: LoweringOptions) -> None:
        self.exe = exe
        self.insns = insns
        self.registry = syscalls
        self.options = options
        self.n_slots = len(insns)
        config = exe.config
        version = exe.version
        self.max_depth = config.max_call_depth
        self.frame_bump = config.frame_bump(version)
        self.frame_size = config.stack_frame_size
        self.gapped = config.stack_gaps(version)
        self.fixed_frames = not version.manual_stack_frame_bump
        self.out: list[str] = []
        self.tmp = 0
        self.cur = "entry"
        self.exit_in: list[tuple[str, str, str]] = []   # (status, pc, from-label)
        self.syscall_index: dict[int, int] = {}
        self.syscall_list: list[Syscall] = []

    # --- small emit helpers -------------------------------------------------------------
    def t(self) -> str:
        self.tmp += 1
        return f"%t{self.tmp}"

    def label(self, name: str) -> None:
        self.out.append(f"{name}:")
        self.cur = name

    def emit(self, line: str) -> None:
        self.out.append("  " + line)

    def load_reg(self, reg: int) -> str:
        v = self.t()
        self.emit(f"{v} = load i64, ptr %r{reg}")
        return v

    def store_reg(self, reg: int, value: str) -> None:
        self.emit(f"store i64 {value}, ptr %r{reg}")

    def ctx_ptr(self, word: int) -> str:
        p = self.t()
        self.emit(f"{p} = getelementptr inbounds i64, ptr %ctx, i64 {word}")
        return p

    def to_exit(self, status: int | str, pc: int | str) -> None:
        self.emit("br label %exit")
        self.exit_in.append((str(status), str(pc), self.cur))

    def fault(self, code: int, pc: int, refund: int, *, block: str | None = None) -> str:
        """Emit a fault exit block; returns its label."""
        name = block or f"f{self.tmp + 1}_{pc}"
        self.tmp += 1
        self.out.append(f"{name}:")
        self.cur = name
        self.refund(refund)
        self.to_exit(code, pc)
        return name

    def refund(self, units: int) -> None:
        if units:
            a = self.t()
            b = self.t()
            self.emit(f"{a} = load i64, ptr %rem")
            self.emit(f"{b} = add i64 {a}, {units}")
            self.emit(f"store i64 {b}, ptr %rem")

    # --- program structure ----------------------------------------------------------------
    def resolve_call(self, insn: Insn) -> tuple[str, object]:
        """``("syscall", Syscall)``, ``("call", target pc)``, ``("outside", None)`` or
        ``("unresolved", None)`` (SBPF_SPEC 3.4, at compile time)."""
        spec = insn.spec
        assert spec is not None
        key = insn.imm & M32
        if spec.static_syscalls:
            if insn.src == 0:
                sc = self.registry.get(key)
                return ("syscall", sc) if sc is not None else ("unresolved", None)
            if insn.src == 1:
                target = insn.pc + 1 + insn.imm
                if 0 <= target < self.n_slots:
                    return "call", target
            return "unresolved", None
        sc = self.registry.get(key)
        if sc is not None:
            return "syscall", sc
        found = self.exe.functions.lookup_by_key(key)
        if found is None:
            return "unresolved", None
        target = found[1]
        if not 0 <= target < self.n_slots:
            return "outside", None
        return "call", target

    def callx_candidates(self) -> set[int]:
        exe = self.exe
        cands = set(exe.functions.pcs()) | set(exe.labels) | {exe.entry_pc}
        lo, hi = exe.text_vaddr, exe.text_vaddr + len(exe.text)
        for insn in self.insns:
            if insn is not None and insn.spec is not None and insn.spec.form is Form.LDDW:
                if lo <= insn.imm < hi:
                    cands.add((insn.imm - lo) // INSN_SIZE)
        ro = exe.ro_data
        usable = len(ro) - len(ro) % 8
        if usable and lo < hi:
            words = np.frombuffer(ro, dtype="<u8", count=usable // 8)
            hits = words[(words >= lo) & (words < hi)]
            cands.update(int((w - lo) // INSN_SIZE) for w in np.unique(hits)[:4096])
        return {c for c in cands if 0 <= c < self.n_slots and self.insns[c] is not None}

    def lower(self) -> LoweredProgram:
        insns = self.insns
        n = self.n_slots
        leaders = {self.exe.entry_pc}
        return_sites: set[int] = set()
        calls: dict[int, tuple[str, object]] = {}
        for insn in insns:
            if insn is None or insn.spec is None:
                continue
            form = insn.spec.form
            pc = insn.pc
            if form in (Form.JA, Form.JUMP_IMM, Form.JUMP_REG):
                leaders.add(pc + 1 + insn.off)
                leaders.add(pc + 1)
            elif form is Form.CALL_IMM:
                kind, what = self.resolve_call(insn)
                calls[pc] = (kind, what)
                if kind == "call":
                    leaders.add(what)  # type: ignore[arg-type]
                    return_sites.add(pc + 1)
                leaders.add(pc + 1)
            elif form is Form.CALL_REG:
                return_sites.add(pc + 1)
                leaders.add(pc + 1)
            elif form is Form.EXIT:
                leaders.add(pc + 1)
        entry_points = self.callx_candidates()
        leaders |= entry_points
        leaders = {p for p in leaders if 0 <= p <= n and (p == n or insns[p] is not None)}
        leaders.add(n)
        self.return_sites = sorted(return_sites)
        self.entry_points = sorted(entry_points)
        self.calls = calls
        ordered = sorted(leaders)

        self.prologue()
        count = 0
        for idx, start in enumerate(ordered):
            if start == n:
                self.overrun_block(n)
                continue
            end = ordered[idx + 1]
            block = [i for i in insns[start:end] if i is not None]
            count += len(block)
            self.block(start, end, block)
        self.exit_sequences()
        syscalls = tuple(self.syscall_list)
        ir = self.module_text()
        return LoweredProgram(ir, syscalls, frozenset(entry_points), len(ordered), count)

    def prologue(self) -> None:
        self.label("entry")
        for r in range(11):
            self.emit(f"%r{r} = alloca i64")
        self.emit("%rem = alloca i64")
        self.emit("%depth = alloca i64")
        for r in range(11):
            p = self.ctx_ptr(abi.CTX_REGS + r)
            v = self.t()
            self.emit(f"{v} = load i64, ptr {p}")
            self.store_reg(r, v)
        for word, slot in ((abi.CTX_REMAINING, "%rem"), (abi.CTX_DEPTH, "%depth")):
            p = self.ctx_ptr(word)
            v = self.t()
            self.emit(f"{v} = load i64, ptr {p}")
            self.emit(f"store i64 {v}, ptr {slot}")
        self.emit(f"br label %pc_{self.exe.entry_pc}")

    def meter(self, start: int, cost: int) -> None:
        """Block entry: pay ``cost`` or hand the run to the interpreter at ``start``."""
        self.label(f"pc_{start}")
        have = self.t()
        ok = self.t()
        self.emit(f"{have} = load i64, ptr %rem")
        self.emit(f"{ok} = icmp uge i64 {have}, {cost}")
        self.emit(f"br i1 {ok}, label %pay_{start}, label %bail_{start}")
        self.label(f"bail_{start}")
        self.to_exit(abi.STATUS_BAIL, start)
        self.label(f"pay_{start}")
        left = self.t()
        self.emit(f"{left} = sub i64 {have}, {cost}")
        self.emit(f"store i64 {left}, ptr %rem")

    def overrun_block(self, n: int) -> None:
        self.meter(n, 1)
        self.to_exit(int(FaultCode.EXECUTION_OVERRUN), n)

    def block(self, start: int, end: int, block: list[Insn]) -> None:
        cost = len(block)
        self.meter(start, cost)
        for j, insn in enumerate(block):
            self.insn(insn, cost - j - 1)
        last = block[-1]
        if not self.is_terminator(last):
            self.emit(f"br label %pc_{end}")

    def is_terminator(self, insn: Insn) -> bool:
        spec = insn.spec
        assert spec is not None
        return spec.form in (Form.JA, Form.JUMP_IMM, Form.JUMP_REG, Form.CALL_IMM,
                             Form.CALL_REG, Form.EXIT)

    # --- instructions ---------------------------------------------------------------------
    def insn(self, insn: Insn, refund: int) -> None:
        spec = insn.spec
        assert spec is not None
        form = spec.form
        if form in (Form.ALU_IMM, Form.ALU_REG):
            self.alu(insn, refund)
        elif form is Form.NEG:
            a = self.load_reg(insn.dst)
            if spec.width == 64:
                r = self.t()
                self.emit(f"{r} = sub i64 0, {a}")
            else:
                a32, n32, r = self.t(), self.t(), self.t()
                self.emit(f"{a32} = trunc i64 {a} to i32")
                self.emit(f"{n32} = sub i32 0, {a32}")
                self.emit(f"{r} = zext i32 {n32} to i64")
            self.store_reg(insn.dst, r)
        elif form is Form.ENDIAN:
            self.endian(insn)
        elif form is Form.LDDW:
            self.store_reg(insn.dst, _i64(insn.imm))
        elif form is Form.LOAD:
            self.memory(insn, refund, store=False)
        elif form in (Form.STORE_IMM, Form.STORE_REG):
            self.memory(insn, refund, store=True)
        elif form is Form.JA:
            self.emit(f"br label %pc_{insn.pc + 1 + insn.off}")
        elif form in (Form.JUMP_IMM, Form.JUMP_REG):
            self.jump(insn)
        elif form is Form.CALL_IMM:
            self.call(insn, refund)
        elif form is Form.CALL_REG:
            self.callx(insn, refund)
        elif form is Form.EXIT:
            self.emit("br label %do_exit")
        else:  # pragma: no cover - the table has no other forms
            raise AssertionError(f"no lowering for {spec.mnemonic}")

    def operand(self, insn: Insn, width: int) -> tuple[str, bool]:
        """(value, is_constant) of the second operand at ``width`` bits."""
        spec = insn.spec
        assert spec is not None
        if spec.form is Form.ALU_IMM or spec.form is Form.JUMP_IMM:
            if width == 32:
                return _i32(insn.imm), True
            if spec.imm_zero_extended:
                return _i64(insn.imm & M32), True
            return _i64(insn.imm), True
        v = self.load_reg(insn.src)
        if width == 32:
            v32 = self.t()
            self.emit(f"{v32} = trunc i64 {v} to i32")
            return v32, False
        return v, False

    def alu(self, insn: Insn, refund: int) -> None:
        spec = insn.spec
        assert spec is not None
        op, width, pc = spec.op, spec.width, insn.pc
        if op is Op.MOV:
            if width == 64:
                b, _ = self.operand(insn, 64)
                self.store_reg(insn.dst, b)
                return
            if spec.form is Form.ALU_IMM:
                self.store_reg(insn.dst, _i64(insn.imm & M32))
                return
            b, _ = self.operand(insn, 32)
            r = self.t()
            self.emit(f"{r} = {'sext' if spec.sign_extend_result else 'zext'} i32 {b} to i64")
            self.store_reg(insn.dst, r)
            return
        if op is Op.HOR:
            a = self.load_reg(insn.dst)
            r = self.t()
            self.emit(f"{r} = or i64 {a}, {_i64((insn.imm & M32) << 32)}")
            self.store_reg(insn.dst, r)
            return
        ty = "i64" if width == 64 else "i32"
        a = self.load_reg(insn.dst)
        if width == 32:
            a32 = self.t()
            self.emit(f"{a32} = trunc i64 {a} to i32")
            a = a32
        b, b_const = self.operand(insn, width)
        r = self.t()
        if op in _ALU_BINOP:
            if op is Op.SUB and spec.swap_imm_operands:
                self.emit(f"{r} = sub {ty} {b}, {a}")
            else:
                self.emit(f"{r} = {_ALU_BINOP[op]} {ty} {a}, {b}")
        elif op in _SHIFT:
            if not b_const:
                m = self.t()
                self.emit(f"{m} = and {ty} {b}, {width - 1}")
                b = m
            self.emit(f"{r} = {_SHIFT[op]} {ty} {a}, {b}")
        elif op in _UDIV:
            if not b_const:
                self.guard_zero(ty, b, pc, refund)
            self.emit(f"{r} = {_UDIV[op]} {ty} {a}, {b}")
        elif op in _SDIV:
            if not b_const:
                self.guard_zero(ty, b, pc, refund)
            minimum = "-2147483648" if width == 32 else "-9223372036854775808"
            if not b_const or b == "-1":
                is_min = self.t()
                self.emit(f"{is_min} = icmp eq {ty} {a}, {minimum}")
                if b_const:
                    bad = is_min
                else:
                    is_m1, bad = self.t(), self.t()
                    self.emit(f"{is_m1} = icmp eq {ty} {b}, -1")
                    self.emit(f"{bad} = and i1 {is_min}, {is_m1}")
                self.guard(bad, int(FaultCode.DIVIDE_OVERFLOW), pc, refund)
            self.emit(f"{r} = {_SDIV[op]} {ty} {a}, {b}")
        elif op is Op.UHMUL or op is Op.SHMUL:
            ext = "zext" if op is Op.UHMUL else "sext"
            shift = "lshr" if op is Op.UHMUL else "ashr"
            wa, wb, prod, hi = self.t(), self.t(), self.t(), self.t()
            self.emit(f"{wa} = {ext} i64 {a} to i128")
            self.emit(f"{wb} = {ext} i64 {b} to i128")
            self.emit(f"{prod} = mul i128 {wa}, {wb}")
            self.emit(f"{hi} = {shift} i128 {prod}, 64")
            self.emit(f"{r} = trunc i128 {hi} to i64")
        else:  # pragma: no cover
            raise AssertionError(f"no lowering for {spec.mnemonic}")
        if width == 32:
            r64 = self.t()
            self.emit(f"{r64} = {'sext' if spec.sign_extend_result else 'zext'} i32 {r} to i64")
            r = r64
        self.store_reg(insn.dst, r)

    def guard_zero(self, ty: str, value: str, pc: int, refund: int) -> None:
        z = self.t()
        self.emit(f"{z} = icmp eq {ty} {value}, 0")
        self.guard(z, int(FaultCode.DIVIDE_BY_ZERO), pc, refund)

    def guard(self, cond: str, code: int, pc: int, refund: int) -> None:
        """If ``cond``: fault with ``code`` at ``pc``; else continue."""
        self.tmp += 1
        fail, cont = f"g{self.tmp}_{pc}", f"c{self.tmp}_{pc}"
        self.emit(f"br i1 {cond}, label %{fail}, label %{cont}, !prof !0")
        self.fault(code, pc, refund, block=fail)
        self.label(cont)

    def endian(self, insn: Insn) -> None:
        spec = insn.spec
        assert spec is not None
        a = self.load_reg(insn.dst)
        width = insn.imm
        r = self.t()
        if spec.op is Op.LE:
            if width == 64:
                return
            self.emit(f"{r} = and i64 {a}, {0xFFFF if width == 16 else M32}")
        elif width == 64:
            self.emit(f"{r} = call i64 @llvm.bswap.i64(i64 {a})")
        else:
            ty = f"i{width}"
            n, s = self.t(), self.t()
            self.emit(f"{n} = trunc i64 {a} to {ty}")
            self.emit(f"{s} = call {ty} @llvm.bswap.{ty}({ty} {n})")
            self.emit(f"{r} = zext {ty} {s} to i64")
        self.store_reg(insn.dst, r)

    def jump(self, insn: Insn) -> None:
        spec = insn.spec
        assert spec is not None
        width = spec.width
        ty = "i64" if width == 64 else "i32"
        a = self.load_reg(insn.dst)
        if width == 32:
            a32 = self.t()
            self.emit(f"{a32} = trunc i64 {a} to i32")
            a = a32
        b, _ = self.operand(insn, width)
        c = self.t()
        if spec.op is Op.JSET:
            m = self.t()
            self.emit(f"{m} = and {ty} {a}, {b}")
            self.emit(f"{c} = icmp ne {ty} {m}, 0")
        else:
            self.emit(f"{c} = icmp {_ICMP[spec.op]} {ty} {a}, {b}")
        self.emit(f"br i1 {c}, label %pc_{insn.pc + 1 + insn.off}, label %pc_{insn.pc + 1}")

    # --- memory ---------------------------------------------------------------------------
    def region_field(self, entry: str, word: int) -> str:
        p, v = self.t(), self.t()
        self.emit(f"{p} = getelementptr inbounds i64, ptr {entry}, i64 {word}")
        self.emit(f"{v} = load i64, ptr {p}")
        return v

    def memory(self, insn: Insn, refund: int, *, store: bool) -> None:
        spec = insn.spec
        assert spec is not None
        size = spec.mem_size
        ty = f"i{size * 8}"
        pc = insn.pc
        if store:
            base_reg = insn.dst
            if spec.form is Form.STORE_IMM:
                value = _i64(insn.imm) if size == 8 else str(
                    ((insn.imm & ((1 << (8 * size)) - 1)) ^ (1 << (8 * size - 1)))
                    - (1 << (8 * size - 1)))
                value_is_const = True
            else:
                value = self.load_reg(insn.src)
                value_is_const = False
        else:
            base_reg = insn.src
        base = self.load_reg(base_reg)
        addr = self.t()
        self.emit(f"{addr} = add i64 {base}, {_i64(insn.off)}")
        if base_reg == 10 and self.options.trust_frame_pointer and self.fixed_frames \
                and -self.frame_size <= insn.off and insn.off + size <= 0:
            # The current frame [r10 - frame_size, r10) is always mapped and writable.
            o = self.t()
            self.emit(f"{o} = sub i64 {addr}, {_i64(MM_STACK_START)}")
            h = self.gap_offset(o) if self.gapped else o
            entry = self.t()
            self.emit(f"{entry} = getelementptr inbounds i64, ptr %regions, "
                      f"i64 {REGION_STACK * abi.REGION_WORDS}")
            host = self.region_field(entry, abi.REGION_HOST)
        else:
            idx, inr = self.t(), self.t()
            self.emit(f"{idx} = lshr i64 {addr}, 32")
            self.emit(f"{inr} = icmp ult i64 {idx}, {abi.NUM_REGION_SLOTS}")
            self.tmp += 1
            ok1, ok2, bad = f"m{self.tmp}a", f"m{self.tmp}b", f"m{self.tmp}f"
            self.emit(f"br i1 {inr}, label %{ok1}, label %{bad}, !prof !1")
            self.label(ok1)
            entry = self.t()
            self.emit(f"{entry} = getelementptr inbounds [4 x i64], ptr %regions, i64 {idx}")
            start = self.region_field(entry, abi.REGION_START)
            length = self.region_field(entry, abi.REGION_STORE_LEN if store
                                       else abi.REGION_LOAD_LEN)
            o = self.t()
            self.emit(f"{o} = sub i64 {addr}, {start}")
            gapfail = None
            if self.gapped:
                is_stack, g, ingap, gapfail = self.t(), self.t(), self.t(), self.t()
                self.emit(f"{is_stack} = icmp eq i64 {idx}, {REGION_STACK}")
                self.emit(f"{g} = and i64 {o}, {self.frame_size}")
                self.emit(f"{ingap} = icmp ne i64 {g}, 0")
                self.emit(f"{gapfail} = and i1 {is_stack}, {ingap}")
                hs = self.gap_offset(o)
                h = self.t()
                self.emit(f"{h} = select i1 {is_stack}, i64 {hs}, i64 {o}")
            else:
                h = o
            c1, end, c2, ok = self.t(), self.t(), self.t(), self.t()
            self.emit(f"{c1} = icmp ult i64 {h}, {length}")
            self.emit(f"{end} = add i64 {h}, {size}")
            self.emit(f"{c2} = icmp ule i64 {end}, {length}")
            self.emit(f"{ok} = and i1 {c1}, {c2}")
            if gapfail is not None:
                notgap, ok3 = self.t(), self.t()
                self.emit(f"{notgap} = xor i1 {gapfail}, true")
                self.emit(f"{ok3} = and i1 {ok}, {notgap}")
                ok = ok3
            self.emit(f"br i1 {ok}, label %{ok2}, label %{bad}, !prof !1")
            # The fault exit: record what failed; Python builds the exact error.
            self.label(bad)
            for word, val in ((abi.CTX_FAULT_ADDR, addr), (abi.CTX_FAULT_SIZE, str(size)),
                              (abi.CTX_FAULT_ACCESS, "1" if store else "0")):
                p = self.ctx_ptr(word)
                self.emit(f"store i64 {val}, ptr {p}")
            self.refund(refund)
            self.to_exit(abi.STATUS_MEMORY_FAULT, pc)
            self.label(ok2)
            host = self.region_field(entry, abi.REGION_HOST)
        ha, ptr = self.t(), self.t()
        self.emit(f"{ha} = add i64 {host}, {h}")
        self.emit(f"{ptr} = inttoptr i64 {ha} to ptr")
        if store:
            if size < 8 and not value_is_const:
                v = self.t()
                self.emit(f"{v} = trunc i64 {value} to {ty}")
                value = v
            self.emit(f"store {ty} {value}, ptr {ptr}, align 1")
        else:
            v = self.t()
            self.emit(f"{v} = load {ty}, ptr {ptr}, align 1")
            if size < 8:
                z = self.t()
                self.emit(f"{z} = zext {ty} {v} to i64")
                v = z
            self.store_reg(insn.dst, v)

    def gap_offset(self, o: str) -> str:
        """Host offset of guest stack offset ``o`` in the gapped v0 stack (SBPF_SPEC 4.3)."""
        f = self.frame_size
        hi, him, lo, h = self.t(), self.t(), self.t(), self.t()
        self.emit(f"{hi} = lshr i64 {o}, 1")
        self.emit(f"{him} = and i64 {hi}, {_i64(~(f - 1))}")
        self.emit(f"{lo} = and i64 {o}, {f - 1}")
        self.emit(f"{h} = or i64 {him}, {lo}")
        return h

    # --- calls ----------------------------------------------------------------------------
    def push_frame(self, pc: int, refund: int) -> None:
        """Depth check, save r6-r10 and the return pc, move r10 (SBPF_SPEC 3.2)."""
        d, full = self.t(), self.t()
        self.emit(f"{d} = load i64, ptr %depth")
        self.emit(f"{full} = icmp uge i64 {d}, {self.max_depth - 1}")
        self.guard(full, int(FaultCode.CALL_DEPTH_EXCEEDED), pc, refund)
        base, off = self.t(), self.t()
        self.emit(f"{off} = mul i64 {d}, {abi.FRAME_WORDS}")
        self.emit(f"{base} = add i64 {off}, {abi.CTX_FRAMES}")
        for k, reg in enumerate((6, 7, 8, 9, 10)):
            v = self.load_reg(reg)
            slot, p = self.t(), self.t()
            self.emit(f"{slot} = add i64 {base}, {k}")
            self.emit(f"{p} = getelementptr inbounds i64, ptr %ctx, i64 {slot}")
            self.emit(f"store i64 {v}, ptr {p}")
        slot, p = self.t(), self.t()
        self.emit(f"{slot} = add i64 {base}, 5")
        self.emit(f"{p} = getelementptr inbounds i64, ptr %ctx, i64 {slot}")
        self.emit(f"store i64 {pc + 1}, ptr {p}")
        d1 = self.t()
        self.emit(f"{d1} = add i64 {d}, 1")
        self.emit(f"store i64 {d1}, ptr %depth")
        if self.frame_bump:
            r10 = self.load_reg(10)
            b = self.t()
            self.emit(f"{b} = add i64 {r10}, {self.frame_bump}")
            self.store_reg(10, b)

    def call(self, insn: Insn, refund: int) -> None:
        kind, what = self.calls[insn.pc]
        pc = insn.pc
        if kind == "syscall":
            self.syscall(insn, what, refund)  # type: ignore[arg-type]
        elif kind == "call":
            self.push_frame(pc, refund)
            self.emit(f"br label %pc_{what}")
        elif kind == "outside":
            self.refund(refund)
            self.to_exit(int(FaultCode.CALL_OUTSIDE_TEXT_SEGMENT), pc)
        else:
            self.refund(refund)
            self.to_exit(int(FaultCode.UNSUPPORTED_INSTRUCTION), pc)

    def syscall(self, insn: Insn, sc: Syscall, refund: int) -> None:
        pc = insn.pc
        index = self.syscall_index.get(sc.key)
        if index is None:
            index = self.syscall_index[sc.key] = len(self.syscall_list)
            self.syscall_list.append(sc)
        args = [self.load_reg(r) for r in (1, 2, 3, 4, 5)]
        rem = self.t()
        self.emit(f"{rem} = load i64, ptr %rem")
        p = self.ctx_ptr(abi.CTX_REMAINING)
        self.emit(f"store i64 {rem}, ptr {p}")
        fp, fn, r0 = self.ctx_ptr(abi.CTX_SYSCALL_FN), self.t(), self.t()
        self.emit(f"{fn} = load ptr, ptr {fp}")
        arglist = ", ".join(f"i64 {a}" for a in args)
        self.emit(f"{r0} = call i64 {fn}(ptr %ctx, i64 {index}, {arglist})")
        p2, rem2 = self.ctx_ptr(abi.CTX_REMAINING), self.t()
        self.emit(f"{rem2} = load i64, ptr {p2}")
        self.emit(f"store i64 {rem2}, ptr %rem")
        fl, failed, bad = self.ctx_ptr(abi.CTX_SYSCALL_FAILED), self.t(), self.t()
        self.emit(f"{failed} = load i64, ptr {fl}")
        self.emit(f"{bad} = icmp ne i64 {failed}, 0")
        self.tmp += 1
        fail, cont = f"s{self.tmp}_{pc}f", f"s{self.tmp}_{pc}c"
        self.emit(f"br i1 {bad}, label %{fail}, label %{cont}, !prof !0")
        self.label(fail)
        self.refund(refund)
        self.to_exit(abi.STATUS_SYSCALL_ERROR, pc)
        self.label(cont)
        self.store_reg(0, r0)
        self.emit(f"br label %pc_{pc + 1}")

    def callx(self, insn: Insn, refund: int) -> None:
        spec = insn.spec
        assert spec is not None
        pc = insn.pc
        field = spec.callx_reg_field
        reg = insn.src if field == "src" else insn.dst if field == "dst" else insn.imm
        addr = self.load_reg(reg)  # read before the frame push (it may be r10's old value)
        self.push_frame(pc, refund)
        off, tpc, oob = self.t(), self.t(), self.t()
        self.emit(f"{off} = sub i64 {addr}, {_i64(self.exe.text_vaddr)}")
        self.emit(f"{tpc} = lshr i64 {off}, 3")
        self.emit(f"{oob} = icmp uge i64 {tpc}, {self.n_slots}")
        self.tmp += 1
        fail, cont = f"x{self.tmp}_{pc}f", f"x{self.tmp}_{pc}c"
        self.emit(f"br i1 {oob}, label %{fail}, label %{cont}, !prof !0")
        self.label(fail)
        p = self.ctx_ptr(abi.CTX_FAULT_ADDR)
        self.emit(f"store i64 {addr}, ptr {p}")
        self.refund(refund)
        self.to_exit(int(FaultCode.CALL_OUTSIDE_TEXT_SEGMENT), pc)
        self.label(cont)
        cases = " ".join(f"i64 {t}, label %pc_{t}" for t in self.entry_points)
        other = f"x{self.tmp}_{pc}i"
        self.emit(f"switch i64 {tpc}, label %{other} [ {cases} ]")
        # A slot that is not a compiled entry: the interpreter continues there.
        self.label(other)
        self.to_exit(abi.STATUS_BAIL, tpc)

    # --- shared tails -------------------------------------------------------------------
    def exit_sequences(self) -> None:
        # exit: at depth 0 the run ends; else pop a frame and return to its site.
        self.label("do_exit")
        d, z = self.t(), self.t()
        self.emit(f"{d} = load i64, ptr %depth")
        self.emit(f"{z} = icmp eq i64 {d}, 0")
        self.emit(f"br i1 {z}, label %ret_root, label %pop")
        self.label("ret_root")
        self.to_exit(abi.STATUS_EXIT, self.exe.entry_pc)
        self.label("pop")
        d1, off, base = self.t(), self.t(), self.t()
        self.emit(f"{d1} = sub i64 {d}, 1")
        self.emit(f"store i64 {d1}, ptr %depth")
        self.emit(f"{off} = mul i64 {d1}, {abi.FRAME_WORDS}")
        self.emit(f"{base} = add i64 {off}, {abi.CTX_FRAMES}")
        ret = None
        for k, reg in enumerate((6, 7, 8, 9, 10, None)):
            slot, p, v = self.t(), self.t(), self.t()
            self.emit(f"{slot} = add i64 {base}, {k}")
            self.emit(f"{p} = getelementptr inbounds i64, ptr %ctx, i64 {slot}")
            self.emit(f"{v} = load i64, ptr {p}")
            if reg is None:
                ret = v
            else:
                self.store_reg(reg, v)
        cases = " ".join(f"i64 {s}, label %pc_{s}" for s in self.return_sites)
        self.emit(f"switch i64 {ret}, label %bad_return [ {cases} ]")
        self.label("bad_return")
        self.to_exit(abi.STATUS_INTERNAL, "0")

        # The one exit: write the state back and return the status.
        self.label("exit")
        status = ", ".join(f"[ {s}, %{lbl} ]" for s, _pc, lbl in self.exit_in)
        pcs = ", ".join(f"[ {pc}, %{lbl} ]" for _s, pc, lbl in self.exit_in)
        self.emit(f"%status = phi i64 {status}")
        self.emit(f"%xpc = phi i64 {pcs}")
        for r in range(11):
            v = self.load_reg(r)
            p = self.ctx_ptr(abi.CTX_REGS + r)
            self.emit(f"store i64 {v}, ptr {p}")
        for word, slot in ((abi.CTX_REMAINING, "%rem"), (abi.CTX_DEPTH, "%depth")):
            v = self.t()
            self.emit(f"{v} = load i64, ptr {slot}")
            p = self.ctx_ptr(word)
            self.emit(f"store i64 {v}, ptr {p}")
        p = self.ctx_ptr(abi.CTX_PC)
        self.emit(f"store i64 %xpc, ptr {p}")
        self.emit("ret i64 %status")

    def module_text(self) -> str:
        head = (f"; TBPF program {self.exe.digest[:16]} ({self.exe.version.label})\n"
                f"define i64 @{ENTRY_SYMBOL}(ptr noalias %ctx, "
                f"ptr noalias nocapture readonly %regions) nounwind {{\n")
        tail = ("}\n\n"
                "declare i16 @llvm.bswap.i16(i16)\n"
                "declare i32 @llvm.bswap.i32(i32)\n"
                "declare i64 @llvm.bswap.i64(i64)\n"
                "!0 = !{!\"branch_weights\", i32 1, i32 1048576}\n"
                "!1 = !{!\"branch_weights\", i32 1048576, i32 1}\n")
        return head + "\n".join(self.out) + "\n" + tail


def lower(exe: Executable, insns: tuple[Insn | None, ...], syscalls: SyscallRegistry,
          options: LoweringOptions = LoweringOptions()) -> LoweredProgram:
    """Lower verified ``insns`` of ``exe`` to one LLVM function (see the module docstring).

    ``syscalls`` decides which ``call imm`` are syscalls (the same resolution the
    interpreter makes at bind time).
    """
    return _Lowerer(exe, insns, syscalls, options).lower()

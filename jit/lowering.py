"""Lower a verified sBPF program to LLVM IR text (no ``llvmlite.binding`` here).

Design (SBPF_SPEC 12.3, LLVMLITE_NOTES):

* **One LLVM function per guest function** (``@f_<pc>``): the entry, every ``call``
  target and every plausible ``callx`` target, each holding the blocks reachable from
  it. A guest ``call`` is a native call (after the call-depth check), ``exit`` a
  native return of r0-r5 and the meter, a jump into another function's entry a call in
  tail position, and ``callx`` goes through one shared ``switch`` (``@callx_dispatch``)
  whose default hands over to the interpreter. ``tbpf_entry`` dispatches on the start
  pc. (A single function with an explicit return stack, the first design, is exact too
  but its O2 compile time grew super-linearly on real programs; see docs/jit.md.)
* **Native stack guard**: each function compares the stack pointer with a limit from
  the thread's real stack bounds and hands over to the interpreter below it.
* When a run stops (fault, hand-over, exit at depth 0) the stopping function stores the
  registers it owns and every caller on the way out records its frame; the engine
  rebuilds the full register file and the interpreter's call frames from those records.
* Guest registers and the meter live in entry-block allocas; the optimized tier
  promotes them to SSA (SROA/mem2reg) and passes and returns only the registers each
  function needs (:mod:`jit.regflow`).
* **A basic block per guest block** (``pc_<n>``); leaders are the entry, jump targets,
  slots after control transfers and syscalls, call targets and the ``callx`` entry
  candidates (registered functions, labels, text addresses found in ``lddw``
  immediates and in the read-only data).
* **Metering** is per block and exact: a block of ``L`` instructions runs only if the
  meter holds at least ``L``; otherwise the run is handed to the interpreter at the
  block's first slot with the exact state (``STATUS_BAIL``), which finishes it
  instruction by instruction. A fault at index ``j`` of a block refunds ``L - j - 1``.
  Syscalls store the meter, call back into Python and reload it.
* **Bounds checks** (optimized tier) are inline: the guessed region's row first
  (:mod:`jit.provenance`), then the row of ``vm_addr >> 32``, each one compare against a
  precomputed per-size limit; the v0 gapped stack and faults go to an out-of-line slow
  path with every rule of SBPF_SPEC 4 (only the first byte is tested for a gap). The
  fast tier calls the slow path for every access (less code to compile).
  ``r10 + const`` stack accesses inside the current frame skip the check (the frame is
  always mapped) when the frame pointer is known to be the VM's own.
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
from .provenance import UNKNOWN, guess_regions
from .regflow import (ALL_REGS, RET_REGS, RegisterSets, analyze, bits, conservative,
                      insn_defs, site_mask)

__all__ = ["LoweringOptions", "LoweredProgram", "lower", "lowered_forms", "ENTRY_SYMBOL"]

ENTRY_SYMBOL = "tbpf_entry"
_RET = "%Ret"
# The region table never changes while compiled code runs (it is built once per memory
# map, before the call): its loads may be hoisted out of loops and across guest stores
# and calls, and rematerialized instead of spilled.
_INVARIANT = ", !invariant.load !2"
_REGION_BYTES = abi.NUM_REGION_SLOTS * abi.REGION_WORDS * 8
_RET_TYPE = "{ i64, i64, i64, i64, i64, i64, i64 }"
"""What a guest function returns: r0..r5 and the meter (LLVM drops the fields no caller
reads; three or fewer come back in registers)."""
_METER = 6
"""The meter's field in ``%Ret``."""
LEFT_COMPILED_CODE = (1 << 64) - 1
"""The meter value of a return that is not the guest's ``exit`` to its caller: the run
stopped (exit at depth 0, fault, hand-over) and ``ctx`` holds the status and state. A real
meter never has this value: a function returns normally only to a caller that paid for
its ``call``, so the budget had at least one unit more than the meter."""
STATUS_CALLX_MISS = 201
_IO_WORDS = 12
"""Fast tier calling convention: a guest function is ``i64 f(ctx, regions, io, depth)``
where ``io`` holds r0..r10 and the meter on entry and r0..r5 on a normal return; the
result is the meter (or ``LEFT_COMPILED_CODE``). LLVM's fast instruction selector gives
up on calls with more than six arguments and on aggregate returns, and the slow one made
call-heavy programs compile twice as slowly; the optimized tier passes registers as
arguments (SSA values, most of them dropped by jit.regflow)."""
_IO_METER = 11
"""Internal status: ``@callx_dispatch`` has no compiled function for the target slot."""
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
        precise_registers: pass, return and report only the registers each guest
            function needs (:mod:`jit.regflow`); the optimized tier's choice (the fast
            tier skips the analysis and passes all of them).
    """

    trust_frame_pointer: bool = True
    precise_registers: bool = False


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
        # status, pc, depth, refund, label, register mask
        self.exit_in: list[tuple[str, str, str, int, str, int]] = []
        self.defined = ALL_REGS
        # The fast tier passes guest registers through memory (see _IO_WORDS).
        self.mem_abi = not options.precise_registers
        self.cache: dict[int, str] = {}
        self.dirty: set[int] = set()
        self.has_exit = False
        self.syscall_index: dict[int, int] = {}
        self.syscall_list: list[Syscall] = []

    # --- small emit helpers -------------------------------------------------------------
    @property
    def ret_type(self) -> str:
        """What a compiled guest function returns in this tier's calling convention."""
        return "i64" if self.mem_abi else _RET

    def io_slot(self, block: str, word: int) -> str:
        """A pointer to ``word`` of the argument block ``block`` (fast tier)."""
        p = self.t()
        self.emit(f"{p} = getelementptr inbounds i64, ptr {block}, i64 {word}")
        return p

    def fill_io(self, block: str, regs: list[str], rem: str) -> None:
        """Store r0..r10 (``poison`` entries are skipped) and the meter into ``block``."""
        for r, v in enumerate(regs):
            if v != "poison":
                self.emit(f"store i64 {v}, ptr {self.io_slot(block, r)}")
        self.emit(f"store i64 {rem}, ptr {self.io_slot(block, _IO_METER)}")

    def t(self) -> str:
        self.tmp += 1
        return f"%t{self.tmp}"

    def label(self, name: str, keep: bool = False) -> None:
        """Start a block. ``keep``: it is dominated by the block before it, so register
        values already loaded there stay valid."""
        assert not self.dirty, "a block ended without storing its registers"
        if not keep:
            self.cache.clear()
        self.out.append(f"{name}:")
        self.cur = name

    def emit(self, line: str) -> None:
        if self.dirty and line.startswith(("br ", "switch ", "ret ")):
            self.flush()
        self.out.append("  " + line)

    # Within a block, guest registers are SSA values; they are stored back to their
    # allocas before every branch (so exits and successor blocks read them from memory).
    # This halves the IR the fast tier must compile; the optimized tier promotes the
    # allocas anyway.
    def load_reg(self, reg: int) -> str:
        value = self.cache.get(reg)
        if value is None:
            value = self.t()
            self.out.append(f"  {value} = load i64, ptr %r{reg}")
            self.cache[reg] = value
        return value

    def store_reg(self, reg: int, value: str) -> None:
        self.cache[reg] = value
        self.dirty.add(reg)

    def flush(self) -> None:
        for reg in sorted(self.dirty):
            self.out.append(f"  store i64 {self.cache[reg]}, ptr %r{reg}")
        self.dirty.clear()

    def ctx_ptr(self, word: int) -> str:
        p = self.t()
        self.emit(f"{p} = getelementptr inbounds i64, ptr %ctx, i64 {word}")
        return p

    def to_exit(self, status: int | str, pc: int | str, depth: str = "%depth",
                refund: int = 0) -> None:
        """Leave the function through its exit block (state written back to ``ctx``),
        giving back ``refund`` compute units (the unexecuted rest of the block)."""
        self.emit("br label %exit")
        self.add_exit(status, pc, depth, refund)

    def add_exit(self, status: int | str, pc: int | str, depth: str = "%depth",
                 refund: int = 0) -> None:
        """Record the current block as an edge into the exit block, with the registers
        this function may have changed by now (what the exit stores, ``site_mask``)."""
        self.exit_in.append((str(status), str(pc), depth, refund, self.cur, self.site()))

    def site(self) -> int:
        """The registers stored when the function stops here (:func:`regflow.site_mask`)."""
        return site_mask(self.defined, self.sets.written[self.fn_entry])

    def exit_if(self, cond: str, status: int, pc: int, refund: int) -> None:
        """If ``cond``: leave with ``status`` at ``pc``; else continue in a new block. The
        branch goes straight to the exit block (no block of its own: less to compile)."""
        self.tmp += 1
        cont = f"c{self.tmp}_{pc}"
        self.emit(f"br i1 {cond}, label %exit, label %{cont}, !prof !0")
        self.add_exit(status, pc, "%depth", refund)
        self.label(cont, keep=True)

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
        # Function pointers stored in read-only data (vtables, tables of handlers). The
        # text itself is skipped: its slots would match whenever an immediate is 1.
        ro = bytearray(exe.ro_data)
        text_off = exe.text_vaddr - exe.ro_vm_addr
        if 0 <= text_off < len(ro):
            ro[text_off:text_off + len(exe.text)] = bytes(min(len(exe.text), len(ro) - text_off))
        usable = len(ro) - len(ro) % 8
        if usable and lo < hi:
            words = np.frombuffer(bytes(ro[:usable]), dtype="<u8")
            hits = words[(words >= lo) & (words < hi)]
            cands.update(int((w - lo) // INSN_SIZE) for w in np.unique(hits)[:4096])
        return {c for c in cands if 0 <= c < self.n_slots and self.insns[c] is not None}

    def lower(self) -> LoweredProgram:
        insns = self.insns
        n = self.n_slots
        entry_pc = self.exe.entry_pc
        leaders = {entry_pc}
        calls: dict[int, tuple[str, object]] = {}
        call_targets: set[int] = set()
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
                if kind == "call" and insns[what] is not None:  # type: ignore[index]
                    call_targets.add(what)  # type: ignore[arg-type]
                leaders.add(pc + 1)
            elif form in (Form.CALL_REG, Form.EXIT):
                leaders.add(pc + 1)
        self.calls = calls
        candidates = self.callx_candidates()
        leaders |= call_targets | candidates
        leaders = {p for p in leaders if 0 <= p <= n and (p == n or insns[p] is not None)}
        leaders.add(n)
        ordered = sorted(leaders)
        self.blocks: dict[int, tuple[int, list[Insn]]] = {}
        for idx, start in enumerate(ordered[:-1]):
            end = ordered[idx + 1]
            self.blocks[start] = (end, [i for i in insns[start:end] if i is not None])

        # Functions: the entry, every call target, and the callx entry candidates (as long
        # as duplicated blocks stay within budget; the rest are entered by the interpreter).
        self.all_entries = ({entry_pc} | call_targets | candidates) & set(self.blocks)
        self.functions: dict[int, list[int]] = {}
        if entry_pc < n and insns[entry_pc] is not None:
            self.functions[entry_pc] = self.reachable(entry_pc)
        for target in sorted(call_targets):
            if target not in self.functions:
                self.functions[target] = self.reachable(target)
        for target in sorted(candidates):
            if target not in self.functions:
                self.functions[target] = self.reachable(target)
        self.entry_points = sorted(candidates & set(self.functions))
        if self.options.precise_registers:
            self.sets: RegisterSets = analyze(self.functions, self.blocks, self.successors,
                                              self.all_entries, self.calls)
        else:
            self.sets = conservative(self.functions)
        count = 0
        for fn_entry, fn_blocks in self.functions.items():
            count += self.function(fn_entry, fn_blocks)
        self.root(entry_pc)
        self.dispatcher()
        syscalls = tuple(self.syscall_list)
        ir = self.module_text()
        return LoweredProgram(ir, syscalls, frozenset(self.entry_points),
                              sum(len(b) for b in self.functions.values()), count)

    def successors(self, start: int) -> list[int]:
        """Blocks control can reach from the block at ``start`` within its function."""
        if start == self.n_slots:
            return []
        end, block = self.blocks[start]
        last = block[-1]
        spec = last.spec
        assert spec is not None
        form = spec.form
        if form is Form.JA:
            return [last.pc + 1 + last.off]
        if form in (Form.JUMP_IMM, Form.JUMP_REG):
            return [last.pc + 1 + last.off, last.pc + 1]
        if form is Form.CALL_IMM:
            kind, _ = self.calls[last.pc]
            return [last.pc + 1] if kind in ("syscall", "call") else []
        if form is Form.CALL_REG:
            return [last.pc + 1]
        if form is Form.EXIT:
            return []
        return [end]

    def reachable(self, entry: int) -> list[int]:
        """Blocks of the guest function that starts at ``entry`` (calls return to pc+1).

        A jump into another function's entry is a tail call, not part of this function,
        so shared code is not duplicated (and loops between functions use no stack)."""
        seen = {entry}
        todo = [entry]
        while todo:
            for succ in self.successors(todo.pop()):
                if succ not in seen and (succ == entry or succ not in self.all_entries):
                    seen.add(succ)
                    todo.append(succ)
        return sorted(seen)

    def goto(self, target: int) -> str:
        """The label that continues at ``target``: its block, or a tail call into the
        function that owns it."""
        if target != self.fn_entry and target in self.all_entries:
            self.tail_targets.add(target)
            return f"tail_{target}"
        return f"pc_{target}"

    def tail_calls(self) -> None:
        for target in sorted(self.tail_targets):
            self.label(f"tail_{target}")
            need = self.sets.needed[target]
            regs = [self.load_reg(r) if need >> r & 1 else "poison" for r in range(11)]
            rem, res = self.t(), self.t()
            self.emit(f"{rem} = load i64, ptr %rem")
            if self.mem_abi:
                # The caller's argument block: the target returns into it on our behalf.
                self.fill_io("%io", regs, rem)
                self.emit(f"{res} = tail call fastcc i64 @f_{target}(ptr %ctx, "
                          f"ptr %regions, ptr %io, i64 %depth)")
                self.emit(f"ret i64 {res}")
                continue
            args = ", ".join(f"i64 {v}" for v in regs + [rem])
            self.emit(f"{res} = tail call fastcc {_RET} @f_{target}(ptr %ctx, "
                      f"ptr %regions, {args}, i64 %depth)")
            self.emit(f"ret {_RET} {res}")

    def cost_of(self, blocks: list[int]) -> int:
        return sum(len(self.blocks[b][1]) if b in self.blocks else 1 for b in blocks)

    def function(self, entry: int, blocks: list[int]) -> int:
        """Emit ``@f_<entry>``; returns the number of guest instructions lowered."""
        self.exit_in = []
        self.has_exit = False
        self.fn_entry = entry
        self.tail_targets: set[int] = set()
        self.guesses = (guess_regions(entry, blocks, self.blocks, self.successors,
                                      entry == self.exe.entry_pc)
                        if self.options.precise_registers else {})
        regions = f"ptr noalias readonly dereferenceable({_REGION_BYTES}) %regions"
        if self.mem_abi:
            self.out.append(f"define internal fastcc i64 @f_{entry}(ptr noalias %ctx, "
                            f"{regions}, ptr noalias %io, i64 %depth) nounwind {{")
        else:
            self.out.append(
                f"define internal fastcc {_RET} @f_{entry}(ptr noalias %ctx, {regions}, "
                + ", ".join(f"i64 %a{r}" for r in range(11))
                + ", i64 %rem_in, i64 %depth) nounwind {")
        self.label("entry")
        for r in range(11):
            self.emit(f"%r{r} = alloca i64")
        self.emit("%rem = alloca i64")
        if self.mem_abi:
            # This frame's own argument block for the calls it makes.
            self.emit(f"%iob = alloca [{_IO_WORDS} x i64]")
            for r in range(11):
                self.emit(f"%a{r} = load i64, ptr {self.io_slot('%io', r)}")
            self.emit(f"%rem_in = load i64, ptr {self.io_slot('%io', _IO_METER)}")
        # Only the registers this function needs: the others are never read (regflow),
        # so their arguments stay unused and LLVM drops them from the signature.
        needed = self.sets.needed[entry]
        for r in bits(needed):
            self.store_reg(r, f"%a{r}")
        self.emit("store i64 %rem_in, ptr %rem")
        # Native stack guard: guest calls are native calls (at most max_call_depth deep,
        # but fast-tier frames can be large) and cross-function jumps are calls in tail
        # position that LLVM need not turn into jumps. Below the limit the interpreter
        # takes over.
        sp, spi, limp, lim, low = self.t(), self.t(), self.t(), self.t(), self.t()
        if self.mem_abi:
            # The address of a local stands in for the stack pointer (instruction
            # selection at O0 handles it; llvm.stacksave sends it to the slow selector).
            sp = "%iob"
        else:
            self.emit(f"{sp} = call ptr @llvm.stacksave.p0()")
        self.emit(f"{spi} = ptrtoint ptr {sp} to i64")
        self.emit(f"{limp} = getelementptr inbounds i64, ptr %ctx, i64 {abi.CTX_STACK_LIMIT}")
        self.emit(f"{lim} = load i64, ptr {limp}")
        self.emit(f"{low} = icmp ult i64 {spi}, {lim}")
        self.defined = self.sets.block_may(entry, entry)
        self.emit(f"br i1 {low}, label %exit, label %pc_{entry}, !prof !0")
        self.add_exit(abi.STATUS_BAIL, entry)
        self.covers = self.meter_covers(entry, blocks)
        count = 0
        for start in blocks:
            if start == self.n_slots:
                self.overrun_block(start)
                continue
            end, block = self.blocks[start]
            count += len(block)
            self.block(start, end, block)
        self.tail_calls()
        self.epilogue()
        self.out.append("}")
        self.out.append("")
        return count

    def epilogue(self) -> None:
        if self.has_exit:
            # exit: at depth 0 the run ends; else return r0-r5 and the meter to the caller,
            # which keeps its own r6-r10 (callee-saved by the VM).
            self.label("do_exit")
            z = self.t()
            self.emit(f"{z} = icmp eq i64 %depth, 0")
            self.emit(f"br i1 {z}, label %ret_root, label %ret_call")
            self.label("ret_root")
            # Shared by every exit instruction: store everything the function may change
            # (regflow counts ``exit`` as a use of all of it).
            self.defined = ALL_REGS
            self.to_exit(abi.STATUS_EXIT, self.exe.entry_pc)
            self.label("ret_call")
            returned = self.sets.returned[self.fn_entry]
            values = [self.load_reg(r) if returned >> r & 1 else "0" for r in range(6)]
            rem = self.t()
            self.emit(f"{rem} = load i64, ptr %rem")
            if self.mem_abi:
                for r in bits(returned):
                    self.emit(f"store i64 {values[r]}, ptr {self.io_slot('%io', r)}")
                self.emit(f"ret i64 {rem}")
            else:
                agg = f"{_RET} poison"
                for k, v in enumerate(values + [rem]):
                    nxt = self.t()
                    self.emit(f"{nxt} = insertvalue {agg}, i64 {v}, {k}")
                    agg = f"{_RET} {nxt}"
                self.emit(f"ret {agg}")
        # The exit: write the state back to ctx and return the status.
        self.label("exit")
        status = ", ".join(f"[ {s}, %{lbl} ]" for s, _pc, _d, _r, lbl, _m in self.exit_in)
        pcs = ", ".join(f"[ {pc}, %{lbl} ]" for _s, pc, _d, _r, lbl, _m in self.exit_in)
        depths = ", ".join(f"[ {d}, %{lbl} ]" for _s, _pc, d, _r, lbl, _m in self.exit_in)
        refunds = ", ".join(f"[ {r}, %{lbl} ]" for _s, _pc, _d, r, lbl, _m in self.exit_in)
        masks = ", ".join(f"[ {m}, %{lbl} ]" for _s, _pc, _d, _r, lbl, m in self.exit_in)
        self.emit(f"%status = phi i64 {status}")
        self.emit(f"%xpc = phi i64 {pcs}")
        self.emit(f"%xdepth = phi i64 {depths}")
        self.emit(f"%xrefund = phi i64 {refunds}")
        self.emit(f"%xmask = phi i64 {masks}")
        # Only the registers this function may have changed by the time it stopped (the
        # others hold whatever the path left in them, and the mask says to ignore them);
        # the engine takes the rest from the callers' frame records (or the initial
        # registers).
        written = self.sets.written[self.fn_entry]
        for r in bits(written):
            v = self.load_reg(r)
            p = self.ctx_ptr(abi.CTX_REGS + r)
            self.emit(f"store i64 {v}, ptr {p}")
        left, v = self.t(), self.t()
        self.emit(f"{left} = load i64, ptr %rem")
        self.emit(f"{v} = add i64 {left}, %xrefund")
        for word, val in ((abi.CTX_REMAINING, v), (abi.CTX_DEPTH, "%xdepth"),
                          (abi.CTX_PC, "%xpc"), (abi.CTX_REGMASK, "%xmask"),
                          (abi.CTX_STATUS, "%status")):
            p = self.ctx_ptr(word)
            self.emit(f"store i64 {val}, ptr {p}")
        self.ret_left()

    def ret_left(self) -> None:
        """Return "left compiled code" to the caller (the status is in ``ctx``). Zeros, not
        poison, in the other fields: LLVM may refine a poison field to a live value,
        which would keep every field alive."""
        if self.mem_abi:
            self.emit(f"ret i64 {_i64(LEFT_COMPILED_CODE)}")
            return
        out = self.t()
        self.emit(f"{out} = insertvalue {_RET} zeroinitializer, i64 {_i64(LEFT_COMPILED_CODE)}, "
                  f"{_METER}")
        self.emit(f"ret {_RET} {out}")

    def root(self, entry_pc: int) -> None:
        """``tbpf_entry``: load the state from ctx and call the function that starts at
        ``ctx.pc`` at depth 0. Any compiled function can be an entry, so executables that
        differ only in their entry point (a contract's entry points) share one compiled
        program; a pc that starts no compiled function hands over to the interpreter."""
        self.out.append(f"define i64 @{ENTRY_SYMBOL}(ptr noalias %ctx, "
                        f"ptr noalias nocapture readonly %regions) nounwind {{")
        self.label("entry")
        args = []
        values = []
        for word in list(range(abi.CTX_REGS, abi.CTX_REGS + 11)) + [abi.CTX_REMAINING]:
            p, v = self.ctx_ptr(word), self.t()
            self.emit(f"{v} = load i64, ptr {p}")
            args.append(f"i64 {v}")
            values.append(v)
        if self.mem_abi:
            self.emit(f"%iob = alloca [{_IO_WORDS} x i64]")
            self.fill_io("%iob", values[:11], values[11])
            args = ["ptr %iob"]
        pcp, pc = self.ctx_ptr(abi.CTX_PC), self.t()
        self.emit(f"{pc} = load i64, ptr {pcp}")
        entries = sorted(self.functions)
        cases = " ".join(f"i64 {e}, label %go_{e}" for e in entries)
        self.emit(f"switch i64 {pc}, label %other [ {cases} ]")
        for e in entries:
            self.label(f"go_{e}")
            # At depth 0 a function never returns normally (its exit ends the run), so
            # the status is always in ctx.
            self.emit(f"call fastcc {self.ret_type} @f_{e}(ptr %ctx, ptr %regions, "
                      f"{', '.join(args)}, i64 0)")
            self.emit("br label %done")
        self.label("done")
        sp, st = self.ctx_ptr(abi.CTX_STATUS), self.t()
        self.emit(f"{st} = load i64, ptr {sp}")
        self.emit(f"ret i64 {st}")
        self.label("other")
        self.emit(f"ret i64 {abi.STATUS_BAIL}")
        self.out.append("}")

    def meter_covers(self, entry: int, blocks: list[int]) -> dict[int, int]:
        """How much each block's meter check must see in the budget: its own cost plus
        what the blocks it alone leads to will charge (their checks are left out).

        A block is checked by its predecessor when that predecessor is its only one
        inside the function, it is no entry (the function's own or one another function
        or the root can jump to), and the predecessor neither calls nor makes a syscall
        (those charge an unknown amount). The check stays exact: when the budget cannot
        cover the chain the run is handed to the interpreter at the checking block, which
        runs the (at most ``cover - 1``) remaining instructions precisely. Chains never
        cycle: a cycle of single-predecessor blocks could not be reached from ``entry``.
        Returns ``{start: cover}`` for checked blocks and leaves unchecked ones out."""
        preds: dict[int, set[int]] = {b: set() for b in blocks}
        for b in blocks:
            for succ in set(self.successors(b)):
                if succ in preds:
                    preds[succ].add(b)
        checked_by: dict[int, list[int]] = {}
        for b in blocks:
            if (b == entry or b == self.n_slots or b in self.all_entries
                    or len(preds[b]) != 1):
                continue
            (pred,) = preds[b]
            last = self.blocks[pred][1][-1]
            assert last.spec is not None
            if last.spec.form in (Form.CALL_IMM, Form.CALL_REG):
                continue
            checked_by.setdefault(pred, []).append(b)
        elided = {b for chain in checked_by.values() for b in chain}
        covers: dict[int, int] = {}

        def cover(b: int) -> int:
            if b not in covers:
                covers[b] = len(self.blocks[b][1]) + max(
                    (cover(s) for s in checked_by.get(b, ())), default=0)
            return covers[b]

        for b in blocks:
            if b != self.n_slots and b not in elided:
                cover(b)
        return {b: c for b, c in covers.items() if b not in elided}

    def meter(self, start: int, cost: int, cover: int | None = None) -> None:
        """Block entry: pay ``cost`` or hand the run to the interpreter at ``start``.

        ``cover`` (at least ``cost``) is what the check demands; ``None`` means a
        predecessor's check already covered this block, so it only pays."""
        self.label(f"pc_{start}")
        have = self.t()
        self.emit(f"{have} = load i64, ptr %rem")
        if cover is not None:
            ok = self.t()
            self.emit(f"{ok} = icmp uge i64 {have}, {cover}")
            self.emit(f"br i1 {ok}, label %pay_{start}, label %exit, !prof !1")
            self.add_exit(abi.STATUS_BAIL, start)
            self.label(f"pay_{start}", keep=True)
        left = self.t()
        self.emit(f"{left} = sub i64 {have}, {cost}")
        self.emit(f"store i64 {left}, ptr %rem")

    def overrun_block(self, n: int) -> None:
        self.defined = self.sets.block_may(self.fn_entry, n)
        self.meter(n, 1, 1)
        self.to_exit(int(FaultCode.EXECUTION_OVERRUN), n)

    def block(self, start: int, end: int, block: list[Insn]) -> None:
        cost = len(block)
        self.defined = self.sets.block_may(self.fn_entry, start)
        self.meter(start, cost, self.covers.get(start))
        written = self.sets.written
        for j, insn in enumerate(block):
            self.insn(insn, cost - j - 1)
            self.defined |= insn_defs(insn, self.calls, written)
        last = block[-1]
        if not self.is_terminator(last):
            self.emit(f"br label %{self.goto(end)}")

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
            self.emit(f"br label %{self.goto(insn.pc + 1 + insn.off)}")
        elif form in (Form.JUMP_IMM, Form.JUMP_REG):
            self.jump(insn)
        elif form is Form.CALL_IMM:
            self.call(insn, refund)
        elif form is Form.CALL_REG:
            self.callx(insn, refund)
        elif form is Form.EXIT:
            self.has_exit = True
            self.emit("br label %do_exit")
        else:  # pragma: no cover - the table has no other forms
            raise AssertionError(f"no lowering for {spec.mnemonic}")

    def dst_operand(self, insn: Insn, width: int) -> str:
        """The first operand (``dst``) at ``width`` bits."""
        a = self.load_reg(insn.dst)
        if width == 64:
            return a
        a32 = self.t()
        self.emit(f"{a32} = trunc i64 {a} to i32")
        return a32

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
        a = self.dst_operand(insn, width)
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
        self.exit_if(cond, code, pc, refund)

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
        a = self.dst_operand(insn, width)
        b, _ = self.operand(insn, width)
        c = self.t()
        if spec.op is Op.JSET:
            m = self.t()
            self.emit(f"{m} = and {ty} {a}, {b}")
            self.emit(f"{c} = icmp ne {ty} {m}, 0")
        else:
            self.emit(f"{c} = icmp {_ICMP[spec.op]} {ty} {a}, {b}")
        self.emit(f"br i1 {c}, label %{self.goto(insn.pc + 1 + insn.off)}, "
                  f"label %{self.goto(insn.pc + 1)}")

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
        value = ""
        value_is_const = False
        if store:
            base_reg = insn.dst
            if spec.form is Form.STORE_IMM:
                bits = 8 * size
                value = _i64(insn.imm) if size == 8 else str(
                    ((insn.imm & ((1 << bits) - 1)) ^ (1 << (bits - 1))) - (1 << (bits - 1)))
                value_is_const = True
            else:
                value = self.load_reg(insn.src)
        else:
            base_reg = insn.src
        base = self.load_reg(base_reg)
        addr = self.t()
        self.emit(f"{addr} = add i64 {base}, {_i64(insn.off)}")
        if base_reg == 10 and self.options.trust_frame_pointer and self.fixed_frames \
                and -self.frame_size <= insn.off and insn.off + size <= 0:
            # The current frame [r10 - frame_size, r10) is always mapped and writable.
            ptr = self.t()
            self.emit(f"{ptr} = call ptr @tbpf_frame_ptr(ptr %regions, i64 {addr})")
        elif self.options.precise_registers:
            ptr = self.translate_inline(addr, size, store, insn.pc, refund)
        else:
            ptr = self.translate_call(addr, size, store, insn.pc, refund)
        self.access(insn, store, size, ptr, value, value_is_const)

    def slow_translate(self, addr: str, size: int, store: bool, pc: int, refund: int,
                       join: str) -> str:
        """Call ``@tbpf_translate_slow``; on failure record the fault and leave. Continues
        in ``join``; returns the pointer value."""
        ptr, ok = self.t(), self.t()
        self.emit(f"{ptr} = call ptr @tbpf_translate_slow(ptr %ctx, ptr %regions, i64 {addr}, "
                  f"i64 {size}, i1 {'true' if store else 'false'})")
        self.emit(f"{ok} = icmp ne ptr {ptr}, null")
        # On failure the helper has recorded what failed; Python builds the exact error.
        self.emit(f"br i1 {ok}, label %{join}, label %exit, !prof !1")
        self.add_exit(abi.STATUS_MEMORY_FAULT, pc, "%depth", refund)
        return ptr

    def translate_call(self, addr: str, size: int, store: bool, pc: int, refund: int) -> str:
        """Fast tier: one call does the whole translation (least code to compile)."""
        self.tmp += 1
        join = f"m{self.tmp}_{pc}j"
        ptr = self.slow_translate(addr, size, store, pc, refund, join)
        self.label(join, keep=True)
        return ptr

    def row_check(self, row: str, addr: str, size: int, store: bool) -> tuple[str, str]:
        """``vm_addr - start < limit`` against one region row: (offset, ok)."""
        start, limp, lim, o, ok = (self.t() for _ in range(5))
        self.emit(f"{start} = load i64, ptr {row}{_INVARIANT}")
        self.emit(f"{limp} = getelementptr inbounds i64, ptr {row}, "
                  f"i64 {abi.limit_word(size, store)}")
        self.emit(f"{lim} = load i64, ptr {limp}{_INVARIANT}")
        self.emit(f"{o} = sub i64 {addr}, {start}")
        self.emit(f"{ok} = icmp ult i64 {o}, {lim}")
        return o, ok

    def row_pointer(self, row: str, o: str) -> str:
        hp, host, ha, p = self.t(), self.t(), self.t(), self.t()
        self.emit(f"{hp} = getelementptr inbounds i64, ptr {row}, i64 {abi.REGION_HOST}")
        self.emit(f"{host} = load i64, ptr {hp}{_INVARIANT}")
        self.emit(f"{ha} = add i64 {host}, {o}")
        self.emit(f"{p} = inttoptr i64 {ha} to ptr")
        return p

    def translate_inline(self, addr: str, size: int, store: bool, pc: int, refund: int) -> str:
        """Optimized tier: the guessed region first (a loop-invariant row: subtract and
        compare), then the row selected by ``vm_addr >> 32``, then the slow path."""
        self.tmp += 1
        tag = f"m{self.tmp}_{pc}"
        join = f"{tag}j"
        incoming: list[tuple[str, str]] = []
        guess = self.guesses.get(pc, UNKNOWN)
        if guess == REGION_STACK and self.gapped:
            guess = UNKNOWN  # the gapped stack always takes the slow path
        if guess != UNKNOWN:
            row_k = self.t()
            self.emit(f"{row_k} = getelementptr inbounds [{abi.REGION_WORDS} x i64], "
                      f"ptr %regions, i64 {guess}")
            o_k, ok_k = self.row_check(row_k, addr, size, store)
            self.emit(f"br i1 {ok_k}, label %{tag}h, label %{tag}m, !prof !1")
            self.label(f"{tag}h", keep=True)
            incoming.append((self.row_pointer(row_k, o_k), self.cur))
            self.emit(f"br label %{join}")
            self.label(f"{tag}m", keep=True)
        i, i7, row = self.t(), self.t(), self.t()
        self.emit(f"{i} = lshr i64 {addr}, 32")
        self.emit(f"{i7} = and i64 {i}, {abi.NUM_REGION_SLOTS - 1}")
        self.emit(f"{row} = getelementptr inbounds [{abi.REGION_WORDS} x i64], "
                  f"ptr %regions, i64 {i7}")
        o, ok = self.row_check(row, addr, size, store)
        self.emit(f"br i1 {ok}, label %{tag}f, label %{tag}s, !prof !1")
        self.label(f"{tag}f", keep=True)
        incoming.append((self.row_pointer(row, o), self.cur))
        self.emit(f"br label %{join}")
        # Slow path (out of line): the gapped v0 stack, or a fault.
        self.label(f"{tag}s", keep=True)
        incoming.append((self.slow_translate(addr, size, store, pc, refund, join), f"{tag}s"))
        self.label(join, keep=True)
        ptr = self.t()
        self.emit(f"{ptr} = phi ptr " + ", ".join(f"[ {v}, %{b} ]" for v, b in incoming))
        return ptr

    def access(self, insn: Insn, store: bool, size: int, ptr: str, value: str,
               value_is_const: bool) -> None:
        """The load or store itself, through the translated host pointer."""
        ty = f"i{size * 8}"
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

    def cold_helpers(self) -> str:
        """``@tbpf_write_frame``: the frame record, out of line (it is only written when a
        run leaves compiled code below a call)."""
        names = [f"r{r}" for r in range(11)] + ["ret", "mask"]
        frame = ["define internal void @tbpf_write_frame(ptr noalias %ctx, i64 %depth, "
                 "i64 %mask, " + ", ".join(f"i64 %r{r}" for r in range(11))
                 + ", i64 %ret) cold noinline nounwind {", "entry:",
                 f"  %off = mul i64 %depth, {abi.FRAME_WORDS}",
                 f"  %base = add i64 %off, {abi.CTX_FRAMES}"]
        for k, name in enumerate(names):
            frame += [f"  %i{k} = add i64 %base, {k}",
                      f"  %p{k} = getelementptr inbounds i64, ptr %ctx, i64 %i{k}",
                      f"  store i64 %{name}, ptr %p{k}"]
        frame += ["  ret void", "}", ""]
        if self.mem_abi:
            # The fast tier's variant: r0..r9 from the caller's argument block.
            frame += ["define internal void @tbpf_write_frame_io(ptr noalias %ctx, i64 %depth, "
                      "i64 %mask, ptr noalias %regs, i64 %r10, i64 %ret) cold noinline "
                      "nounwind {", "entry:"]
            for r in range(10):
                frame += [f"  %q{r} = getelementptr inbounds i64, ptr %regs, i64 {r}",
                          f"  %r{r} = load i64, ptr %q{r}"]
            frame += ["  call void @tbpf_write_frame(ptr %ctx, i64 %depth, i64 %mask, "
                      + ", ".join(f"i64 %r{r}" for r in range(11)) + ", i64 %ret)",
                      "  ret void", "}", ""]
        return "\n".join(frame) + "\n"

    def memory_helpers(self) -> str:
        """``@tbpf_translate_slow`` (every rule of SBPF_SPEC 4.2-4.3, out of line) and
        ``@tbpf_frame_ptr`` (the current frame, no check needed).

        The optimized tier calls the slow path only when its inline checks failed: for
        the gapped v0 stack, where only the first byte of an access is tested for a gap,
        and for accesses that fault. The fast tier calls it for every access (less code
        to compile). It returns the host pointer, or null when the access must fault
        (host buffers are never at address 0).
        """
        w = abi.REGION_WORDS
        slow = "\n".join([
            "define internal ptr @tbpf_translate_slow(ptr noalias %ctx, "
            "ptr noalias readonly %regions, i64 %addr, i64 %size, i1 %store) "
            "noinline nounwind {",
            "entry:",
            "  %idx = lshr i64 %addr, 32",
            f"  %inr = icmp ult i64 %idx, {abi.NUM_REGION_SLOTS}",
            "  br i1 %inr, label %found, label %bad",
            "found:",
            f"  %row = getelementptr inbounds [{w} x i64], ptr %regions, i64 %idx",
            "  %start = load i64, ptr %row",
            f"  %hp = getelementptr inbounds i64, ptr %row, i64 {abi.REGION_HOST}",
            "  %host = load i64, ptr %hp",
            f"  %llp = getelementptr inbounds i64, ptr %row, i64 {abi.REGION_LOAD_LEN}",
            "  %ll = load i64, ptr %llp",
            f"  %slp = getelementptr inbounds i64, ptr %row, i64 {abi.REGION_STORE_LEN}",
            "  %sl = load i64, ptr %slp",
            "  %len = select i1 %store, i64 %sl, i64 %ll",
            f"  %gp = getelementptr inbounds i64, ptr %row, i64 {abi.REGION_GAP}",
            "  %gap = load i64, ptr %gp",
            "  %below = icmp ult i64 %addr, %start",
            "  br i1 %below, label %bad, label %inside",
            "inside:",
            "  %o = sub i64 %addr, %start",
            "  %gapped = icmp ne i64 %gap, 0",
            "  br i1 %gapped, label %gaps, label %check",
            "gaps:",
            "  %g = and i64 %o, %gap",
            "  %ingap = icmp ne i64 %g, 0",
            "  br i1 %ingap, label %bad, label %squeeze",
            "squeeze:",
            "  %gm1 = sub i64 %gap, 1",
            "  %hi = lshr i64 %o, 1",
            "  %nm = xor i64 %gm1, -1",
            "  %him = and i64 %hi, %nm",
            "  %lo = and i64 %o, %gm1",
            "  %hs = or i64 %him, %lo",
            "  br label %check",
            "check:",
            "  %h = phi i64 [ %o, %inside ], [ %hs, %squeeze ]",
            "  %c1 = icmp ult i64 %h, %len",
            "  %end = add i64 %h, %size",
            "  %c2 = icmp ule i64 %end, %len",
            "  %ok = and i1 %c1, %c2",
            "  %ha = add i64 %host, %h",
            "  %p = inttoptr i64 %ha to ptr",
            "  br i1 %ok, label %good, label %bad",
            "good:",
            "  ret ptr %p",
            # Record what failed for the engine, which builds the exact error.
            "bad:",
            "  %fa = getelementptr inbounds i64, ptr %ctx, i64 " + str(abi.CTX_FAULT_ADDR),
            "  store i64 %addr, ptr %fa",
            "  %fs = getelementptr inbounds i64, ptr %ctx, i64 " + str(abi.CTX_FAULT_SIZE),
            "  store i64 %size, ptr %fs",
            "  %fk = getelementptr inbounds i64, ptr %ctx, i64 " + str(abi.CTX_FAULT_ACCESS),
            "  %kind = zext i1 %store to i64",
            "  store i64 %kind, ptr %fk",
            "  ret ptr null",
            "}",
            "",
        ])
        f = self.frame_size
        stack_row = REGION_STACK * abi.REGION_WORDS
        lines = [
            "define internal ptr @tbpf_frame_ptr(ptr noalias readonly %regions, i64 %addr) "
            "alwaysinline nounwind {",
            "entry:",
            f"  %o = sub i64 %addr, {_i64(MM_STACK_START)}",
        ]
        if self.gapped:
            lines += [
                "  %hi = lshr i64 %o, 1",
                f"  %him = and i64 %hi, {_i64(~(f - 1))}",
                f"  %lo = and i64 %o, {f - 1}",
                "  %h = or i64 %him, %lo",
            ]
        else:
            lines.append("  %h = add i64 %o, 0")
        lines += [
            f"  %hp = getelementptr inbounds i64, ptr %regions, i64 {stack_row + abi.REGION_HOST}",
            "  %host = load i64, ptr %hp" + _INVARIANT,
            "  %ha = add i64 %host, %h",
            "  %p = inttoptr i64 %ha to ptr",
            "  ret ptr %p",
            "}",
            "",
        ]
        return slow + "\n".join(lines)

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
    def check_depth(self, pc: int, refund: int) -> None:
        full = self.t()
        self.emit(f"{full} = icmp uge i64 %depth, {self.max_depth - 1}")
        self.guard(full, int(FaultCode.CALL_DEPTH_EXCEEDED), pc, refund)

    def write_frame(self, regs: dict[int, str], pc: int) -> None:
        """Record the frame this call pushed (``r0..r10`` at the call, the return pc and
        which of the registers are this function's own values): written only when the
        run leaves compiled code below it, for the engine to rebuild the VM state."""
        mask = self.site()
        if self.mem_abi:
            # r0..r9 are already in the argument block (call_args); r10 is this frame's.
            self.emit(f"call void @tbpf_write_frame_io(ptr %ctx, i64 %depth, i64 {mask}, "
                      f"ptr %iob, i64 {regs[10]}, i64 {pc + 1})")
            return
        args = ", ".join(f"i64 {regs[r] if mask >> r & 1 else 'poison'}" for r in range(11))
        self.emit(f"call void @tbpf_write_frame(ptr %ctx, i64 %depth, i64 {mask}, {args}, "
                  f"i64 {pc + 1})")

    def call_args(self, need: int) -> tuple[dict[int, str], str, str, str]:
        """Registers the callee needs and this frame's own (for its frame record), the
        callee's r10, its depth and the meter."""
        wanted = need | self.site()
        regs = {r: self.load_reg(r) for r in bits(wanted)}
        r10n, d1, rem = self.t(), self.t(), self.t()
        self.emit(f"{r10n} = add i64 {regs[10]}, {self.frame_bump}")
        self.emit(f"{d1} = add i64 %depth, 1")
        self.emit(f"{rem} = load i64, ptr %rem")
        if self.mem_abi:
            values = [regs.get(r, "poison") for r in range(10)] + [r10n]
            self.fill_io("%iob", values, rem)
        return regs, r10n, d1, rem

    def arg_list(self, need: int, regs: dict[int, str], r10n: str, rem: str, d1: str) -> str:
        values = [regs[r] if need >> r & 1 else "poison" for r in range(10)]
        values += [r10n if need >> 10 & 1 else "poison", rem, d1]
        return ", ".join(f"i64 {v}" for v in values)

    def invoke(self, target: int, regs: dict[int, str], r10n: str, d1: str, rem: str) -> str:
        res = self.t()
        if self.mem_abi:
            self.emit(f"{res} = call fastcc i64 @f_{target}(ptr %ctx, ptr %regions, "
                      f"ptr %iob, i64 {d1})")
            return res
        args = self.arg_list(self.sets.needed[target], regs, r10n, rem, d1)
        self.emit(f"{res} = call fastcc {_RET} @f_{target}(ptr %ctx, ptr %regions, {args})")
        return res

    def result_meter(self, res: str) -> str:
        """The meter a guest function (or the dispatcher) returned in ``res``."""
        if self.mem_abi:
            return res  # the fast tier's result is the meter itself
        rem = self.t()
        self.emit(f"{rem} = extractvalue {_RET} {res}, {_METER}")
        return rem

    def after_call(self, res: str, regs: dict[int, str], pc: int, returned: int) -> None:
        """Continue at pc + 1 with the callee's r0-r5 and meter, or pass its exit up."""
        ok, rem = self.t(), self.result_meter(res)
        self.emit(f"{ok} = icmp ne i64 {rem}, {_i64(LEFT_COMPILED_CODE)}")
        self.tmp += 1
        cont, prop = f"k{self.tmp}_{pc}", f"p{self.tmp}_{pc}"
        self.emit(f"br i1 {ok}, label %{cont}, label %{prop}, !prof !1")
        self.label(prop, keep=True)
        self.write_frame(regs, pc)
        # Only "left compiled code" travels up (the state is already in ctx).
        self.ret_left()
        self.label(cont, keep=True)
        for k in bits(returned):
            v = self.t()
            if self.mem_abi:
                self.emit(f"{v} = load i64, ptr {self.io_slot('%iob', k)}")
            else:
                self.emit(f"{v} = extractvalue {_RET} {res}, {k}")
            self.store_reg(k, v)
        self.emit(f"store i64 {rem}, ptr %rem")
        self.emit(f"br label %{self.goto(pc + 1)}")

    def call(self, insn: Insn, refund: int) -> None:
        kind, what = self.calls[insn.pc]
        pc = insn.pc
        if kind == "syscall":
            self.syscall(insn, what, refund)  # type: ignore[arg-type]
        elif kind == "call" and what not in self.functions:
            # The target is not an instruction start (e.g. the second slot of an lddw):
            # push the frame and let the interpreter execute (and report) that slot.
            self.check_depth(pc, refund)
            regs, r10n, d1, _rem = self.call_args(self.sets.written[self.fn_entry])
            self.write_frame(regs, pc)
            self.store_reg(10, r10n)
            self.to_exit(abi.STATUS_BAIL, what, d1)  # type: ignore[arg-type]
        elif kind == "call":
            self.check_depth(pc, refund)
            regs, r10n, d1, rem = self.call_args(self.sets.needed[what])  # type: ignore[index]
            res = self.invoke(what, regs, r10n, d1, rem)  # type: ignore[arg-type]
            self.after_call(res, regs, pc, self.sets.returned[what])  # type: ignore[index]
        elif kind == "outside":
            self.to_exit(int(FaultCode.CALL_OUTSIDE_TEXT_SEGMENT), pc, refund=refund)
        else:
            self.to_exit(int(FaultCode.UNSUPPORTED_INSTRUCTION), pc, refund=refund)

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
        p = self.ctx_ptr(abi.CTX_DEPTH)
        self.emit(f"store i64 %depth, ptr {p}")
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
        self.exit_if(bad, abi.STATUS_SYSCALL_ERROR, pc, refund)
        self.store_reg(0, r0)
        self.emit(f"br label %{self.goto(pc + 1)}")

    def callx(self, insn: Insn, refund: int) -> None:
        spec = insn.spec
        assert spec is not None
        pc = insn.pc
        field = spec.callx_reg_field
        reg = insn.src if field == "src" else insn.dst if field == "dst" else insn.imm
        addr = self.load_reg(reg)  # read before the frame push
        self.check_depth(pc, refund)
        regs, r10n, d1, rem = self.call_args((1 << 11) - 1)
        off, tpc, oob = self.t(), self.t(), self.t()
        self.emit(f"{off} = sub i64 {addr}, {_i64(self.exe.text_vaddr)}")
        self.emit(f"{tpc} = lshr i64 {off}, 3")
        self.emit(f"{oob} = icmp uge i64 {tpc}, {self.n_slots}")
        self.tmp += 1
        tag = f"x{self.tmp}_{pc}"
        self.emit(f"br i1 {oob}, label %{tag}f, label %{tag}d, !prof !0")
        # Outside the text: the frame was pushed, then the fault (SBPF_SPEC 3.5).
        self.label(f"{tag}f", keep=True)
        self.write_frame(regs, pc)
        p = self.ctx_ptr(abi.CTX_FAULT_ADDR)
        self.emit(f"store i64 {addr}, ptr {p}")
        self.store_reg(10, r10n)
        self.to_exit(int(FaultCode.CALL_OUTSIDE_TEXT_SEGMENT), pc, d1, refund)
        self.label(f"{tag}d", keep=True)
        res, st, miss = self.t(), self.t(), self.t()
        if self.mem_abi:
            args = f"ptr %iob, i64 {d1}"
        else:
            args = self.arg_list((1 << 11) - 1, regs, r10n, rem, d1)
        self.emit(f"{res} = call fastcc {self.ret_type} @callx_dispatch(ptr %ctx, "
                  f"ptr %regions, i64 {tpc}, {args})")
        gone, sp, left = self.t(), self.ctx_ptr(abi.CTX_STATUS), self.result_meter(res)
        self.emit(f"{gone} = icmp eq i64 {left}, {_i64(LEFT_COMPILED_CODE)}")
        self.emit(f"br i1 {gone}, label %{tag}l, label %{tag}j, !prof !0")
        self.label(f"{tag}l", keep=True)
        self.emit(f"{st} = load i64, ptr {sp}")
        self.emit(f"{miss} = icmp eq i64 {st}, {STATUS_CALLX_MISS}")
        self.emit(f"br i1 {miss}, label %{tag}i, label %{tag}j, !prof !0")
        # A slot that is not a compiled entry: the interpreter continues there.
        self.label(f"{tag}i", keep=True)
        self.write_frame(regs, pc)
        self.store_reg(10, r10n)
        self.to_exit(abi.STATUS_BAIL, tpc, d1)
        self.label(f"{tag}j", keep=True)
        self.after_call(res, regs, pc, RET_REGS)

    def dispatcher(self) -> None:
        """``@callx_dispatch``: one ``switch`` over every compiled entry point, shared by
        all ``callx`` sites; an unknown target returns ``STATUS_CALLX_MISS``."""
        sp = f"getelementptr inbounds i64, ptr %ctx, i64 {abi.CTX_STATUS}"
        if self.mem_abi:
            self.out.append("define internal fastcc i64 @callx_dispatch(ptr noalias %ctx, "
                            "ptr noalias readonly %regions, i64 %target, ptr %io, "
                            "i64 %depth) nounwind {")
            cases = " ".join(f"i64 {t}, label %to_{t}" for t in self.entry_points)
            self.out.append(f"entry:\n  switch i64 %target, label %miss [ {cases} ]")
            for t in self.entry_points:
                self.out.append(f"to_{t}:\n  %c{t} = tail call fastcc i64 @f_{t}(ptr %ctx, "
                                f"ptr %regions, ptr %io, i64 %depth)\n  ret i64 %c{t}")
            self.out.append(f"miss:\n  %sp = {sp}\n  store i64 {STATUS_CALLX_MISS}, ptr %sp\n"
                            f"  ret i64 {_i64(LEFT_COMPILED_CODE)}\n}}\n")
            return
        params = ", ".join(f"i64 %a{r}" for r in range(11))
        self.out.append(f"define internal fastcc {_RET} @callx_dispatch(ptr noalias %ctx, "
                        f"ptr noalias readonly %regions, i64 %target, {params}, i64 %rem, "
                        f"i64 %depth) nounwind {{")
        cases = " ".join(f"i64 {t}, label %to_{t}" for t in self.entry_points)
        self.out.append(f"entry:\n  switch i64 %target, label %miss [ {cases} ]")
        args = ", ".join(f"i64 %a{r}" for r in range(11)) + ", i64 %rem, i64 %depth"
        for t in self.entry_points:
            lines = [f"to_{t}:", f"  %c{t} = call fastcc {_RET} @f_{t}(ptr %ctx, "
                     f"ptr %regions, {args})"]
            # Rebuild the result field by field: registers the target never changes come
            # back as they went in, and the target's unused result fields stay dead (so
            # LLVM can return the rest in registers).
            last = f"{_RET} poison"
            for k in range(_METER + 1):
                if k == _METER or self.sets.returned[t] >> k & 1:
                    lines.append(f"  %v{t}_{k} = extractvalue {_RET} %c{t}, {k}")
                    value = f"%v{t}_{k}"
                else:
                    value = f"%a{k}"
                lines.append(f"  %s{t}_{k} = insertvalue {last}, i64 {value}, {k}")
                last = f"{_RET} %s{t}_{k}"
            lines.append(f"  ret {last}")
            self.out.append("\n".join(lines))
        self.out.append(f"miss:\n  %sp = {sp}\n  store i64 {STATUS_CALLX_MISS}, ptr %sp\n"
                        f"  %m = insertvalue {_RET} zeroinitializer, "
                        f"i64 {_i64(LEFT_COMPILED_CODE)}, {_METER}\n  ret {_RET} %m\n}}\n")

    def module_text(self) -> str:
        head = (f"; TBPF program {self.exe.digest[:16]} ({self.exe.version.label}): "
                f"{len(self.functions)} functions\n")
        tail = ("\n"
                "declare i16 @llvm.bswap.i16(i16)\n"
                "declare i32 @llvm.bswap.i32(i32)\n"
                "declare i64 @llvm.bswap.i64(i64)\n"
                "declare ptr @llvm.stacksave.p0()\n"
                "!0 = !{!\"branch_weights\", i32 1, i32 1048576}\n"
                "!1 = !{!\"branch_weights\", i32 1048576, i32 1}\n"
                "!2 = !{}\n")
        return (head + f"%Ret = type {_RET_TYPE}\n\n" + self.cold_helpers()
                + self.memory_helpers() + "\n".join(self.out) + "\n" + tail)


def lower(exe: Executable, insns: tuple[Insn | None, ...], syscalls: SyscallRegistry,
          options: LoweringOptions = LoweringOptions()) -> LoweredProgram:
    """Lower verified ``insns`` of ``exe`` to an LLVM module (see the module docstring).

    ``syscalls`` decides which ``call imm`` are syscalls (the same resolution the
    interpreter makes at bind time).
    """
    return _Lowerer(exe, insns, syscalls, options).lower()

"""Disassembler: the reference's text format, read from the same table as the assembler.

Output follows the reference ``static_analysis`` disassembly: basic blocks labelled
``lbb_<pc>``, functions by name (``entrypoint``, ``function_<pc>``, or the ELF's
symbol), a blank line before every function but the first, four-space indentation, and
operands as in ``ldxdw r0, [r1+0x8]``, ``stb [r10-0x4000], 0``, ``add64 r1, -8``,
``jeq r1, 0, lbb_5``, ``be16 r0``, ``lddw r1, 0x1122334455667788``. Text produced for a
verified program assembles back to the same bytes.

One deliberate difference: the reference resolves a v3 ``call``'s target from the
instruction's *index* (``lddw`` counted once) instead of its slot; we use the slot, so
names stay right after an ``lddw``.
"""

from __future__ import annotations

from bisect import bisect_right

from .executable import Executable, FunctionRegistry
from .isa import INSN_SIZE, Form, Insn, decode_program
from .syscalls import SyscallRegistry
from .versions import SBPFVersion, parse_version

__all__ = ["disassemble", "disassemble_executable", "format_insn"]


def _signed_off(off: int) -> str:
    return f"-{-off:#x}" if off < 0 else f"+{off:#x}"


def format_insn(insn: Insn, version: SBPFVersion, *, label_of: dict[int, str] | None = None,
                functions: FunctionRegistry | None = None,
                syscalls: SyscallRegistry | None = None) -> str:
    """One instruction as assembly text (labels resolved through ``label_of``)."""
    spec = insn.spec
    if spec is None:
        return f"unknown opcode={insn.opc:#x}"
    name = spec.mnemonic
    form = spec.form
    labels = label_of or {}

    def target() -> str:
        return labels.get(insn.pc + 1 + insn.off, "[invalid]")

    if form is Form.LDDW:
        return f"lddw r{insn.dst}, {insn.imm:#x}"
    if form is Form.ALU_IMM:
        return f"{name} r{insn.dst}, {insn.imm}"
    if form is Form.ALU_REG:
        return f"{name} r{insn.dst}, r{insn.src}"
    if form is Form.NEG:
        return f"{name} r{insn.dst}"
    if form is Form.ENDIAN:
        return f"{name}{insn.imm} r{insn.dst}"
    if form is Form.LOAD:
        return f"{name} r{insn.dst}, [r{insn.src}{_signed_off(insn.off)}]"
    if form is Form.STORE_IMM:
        return f"{name} [r{insn.dst}{_signed_off(insn.off)}], {insn.imm}"
    if form is Form.STORE_REG:
        return f"{name} [r{insn.dst}{_signed_off(insn.off)}], r{insn.src}"
    if form is Form.JA:
        return f"{name} {target()}"
    if form is Form.JUMP_IMM:
        return f"{name} r{insn.dst}, {insn.imm}, {target()}"
    if form is Form.JUMP_REG:
        return f"{name} r{insn.dst}, r{insn.src}, {target()}"
    if form is Form.CALL_IMM:
        key = (insn.pc + 1 + insn.imm) if spec.static_syscalls else insn.imm & 0xFFFF_FFFF
        found = functions.lookup_by_key(key) if functions is not None and key >= 0 else None
        fname = found[0] if found else None
        mnemonic = "call"
        if (fname is None and not spec.static_syscalls) or insn.src == 0:
            mnemonic = "syscall"
            syscall = syscalls.get(insn.imm) if syscalls is not None else None
            fname = syscall.name if syscall else None
        return f"{mnemonic} {fname if fname is not None else insn.imm}"
    if form is Form.CALL_REG:
        field = spec.callx_reg_field
        reg = insn.src if field == "src" else insn.dst if field == "dst" else insn.imm & 0xFF
        return f"{name} r{reg}"
    return name  # exit


def _render(insns: list[Insn], n_slots: int, version: SBPFVersion, functions: FunctionRegistry,
            names: dict[int, str], syscalls: SyscallRegistry | None) -> str:
    starts = {i.pc for i in insns}
    # Basic-block leaders and the edges between blocks (reference static_analysis).
    nodes: set[int] = {0} | {pc for pc in names}
    edges: dict[int, list[int]] = {}
    for insn in insns:
        spec = insn.spec
        if spec is None:
            continue
        pc = insn.pc
        tgt = pc + 1 + insn.off
        if spec.form is Form.CALL_IMM:
            key = (pc + 1 + insn.imm) if spec.static_syscalls else insn.imm & 0xFFFF_FFFF
            found = functions.lookup_by_key(key) if key >= 0 else None
            if found is not None:
                nodes.update((pc + 1, found[1]))
                edges[pc] = [pc + 1]
        elif spec.form is Form.CALL_REG:
            nodes.add(pc + 1)
            edges[pc] = [pc + 1]
        elif spec.form is Form.EXIT:
            nodes.add(pc + 1)
            edges[pc] = []
        elif spec.form is Form.JA:
            nodes.update((pc + 1, tgt))
            edges[pc] = [tgt]
        elif spec.is_conditional_jump:
            nodes.update((pc + 1, tgt))
            edges[pc] = [pc + 1, tgt]
    nodes &= starts
    funcs = {pc: n for pc, n in names.items() if pc in nodes}
    label_of = {pc: funcs.get(pc, f"lbb_{pc}") for pc in nodes}
    ordered = sorted(nodes)
    last_pc = insns[-1].pc if insns else 0
    insn_pcs = [i.pc for i in insns]
    sources: dict[int, list[int]] = {pc: [] for pc in ordered}
    ends_with_ja: dict[int, bool] = {}
    edge_pcs = sorted(edges)
    edge_i = 0
    for idx, start in enumerate(ordered):
        end = ordered[idx + 1] - 1 if idx + 1 < len(ordered) else last_pc
        block_last = insns[bisect_right(insn_pcs, end) - 1]
        ends_with_ja[start] = block_last.spec is not None and block_last.spec.form is Form.JA
        while edge_i < len(edge_pcs) and edge_pcs[edge_i] < start:
            edge_i += 1
        if edge_i < len(edge_pcs) and edge_pcs[edge_i] <= end:
            dests = [d for d in edges[edge_pcs[edge_i]] if d in sources]
            edge_i += 1
        elif idx + 1 < len(ordered) and start not in funcs:
            dests = [ordered[idx + 1]]
        else:
            dests = []
        for d in dests:
            sources[d].append(start)
    lines: list[str] = []
    last_block = -1
    for n, insn in enumerate(insns):
        pc = insn.pc
        if pc in label_of:
            is_function = pc in funcs
            if is_function or sources[pc] != [last_block]:
                if is_function and n != 0:
                    lines.append("")
                lines.append(f"{label_of[pc]}:")
            last_block = -1 if ends_with_ja[pc] else pc
        lines.append("    " + format_insn(insn, version, label_of=label_of,
                                          functions=functions, syscalls=syscalls))
    return "".join(line + "\n" for line in lines)


def disassemble_executable(exe: Executable, syscalls: SyscallRegistry | None = None) -> str:
    """Disassemble a loaded program with its function names and syscall names."""
    decoded = decode_program(exe.text, exe.version)
    insns = [i for i in decoded if i is not None]
    names: dict[int, str] = {}
    for _key, (name, pc) in exe.functions.items():
        names.setdefault(pc, name or f"function_{pc}")
    names.update(exe.labels)
    return _render(insns, exe.num_slots, exe.version, exe.functions, names, syscalls)


def disassemble(data: "bytes | Executable", version: "str | int | SBPFVersion" = SBPFVersion.V0,
                *, syscalls: SyscallRegistry | None = None) -> str:
    """Disassemble raw text slots (or an :class:`Executable`) into assembly text.

    The text of a verified program assembles back to the same bytes. A trailing partial
    slot is ignored.
    """
    if isinstance(data, Executable):
        return disassemble_executable(data, syscalls)
    v = parse_version(version)
    text = bytes(data)[: len(data) - len(data) % INSN_SIZE]
    exe = Executable.from_text_bytes(text, v)
    return disassemble_executable(exe, syscalls)

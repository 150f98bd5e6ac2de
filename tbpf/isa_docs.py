"""Render ``docs/isa.md`` from the opcode table (:mod:`tbpf.isa`).

``python -m tbpf.isa_docs`` rewrites the file; ``--check`` exits 1 if the committed file
differs from what the table says now (``tests/test_isa_docs.py`` runs the same
comparison). Opcodes, mnemonics, operand shapes, version gates and verifier rules all
come from the table; this module only adds the one-line descriptions of what each
operation computes (SBPF_SPEC 2), keyed by :class:`~tbpf.isa.Op`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .docgen import generated_file_main
from .isa import INSN_SIZE, Form, Op, OpSpec, VerifyRule, all_specs
from .versions import SBPFVersion

__all__ = ["render", "main", "DOC_PATH"]

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "isa.md"
"""Where the rendered reference lives in the repository."""

_SYNTAX = {
    Form.ALU_IMM: "{m} dst, imm", Form.ALU_REG: "{m} dst, src", Form.NEG: "{m} dst",
    Form.ENDIAN: "{m}16 dst / {m}32 dst / {m}64 dst", Form.LDDW: "{m} dst, imm64",
    Form.LOAD: "{m} dst, [src+off]", Form.STORE_IMM: "{m} [dst+off], imm",
    Form.STORE_REG: "{m} [dst+off], src", Form.JA: "{m} off", Form.JUMP_IMM: "{m} dst, imm, off",
    Form.JUMP_REG: "{m} dst, src, off", Form.CALL_IMM: "{m} imm / syscall name",
    Form.CALL_REG: "{m} reg", Form.EXIT: "{m}",
}

# What each operation computes; `b` is the operand (imm or src, see the group notes).
_SEMANTICS: dict[Op, str] = {
    Op.ADD: "dst + b", Op.SUB: "dst - b", Op.MUL: "dst * b (low bits)",
    Op.DIV: "dst / b, unsigned", Op.MOD: "dst % b, unsigned", Op.OR: "dst | b",
    Op.AND: "dst & b", Op.XOR: "dst ^ b", Op.MOV: "b", Op.LSH: "dst << (b mod width)",
    Op.RSH: "dst >> (b mod width), logical", Op.ARSH: "dst >> (b mod width), arithmetic",
    Op.NEG: "-dst", Op.HOR: "dst | (zx(imm) << 32)", Op.LMUL: "dst * b (low bits)",
    Op.UHMUL: "high 64 bits of the unsigned 128-bit product",
    Op.SHMUL: "high 64 bits of the signed 128-bit product",
    Op.UDIV: "dst / b, unsigned", Op.UREM: "dst % b, unsigned",
    Op.SDIV: "dst / b, signed, truncating", Op.SREM: "dst % b, signed (sign of dst)",
    Op.LE: "keep the low 16/32/64 bits", Op.BE: "byte-swap the low 16/32/64 bits",
    Op.LDDW: "dst = imm64 (two slots, one compute unit)",
    Op.LDX: "dst = zero-extended load", Op.ST: "store the low bytes of sx(imm)",
    Op.STX: "store the low bytes of src", Op.JA: "pc += off",
    Op.JEQ: "==", Op.JNE: "!=", Op.JGT: "> unsigned", Op.JGE: ">= unsigned",
    Op.JLT: "< unsigned", Op.JLE: "<= unsigned", Op.JSET: "dst & b != 0",
    Op.JSGT: "> signed", Op.JSGE: ">= signed", Op.JSLT: "< signed", Op.JSLE: "<= signed",
    Op.CALL: "internal call or syscall", Op.CALLX: "call the slot containing the register's address",
    Op.EXIT: "return (or end the program at depth 0)",
}

_RULES = {
    VerifyRule.NONE: "", VerifyRule.DIV_IMM_NONZERO: "imm != 0",
    VerifyRule.SHIFT_IMM: "0 <= imm < width", VerifyRule.ENDIAN_IMM: "imm in {16, 32, 64}",
    VerifyRule.STACK_BUMP: "r10: imm % 64 == 0", VerifyRule.JUMP: "target in text, not an lddw tail",
    VerifyRule.CALLX_REG: "register r0..r9", VerifyRule.LDDW: "not last; next opcode 0",
}

_GROUPS: list[tuple[str, str]] = [
    ("alu64", "ALU64 (class 7)"),
    ("alu32", "ALU32 (class 4)"),
    ("pqr", "PQR (class 6, v2 only)"),
    ("endian", "Byte order"),
    ("wide", "Wide immediates"),
    ("memory", "Loads and stores"),
    ("jump", "Jumps (class 5)"),
    ("jump32", "JMP32 (class 6, v3 and later)"),
    ("call", "Calls and exit"),
]

_GROUP_NOTES = {
    "alu64": "Immediate forms use `b = sx(imm)` (sign-extended) unless noted; register "
             "forms `b = src`. Results wrap modulo 2^64.",
    "alu32": "Operate on the low 32 bits; `b` is the immediate's 32 bits or `lo32(src)`. "
             "The result is zero-extended to 64 bits unless the row says it is "
             "sign-extended.",
    "pqr": "Register forms of every division and remainder fault with `DivideByZero` on "
           "a zero divisor; signed ones fault with `DivideOverflow` on MIN / -1.",
    "memory": "Effective address `dst/src + sx(off)`, wrapping; any size may be "
              "unaligned; little endian.",
    "jump": "Taken target `pc + 1 + off`; immediate forms compare with `sx(imm)`.",
    "jump32": "Compare the low 32 bits of `dst` with the low 32 bits of the operand.",
}


def _group(spec: OpSpec) -> str:
    form = spec.form
    if form in (Form.CALL_IMM, Form.CALL_REG, Form.EXIT):
        return "call"
    if spec.is_jump:
        return "jump32" if spec.width == 32 else "jump"
    if form in (Form.LOAD, Form.STORE_IMM, Form.STORE_REG):
        return "memory"
    if form is Form.LDDW or spec.op is Op.HOR:
        return "wide"
    if form is Form.ENDIAN:
        return "endian"
    if spec.op in (Op.LMUL, Op.UHMUL, Op.SHMUL, Op.UDIV, Op.UREM, Op.SDIV, Op.SREM):
        return "pqr"
    return "alu32" if spec.width == 32 else "alu64"


def _versions(spec: OpSpec) -> str:
    return ", ".join(v.label for v in sorted(spec.versions))


def _notes(spec: OpSpec) -> str:
    notes = []
    if spec.width == 32 and spec.form in (Form.ALU_IMM, Form.ALU_REG) and _group(spec) == "alu32":
        notes.append("sign-extended result" if spec.sign_extend_result else "zero-extended result")
    if spec.swap_imm_operands:
        notes.append("computes `imm - dst`")
    if spec.imm_zero_extended:
        notes.append("`b = zx(imm)`")
    if spec.mem_size:
        notes.append(f"{spec.mem_size} byte{'s' if spec.mem_size > 1 else ''}")
    if spec.callx_reg_field:
        notes.append(f"register in `{spec.callx_reg_field}`")
    if spec.form is Form.CALL_IMM:
        notes.append("`src` selects syscall (0) or pc-relative call (1)" if spec.static_syscalls
                     else "`imm` is a registry key (syscall first)")
    if spec.dst_may_be_r10 and spec.rule is VerifyRule.STACK_BUMP:
        notes.append("`add64 r10, imm` moves the stack")
    return "; ".join(notes)


def _row(spec: OpSpec) -> str:
    syntax = _SYNTAX[spec.form].format(m=spec.mnemonic)
    cells = [f"`{spec.opcode:#04x}`", f"`{syntax}`", _SEMANTICS[spec.op], _notes(spec),
             _versions(spec), _RULES[spec.rule]]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _feature_table() -> list[str]:
    features = [
        ("stack_frame_gaps", "stack frames separated by unmapped 4 KiB gaps"),
        ("manual_stack_frame_bump", "`add64 r10, imm`; calls do not move r10"),
        ("enable_pqr", "PQR class; no mul/div/mod in ALU classes"),
        ("explicit_sign_extension_of_results", "32-bit add/sub/mul zero-extend; `mov32 reg` sign-extends"),
        ("swap_sub_reg_imm_operands", "`sub imm` computes `imm - dst`"),
        ("disable_neg", "no `neg`"),
        ("disable_lddw", "no `lddw`; `hor64` instead"),
        ("disable_le", "no `le`"),
        ("move_memory_instruction_classes", "loads/stores re-encoded in classes 4 and 7"),
        ("callx_uses_src_reg", "`callx` register in `src`"),
        ("callx_uses_dst_reg", "`callx` register in `dst`"),
        ("static_syscalls", "`call` by `src`: syscall or pc-relative"),
        ("enable_jmp32", "JMP32 class"),
        ("enable_lower_rodata_vaddr", "read-only data at `0x0`"),
    ]
    versions = list(SBPFVersion)
    out = ["| feature | " + " | ".join(v.label for v in versions) + " | effect |",
           "|---|" + "---|" * len(versions) + "---|"]
    for name, effect in features:
        marks = ["yes" if getattr(v, name) else "-" for v in versions]
        out.append(f"| `{name}` | " + " | ".join(marks) + f" | {effect} |")
    return out


def render() -> str:
    """The whole of ``docs/isa.md``."""
    specs = all_specs()
    counts = {v: sum(1 for s in specs if v in s.versions) for v in SBPFVersion}
    out = [
        "# TBPF instruction set",
        "",
        "<!-- Generated by `python -m tbpf.isa_docs` from the opcode table in tbpf/isa.py;",
        "     do not edit by hand (a test compares this file). -->",
        "",
        f"Every instruction is one {INSN_SIZE}-byte slot (`lddw` takes two): byte 0 `opc`, "
        "byte 1 `dst` (low nibble) and `src` (high nibble), bytes 2-3 `off` (i16), bytes "
        "4-7 `imm` (i32), little endian. `sx(imm)` is the immediate sign-extended to 64 "
        "bits, `zx(imm)` zero-extended. Each instruction costs one compute unit.",
        "",
        "Opcodes per version: " + ", ".join(f"{v.label} {n}" for v, n in counts.items()) + ".",
        "The same byte can mean different instructions in different versions (e.g. `0x2c` "
        "is `mul32 dst, src` in v0 and `ldxb` in v2), so every row lists its versions.",
        "",
        "## Version features",
        "",
        *_feature_table(),
    ]
    by_group: dict[str, list[OpSpec]] = {key: [] for key, _ in _GROUPS}
    for spec in specs:
        by_group[_group(spec)].append(spec)
    for key, title in _GROUPS:
        rows = sorted(by_group[key], key=lambda s: (s.mnemonic, s.form.value, s.opcode,
                                                    min(s.versions)))
        out += ["", f"## {title}", ""]
        if key in _GROUP_NOTES:
            out += [_GROUP_NOTES[key], ""]
        out += ["| opcode | syntax | operation | notes | versions | verifier |",
                "|---|---|---|---|---|---|"]
        out += [_row(s) for s in rows]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``docs/isa.md``."""
    return generated_file_main("tbpf.isa_docs", DOC_PATH, render, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

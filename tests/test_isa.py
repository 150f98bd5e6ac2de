"""The opcode table (tbpf.isa): a pinned snapshot of every spec and mnemonic per version,
encode/decode round trips for every spec, and the engines' coverage of the table.

The snapshot (``tests/snapshots/isa_table.txt``) makes every change to an encoding, a
version gate or a verifier rule show up in review. After an intended change, regenerate
it with ``TBPF_UPDATE_SNAPSHOTS=1 python3 -m pytest tests/test_isa.py`` and review the
diff.
"""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tbpf.arith
import tbpf.assembler
import tbpf.isa
import tbpf.versions
from interp.interpreter import handled_forms
from tbpf.isa import (
    INSN_SIZE, LDDW_OPCODE, AsmShape, Form, Insn, Source, all_specs, assembler_mnemonics,
    decode_program, decode_slot, decode_table, encode_slot,
)
from tbpf.versions import SBPFVersion

SNAPSHOT = Path(__file__).parent / "snapshots" / "isa_table.txt"


def spec_line(spec) -> str:
    flags = [name for name, on in (
        ("sext32", spec.sign_extend_result), ("swap-imm", spec.swap_imm_operands),
        ("zx-imm", spec.imm_zero_extended), ("static-syscalls", spec.static_syscalls),
        ("dst-r10", spec.dst_may_be_r10)) if on]
    if spec.callx_reg_field:
        flags.append(f"callx-reg={spec.callx_reg_field}")
    return (f"{spec.opcode:#04x}  {spec.mnemonic:<8} {spec.form.value:<10} {spec.op.value:<6} "
            f"w{spec.width:<3} mem{spec.mem_size}  rule={spec.rule.value:<16} "
            f"{' '.join(flags) or '-'}").rstrip()


def render_snapshot() -> str:
    """The full listing: every spec and every assembler mnemonic, per version."""
    out = ["# TBPF opcode table snapshot, rendered by tests/test_isa.py (do not edit by hand)"]
    for version in SBPFVersion:
        table = decode_table(version)
        specs = [s for s in table if s is not None]
        out.append("")
        out.append(f"## {version.label}: {len(specs)} opcodes")
        out.extend(spec_line(s) for s in specs)
    for version in SBPFVersion:
        mnemonics = assembler_mnemonics(version)
        out.append("")
        out.append(f"## assembler mnemonics {version.label}: {len(mnemonics)}")
        for name in sorted(mnemonics):
            shape, opcode, width = mnemonics[name]
            out.append(f"{name:<10} {shape.value:<11} {opcode:#04x}"
                       + (f" width={width}" if width else ""))
    return "\n".join(out) + "\n"


def test_opcode_table_snapshot():
    rendered = render_snapshot()
    if os.environ.get("TBPF_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.read_text() == rendered, (
        "the opcode table changed; if intended, regenerate with TBPF_UPDATE_SNAPSHOTS=1")


def test_table_sizes_per_version():
    counts = {v.label: sum(s is not None for s in decode_table(v)) for v in SBPFVersion}
    # v0/v1: 48 binary ALU + 2 neg + le/be + lddw + 12 memory + 23 jumps + call/callx/exit.
    # v2: 36 binary ALU (no mul/div/mod) + be + hor64 + 24 PQR + 12 memory + 23 + 3.
    # v3/v4: v0 plus the 22 JMP32 opcodes.
    assert counts == {"v0": 91, "v1": 91, "v2": 100, "v3": 113, "v4": 113}


def test_every_spec_is_in_the_decode_table_of_its_versions():
    for spec in all_specs():
        for version in SBPFVersion:
            entry = decode_table(version)[spec.opcode]
            if version in spec.versions:
                assert entry is spec
            else:
                assert entry is not spec


def test_v2_shares_bytes_with_other_meanings():
    v0, v2 = decode_table(SBPFVersion.V0), decode_table(SBPFVersion.V2)
    # 0x2c is mul32 reg in v0 and ldxb in v2; class 6 is PQR in v2 and JMP32 in v3
    assert (v0[0x2C].mnemonic, v2[0x2C].mnemonic) == ("mul32", "ldxb")
    assert v2[0x36].mnemonic == "uhmul64" and decode_table(SBPFVersion.V3)[0x36].mnemonic == "jge32"
    assert v2[0x18] is None and v2[0xF7].mnemonic == "hor64" and v0[0xF7] is None


# --- encode / decode ---------------------------------------------------------------------

SPECS = all_specs()
i16 = st.integers(-(1 << 15), (1 << 15) - 1)
i32 = st.integers(-(1 << 31), (1 << 31) - 1)
nibble = st.integers(0, 15)


@pytest.mark.parametrize("spec", SPECS,
                         ids=[f"{s.opcode:#04x}-{s.mnemonic}-{min(s.versions).label}"
                              for s in SPECS])
@settings(max_examples=12)
@given(data=st.data())
def test_decode_encode_round_trip(spec, data):
    version = data.draw(st.sampled_from(sorted(spec.versions)))
    dst, src, off = data.draw(nibble), data.draw(nibble), data.draw(i16)
    imm = data.draw(st.integers(0, (1 << 64) - 1)) if spec.form is Form.LDDW else data.draw(i32)
    insn = Insn(0, spec.opcode, dst, src, off, imm, spec)
    raw = insn.encode()
    assert len(raw) == INSN_SIZE * insn.size_slots
    decoded = decode_program(raw, version)
    assert decoded[0] == insn
    if spec.form is Form.LDDW:
        assert decoded[1:] == (None,)
        assert decode_slot(raw, 1)[4] == tbpf.isa._i32(imm >> 32)
    else:
        assert len(decoded) == 1
        assert decode_slot(raw, 0) == (spec.opcode, dst, src, off, imm)
    assert encode_slot(*decode_slot(raw, 0)) == raw[:INSN_SIZE]


@settings(max_examples=200)
@given(raw=st.binary(min_size=8, max_size=8), version=st.sampled_from(list(SBPFVersion)))
def test_any_slot_decodes_and_reencodes_bit_exactly(raw, version):
    opc, dst, src, off, imm = decode_slot(raw, 0)
    assert encode_slot(opc, dst, src, off, imm) == raw
    insn = decode_program(raw, version)[0]
    assert insn.spec is decode_table(version)[opc]
    # a lone lddw slot (nothing after it to merge) still encodes as lddw: two slots
    assert insn.encode()[:INSN_SIZE] == raw


def test_lddw_in_the_last_slot_is_not_merged():
    raw = encode_slot(LDDW_OPCODE, 1, 0, 0, 5)
    (insn,) = decode_program(raw, SBPFVersion.V0)
    assert insn.imm == 5 and insn.size_slots == 2


def test_decode_slot_rejects_a_slot_outside_the_text():
    with pytest.raises(IndexError):
        decode_slot(bytes(12), 1)


def test_docstring_examples():
    for module in (tbpf.isa, tbpf.arith, tbpf.versions, tbpf.assembler):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


# --- assembler mnemonic map ----------------------------------------------------------------

@pytest.mark.parametrize("version", list(SBPFVersion), ids=lambda v: v.label)
def test_every_spec_mnemonic_assembles_to_its_opcode(version):
    mnemonics = assembler_mnemonics(version)
    for spec in decode_table(version):
        if spec is None:
            continue
        if spec.form is Form.ENDIAN:
            for width in (16, 32, 64):
                assert mnemonics[f"{spec.mnemonic}{width}"] == (AsmShape.ENDIAN, spec.opcode,
                                                                width)
            continue
        shape, opcode, _ = mnemonics[spec.mnemonic]
        if shape in (AsmShape.ALU_BINARY, AsmShape.JUMP_CONDITIONAL):
            assert opcode == spec.opcode & ~Source.X
        else:
            assert opcode == spec.opcode


@pytest.mark.parametrize("version", list(SBPFVersion), ids=lambda v: v.label)
def test_mnemonic_aliases(version):
    m = assembler_mnemonics(version)
    for op in ("add", "sub", "or", "and", "lsh", "rsh", "xor", "mov", "arsh"):
        assert m[op] == m[f"{op}64"]
    for op in ("jeq", "jne", "jgt", "jge", "jlt", "jle", "jset", "jsgt", "jsge", "jslt", "jsle"):
        assert m[f"{op}64"] == m[op]
    assert m["syscall"][0] is AsmShape.SYSCALL and m["syscall"][1] == m["call"][1]
    # mnemonics of other versions assemble too (the verifier decides validity)
    assert "hor64" in m and "jeq32" in m and "lddw" in m and "uhmul64" in m


# --- engine coverage of the table -----------------------------------------------------------

TABLE_FORMS = {(s.form, s.op) for s in all_specs()}


def test_interpreter_handles_every_form_in_the_table():
    assert TABLE_FORMS - handled_forms() == set()


def test_jit_lowers_every_form_in_the_table():
    lowering = pytest.importorskip("jit.lowering")
    if not hasattr(lowering, "lowered_forms"):
        pytest.skip("jit.lowering does not expose lowered_forms() yet")
    assert TABLE_FORMS - lowering.lowered_forms() == set()

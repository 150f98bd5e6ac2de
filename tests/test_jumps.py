"""Jump class (JMP, and JMP32 in v3+) against an oracle written from SBPF_SPEC 2.5.

Each conditional jump is checked on every edge pair (register form) or edge value per
immediate (immediate form) by a table-driven loop that records "taken" (1) or "not
taken" (0) per pair; every case runs on every engine.
"""

from __future__ import annotations

import struct

import pytest

from tbpf.isa import Form

from test_alu import EDGE_IMMS, EDGE_VALUES, M32, M64, first_words, pack_pairs, signed, specs_of
from vmtest import run_both


def taken(mnemonic: str, a: int, b: int, imm_form: bool) -> bool:
    """The branch condition of ``mnemonic dst, operand`` (SBPF_SPEC 2.5)."""
    width = 32 if mnemonic.endswith("32") else 64
    op = mnemonic[:-2] if width == 32 else mnemonic
    if imm_form:
        b = b & M64  # sx(imm); JMP32 then looks at its low 32 bits
    mask = M32 if width == 32 else M64
    x, y = a & mask, b & mask
    sx, sy = signed(x, width), signed(y, width)
    return {
        "jeq": x == y, "jne": x != y, "jgt": x > y, "jge": x >= y, "jlt": x < y,
        "jle": x <= y, "jset": (x & y) != 0, "jsgt": sx > sy, "jsge": sx >= sy,
        "jslt": sx < sy, "jsle": sx <= sy,
    }[op]


def branch_loop(condition: str, count: int) -> str:
    """For ``count`` pairs at r1: word 0 becomes 1 if ``condition`` (on r2, r3) jumps."""
    return f"""
        mov64 r6, {count}
    loop:
        ldxdw r2, [r1+0]
        ldxdw r3, [r1+8]
        mov64 r4, 1
        {condition}
        mov64 r4, 0
    store:
        stxdw [r1+0], r4
        add64 r1, 16
        add64 r6, -1
        jne r6, 0, loop
        exit
    """


def test_oracle_self_check():
    assert taken("jsgt", 1, M64, False)           # 1 > -1
    assert not taken("jgt", 1, M64, False)        # 1 < 2^64 - 1
    assert taken("jslt32", 0x8000_0000, 0, False)  # INT32_MIN < 0
    assert not taken("jslt", 0x8000_0000, 0, False)
    assert taken("jeq32", 0xFFFF_FFFF_0000_0005, 5, False)
    assert taken("jeq", M64, -1, True)            # imm -1 is sign-extended


JUMP_REG_CASES = [(v, s.mnemonic) for v in ("v0", "v3") for s in specs_of(v, Form.JUMP_REG)]


@pytest.mark.parametrize("version,mnemonic", JUMP_REG_CASES,
                         ids=[f"{v}-{m}" for v, m in JUMP_REG_CASES])
def test_register_jumps(version, mnemonic):
    pairs = [(a, b) for a in EDGE_VALUES for b in EDGE_VALUES]
    out = run_both(branch_loop(f"{mnemonic} r2, r3, store", len(pairs)), version=version,
                   input=pack_pairs(pairs))
    assert out.error is None, out.error
    for (a, b), flag in zip(pairs, first_words(out)):
        assert flag == int(taken(mnemonic, a, b, False)), f"{mnemonic} {a:#x}, {b:#x}"
    # Taken branches skip one instruction: the count proves which path ran.
    n_taken = sum(taken(mnemonic, a, b, False) for a, b in pairs)
    assert out.compute_units == 2 + 9 * len(pairs) - n_taken


JUMP_IMM_CASES = [(v, s.mnemonic) for v in ("v0", "v3") for s in specs_of(v, Form.JUMP_IMM)]


@pytest.mark.parametrize("version,mnemonic", JUMP_IMM_CASES,
                         ids=[f"{v}-{m}" for v, m in JUMP_IMM_CASES])
def test_immediate_jumps(version, mnemonic):
    blocks = []
    for n, imm in enumerate(EDGE_IMMS):
        blocks.append(f"""
        mov64 r6, {len(EDGE_VALUES)}
    loop_{n}:
        ldxdw r2, [r1+0]
        mov64 r4, 1
        {mnemonic} r2, {imm}, store_{n}
        mov64 r4, 0
    store_{n}:
        stxdw [r1+0], r4
        add64 r1, 8
        add64 r6, -1
        jne r6, 0, loop_{n}
        """)
    data = b"".join(struct.pack("<Q", a) for _ in EDGE_IMMS for a in EDGE_VALUES)
    out = run_both("".join(blocks) + "\nexit", version=version, input=data)
    assert out.error is None, out.error
    flags = struct.unpack(f"<{len(data) // 8}Q", out.memory.snapshot()["input"])
    k = 0
    for imm in EDGE_IMMS:
        for a in EDGE_VALUES:
            assert flags[k] == int(taken(mnemonic, a, imm, True)), f"{mnemonic} {a:#x}, {imm}"
            k += 1


@pytest.mark.parametrize("version", ["v0", "v1", "v2", "v4"])
def test_jmp32_exists_only_from_v3(version):
    names = {s.mnemonic for s in specs_of(version, Form.JUMP_REG, Form.JUMP_IMM)}
    if version == "v4":
        assert "jeq32" in names and "jsle32" in names
    else:
        assert not any(n.endswith("32") for n in names)


def test_ja_forward_and_backward():
    src = """
        mov64 r0, 0
        ja forward
        mov64 r0, 99
    back:
        add64 r0, 10
        exit
    forward:
        add64 r0, 1
        ja back
    """
    out = run_both(src)
    assert out.result == 11
    assert out.compute_units == 6


def test_ja_to_itself_runs_out_of_budget():
    out = run_both("mov64 r0, 1\nja -1", budget=50)
    assert out.error.kind == "ExceededMaxInstructions" and out.error.pc == 1
    assert out.compute_units == 50


def test_jump_offsets_are_relative_to_the_next_slot():
    # jeq at pc 1 with off +2 lands on pc 4; an lddw in between occupies two slots.
    src = "mov64 r0, 0\njeq r0, 0, +2\nlddw r0, 5\nadd64 r0, 7\nexit"
    out = run_both(src)
    assert out.result == 7 and out.compute_units == 4


@pytest.mark.parametrize("version", ["v0", "v3"])
def test_jset_register_and_immediate(version):
    src = """
        mov64 r0, 0
        mov64 r2, 6
        mov64 r3, 1
        jset r2, r3, +1
        add64 r0, 1
        jset r2, 2, +1
        add64 r0, 10
        exit
    """
    assert run_both(src, version=version).result == 1

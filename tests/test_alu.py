"""ALU32, ALU64, PQR, byte-order and wide-immediate instructions against a semantic oracle.

The oracle below is written from SBPF_SPEC 2.3, 2.4 and 2.6 with plain Python integers
(``Fraction`` for truncating division); it shares no code with the engines. Every
case runs on every engine (``run_both``), which also checks that they agree on
registers, memory and compute units.

Programs are table-driven loops: the operand pairs live in the input region, the loop
applies one instruction to each pair and writes the result back over the pair's first
word, so one program (one JIT compilation) checks hundreds of operand combinations.
"""

from __future__ import annotations

import struct
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbpf.isa import Form, decode_table
from tbpf.versions import SBPFVersion

from vmtest import run_both

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
VERSIONS = ["v0", "v1", "v2", "v3", "v4"]

EDGE_VALUES = [
    0, 1, 2, 7, 31, 32, 33, 63, 64, 65,
    0x7FFF_FFFF,                 # INT32_MAX
    0x8000_0000,                 # 2^31 = INT32_MIN as u32
    0xFFFF_FFFF,                 # 2^32 - 1
    0x1_0000_0000,               # 2^32
    0x1_0000_0001,
    0xFFFF_FFFF_8000_0000,       # sx(INT32_MIN)
    0x7FFF_FFFF_FFFF_FFFF,       # INT64_MAX
    0x8000_0000_0000_0000,       # 2^63 = INT64_MIN
    0xFFFF_FFFF_FFFF_FFFE,       # -2
    M64,                         # -1
    0x0123_4567_89AB_CDEF,
]
EDGE_IMMS = [0, 1, 2, -1, -2, 7, 31, 32, 33, 63, 64, 0x7FFF_FFFF, -0x8000_0000, 0x1234_5678,
             -0x1234_5678]

# --- the oracle -------------------------------------------------------------------------


def signed(value: int, bits: int) -> int:
    """Two's-complement reading of the low ``bits`` of ``value``."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def sign_extend_32(value: int) -> int:
    """Bit 31 copied into bits 32-63."""
    return signed(value, 32) & M64


def trunc_div(x: int, y: int) -> int:
    """Rust's ``/`` on signed integers: round toward zero."""
    return int(Fraction(x, y))


def byte_swap(value: int, nbytes: int) -> int:
    """Reverse the low ``nbytes`` bytes."""
    return int.from_bytes((value & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little"), "big")


# In v2 these 64-bit immediate forms zero-extend the immediate (SBPF_SPEC 2.4, 2.6).
V2_ZERO_EXTENDED_IMM = {"uhmul64", "udiv64", "urem64"}


def oracle(mnemonic: str, version: str, a: int, b: int, imm_form: bool) -> int:
    """The new ``dst`` of ``mnemonic dst, operand`` with ``dst == a``.

    ``b`` is the source register (u64) or, for an immediate form, the signed 32-bit
    immediate. Raises ``ZeroDivisionError``/``OverflowError`` where the VM faults.
    """
    v2 = version == "v2"
    width = 32 if mnemonic.endswith("32") else 64
    op = mnemonic[:-2]
    if imm_form:
        if width == 32 or (v2 and mnemonic in V2_ZERO_EXTENDED_IMM):
            b &= M32
        else:
            b &= M64
    if width == 32:
        x, y = a & M32, b & M32
        sext = not v2  # add32/sub32/mul32 sign-extend except in v2
        if op == "add":
            r = (x + y) & M32
            return sign_extend_32(r) if sext else r
        if op == "sub":
            r = ((y - x) if (v2 and imm_form) else (x - y)) & M32
            return sign_extend_32(r) if sext else r
        if op == "mul":
            r = (x * y) & M32
            return sign_extend_32(r) if sext else r
        if op in ("div", "udiv"):
            return x // y
        if op in ("mod", "urem"):
            return x % y
        if op == "or":
            return x | y
        if op == "and":
            return x & y
        if op == "xor":
            return x ^ y
        if op == "mov":
            if imm_form:
                return y
            return sign_extend_32(y) if v2 else y
        if op == "lsh":
            return (x << (y % 32)) & M32
        if op == "rsh":
            return x >> (y % 32)
        if op == "arsh":
            return (signed(x, 32) >> (y % 32)) & M32
        if op == "neg":
            return (-x) & M32
        if op == "lmul":
            return (x * y) & M32
        if op in ("sdiv", "srem"):
            sx, sy = signed(x, 32), signed(y, 32)
            if sy == 0:
                raise ZeroDivisionError
            if sx == -(1 << 31) and sy == -1:
                raise OverflowError
            q = trunc_div(sx, sy)
            return (q if op == "sdiv" else sx - q * sy) & M32
        raise AssertionError(mnemonic)
    x, y = a & M64, b & M64
    if op == "add":
        return (x + y) & M64
    if op == "sub":
        return ((y - x) if (v2 and imm_form) else (x - y)) & M64
    if op in ("mul", "lmul"):
        return (x * y) & M64
    if op in ("div", "udiv"):
        return x // y
    if op in ("mod", "urem"):
        return x % y
    if op == "or":
        return x | y
    if op == "and":
        return x & y
    if op == "xor":
        return x ^ y
    if op == "mov":
        return y
    if op == "lsh":
        return (x << (y % 64)) & M64
    if op == "rsh":
        return x >> (y % 64)
    if op == "arsh":
        return (signed(x, 64) >> (y % 64)) & M64
    if op == "neg":
        return (-x) & M64
    if op == "hor":
        return x | ((y & M32) << 32)
    if op == "uhmul":
        return (x * y) >> 64
    if op == "shmul":
        return ((signed(x, 64) * signed(y, 64)) >> 64) & M64
    if op in ("sdiv", "srem"):
        sx, sy = signed(x, 64), signed(y, 64)
        if sy == 0:
            raise ZeroDivisionError
        if sx == -(1 << 63) and sy == -1:
            raise OverflowError
        q = trunc_div(sx, sy)
        return (q if op == "sdiv" else sx - q * sy) & M64
    raise AssertionError(mnemonic)


def test_oracle_self_check():
    """A few hand-computed values, so a broken oracle cannot agree with a broken VM."""
    assert oracle("add32", "v0", 0x7FFF_FFFF, 1, True) == 0xFFFF_FFFF_8000_0000
    assert oracle("add32", "v2", 0x7FFF_FFFF, 1, True) == 0x8000_0000
    assert oracle("sub64", "v2", 3, 10, True) == 7
    assert oracle("sub64", "v0", 3, 10, True) == (3 - 10) & M64
    assert oracle("div64", "v0", 100, -1, True) == 0  # divides by 2^64 - 1
    assert oracle("udiv64", "v2", 100, -1, True) == 0  # divides by 2^32 - 1
    assert oracle("udiv64", "v2", 1 << 40, -1, True) == (1 << 40) // 0xFFFF_FFFF
    assert oracle("sdiv64", "v2", (-7) & M64, 2, False) == (-3) & M64
    assert oracle("srem64", "v2", (-7) & M64, 2, False) == (-1) & M64
    assert oracle("srem32", "v2", 7, (-2) & M64, False) == 1
    assert oracle("arsh32", "v0", 0x8000_0000, 31, True) == 0xFFFF_FFFF
    assert oracle("mov32", "v2", 0, 0x8000_0000, False) == 0xFFFF_FFFF_8000_0000
    assert oracle("mov32", "v0", 0, 0x8000_0000, False) == 0x8000_0000
    assert oracle("mov32", "v0", 5, -1, True) == 0xFFFF_FFFF
    assert oracle("uhmul64", "v2", M64, M64, False) == M64 - 1
    assert oracle("shmul64", "v2", M64, M64, False) == 0
    assert oracle("neg32", "v0", 2, 0, True) == 0xFFFF_FFFE
    assert byte_swap(0x1122, 2) == 0x2211


# --- program builders ------------------------------------------------------------------

def specs_of(version: str, *forms: Form) -> list:
    """The version's specs of the given forms, in opcode order."""
    table = decode_table(SBPFVersion(int(version[1])))
    return [s for s in table if s is not None and s.form in forms]


def pair_loop(body: str, count: int) -> str:
    """Apply ``body`` (operating on r2 = first word, r3 = second word) to ``count``
    16-byte pairs at r1; store r2 over the first word."""
    return f"""
        mov64 r6, {count}
    loop:
        ldxdw r2, [r1+0]
        ldxdw r3, [r1+8]
        {body}
        stxdw [r1+0], r2
        add64 r1, 16
        add64 r6, -1
        jne r6, 0, loop
        exit
    """


def pack_pairs(pairs: list[tuple[int, int]]) -> bytes:
    return b"".join(struct.pack("<QQ", a & M64, b & M64) for a, b in pairs)


def first_words(outcome) -> list[int]:
    data = outcome.memory.snapshot()["input"]
    return [struct.unpack_from("<Q", data, 16 * i)[0] for i in range(len(data) // 16)]


def legal_imms(spec) -> list[int]:
    """The edge immediates the verifier accepts for ``spec``."""
    imms = EDGE_IMMS
    if spec.op.value in ("lsh", "rsh", "arsh"):
        imms = [i for i in imms if 0 <= i < spec.width]
    if spec.op.value in ("div", "mod", "udiv", "urem", "sdiv", "srem"):
        imms = [i for i in imms if i != 0]
    return imms


def faults(mnemonic: str, version: str, a: int, b: int, imm_form: bool) -> bool:
    try:
        oracle(mnemonic, version, a, b, imm_form)
    except (ZeroDivisionError, OverflowError):
        return True
    return False


# --- register forms: every ALU/PQR op, every edge pair ---------------------------------

REG_CASES = [(v, s.mnemonic) for v in VERSIONS for s in specs_of(v, Form.ALU_REG)]


@pytest.mark.parametrize("version,mnemonic", REG_CASES,
                         ids=[f"{v}-{m}" for v, m in REG_CASES])
def test_register_form_edges(version, mnemonic):
    pairs = [(a, b) for a in EDGE_VALUES for b in EDGE_VALUES
             if not faults(mnemonic, version, a, b, False)]
    out = run_both(pair_loop(f"{mnemonic} r2, r3", len(pairs)), version=version,
                   input=pack_pairs(pairs), budget=100_000)
    assert out.error is None, out.error
    got = first_words(out)
    for (a, b), value in zip(pairs, got):
        assert value == oracle(mnemonic, version, a, b, False), \
            f"{mnemonic} {a:#x}, {b:#x}: got {value:#x}"
    assert out.compute_units == 1 + 7 * len(pairs) + 1


# --- immediate forms: every ALU/PQR op, every legal edge immediate ----------------------

IMM_CASES = [(v, s.mnemonic) for v in VERSIONS for s in specs_of(v, Form.ALU_IMM)]


@pytest.mark.parametrize("version,mnemonic", IMM_CASES,
                         ids=[f"{v}-{m}" for v, m in IMM_CASES])
def test_immediate_form_edges(version, mnemonic):
    spec = next(s for s in specs_of(version, Form.ALU_IMM) if s.mnemonic == mnemonic)
    # One unrolled block per immediate, each looping over the destination values for
    # which the instruction does not fault (INT_MIN / -1 has its own tests).
    cases = [(imm, [a for a in EDGE_VALUES if not faults(mnemonic, version, a, imm, True)])
             for imm in legal_imms(spec)]
    blocks = []
    for n, (imm, dsts) in enumerate(cases):
        blocks.append(f"""
        mov64 r6, {len(dsts)}
    loop_{n}:
        ldxdw r2, [r1+0]
        {mnemonic} r2, {imm}
        stxdw [r1+0], r2
        add64 r1, 8
        add64 r6, -1
        jne r6, 0, loop_{n}
        """)
    src = "".join(blocks) + "\n        exit"
    flat = [(imm, a) for imm, dsts in cases for a in dsts]
    data = b"".join(struct.pack("<Q", a) for _, a in flat)
    out = run_both(src, version=version, input=data, budget=100_000)
    assert out.error is None, out.error
    words = struct.unpack(f"<{len(flat)}Q", out.memory.snapshot()["input"])
    for (imm, a), got in zip(flat, words):
        expect = oracle(mnemonic, version, a, imm, True)
        assert got == expect, f"{mnemonic} {a:#x}, {imm}: got {got:#x}, want {expect:#x}"


# --- unary and byte-order instructions ---------------------------------------------------

UNARY_CASES = [(v, s.mnemonic) for v in VERSIONS for s in specs_of(v, Form.NEG)]


@pytest.mark.parametrize("version,mnemonic", UNARY_CASES,
                         ids=[f"{v}-{m}" for v, m in UNARY_CASES])
def test_neg(version, mnemonic):
    pairs = [(a, 0) for a in EDGE_VALUES]
    out = run_both(pair_loop(f"{mnemonic} r2", len(pairs)), version=version,
                   input=pack_pairs(pairs))
    assert first_words(out) == [oracle(mnemonic, version, a, 0, True) for a, _ in pairs]


def test_neg_is_invalid_in_v2():
    assert not specs_of("v2", Form.NEG)


ENDIAN_CASES = [(v, f"{s.mnemonic}{w}", s.op.value, w) for v in VERSIONS
                for s in specs_of(v, Form.ENDIAN) for w in (16, 32, 64)]


@pytest.mark.parametrize("version,mnemonic,kind,width", ENDIAN_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in ENDIAN_CASES])
def test_byte_order(version, mnemonic, kind, width):
    pairs = [(a, 0) for a in EDGE_VALUES + [0x1122_3344_5566_7788, 0x8899_AABB_CCDD_EEFF]]
    out = run_both(pair_loop(f"{mnemonic} r2", len(pairs)), version=version,
                   input=pack_pairs(pairs))
    mask = (1 << width) - 1
    for (a, _), got in zip(pairs, first_words(out)):
        expect = (a & mask) if kind == "le" else byte_swap(a, width // 8)
        assert got == expect, f"{mnemonic} {a:#x}"


def test_le_is_invalid_in_v2_and_be_valid_everywhere():
    assert [s.mnemonic for s in specs_of("v2", Form.ENDIAN)] == ["be"]
    for v in ("v0", "v1", "v3", "v4"):
        assert sorted(s.mnemonic for s in specs_of(v, Form.ENDIAN)) == ["be", "le"]


# --- wide immediates: lddw (v0, v1, v3, v4) and hor64 (v2) -------------------------------

WIDE_VALUES = [0, 1, M64, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x1122_3344_5566_7788,
               0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF]


@pytest.mark.parametrize("version", ["v0", "v1", "v3", "v4"])
def test_lddw_loads_any_64_bit_value_in_one_unit(version):
    src = "".join(f"lddw r2, {v:#x}\nstxdw [r1+{8 * n}], r2\n" for n, v in enumerate(WIDE_VALUES))
    out = run_both(src + "exit", version=version, input=bytes(8 * len(WIDE_VALUES)))
    assert list(struct.unpack(f"<{len(WIDE_VALUES)}Q", out.memory.snapshot()["input"])) \
        == WIDE_VALUES
    assert out.compute_units == 2 * len(WIDE_VALUES) + 1  # lddw is one unit, two slots


def test_hor64_builds_64_bit_values_in_v2():
    src = "".join(f"mov32 r2, {v & M32 if v & M32 < 1 << 31 else (v & M32) - (1 << 32)}\n"
                  f"hor64 r2, {(v >> 32) if (v >> 32) < 1 << 31 else (v >> 32) - (1 << 32)}\n"
                  f"stxdw [r1+{8 * n}], r2\n" for n, v in enumerate(WIDE_VALUES))
    out = run_both(src + "exit", version="v2", input=bytes(8 * len(WIDE_VALUES)))
    assert list(struct.unpack(f"<{len(WIDE_VALUES)}Q", out.memory.snapshot()["input"])) \
        == WIDE_VALUES


def test_hor64_ors_into_the_high_half():
    out = run_both("mov32 r0, 0x55\nhor64 r0, 0x12345678\nexit", version="v2")
    assert out.result == 0x1234_5678_0000_0055
    out = run_both("mov64 r0, -1\nhor64 r0, 0\nexit", version="v2")
    assert out.result == M64  # OR, not a replacement of the high half


def test_lddw_and_hor64_version_gates():
    assert [s.mnemonic for s in specs_of("v2", Form.LDDW)] == []
    assert [s.mnemonic for s in specs_of("v2", Form.ALU_IMM) if s.op.value == "hor"] == ["hor64"]
    for v in ("v0", "v1", "v3", "v4"):
        assert [s.mnemonic for s in specs_of(v, Form.LDDW)] == ["lddw"]
        assert not [s for s in specs_of(v, Form.ALU_IMM) if s.op.value == "hor"]


# --- 32-bit results: sign vs zero extension per version -------------------------------

EXTENSION_ROWS = [
    # (instruction, dst, src, v0/v1/v3/v4 result, v2 result)
    ("add32 r2, r3", 0x7FFF_FFFF, 1, 0xFFFF_FFFF_8000_0000, 0x8000_0000),
    ("sub32 r2, r3", 0, 1, M64, 0xFFFF_FFFF),
    ("mov32 r2, r3", 0, 0xFFFF_FFFF, 0xFFFF_FFFF, M64),
    ("mov32 r2, r3", 0, 0x7FFF_FFFF, 0x7FFF_FFFF, 0x7FFF_FFFF),
    ("or32 r2, r3", 0xFFFF_FFFF_0000_0000, 0x8000_0000, 0x8000_0000, 0x8000_0000),
    ("xor32 r2, r3", M64, 0, 0xFFFF_FFFF, 0xFFFF_FFFF),
    ("lsh32 r2, r3", 1, 31, 0x8000_0000, 0x8000_0000),
    ("arsh32 r2, r3", 0x8000_0000, 4, 0xF800_0000, 0xF800_0000),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("insn,dst,src,classic,v2", EXTENSION_ROWS,
                         ids=[f"{r[0].split()[0]}-{r[2]:#x}" for r in EXTENSION_ROWS])
def test_32_bit_result_extension(version, insn, dst, src, classic, v2):
    out = run_both(pair_loop(insn, 1), version=version, input=pack_pairs([(dst, src)]))
    assert first_words(out)[0] == (v2 if version == "v2" else classic)


@pytest.mark.parametrize("version", ["v0", "v3"])
def test_mul32_sign_extends_outside_v2(version):
    out = run_both(pair_loop("mul32 r2, r3", 1), version=version,
                   input=pack_pairs([(0x10000, 0x8000)]))
    assert first_words(out)[0] == 0xFFFF_FFFF_8000_0000


def test_mov32_imm_zero_extends_in_every_version():
    for version in VERSIONS:
        assert run_both("mov32 r0, -1\nexit", version=version).result == 0xFFFF_FFFF


# --- property: random operands, every register-form op of a version at once ---------------

def all_ops_program(version: str) -> tuple[str, list[str]]:
    """One program applying every register-form op of ``version`` to (a, b) from the
    input; result i goes to word 2 + i."""
    mnemonics = [s.mnemonic for s in specs_of(version, Form.ALU_REG)]
    lines = []
    for n, mnemonic in enumerate(mnemonics):
        lines += ["ldxdw r2, [r1+0]", "ldxdw r3, [r1+8]", f"{mnemonic} r2, r3",
                  f"stxdw [r1+{16 + 8 * n}], r2"]
    return "\n".join(lines + ["exit"]), mnemonics


u64s = st.one_of(st.sampled_from(EDGE_VALUES), st.integers(0, M64),
                 st.integers(0, M32), st.integers(-(1 << 31), (1 << 31) - 1).map(lambda v: v & M64))


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=40)
@given(a=u64s, b=u64s)
def test_register_forms_random_operands(version, a, b):
    src, mnemonics = all_ops_program(version)
    if any(faults(m, version, a, b, False) for m in mnemonics):
        b |= 1  # keep every division defined; the faulting cases have their own tests
        if any(faults(m, version, a, b, False) for m in mnemonics):
            b = 3
    data = struct.pack("<QQ", a, b) + bytes(8 * len(mnemonics))
    out = run_both(src, version=version, input=data)
    assert out.error is None, out.error
    words = struct.unpack_from(f"<{len(mnemonics)}Q", out.memory.snapshot()["input"], 16)
    for mnemonic, got in zip(mnemonics, words):
        assert got == oracle(mnemonic, version, a, b, False), f"{mnemonic} {a:#x}, {b:#x}"


@settings(max_examples=25)
@given(version=st.sampled_from(VERSIONS), data=st.data())
def test_immediate_forms_random_operands(version, data):
    specs = specs_of(version, Form.ALU_IMM)
    a = data.draw(u64s, label="dst")
    imm = data.draw(st.integers(-(1 << 31), (1 << 31) - 1), label="imm")
    lines, used = [], []
    for n, spec in enumerate(specs):
        k = imm
        if spec.op.value in ("lsh", "rsh", "arsh"):
            k = imm % spec.width
        if spec.op.value in ("div", "mod", "udiv", "urem", "sdiv", "srem") and k == 0:
            k = 1
        if faults(spec.mnemonic, version, a, k, True):
            continue
        lines += ["ldxdw r2, [r1+0]", f"{spec.mnemonic} r2, {k}", f"stxdw [r1+{8 + 8 * n}], r2"]
        used.append((n, spec.mnemonic, k))
    out = run_both("\n".join(lines + ["exit"]), version=version,
                   input=struct.pack("<Q", a) + bytes(8 * len(specs)))
    words = struct.unpack_from(f"<{len(specs)}Q", out.memory.snapshot()["input"], 8)
    for n, mnemonic, k in used:
        assert words[n] == oracle(mnemonic, version, a, k, True), f"{mnemonic} {a:#x}, {k}"

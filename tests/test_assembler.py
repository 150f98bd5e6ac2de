"""Assembler and disassembler (SBPF_SPEC 9): error reports naming the line and token,
canonical text round trips (``disassemble(assemble(src)) == src``) and byte round trips
for random verified programs of every version."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tbpf.assembler import assemble, assemble_program
from tbpf.disassembler import disassemble
from tbpf.errors import AssemblerError
from tbpf.executable import ENTRYPOINT_KEY
from tbpf.isa import Form, VerifyRule, decode_table, encode_slot
from tbpf.syscalls import solana_syscalls
from tbpf.verifier import verify
from tbpf.versions import SBPFVersion

# --- errors --------------------------------------------------------------------------------

# (source, line, column, token, message)
ASM_ERRORS = [
    ("mov64 r0, 1\nfoo r1, 2\nexit", 2, 1, "foo", 'Invalid instruction "foo"'),
    ("exit\nja nowhere", 2, 1, "ja", "Label not found nowhere"),
    ("mov64 r0, 0x100000000", 1, 1, "mov64", "Invalid immediate 4294967296"),
    ("mov64 r0, -2147483649", 1, 1, "mov64", "Invalid immediate -2147483649"),
    ("ldxb r0, [r1+40000]", 1, 1, "ldxb", "Invalid offset 40000"),
    ("jeq r0, 0, -32769", 1, 1, "jeq", "Invalid offset -32769"),
    ("mov64 r16, 1", 1, 1, "mov64", "Invalid destination register 16"),
    ("mov64 r1, r99", 1, 1, "mov64", "Invalid source register 99"),
    ("mov64 r0", 1, 1, "mov64", "Unexpected operands: [Register(0)]"),
    ("exit exit", 1, 1, "exit", 'Unexpected operands: [Label("exit")]'),
    ("lddw r0, r1", 1, 1, "lddw", "Unexpected operands"),
    ("stb [r1+0], r2", 1, 1, "stb", "Unexpected operands"),
    ("mov64 r0, 1 ; comment", 1, 13, ";", "Parse error: unexpected ';'"),
    ("mov64 r0, 1 // comment", 1, 13, "/", "Parse error"),
    ("mov64\tr0, 1", 1, 9, ",", "Parse error: unexpected ','"),
    ("mov64 r0, [r1", 1, 14, "end of input", "Parse error: expected ']'"),
    ("add64 r0,", 1, 10, "end of input", "Parse error: expected an operand after ','"),
    ("\n\n   mov64 r0, @", 3, 14, "@", "Parse error: expected an operand after ','"),
    ("ldxb r0, [x+1]", 1, 11, "x", "Parse error: expected a register after '['"),
    (".word 5", 1, 1, "word", 'Invalid directive "word"'),
    ("mov64 r0, 1\n\n  exit\n  bogus", 4, 3, "bogus", 'Invalid instruction "bogus"'),
]


@pytest.mark.parametrize("src,line,column,token,message", ASM_ERRORS,
                         ids=[f"{e[3]}-{e[4][:24]}" for e in ASM_ERRORS])
def test_assembler_error_names_line_and_token(src, line, column, token, message):
    with pytest.raises(AssemblerError) as info:
        assemble(src, "v0")
    err = info.value
    assert (err.line, err.column, err.token) == (line, column, token)
    assert message in err.reason
    assert str(err).startswith(f"line {line}, column {column} ({token!r}): ")
    assert err.kind == "AssemblerError"


def test_assembler_accepts_the_reference_syntax():
    src = """
        entrypoint:
        mov64 r0,1
        add64 r0,  2
        ldxdw r1, [r1 + 8]
        ldxdw r1, [r1 - 0x10]
        ldxdw r1, [r1]
        jeq r0, - 1, +0
        mov64 r0, 0xffffffffffffffff
        .fill 2, 0x95
        exit
    """
    # mov64 r0, 0xffffffffffffffff reads the hex as u64 then as i64 = -1
    text = assemble(src)
    assert len(text) == 10 * 8
    assert text[-24:] == encode_slot(0x95, 0, 0, 0, 0) * 3


def test_add64_r10_is_a_no_op_where_frames_are_fixed():
    for version in ("v0", "v3", "v4"):
        assert assemble("add64 r10, 0", version) == assemble("or64 r0, 0", version)
    assert assemble("add64 r10, -64", "v1") != assemble("or64 r0, 0", "v1")


def test_callx_register_field_per_version():
    opc = decode_table(SBPFVersion.V0)[0x8D].opcode
    assert assemble("callx r3", "v0") == encode_slot(opc, 0, 0, 0, 3)
    assert assemble("callx r3", "v1") == encode_slot(opc, 0, 0, 0, 3)
    assert assemble("callx r3", "v2") == encode_slot(opc, 0, 3, 0, 0)
    assert assemble("callx r3", "v3") == encode_slot(opc, 3, 0, 0, 0)


def test_call_encodings_per_version():
    v0 = assemble_program("call function_f\nexit\nfunction_f:\nexit", "v0")
    assert v0.functions.lookup_by_key(2) == ("function_f", 2)
    assert assemble("call 1\nexit\nexit", "v0")[4:8] == (2).to_bytes(4, "little")
    v3 = assemble("call 1\nexit\nexit", "v3")
    assert v3[1] >> 4 == 1 and v3[4:8] == (1).to_bytes(4, "little")  # src=1, relative
    assert assemble("syscall sol_log_", "v3")[1] >> 4 == 0


# --- canonical text round trips ------------------------------------------------------------

CANONICAL = [
    ("v0", """entrypoint:
    mov64 r0, 1
    jeq r0, 1, lbb_4
    lddw r1, 0x1122334455667788
lbb_4:
    syscall 6
    syscall 77
    callx r3
    stb [r10-0x4], -1
lbb_8:
    ldxdw r0, [r1+0x8]
    be16 r0
    jsgt r0, r9, lbb_8
    exit
"""),
    ("v0", """entrypoint:
    mov32 r0, -1
    neg32 r0
    le64 r0
    arsh64 r0, 3
    stxdw [r10-0x8], r0
    sth [r1+0x10], 255
    ldxh r2, [r1+0x10]
    div64 r0, -7
    mod32 r0, r2
    exit
"""),
    ("v1", """entrypoint:
    add64 r10, -64
    mov64 r0, r10
    callx r1
    exit
"""),
    ("v2", """entrypoint:
    mov32 r0, 1
    hor64 r0, 5
    uhmul64 r0, r1
    sdiv32 r0, -3
    srem64 r0, r2
    lmul32 r0, 7
    sub64 r0, 9
    ldxb r3, [r1+0x1]
    stxw [r10-0x40], r3
    callx r3
    exit
"""),
    ("v3", """entrypoint:
    mov64 r0, 1
    jeq32 r0, 1, lbb_3
    call 3
lbb_3:
    syscall 77
    callx r3
    exit
"""),
]


@pytest.mark.parametrize("version,src", CANONICAL, ids=[f"{v}-{n}" for n, (v, _) in
                                                       enumerate(CANONICAL)])
def test_canonical_text_round_trip(version, src):
    code = assemble(src, version)
    verify(code, SBPFVersion(int(version[1])))
    assert disassemble(code, version) == src


def test_syscall_names_in_disassembly():
    code = assemble("syscall sol_log_\nexit")
    assert disassemble(code, "v0", syscalls=solana_syscalls()) == \
        "entrypoint:\n    syscall sol_log_\n    exit\n"


# --- byte round trips for random verified programs -------------------------------------------

I16 = (-(1 << 15), (1 << 15) - 1)
I32 = (-(1 << 31), (1 << 31) - 1)


@st.composite
def verified_programs(draw, version: SBPFVersion):
    """A random program of canonical instructions (fields the instruction does not use
    are zero, as the assembler writes them) that the verifier accepts."""
    specs = [s for s in decode_table(version) if s is not None]
    chosen = draw(st.lists(st.sampled_from(specs), min_size=1, max_size=24))
    reg = st.integers(0, 9)
    reg10 = st.integers(0, 10)
    off = st.integers(*I16)
    imm = st.integers(*I32)
    starts, pc = [], 0
    for spec in chosen:
        starts.append(pc)
        pc += 2 if spec.form is Form.LDDW else 1
    n_slots = pc
    out = []
    for spec, here in zip(chosen, starts):
        f, o = spec.form, spec.opcode
        if f is Form.ALU_IMM:
            value = draw(imm)
            dst = draw(reg)
            if spec.rule is VerifyRule.SHIFT_IMM:
                value = draw(st.integers(0, spec.width - 1))
            elif spec.rule is VerifyRule.DIV_IMM_NONZERO:
                value = draw(imm.filter(lambda v: v != 0))
            elif spec.rule is VerifyRule.STACK_BUMP and draw(st.booleans()):
                dst, value = 10, draw(st.integers(-64, 64)) * 64
            out.append(encode_slot(o, dst, 0, 0, value))
        elif f is Form.ALU_REG:
            out.append(encode_slot(o, draw(reg), draw(reg10), 0, 0))
        elif f is Form.NEG:
            out.append(encode_slot(o, draw(reg), 0, 0, 0))
        elif f is Form.ENDIAN:
            out.append(encode_slot(o, draw(reg), 0, 0, draw(st.sampled_from([16, 32, 64]))))
        elif f is Form.LDDW:
            value = draw(st.integers(0, (1 << 64) - 1))
            out.append(encode_slot(o, draw(reg), 0, 0, value & 0xFFFF_FFFF)
                       + encode_slot(0, 0, 0, 0, value >> 32))
        elif f is Form.LOAD:
            out.append(encode_slot(o, draw(reg), draw(reg10), draw(off), 0))
        elif f is Form.STORE_IMM:
            out.append(encode_slot(o, draw(reg10), 0, draw(off), draw(imm)))
        elif f is Form.STORE_REG:
            out.append(encode_slot(o, draw(reg10), draw(reg10), draw(off), 0))
        elif f in (Form.JA, Form.JUMP_IMM, Form.JUMP_REG):
            target = draw(st.sampled_from(starts))
            jump_off = target - here - 1
            if f is Form.JA:
                out.append(encode_slot(o, 0, 0, jump_off, 0))
            elif f is Form.JUMP_IMM:
                out.append(encode_slot(o, draw(reg), 0, jump_off, draw(imm)))
            else:
                out.append(encode_slot(o, draw(reg), draw(reg10), jump_off, 0))
        elif f is Form.CALL_IMM:
            src = draw(st.sampled_from([0, 1])) if spec.static_syscalls else 0
            key = draw(imm.filter(lambda v: v & 0xFFFF_FFFF != ENTRYPOINT_KEY))
            out.append(encode_slot(o, 0, src, 0, key))
        elif f is Form.CALL_REG:
            r = draw(reg)
            field = spec.callx_reg_field
            out.append(encode_slot(o, r if field == "dst" else 0, r if field == "src" else 0, 0,
                                   r if field == "imm" else 0))
        else:
            out.append(encode_slot(o, 0, 0, 0, 0))
    code = b"".join(out)
    assert len(code) == 8 * n_slots
    verify(code, version)  # the generator only builds verifiable programs
    return code


@pytest.mark.parametrize("version", list(SBPFVersion), ids=lambda v: v.label)
@given(data=st.data())
def test_random_verified_program_bytes_round_trip(version, data):
    code = data.draw(verified_programs(version))
    text = disassemble(code, version)
    assert assemble(text, version) == code, text
    assert disassemble(assemble(text, version), version) == text

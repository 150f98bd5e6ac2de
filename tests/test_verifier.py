"""The verifier (SBPF_SPEC 7): every error kind with its pc, the reference display text,
the check order, and what it deliberately does not check."""

from __future__ import annotations

import pytest

from tbpf.assembler import assemble
from tbpf.errors import (
    InvalidFunctionError, InvalidSyscallError, JumpOutOfCodeError, ShiftWithOverflowError,
    UnknownOpCodeError, VerifierError,
)
from tbpf.isa import LDDW_OPCODE, decode_table, encode_slot
from tbpf.syscalls import solana_syscalls
from tbpf.verifier import verify, verify_local
from tbpf.versions import SBPFVersion

V = SBPFVersion


def slots(*fields: tuple[int, int, int, int, int]) -> bytes:
    return b"".join(encode_slot(*f) for f in fields)


def opcode(version: SBPFVersion, mnemonic: str, form: str | None = None) -> int:
    """The opcode of ``mnemonic`` in ``version`` (from the table, never typed here)."""
    return next(s.opcode for s in decode_table(version)
                if s is not None and s.mnemonic == mnemonic
                and (form is None or s.form.value == form))


EXIT = (opcode(V.V0, "exit"), 0, 0, 0, 0)


def asm(src: str, version: str = "v0") -> bytes:
    return assemble(src, version)


# (id, version, text, kind, pc, message)
ERRORS = [
    ("length-not-multiple", V.V0, bytes(12), "ProgramLengthNotMultiple", None,
     "program length must be a multiple of 8 octets"),
    ("no-program", V.V0, b"", "NoProgram", None, "no program set, call prog_set() to load one"),
    ("div64-imm-zero", V.V0, asm("mov64 r0, 1\ndiv64 r0, 0\nexit"), "DivisionByZero", 1,
     "division by 0 (insn #1)"),
    ("mod32-imm-zero", V.V3, asm("mod32 r0, 0\nexit", "v3"), "DivisionByZero", 0,
     "division by 0 (insn #0)"),
    ("udiv64-imm-zero-v2", V.V2, asm("udiv64 r0, 0\nexit", "v2"), "DivisionByZero", 0, None),
    ("srem32-imm-zero-v2", V.V2, asm("mov64 r0, 1\nsrem32 r0, 0\nexit", "v2"),
     "DivisionByZero", 1, None),
    ("le-width-8", V.V0, slots((opcode(V.V0, "le"), 0, 0, 0, 8), EXIT),
     "UnsupportedLEBEArgument", 0, "unsupported argument for LE/BE (insn #0)"),
    ("be-width-0", V.V2, slots((opcode(V.V2, "be"), 0, 0, 0, 0), EXIT),
     "UnsupportedLEBEArgument", 0, None),
    ("lddw-last", V.V0, slots(EXIT, (LDDW_OPCODE, 0, 0, 0, 1)), "LDDWCannotBeLast", 1,
     "LD_DW instruction cannot be last in program"),
    ("lddw-incomplete", V.V0, slots((LDDW_OPCODE, 0, 0, 0, 1), EXIT), "IncompleteLDDW", 0,
     "incomplete LD_DW instruction (insn #0)"),
    ("jump-past-end", V.V0, asm("ja +1\nexit"), "JumpOutOfCode", 0,
     "jump out of code to #2 (insn #0)"),
    ("jump-before-start", V.V0, asm("mov64 r0, 0\nja -3\nexit"), "JumpOutOfCode", 1,
     "jump out of code to #18446744073709551615 (insn #1)"),
    ("jmp32-past-end-v3", V.V3, asm("jeq32 r0, 0, +5\nexit", "v3"), "JumpOutOfCode", 0, None),
    ("jump-into-lddw", V.V0, asm("jeq r0, 0, +1\nlddw r0, 1\nexit"), "JumpToMiddleOfLDDW", 0,
     "jump to middle of LD_DW at #2 (insn #0)"),
    ("jump-to-any-opcode-0-slot", V.V0, slots((opcode(V.V0, "ja"), 0, 0, 1, 0), EXIT,
                                              (0, 0, 0, 0, 0)),
     "JumpToMiddleOfLDDW", 0, None),
    ("src-11", V.V0, slots((opcode(V.V0, "mov64", "alu-reg"), 0, 11, 0, 0), EXIT),
     "InvalidSourceRegister", 0, "invalid source register (insn #0)"),
    ("src-15-on-exit", V.V0, slots((EXIT[0], 0, 15, 0, 0)), "InvalidSourceRegister", 0, None),
    ("write-r10", V.V0, asm("mov64 r0, 0\nmov64 r10, 1\nexit"), "CannotWriteR10", 1,
     "cannot write into register r10 (insn #1)"),
    ("add64-r10-v0", V.V0, slots((opcode(V.V0, "add64", "alu-imm"), 10, 0, 0, 64), EXIT),
     "CannotWriteR10", 0, None),
    ("load-into-r10", V.V3, asm("ldxdw r10, [r1+0]\nexit", "v3"), "CannotWriteR10", 0, None),
    ("dst-11", V.V0, slots((opcode(V.V0, "mov64", "alu-imm"), 11, 0, 0, 0), EXIT),
     "InvalidDestinationRegister", 0, "invalid destination register (insn #0)"),
    ("store-dst-11", V.V0, slots((opcode(V.V0, "stb"), 11, 0, 0, 0), EXIT),
     "InvalidDestinationRegister", 0, None),
    ("lddw-dst-r10-reported-on-second-slot", V.V0,
     slots(EXIT, (LDDW_OPCODE, 10, 0, 0, 1), (0, 0, 0, 0, 0), EXIT), "CannotWriteR10", 2, None),
    ("lddw-bad-src-reported-on-second-slot", V.V0,
     slots((LDDW_OPCODE, 0, 12, 0, 1), (0, 0, 0, 0, 0), EXIT), "InvalidSourceRegister", 1, None),
    ("opcode-0", V.V0, slots((0, 0, 0, 0, 0)), "UnknownOpCode", 0,
     "unknown eBPF opcode 0x0 (insn #0)"),
    ("opcode-0x06-v0", V.V0, slots(EXIT, (0x06, 0, 0, 0, 0)), "UnknownOpCode", 1,
     "unknown eBPF opcode 0x6 (insn #1)"),
    ("lddw-in-v2", V.V2, slots((LDDW_OPCODE, 0, 0, 0, 1), (0, 0, 0, 0, 0), EXIT),
     "UnknownOpCode", 0, "unknown eBPF opcode 0x18 (insn #0)"),
    ("hor64-in-v0", V.V0, asm("hor64 r0, 1\nexit"), "UnknownOpCode", 0, None),
    ("jmp32-in-v0", V.V0, asm("jeq32 r0, 0, +0\nexit"), "UnknownOpCode", 0, None),
    # (mul64/neg64 bytes are stb/stw in v2; div32 and neg32 bytes mean nothing there)
    ("div32-in-v2", V.V2, asm("div32 r0, 2\nexit", "v0"), "UnknownOpCode", 0,
     "unknown eBPF opcode 0x34 (insn #0)"),
    ("neg32-in-v2", V.V2, asm("neg32 r0\nexit", "v0"), "UnknownOpCode", 0, None),
    ("classic-ldxw-in-v2", V.V2, asm("ldxw r0, [r1+0]\nexit", "v0"), "UnknownOpCode", 0, None),
    ("lsh64-by-64", V.V0, asm("lsh64 r0, 64\nexit"), "ShiftWithOverflow", 0,
     "Shift with overflow of 64-bit value by 64 (insn #0)"),
    ("rsh32-by-32", V.V0, asm("rsh32 r0, 32\nexit"), "ShiftWithOverflow", 0,
     "Shift with overflow of 32-bit value by 32 (insn #0)"),
    ("arsh32-by-minus-1", V.V0, asm("mov64 r0, 0\narsh32 r0, -1\nexit"), "ShiftWithOverflow", 1,
     "Shift with overflow of 18446744073709551615-bit value by 32 (insn #1)"),
    ("callx-r10-v0", V.V0, asm("callx r10\nexit"), "InvalidRegister", 0,
     "Invalid register specified at instruction 0"),
    ("callx-imm-minus-1-v1", V.V1, slots((opcode(V.V1, "callx"), 0, 0, 0, -1), EXIT),
     "InvalidRegister", 0, None),
    ("callx-src-r10-v2", V.V2, asm("callx r10\nexit", "v2"), "InvalidRegister", 0, None),
    ("callx-dst-r10-v3", V.V3, asm("callx r10\nexit", "v3"), "InvalidRegister", 0, None),
    ("stack-bump-unaligned-v1", V.V1, asm("add64 r10, 63\nexit", "v1"), "UnalignedImmediate", 0,
     "Unaligned immediate (insn #0)"),
    ("stack-bump-unaligned-v2", V.V2, asm("mov64 r0, 0\nadd64 r10, -8\nexit", "v2"),
     "UnalignedImmediate", 1, None),
]


@pytest.mark.parametrize("row", ERRORS, ids=[r[0] for r in ERRORS])
def test_verifier_error(row):
    _id, version, text, kind, pc, message = row
    with pytest.raises(VerifierError) as info:
        verify(text, version)
    err = info.value
    assert (err.kind, err.pc) == (kind, pc)
    if message is not None:
        assert str(err) == message


def test_every_verifier_error_kind_is_covered():
    import tbpf.errors as errors
    kinds = {cls.kind for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, VerifierError)
             and cls is not VerifierError}
    covered = {row[3] for row in ERRORS} | {"InvalidSyscall", "InvalidFunction"}
    assert kinds == covered


def test_error_payloads():
    with pytest.raises(JumpOutOfCodeError) as info:
        verify(asm("mov64 r0, 0\nja -3\nexit"), V.V0)
    assert info.value.target == 2**64 - 1
    with pytest.raises(ShiftWithOverflowError) as info:
        verify(asm("lsh32 r0, 40\nexit"), V.V0)
    assert (info.value.amount, info.value.width) == (40, 32)
    with pytest.raises(UnknownOpCodeError) as info:
        verify(slots((0xFF, 0, 0, 0, 0)), V.V0)
    assert info.value.opc == 0xFF


def test_opcode_check_comes_before_the_register_check():
    # div64 r10, 0: the reference reports the division, not the write to r10
    text = slots((opcode(V.V0, "div64", "alu-imm"), 10, 0, 0, 0), EXIT)
    with pytest.raises(VerifierError) as info:
        verify(text, V.V0)
    assert info.value.kind == "DivisionByZero"


def test_first_error_wins():
    text = asm("lsh64 r0, 64\ndiv64 r0, 0\nexit")
    with pytest.raises(VerifierError) as info:
        verify(text, V.V0)
    assert (info.value.kind, info.value.pc) == ("ShiftWithOverflow", 0)


# --- what the verifier accepts -----------------------------------------------------------

def test_unused_fields_are_not_required_to_be_zero():
    text = slots((EXIT[0], 3, 4, 77, 12345))
    (insn,) = verify(text, V.V0)
    assert (insn.dst, insn.src, insn.off, insn.imm) == (3, 4, 77, 12345)


def test_stores_may_use_r10_and_v1_may_bump_it():
    verify(asm("stb [r10-1], 0\nstxdw [r10-8], r1\nexit"), V.V0)
    verify(asm("add64 r10, -64\nexit", "v1"), V.V1)
    verify(asm("add64 r10, 128\nexit", "v2"), V.V2)


def test_call_targets_and_infinite_loops_are_not_checked():
    verify(asm("call 1000\nexit"), V.V0)
    verify(asm("syscall 77\nexit", "v3"), V.V3)
    verify(asm("ja -1"), V.V0)


def test_verify_returns_the_decoded_program():
    insns = verify(asm("lddw r1, 0x1122334455667788\nmov64 r0, r1\nexit"), V.V0)
    assert [None if i is None else i.spec.mnemonic for i in insns] == \
        ["lddw", None, "mov64", "exit"]
    assert insns[0].imm == 0x1122_3344_5566_7788


# --- the deploy-time LocalVerifier (v3+) -------------------------------------------------------

def test_local_verifier_unknown_static_syscall():
    with pytest.raises(InvalidSyscallError) as info:
        verify_local(asm("mov64 r0, 0\nsyscall 77\nexit", "v3"), V.V3, solana_syscalls())
    assert (info.value.kind, info.value.pc, info.value.key) == ("InvalidSyscall", 1, 77)
    assert str(info.value) == "Invalid syscall code 77 (insn #1)"
    verify_local(asm("syscall sol_log_\nexit", "v3"), V.V3, solana_syscalls())


def test_local_verifier_call_minus_one():
    text = slots((opcode(V.V3, "call"), 0, 1, 0, -1), EXIT)
    with pytest.raises(InvalidFunctionError) as info:
        verify_local(text, V.V3, solana_syscalls())
    assert (info.value.pc, str(info.value)) == (0, "Invalid function at instruction 0")


def test_local_verifier_skips_lddw_tails_and_older_versions():
    # the second slot of this lddw looks like "call -1" with src 1, but is data
    text = slots((LDDW_OPCODE, 0, 0, 0, 0), (opcode(V.V3, "call"), 0, 1, 0, -1), EXIT)
    verify_local(text, V.V3, solana_syscalls())
    verify_local(asm("syscall 77\nexit"), V.V0, solana_syscalls())  # v0: nothing to check

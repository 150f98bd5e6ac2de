"""The verifier (SBPF_SPEC 7): the only gatekeeper between bytes and the engines.

:func:`verify` applies every check of the reference ``RequisiteVerifier`` in the
reference order (per slot: the opcode-specific check from the table's
:class:`~tbpf.isa.VerifyRule`, then the register check) and returns the decoded slots.
Engines consume that output and never re-check versions or field ranges.

:func:`verify_local` is the deploy-time ``LocalVerifier`` (v3+ only: unknown static
syscalls and ``call -1``), which needs the syscall registry.

Like the reference, fields an instruction does not use are not required to be zero.
"""

from __future__ import annotations

from .errors import (
    CannotWriteR10Error, DivisionByZeroError, IncompleteLDDWError, InvalidDestinationRegisterError,
    InvalidFunctionError, InvalidRegisterError, InvalidSourceRegisterError, InvalidSyscallError,
    JumpOutOfCodeError, JumpToMiddleOfLDDWError, LDDWCannotBeLastError, NoProgramError,
    ProgramLengthNotMultipleError, ShiftWithOverflowError, UnalignedImmediateError,
    UnknownOpCodeError, UnsupportedLEBEArgumentError,
)
from .isa import (
    CALL_IMM_OPCODE, FRAME_PTR_REG, INSN_SIZE, LDDW_OPCODE, Insn, VerifyRule, decode_program,
    decode_slot, decode_table,
)
from .syscalls import SyscallRegistry
from .versions import SBPFVersion

__all__ = ["verify", "verify_local"]

_U64 = 1 << 64


def verify(text: bytes | bytearray | memoryview,
           version: SBPFVersion) -> tuple[Insn | None, ...]:
    """Verify ``text`` for ``version`` and return its decoded slots (indexed by pc).

    Raises:
        VerifierError: the first violation (a subclass named after the reference variant,
            carrying the slot ``pc``).
    """
    if len(text) % INSN_SIZE:
        raise ProgramLengthNotMultipleError()
    if not text:
        raise NoProgramError()
    table = decode_table(version)
    n_slots = len(text) // INSN_SIZE
    pc = 0
    while pc < n_slots:
        opc, dst, src, off, imm = decode_slot(text, pc)
        spec = table[opc]
        if spec is None:
            raise UnknownOpCodeError(opc, pc)
        rule = spec.rule
        if rule is VerifyRule.LDDW:
            if pc + 1 >= n_slots:
                raise LDDWCannotBeLastError(pc)
            if decode_slot(text, pc + 1)[0] != 0:
                raise IncompleteLDDWError(pc)
            pc += 1  # the register check below reports the second slot (reference quirk)
        elif rule is VerifyRule.DIV_IMM_NONZERO:
            if imm == 0:
                raise DivisionByZeroError(pc)
        elif rule is VerifyRule.SHIFT_IMM:
            if imm < 0 or imm >= spec.width:
                raise ShiftWithOverflowError(imm % _U64, spec.width, pc)
        elif rule is VerifyRule.ENDIAN_IMM:
            if imm not in (16, 32, 64):
                raise UnsupportedLEBEArgumentError(pc)
        elif rule is VerifyRule.STACK_BUMP:
            if dst == FRAME_PTR_REG and imm & 63:
                raise UnalignedImmediateError(pc)
        elif rule is VerifyRule.JUMP:
            target = pc + 1 + off
            if not 0 <= target < n_slots:
                raise JumpOutOfCodeError(target % _U64, pc)
            if decode_slot(text, target)[0] == 0:
                raise JumpToMiddleOfLDDWError(target, pc)
        elif rule is VerifyRule.CALLX_REG:
            reg = {"imm": imm, "src": src, "dst": dst}[spec.callx_reg_field]
            if not 0 <= reg < 10:
                raise InvalidRegisterError(pc)
        # Register check (every instruction).
        if src > 10:
            raise InvalidSourceRegisterError(pc)
        if dst == 10:
            if not spec.dst_may_be_r10:
                raise CannotWriteR10Error(pc)
        elif dst > 10:
            raise InvalidDestinationRegisterError(pc)
        pc += 1
    return decode_program(text, version)


def verify_local(text: bytes | bytearray | memoryview, version: SBPFVersion,
                 syscalls: SyscallRegistry) -> None:
    """The deploy-time ``LocalVerifier`` (v3+): static syscalls must exist and
    ``call -1`` (an unrelocated internal call) is rejected. Earlier versions pass.

    Raises:
        InvalidSyscallError, InvalidFunctionError.
    """
    if not version.static_syscalls:
        return
    n_slots = len(text) // INSN_SIZE
    pc = 0
    while pc < n_slots:
        opc, _dst, src, _off, imm = decode_slot(text, pc)
        if opc == LDDW_OPCODE:
            pc += 1
        elif opc == CALL_IMM_OPCODE:
            if src == 0 and (imm & 0xFFFF_FFFF) not in syscalls:
                raise InvalidSyscallError(imm & 0xFFFF_FFFF, pc)
            if src == 1 and imm == -1:
                raise InvalidFunctionError(pc)
        pc += 1

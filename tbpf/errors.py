"""The one exception hierarchy of TBPF (SBPF_SPEC section 6).

Every error a guest program, an ELF file, an assembly text or a contract can provoke is a
:class:`TBPFError` with a ``kind`` (the reference VM's name for it, e.g.
``"DivideByZero"``, ``"WrongMachine"``, ``"JumpOutOfCode"``) and, where it has one, a
``pc`` (an instruction-slot index, never a byte offset)::

    TBPFError
    ├── AssemblerError          bad assembly text (line, column, token)
    ├── ELFError                the loader and linker; wraps pyelftools/struct errors
    │   └── one subclass per reference ElfError variant (kind = variant name)
    ├── VerifierError           static rejection, always with .pc
    │   └── one subclass per reference VerifierError variant
    ├── ProgramFault            guest-visible runtime fault, identical from both engines
    │   └── AccessViolationError, StackAccessViolationError, DivideByZeroError, ...
    ├── ContractError           the TOS contract runtime (deploy/invoke/serialization)
    │   └── ModuleFormatError, InvalidContractError, StateError, ... (tbpf.runtime)
    ├── JITError                the JIT could not compile (a TBPF limitation)
    └── InternalError           an invariant broke: a TBPF bug; tests never expect it

:class:`FaultCode` numbers every :class:`ProgramFault` subclass with the reference
``EbpfError`` discriminant; the JIT's native code returns these numbers and
``jit`` maps them back through :func:`fault_class`.

This module imports nothing from the rest of TBPF.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = [
    "TBPFError", "AssemblerError", "ELFError", "ElfError", "VerifierError", "ProgramFault",
    "ContractError", "JITError", "InternalError", "FaultCode", "fault_class",
    "AccessType",
    # program faults
    "CallDepthExceededError", "DivideByZeroError", "DivideOverflowError",
    "ExecutionOverrunError", "CallOutsideTextSegmentError", "ExceededMaxInstructionsError",
    "AccessViolationError", "StackAccessViolationError", "InvalidInstructionError",
    "UnsupportedInstructionError", "SyscallError",
    # verifier
    "ProgramLengthNotMultipleError", "NoProgramError", "DivisionByZeroError",
    "UnsupportedLEBEArgumentError", "LDDWCannotBeLastError", "IncompleteLDDWError",
    "JumpOutOfCodeError", "JumpToMiddleOfLDDWError", "InvalidSourceRegisterError",
    "CannotWriteR10Error", "InvalidDestinationRegisterError", "UnknownOpCodeError",
    "ShiftWithOverflowError", "InvalidRegisterError", "UnalignedImmediateError",
    "InvalidFunctionError", "InvalidSyscallError",
    # elf
    "FailedToParseError", "EntrypointOutOfBoundsError", "InvalidEntrypointError",
    "UnresolvedSymbolError", "SectionNotFoundError", "RelativeJumpOutOfBoundsError",
    "SymbolHashCollisionError", "WrongEndianessError", "WrongAbiError", "WrongMachineError",
    "WrongClassError", "WrongTypeError", "NotOneTextSectionError",
    "WritableSectionNotSupportedError", "InvalidVirtualAddressError",
    "UnknownRelocationError", "UnknownSymbolError", "ValueOutOfBoundsError",
    "UnsupportedSBPFVersionError", "InvalidProgramHeaderError", "ProgramTooLargeError",
    "LinkError", "UnsupportedRelocationError", "UndefinedSymbolError",
    # contract runtime
    "ModuleFormatError", "UnknownDiscriminatorError", "TruncatedPayloadError",
    "PayloadTooLargeError", "TrailingBytesError", "InvalidFlagError", "InvalidEntryNameError",
    "InvalidContractError", "ContractTooLargeError", "TosVMNotConfiguredError",
    "TosVMDeployDisabledError", "UnknownContractError", "UnknownEntryPointError",
    "InvalidTransactionError", "InsufficientFundsError", "StateError", "SchemaVersionError",
    # contract builds (tbpf build)
    "BuildError", "ClangNotFoundError",
]


class TBPFError(Exception):
    """Base of every error TBPF raises on purpose.

    Attributes:
        kind: the reference VM's name for this error (stable, machine-readable).
        pc: instruction-slot index where it happened, or ``None`` if it has none.
    """

    kind: ClassVar[str] = "TBPFError"

    def __init__(self, message: str, *, pc: int | None = None) -> None:
        super().__init__(message)
        self.pc = pc

    @property
    def message(self) -> str:
        """The human-readable message, without the pc prefix."""
        return str(self.args[0]) if self.args else self.kind

    def __str__(self) -> str:
        if self.pc is None:
            return self.message
        return f"{self.message} (at pc {self.pc})"

    def to_json(self) -> dict[str, object]:
        """The ``{"kind", "pc", "message"}`` object the CLI prints with ``--json``."""
        return {"kind": self.kind, "pc": self.pc, "message": self.message}


# --------------------------------------------------------------------------------------
# Assembler
# --------------------------------------------------------------------------------------

class AssemblerError(TBPFError):
    """Assembly text that cannot be assembled; names the line, column and token."""

    kind = "AssemblerError"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 token: str | None = None) -> None:
        where = ""
        if line is not None:
            where = f"line {line}" + (f", column {column}" if column is not None else "")
            if token:
                where += f" ({token!r})"
            where += ": "
        super().__init__(where + message)
        self.reason = message
        self.line = line
        self.column = column
        self.token = token


# --------------------------------------------------------------------------------------
# ELF loader / linker (SBPF_SPEC 6.3)
# --------------------------------------------------------------------------------------

class ELFError(TBPFError):
    """The ELF file cannot be loaded (or linked). ``kind`` names the reference variant."""

    kind = "ElfError"


ElfError = ELFError  # the spelling used by the issues and the reference VM


class FailedToParseError(ELFError):
    """Structural parser rejection, e.g. ``invalid file header``."""

    kind = "FailedToParse"

    def __init__(self, detail: str) -> None:
        super().__init__(f"Failed to parse ELF file: {detail}")
        self.detail = detail


class EntrypointOutOfBoundsError(ELFError):
    """``e_entry`` is outside ``.text``."""

    kind = "EntrypointOutOfBounds"

    def __init__(self, message: str = "Entrypoint out of bounds") -> None:
        super().__init__(message)


class InvalidEntrypointError(ELFError):
    """``e_entry`` is not slot-aligned within ``.text``."""

    kind = "InvalidEntrypoint"

    def __init__(self, message: str = "Invalid entrypoint") -> None:
        super().__init__(message)


class UnresolvedSymbolError(ELFError):
    """A syscall relocation names a syscall that is not registered (deploy-time check)."""

    kind = "UnresolvedSymbol"

    def __init__(self, name: str, pc: int, file_offset: int) -> None:
        super().__init__(f"Unresolved symbol ({name}) at instruction #{pc} "
                         f"(ELF file offset {file_offset:#x})", pc=None)
        self.name = name
        self.slot = pc
        self.file_offset = file_offset


class SectionNotFoundError(ELFError):
    """A required section is missing."""

    kind = "SectionNotFound"

    def __init__(self, name: str) -> None:
        super().__init__(f"Section not found: {name}")


class RelativeJumpOutOfBoundsError(ELFError):
    """A relative ``call`` targets a slot outside ``.text``."""

    kind = "RelativeJumpOutOfBounds"

    def __init__(self, pc: int) -> None:
        super().__init__(f"Relative jump out of bounds at instruction #{pc}", pc=pc)


class SymbolHashCollisionError(ELFError):
    """Two functions (or a function and a syscall) hash to the same key."""

    kind = "SymbolHashCollision"

    def __init__(self, key: int) -> None:
        super().__init__(f"Symbol hash collision {key:#x}")
        self.key = key


class WrongEndianessError(ELFError):
    """Not little endian."""

    kind = "WrongEndianess"

    def __init__(self) -> None:
        super().__init__("Incompatible ELF: wrong endianess")


class WrongAbiError(ELFError):
    """``EI_OSABI`` is not 0."""

    kind = "WrongAbi"

    def __init__(self) -> None:
        super().__init__("Incompatible ELF: wrong ABI")


class WrongMachineError(ELFError):
    """``e_machine`` is not EM_BPF (247) or EM_SBPF (263)."""

    kind = "WrongMachine"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Incompatible ELF: wrong machine" + (f" ({detail})" if detail else ""))


class WrongClassError(ELFError):
    """Not a 64-bit ELF."""

    kind = "WrongClass"

    def __init__(self) -> None:
        super().__init__("Incompatible ELF: wrong class")


class WrongTypeError(ELFError):
    """``e_type`` is not ET_DYN (or ET_REL for the linker)."""

    kind = "WrongType"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Incompatible ELF: wrong type" + (f" ({detail})" if detail else ""))


class NotOneTextSectionError(ELFError):
    """Zero or several sections named ``.text``."""

    kind = "NotOneTextSection"

    def __init__(self) -> None:
        super().__init__("Multiple or no text sections, consider removing llc option: "
                         "-function-sections")


class WritableSectionNotSupportedError(ELFError):
    """sBPF programs have no writable globals (``.data``/``.bss``)."""

    kind = "WritableSectionNotSupported"

    def __init__(self, name: str, hint: str = "") -> None:
        super().__init__(f"Found writable section ({name}) in ELF, read-write data not "
                         f"supported" + (f": {hint}" if hint else ""))
        self.section = name


class InvalidVirtualAddressError(ELFError):
    """A relocation references virtual address 0 (or another invalid one)."""

    kind = "InvalidVirtualAddress"

    def __init__(self, address: int) -> None:
        super().__init__(f"Relocation failed, invalid referenced virtual address {address:#x}")
        self.address = address


class UnknownRelocationError(ELFError):
    """A relocation type the loader does not implement."""

    kind = "UnknownRelocation"

    def __init__(self, rel_type: int) -> None:
        super().__init__(f"Relocation failed, unknown type {rel_type}")
        self.rel_type = rel_type


class UnknownSymbolError(ELFError):
    """A relocation references a missing or unreadable symbol."""

    kind = "UnknownSymbol"

    def __init__(self, index: int) -> None:
        super().__init__(f"Unknown symbol with index {index}")
        self.index = index


class ValueOutOfBoundsError(ELFError):
    """An offset, size or value points outside the file or a section."""

    kind = "ValueOutOfBounds"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Offset or value is out of bounds" + (f" ({detail})" if detail else ""))


class UnsupportedSBPFVersionError(ELFError):
    """``e_flags`` selects a version that is not enabled in the config."""

    kind = "UnsupportedSBPFVersion"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Detected sbpf_version required by the executable which are not "
                         "enabled" + (f" ({detail})" if detail else ""))


class InvalidProgramHeaderError(ELFError):
    """A program header violates the loader's rules."""

    kind = "InvalidProgramHeader"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Invalid ELF program header" + (f" ({detail})" if detail else ""))


class ProgramTooLargeError(ELFError):
    """The file is over the configured size cap (checked before parsing)."""

    kind = "ProgramTooLarge"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"ELF file is {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class LinkError(ELFError):
    """TBPF's linker cannot turn the given objects into an sBPF executable."""

    kind = "LinkError"


class UnsupportedRelocationError(LinkError):
    """A relocatable object uses a relocation the linker cannot express in sBPF."""

    kind = "UnsupportedRelocation"

    def __init__(self, rel_type: int, detail: str) -> None:
        super().__init__(f"unsupported relocation type {rel_type}: {detail}")
        self.rel_type = rel_type


class UndefinedSymbolError(LinkError):
    """A data reference (not a call) names a symbol no object defines."""

    kind = "UndefinedSymbol"

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(f"undefined symbol `{name}`" + (f": {detail}" if detail else ""))
        self.name = name


# --------------------------------------------------------------------------------------
# Verifier (SBPF_SPEC 7)
# --------------------------------------------------------------------------------------

class VerifierError(TBPFError):
    """The verifier rejected the program. ``pc`` is the offending slot."""

    kind = "VerifierError"

    def __init__(self, message: str, *, pc: int | None = None) -> None:
        super().__init__(message, pc=pc)

    def __str__(self) -> str:
        # The reference display texts already contain "(insn #pc)".
        return self.message


class ProgramLengthNotMultipleError(VerifierError):
    """Text length is not a multiple of 8."""

    kind = "ProgramLengthNotMultiple"

    def __init__(self) -> None:
        super().__init__("program length must be a multiple of 8 octets")


class NoProgramError(VerifierError):
    """Empty text."""

    kind = "NoProgram"

    def __init__(self) -> None:
        super().__init__("no program set, call prog_set() to load one")


class DivisionByZeroError(VerifierError):
    """Division or remainder by the immediate 0."""

    kind = "DivisionByZero"

    def __init__(self, pc: int) -> None:
        super().__init__(f"division by 0 (insn #{pc})", pc=pc)


class UnsupportedLEBEArgumentError(VerifierError):
    """``le``/``be`` with a width other than 16, 32, 64."""

    kind = "UnsupportedLEBEArgument"

    def __init__(self, pc: int) -> None:
        super().__init__(f"unsupported argument for LE/BE (insn #{pc})", pc=pc)


class LDDWCannotBeLastError(VerifierError):
    """``lddw`` in the last slot."""

    kind = "LDDWCannotBeLast"

    def __init__(self, pc: int) -> None:
        super().__init__("LD_DW instruction cannot be last in program", pc=pc)


class IncompleteLDDWError(VerifierError):
    """The second slot of ``lddw`` has a non-zero opcode."""

    kind = "IncompleteLDDW"

    def __init__(self, pc: int) -> None:
        super().__init__(f"incomplete LD_DW instruction (insn #{pc})", pc=pc)


class JumpOutOfCodeError(VerifierError):
    """A jump targets a slot outside the text."""

    kind = "JumpOutOfCode"

    def __init__(self, target: int, pc: int) -> None:
        super().__init__(f"jump out of code to #{target} (insn #{pc})", pc=pc)
        self.target = target


class JumpToMiddleOfLDDWError(VerifierError):
    """A jump targets a slot whose opcode byte is 0 (the tail of an ``lddw``)."""

    kind = "JumpToMiddleOfLDDW"

    def __init__(self, target: int, pc: int) -> None:
        super().__init__(f"jump to middle of LD_DW at #{target} (insn #{pc})", pc=pc)
        self.target = target


class InvalidSourceRegisterError(VerifierError):
    """``src`` > 10."""

    kind = "InvalidSourceRegister"

    def __init__(self, pc: int) -> None:
        super().__init__(f"invalid source register (insn #{pc})", pc=pc)


class CannotWriteR10Error(VerifierError):
    """The instruction would write the frame pointer."""

    kind = "CannotWriteR10"

    def __init__(self, pc: int) -> None:
        super().__init__(f"cannot write into register r10 (insn #{pc})", pc=pc)


class InvalidDestinationRegisterError(VerifierError):
    """``dst`` > 10."""

    kind = "InvalidDestinationRegister"

    def __init__(self, pc: int) -> None:
        super().__init__(f"invalid destination register (insn #{pc})", pc=pc)


class UnknownOpCodeError(VerifierError):
    """An opcode that is not valid for the program's version."""

    kind = "UnknownOpCode"

    def __init__(self, opc: int, pc: int) -> None:
        super().__init__(f"unknown eBPF opcode {opc:#x} (insn #{pc})", pc=pc)
        self.opc = opc


class ShiftWithOverflowError(VerifierError):
    """Shift by an immediate outside ``[0, width)``."""

    kind = "ShiftWithOverflow"

    def __init__(self, amount: int, width: int, pc: int) -> None:
        super().__init__(f"Shift with overflow of {amount}-bit value by {width} (insn #{pc})",
                         pc=pc)
        self.amount = amount
        self.width = width


class InvalidRegisterError(VerifierError):
    """``callx`` names a register outside r0..r9."""

    kind = "InvalidRegister"

    def __init__(self, pc: int) -> None:
        super().__init__(f"Invalid register specified at instruction {pc}", pc=pc)


class UnalignedImmediateError(VerifierError):
    """``add64 r10, imm`` with ``imm`` not a multiple of 64 (v1/v2)."""

    kind = "UnalignedImmediate"

    def __init__(self, pc: int) -> None:
        super().__init__(f"Unaligned immediate (insn #{pc})", pc=pc)


class InvalidFunctionError(VerifierError):
    """Deploy-time (LocalVerifier, v3+): ``call`` src=1 with ``imm == -1``."""

    kind = "InvalidFunction"

    def __init__(self, pc: int) -> None:
        super().__init__(f"Invalid function at instruction {pc}", pc=pc)


class InvalidSyscallError(VerifierError):
    """Deploy-time (LocalVerifier, v3+): ``call`` src=0 with an unregistered hash."""

    kind = "InvalidSyscall"

    def __init__(self, key: int, pc: int) -> None:
        super().__init__(f"Invalid syscall code {key}", pc=pc)
        self.key = key

    def __str__(self) -> str:
        return f"{self.message} (insn #{self.pc})"


# --------------------------------------------------------------------------------------
# Runtime faults (SBPF_SPEC 6.1)
# --------------------------------------------------------------------------------------

class FaultCode(IntEnum):
    """Numeric code of each :class:`ProgramFault`; equals the reference ``EbpfError`` index."""

    CALL_DEPTH_EXCEEDED = 2
    DIVIDE_BY_ZERO = 4
    DIVIDE_OVERFLOW = 5
    EXECUTION_OVERRUN = 6
    CALL_OUTSIDE_TEXT_SEGMENT = 7
    EXCEEDED_MAX_INSTRUCTIONS = 8
    ACCESS_VIOLATION = 11
    STACK_ACCESS_VIOLATION = 12
    INVALID_INSTRUCTION = 13
    UNSUPPORTED_INSTRUCTION = 14
    SYSCALL_ERROR = 18


class AccessType(IntEnum):
    """Kind of a memory access (reference ``AccessType``)."""

    LOAD = 0
    STORE = 1

    @property
    def label(self) -> str:
        """``"Load"`` or ``"Store"``, as the reference prints it."""
        return "Load" if self is AccessType.LOAD else "Store"


class ProgramFault(TBPFError):
    """A fault raised by the guest program at run time; both engines raise the same one.

    ``pc`` is the slot of the faulting instruction (filled in by the engine).
    """

    kind = "ProgramFault"
    code: ClassVar[FaultCode]

    def __init__(self, message: str, *, pc: int | None = None) -> None:
        super().__init__(message, pc=pc)

    def details(self) -> tuple[object, ...]:
        """Extra payload that must be equal across engines (address, size, ...)."""
        return ()

    def __eq__(self, other: object) -> bool:
        return (type(self) is type(other) and self.pc == other.pc  # type: ignore[attr-defined]
                and self.details() == other.details())  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.pc, self.details()))


class CallDepthExceededError(ProgramFault):
    """More than ``max_call_depth - 1`` nested calls."""

    kind = "CallDepthExceeded"
    code = FaultCode.CALL_DEPTH_EXCEEDED

    def __init__(self, max_call_depth: int = 64, *, pc: int | None = None) -> None:
        super().__init__(f"exceeded max BPF to BPF call depth of {max_call_depth} frames", pc=pc)


class DivideByZeroError(ProgramFault):
    """Division or remainder by a zero register."""

    kind = "DivideByZero"
    code = FaultCode.DIVIDE_BY_ZERO

    def __init__(self, *, pc: int | None = None) -> None:
        super().__init__("divide by zero at BPF instruction", pc=pc)


class DivideOverflowError(ProgramFault):
    """Signed division or remainder of MIN by -1 (v2 PQR)."""

    kind = "DivideOverflow"
    code = FaultCode.DIVIDE_OVERFLOW

    def __init__(self, *, pc: int | None = None) -> None:
        super().__init__("division overflow at BPF instruction", pc=pc)


class ExecutionOverrunError(ProgramFault):
    """Execution ran past the last slot of the text (pc = the slot past the end)."""

    kind = "ExecutionOverrun"
    code = FaultCode.EXECUTION_OVERRUN

    def __init__(self, *, pc: int | None = None) -> None:
        super().__init__("attempted to execute past the end of the text segment at BPF "
                         "instruction", pc=pc)


class CallOutsideTextSegmentError(ProgramFault):
    """``callx`` to an address outside the text."""

    kind = "CallOutsideTextSegment"
    code = FaultCode.CALL_OUTSIDE_TEXT_SEGMENT

    def __init__(self, target_vm_addr: int | None = None, *, pc: int | None = None) -> None:
        extra = f" (target address {target_vm_addr:#x})" if target_vm_addr is not None else ""
        super().__init__("callx attempted to call outside of the text segment" + extra, pc=pc)


class ExceededMaxInstructionsError(ProgramFault):
    """The compute budget ran out; ``pc`` is the first instruction that could not be paid."""

    kind = "ExceededMaxInstructions"
    code = FaultCode.EXCEEDED_MAX_INSTRUCTIONS

    def __init__(self, *, pc: int | None = None) -> None:
        super().__init__("exceeded CUs meter at BPF instruction", pc=pc)


class AccessViolationError(ProgramFault):
    """A load or store outside every mapped region, or a store to a read-only one."""

    kind = "AccessViolation"
    code = FaultCode.ACCESS_VIOLATION

    def __init__(self, access: AccessType, vm_addr: int, size: int, region: str, *,
                 pc: int | None = None) -> None:
        verb = "reading" if access is AccessType.LOAD else "writing"
        super().__init__(f"Access violation {verb} {size} bytes at address {vm_addr:#x} "
                         f"(in {region} region)", pc=pc)
        self.access = access
        self.vm_addr = vm_addr
        self.size = size
        self.region = region

    def details(self) -> tuple[object, ...]:
        return (self.access.label, self.vm_addr, self.size, self.region)


class StackAccessViolationError(ProgramFault):
    """A failing access in the stack window; ``frame`` is the 4 KiB slot index."""

    kind = "StackAccessViolation"
    code = FaultCode.STACK_ACCESS_VIOLATION

    def __init__(self, access: AccessType, vm_addr: int, size: int, frame: int, *,
                 pc: int | None = None) -> None:
        verb = "reading" if access is AccessType.LOAD else "writing"
        super().__init__(f"Access violation in stack frame {frame} at address {vm_addr:#x} "
                         f"of size {size} ({verb})", pc=pc)
        self.access = access
        self.vm_addr = vm_addr
        self.size = size
        self.frame = frame

    def details(self) -> tuple[object, ...]:
        return (self.access.label, self.vm_addr, self.size, self.frame)


class InvalidInstructionError(ProgramFault):
    """A malformed instruction reached execution (cannot happen after verification)."""

    kind = "InvalidInstruction"
    code = FaultCode.INVALID_INSTRUCTION

    def __init__(self, *, pc: int | None = None) -> None:
        super().__init__("invalid BPF instruction", pc=pc)


class UnsupportedInstructionError(ProgramFault):
    """An invalid slot (e.g. the tail of ``lddw``) executed, or an unresolved ``call``."""

    kind = "UnsupportedInstruction"
    code = FaultCode.UNSUPPORTED_INSTRUCTION

    def __init__(self, detail: str = "", *, pc: int | None = None) -> None:
        super().__init__("unsupported BPF instruction" + (f" ({detail})" if detail else ""),
                         pc=pc)


class SyscallError(ProgramFault):
    """A syscall failed; ``inner_kind`` names why (e.g. ``Abort``,
    ``ComputationalBudgetExceeded``, ``AccessViolation``, ``InvalidString``)."""

    kind = "SyscallError"
    code = FaultCode.SYSCALL_ERROR

    def __init__(self, inner_kind: str, detail: str = "", *, syscall: str | None = None,
                 pc: int | None = None) -> None:
        name = f" in {syscall}" if syscall else ""
        super().__init__(f"Syscall error{name}: {inner_kind}" + (f": {detail}" if detail else ""),
                         pc=pc)
        self.inner_kind = inner_kind
        self.detail = detail
        self.syscall = syscall

    def details(self) -> tuple[object, ...]:
        return (self.inner_kind, self.detail, self.syscall)


_FAULT_CLASSES: dict[FaultCode, type[ProgramFault]] = {
    cls.code: cls for cls in (
        CallDepthExceededError, DivideByZeroError, DivideOverflowError,
        ExecutionOverrunError, CallOutsideTextSegmentError, ExceededMaxInstructionsError,
        AccessViolationError, StackAccessViolationError, InvalidInstructionError,
        UnsupportedInstructionError, SyscallError,
    )
}


def fault_class(code: int) -> type[ProgramFault]:
    """Map a :class:`FaultCode` number back to its :class:`ProgramFault` subclass.

    Raises:
        InternalError: for a number that is not a fault code (a JIT bug).
    """
    try:
        return _FAULT_CLASSES[FaultCode(code)]
    except (ValueError, KeyError):
        raise InternalError(f"unknown fault code {code}") from None


# --------------------------------------------------------------------------------------
# Contract runtime, JIT, internal
# --------------------------------------------------------------------------------------

class ContractError(TBPFError):
    """The TOS contract runtime refused a deploy, an invoke or a payload."""

    kind = "ContractError"


# --- contract module wire format (tbpf.runtime.module) ---------------------------------

class ModuleFormatError(ContractError):
    """A serialized contract module or deploy payload is malformed."""

    kind = "ModuleFormat"


class UnknownDiscriminatorError(ModuleFormatError):
    """The leading u8 names no known module kind."""

    kind = "UnknownDiscriminator"

    def __init__(self, value: int) -> None:
        super().__init__(f"unknown contract module discriminator {value}")
        self.value = value


class TruncatedPayloadError(ModuleFormatError):
    """The payload ends before a field is complete."""

    kind = "TruncatedPayload"

    def __init__(self, what: str, needed: int, available: int) -> None:
        super().__init__(f"truncated payload: {what} needs {needed} bytes, "
                         f"{available} left")
        self.what = what
        self.needed = needed
        self.available = available


class PayloadTooLargeError(ModuleFormatError):
    """A length prefix (or the whole payload) is over its limit."""

    kind = "PayloadTooLarge"

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} is {size} bytes, over the limit of {limit} bytes")
        self.what = what
        self.size = size
        self.limit = limit


class TrailingBytesError(ModuleFormatError):
    """Bytes remain after a complete payload."""

    kind = "TrailingBytes"

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} trailing bytes after the payload")
        self.count = count


class InvalidFlagError(ModuleFormatError):
    """An option flag byte is neither 0 nor 1."""

    kind = "InvalidFlag"

    def __init__(self, what: str, value: int) -> None:
        super().__init__(f"invalid {what} flag {value} (expected 0 or 1)")
        self.value = value


class InvalidEntryNameError(ModuleFormatError):
    """An entry-point name is empty, too long or not UTF-8."""

    kind = "InvalidEntryName"


# --- deploy / invoke (tbpf.runtime) ----------------------------------------------------

class InvalidContractError(ContractError):
    """Deploy-time validation failed (ELF loader, verifier, assembler, unknown syscall).

    ``cause`` is the underlying :class:`TBPFError` when there is one.
    """

    kind = "InvalidContract"

    def __init__(self, message: str, cause: TBPFError | None = None) -> None:
        detail = f"{message}: {cause.kind}: {cause}" if cause is not None else message
        super().__init__(detail)
        self.cause = cause


class ContractTooLargeError(ContractError):
    """The contract's code is over the deploy size limit."""

    kind = "ContractTooLarge"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"contract code is {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class TosVMNotConfiguredError(ContractError):
    """A TosVM module needs an executor and none is configured."""

    kind = "TosVMNotConfigured"

    def __init__(self) -> None:
        super().__init__("TosVM executor not configured")


class TosVMDeployDisabledError(ContractError):
    """New TosVM deployments are rejected from the activation height on."""

    kind = "TosVMDeployDisabled"

    def __init__(self, height: int, activation_height: int) -> None:
        super().__init__(f"TosVM deploys are disabled from height {activation_height} "
                         f"(block {height})")
        self.height = height
        self.activation_height = activation_height


class UnknownContractError(ContractError):
    """No contract is deployed under that hash."""

    kind = "UnknownContract"

    def __init__(self, contract_hash: bytes) -> None:
        super().__init__(f"no contract {contract_hash.hex()}")
        self.contract_hash = contract_hash


class UnknownEntryPointError(ContractError):
    """The contract exports no function of that name."""

    kind = "UnknownEntryPoint"

    def __init__(self, name: str) -> None:
        super().__init__(f"no entry point named {name!r}")
        self.name = name


class InvalidTransactionError(ContractError):
    """A transaction's fields are unusable (gas limit, deposits, sizes)."""

    kind = "InvalidTransaction"


class InsufficientFundsError(InvalidTransactionError):
    """The sender cannot pay a deposit."""

    kind = "InsufficientFunds"


class StateError(ContractError):
    """The state database cannot be used (corrupt, locked, unreadable)."""

    kind = "StateError"


class SchemaVersionError(StateError):
    """The state database has a schema this TBPF cannot migrate."""

    kind = "SchemaVersion"

    def __init__(self, found: int, expected: int) -> None:
        super().__init__(f"state database schema version {found}, this TBPF supports "
                         f"up to {expected}")
        self.found = found
        self.expected = expected


# --------------------------------------------------------------------------------------
# Building contracts from C (tbpf.build)
# --------------------------------------------------------------------------------------

class BuildError(TBPFError):
    """A contract could not be built from source (clang failed, or its output does not
    link or load); the message says why, clang's own diagnostics are in ``stderr``."""

    kind = "BuildError"

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class ClangNotFoundError(BuildError):
    """No clang with a BPF target was found; the message says how to install one."""

    kind = "ClangNotFound"


class JITError(TBPFError):
    """The JIT could not compile or run a program (a TBPF limitation, not a guest fault)."""

    kind = "JITError"


class InternalError(TBPFError):
    """An internal invariant broke. This is always a TBPF bug; please report it."""

    kind = "InternalError"

"""Solana programs run the way Agave runs one top-level instruction (SBPF_SPEC 5.3, 10, 11).

:func:`invoke` owns everything the Solana runtime does around the VM:

1. **serialization** of the instruction's accounts (duplicates as back references), its
   data and the program id into the input region (SBPF_SPEC 10.1, the aligned layout of
   the upgradeable and v2 loaders; 10.2 for the deprecated loader); r1 =
   ``0x4_0000_0000`` and r2 = the VM address of the instruction data (SIMD-0321);
2. the **heap cost** charged before the VM exists (``8`` CUs per 32 KiB page beyond the
   first); when it cannot be paid the VM is never created
   (``ProgramEnvironmentSetupFailure``);
3. the **run**, on either engine, with the core Solana syscalls of
   :mod:`tbpf.syscalls` plus ``sol_alloc_free_`` (registered for execution by Agave) and
   a typed refusal of cross-program invocation;
4. the **result**: r0 converted to an instruction error (SBPF_SPEC 10.4), a syscall
   failure or a VM fault turned into Agave's message, the compute meter depleted after a
   VM fault that is not a syscall error (SBPF_SPEC 5.3);
5. **deserialization** after a successful run with Agave's account rules (lamports,
   data length within ``MAX_PERMITTED_DATA_INCREASE`` else ``InvalidRealloc``, data,
   owner; read-only, foreign and executable accounts may not change), then the
   instruction's lamport balance (``UnbalancedInstruction``);
6. the **log** exactly as Agave's log collector writes it (``Program <id> invoke [1]``,
   the program's lines, ``consumed <n> of <m> compute units``, ``Program return: ...``,
   ``success`` / ``failed: <message>``), including its 10,000-byte limit
   (``Log truncated``).

Not modelled (see ``docs/solana.md``): cross-program invocation, the transaction around
the instruction (fees, signatures, rent-state transitions, compute-budget instructions),
the ``virtual_address_space_adjustments`` / direct-mapping input layout, and the
syscalls outside :func:`solana_runtime_syscalls`.

This module is core: it imports no engine at module level (engines are named).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from .arith import U64_MASK
from .config import DEFAULT_BUDGET, DEFAULT_HEAP_SIZE, MAX_HEAP_SIZE, Config
from .errors import ProgramFault, SyscallError
from .executable import Executable
from .hashing import base58_encode
from .memory import MM_INPUT_START
from .syscalls import (
    SyscallContext, SyscallRegistry, sol_alloc_free, sol_invoke_signed_unsupported,
    solana_syscalls,
)
from .vm import Engine, build_memory, get_engine, initial_state

__all__ = [
    "Account", "AccountMeta", "KeyedAccount", "Clock", "Rent", "InstructionError",
    "InvokeResult", "invoke", "load_solana_program", "solana_runtime_syscalls",
    "serialize_parameters", "SerializedInput", "deserialize_parameters", "heap_cost",
    "instruction_error_from_return", "ebpf_error_message", "syscall_error_message",
    "pubkey", "pubkey_str", "LogCollector", "solana_config",
    "SYSTEM_PROGRAM_ID", "BPF_LOADER_UPGRADEABLE_ID", "BPF_LOADER_ID",
    "BPF_LOADER_DEPRECATED_ID", "DEFAULT_PROGRAM_ID", "MAX_PERMITTED_DATA_INCREASE",
    "MAX_PERMITTED_DATA_LENGTH", "MAX_ACCOUNTS_PER_INSTRUCTION", "NON_DUP_MARKER",
    "HEAP_PAGE_SIZE", "HEAP_COST_PER_PAGE", "LOG_BYTES_LIMIT", "INSTRUCTION_ERROR_TEXT",
    "ACCOUNT_STORAGE_OVERHEAD", "rent_minimum_balance", "rent_state", "rent_transition_allowed",
]

# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def pubkey(value: "str | bytes | bytearray") -> bytes:
    """A 32-byte public key from its base58 text or its raw bytes.

    >>> pubkey("11111111111111111111111111111111") == bytes(32)
    True
    >>> pubkey("0OIl")
    Traceback (most recent call last):
    ...
    ValueError: not a base58 public key: '0OIl'

    Raises:
        ValueError: not 32 bytes, or not base58.
    """
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 32:
            raise ValueError(f"a public key is 32 bytes, not {len(value)}")
        return bytes(value)
    n = 0
    try:
        for char in value:
            n = n * 58 + _B58_INDEX[char]
    except KeyError:
        raise ValueError(f"not a base58 public key: {value!r}") from None
    zeros = len(value) - len(value.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    raw = bytes(zeros) + body
    if len(raw) != 32:
        raise ValueError(f"not a base58 public key: {value!r} ({len(raw)} bytes)")
    return raw


def pubkey_str(key: bytes) -> str:
    """The base58 text of a 32-byte key (how Solana prints it)."""
    return base58_encode(key)


SYSTEM_PROGRAM_ID = bytes(32)
"""``11111111111111111111111111111111``: owner of accounts nobody has assigned."""
BPF_LOADER_UPGRADEABLE_ID = pubkey("BPFLoaderUpgradeab1e11111111111111111111111")
"""Loader v3 (aligned input); what LiteSVM's ``add_program`` deploys with."""
BPF_LOADER_ID = pubkey("BPFLoader2111111111111111111111111111111111")
"""Loader v2 (aligned input)."""
BPF_LOADER_DEPRECATED_ID = pubkey("BPFLoader1111111111111111111111111111111111")
"""Loader v1 (unaligned input, SBPF_SPEC 10.2; syscalls do not check alignment)."""
DEFAULT_PROGRAM_ID = pubkey("TBPF111111111111111111111111111111111111111")
"""Program id :func:`invoke` uses when none is given."""

_LOADERS = {"upgradeable": BPF_LOADER_UPGRADEABLE_ID, "v2": BPF_LOADER_ID,
            "deprecated": BPF_LOADER_DEPRECATED_ID}

# --------------------------------------------------------------------------------------
# Runtime constants (Agave program-runtime, solana-program-entrypoint)
# --------------------------------------------------------------------------------------

MAX_PERMITTED_DATA_INCREASE = 10 * 1024
"""Bytes an account's data may grow by in one instruction (and the zero padding after
each account's data in the aligned layout)."""
MAX_PERMITTED_DATA_LENGTH = 10 * 1024 * 1024
"""Largest account data length."""
MAX_PERMITTED_ACCOUNTS_DATA_ALLOCATIONS_PER_TRANSACTION = 2 * MAX_PERMITTED_DATA_LENGTH
"""Net data growth a transaction may allocate (``MaxAccountsDataAllocationsExceeded``)."""
MAX_ACCOUNTS_PER_INSTRUCTION = 255
"""Instruction accounts Agave serializes (more: ``MaxAccountsExceeded``)."""
NON_DUP_MARKER = 0xFF
HEAP_PAGE_SIZE = 32 * 1024
HEAP_COST_PER_PAGE = 8
LOG_BYTES_LIMIT = 10_000
"""Agave's log collector stops after this many bytes and logs ``Log truncated`` once."""
_ALIGN = 8  # BPF_ALIGN_OF_U128: account data padding in the aligned layout


def heap_cost(heap_size: int) -> int:
    """CUs charged before the VM for ``heap_size`` bytes of heap (SBPF_SPEC 5.3).

    >>> heap_cost(32 * 1024), heap_cost(32 * 1024 + 1), heap_cost(256 * 1024)
    (0, 8, 56)
    """
    pages = (heap_size + HEAP_PAGE_SIZE - 1) // HEAP_PAGE_SIZE
    return max(pages - 1, 0) * HEAP_COST_PER_PAGE


# --------------------------------------------------------------------------------------
# Accounts and sysvars
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Account:
    """An account's state (what the accounts database holds).

    Attributes:
        lamports: balance (u64).
        data: the account's data.
        owner: 32-byte id of the owning program.
        executable: the account is a program.
        rent_epoch: stored, never serialized (Agave writes ``u64::MAX``, SBPF_SPEC 10.1).
    """

    lamports: int = 0
    data: bytes = b""
    owner: bytes = SYSTEM_PROGRAM_ID
    executable: bool = False
    rent_epoch: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.lamports <= U64_MASK:
            raise ValueError("lamports must be a u64")
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "owner", pubkey(self.owner))


@dataclass(frozen=True, slots=True)
class AccountMeta:
    """One account of an instruction, as a client names it."""

    pubkey: bytes
    is_signer: bool = False
    is_writable: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "pubkey", pubkey(self.pubkey))


@dataclass(frozen=True, slots=True)
class KeyedAccount:
    """An instruction account with its state: what :func:`invoke` takes.

    A key listed twice is a duplicate (serialized as a back reference to its first
    position); a later entry may repeat the same :class:`Account` or give ``None``.
    The runtime derives signer and writable flags per key, not per position, so the
    flags of all entries of one key are OR-ed (as a compiled message does).
    """

    pubkey: bytes
    account: Account | None
    is_signer: bool = False
    is_writable: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "pubkey", pubkey(self.pubkey))


@dataclass(frozen=True, slots=True)
class Clock:
    """The Clock sysvar (40 bytes: slot, epoch_start_timestamp, epoch,
    leader_schedule_epoch, unix_timestamp)."""

    slot: int = 0
    epoch_start_timestamp: int = 0
    epoch: int = 0
    leader_schedule_epoch: int = 0
    unix_timestamp: int = 0

    def to_bytes(self) -> bytes:
        """The sysvar's 40-byte little-endian encoding."""
        return struct.pack("<QqQQq", self.slot, self.epoch_start_timestamp, self.epoch,
                           self.leader_schedule_epoch, self.unix_timestamp)


@dataclass(frozen=True, slots=True)
class Rent:
    """The Rent sysvar. Defaults are Agave's current ones (SIMD-0194: 6960 lamports per
    byte, threshold 1.0), as the pinned oracle (solders 0.29 LiteSVM) reports them.

    ``exemption_threshold`` is kept as the raw 8 bytes of the f64 (no floats here).
    """

    lamports_per_byte: int = 6960
    exemption_threshold: bytes = bytes.fromhex("000000000000f03f")
    burn_percent: int = 50

    def to_bytes(self) -> bytes:
        """The sysvar's 24-byte encoding (u64, f64 bytes, u8, 7 bytes of padding)."""
        return (struct.pack("<Q", self.lamports_per_byte) + bytes(self.exemption_threshold)
                + bytes([self.burn_percent]) + bytes(7))


ACCOUNT_STORAGE_OVERHEAD = 128
"""Bytes of account metadata rent is charged for on top of the data."""


def rent_minimum_balance(rent: Rent, data_len: int) -> int:
    """Lamports an account with ``data_len`` bytes needs to be rent exempt (Agave's
    ``Rent::minimum_balance``: ``(128 + len) * lamports_per_byte`` times the f64
    threshold, truncated). The threshold is taken as the exact rational its 8 bytes
    encode, so no floating-point arithmetic happens here.

    >>> rent_minimum_balance(Rent(), 0), rent_minimum_balance(Rent(), 100)
    (890880, 1586880)
    """
    from fractions import Fraction
    (threshold,) = struct.unpack("<d", rent.exemption_threshold)
    product = Fraction((ACCOUNT_STORAGE_OVERHEAD + data_len) * rent.lamports_per_byte)
    return int(product * Fraction(threshold))


def rent_state(account: Account, rent: Rent) -> tuple[str, int, int]:
    """Agave's ``RentState``: ``("Uninitialized"|"RentExempt"|"RentPaying", lamports,
    data length)``."""
    if account.lamports == 0:
        return ("Uninitialized", 0, 0)
    if account.lamports >= rent_minimum_balance(rent, len(account.data)):
        return ("RentExempt", 0, 0)
    return ("RentPaying", account.lamports, len(account.data))


def rent_transition_allowed(pre: Account, post: Account, rent: Rent) -> bool:
    """Whether a transaction may leave a writable account in ``post`` after ``pre``: a
    rent-paying result is allowed only from a rent-paying start with the same data
    length and no more lamports (Agave's ``transition_allowed``); otherwise the
    transaction fails with ``InsufficientFundsForRent``."""
    kind, lamports, size = rent_state(post, rent)
    if kind != "RentPaying":
        return True
    pre_kind, pre_lamports, pre_size = rent_state(pre, rent)
    return pre_kind == "RentPaying" and size == pre_size and lamports <= pre_lamports


@dataclass
class _SolanaHost:
    """``ctx.host`` of a Solana run: what the sysvar syscalls read."""

    clock: Clock
    rent: Rent

    def clock_sysvar(self) -> bytes:
        return self.clock.to_bytes()

    def rent_sysvar(self) -> bytes:
        return self.rent.to_bytes()


# --------------------------------------------------------------------------------------
# Instruction errors
# --------------------------------------------------------------------------------------

INSTRUCTION_ERROR_TEXT: dict[str, str] = {
    "GenericError": "generic instruction error",
    "InvalidArgument": "invalid program argument",
    "InvalidInstructionData": "invalid instruction data",
    "InvalidAccountData": "invalid account data for instruction",
    "AccountDataTooSmall": "account data too small for instruction",
    "InsufficientFunds": "insufficient funds for instruction",
    "IncorrectProgramId": "incorrect program id for instruction",
    "MissingRequiredSignature": "missing required signature for instruction",
    "AccountAlreadyInitialized": "instruction requires an uninitialized account",
    "UninitializedAccount": "instruction requires an initialized account",
    "UnbalancedInstruction": "sum of account balances before and after instruction do not "
                             "match",
    "ModifiedProgramId": "instruction illegally modified the program id of an account",
    "ExternalAccountLamportSpend": "instruction spent from the balance of an account it "
                                   "does not own",
    "ExternalAccountDataModified": "instruction modified data of an account it does not own",
    "ReadonlyLamportChange": "instruction changed the balance of a read-only account",
    "ReadonlyDataModified": "instruction modified data of a read-only account",
    "DuplicateAccountIndex": "instruction contains duplicate accounts",
    "ExecutableModified": "instruction changed executable bit of an account",
    "RentEpochModified": "instruction modified rent epoch of an account",
    "NotEnoughAccountKeys": "insufficient account keys for instruction",
    "AccountDataSizeChanged": "program other than the account's owner changed the size of "
                              "the account data",
    "AccountNotExecutable": "instruction expected an executable account",
    "AccountBorrowFailed": "instruction tries to borrow reference for an account which is "
                           "already borrowed",
    "AccountBorrowOutstanding": "instruction left account with an outstanding borrowed "
                                "reference",
    "DuplicateAccountOutOfSync": "instruction modifications of multiply-passed account differ",
    "Custom": "custom program error: {code:#x}",
    "InvalidError": "program returned invalid error code",
    "ExecutableDataModified": "instruction changed executable accounts data",
    "ExecutableLamportChange": "instruction changed the balance of an executable account",
    "ExecutableAccountNotRentExempt": "executable accounts must be rent exempt",
    "UnsupportedProgramId": "Unsupported program id",
    "CallDepth": "Cross-program invocation call depth too deep",
    "MissingAccount": "An account required by the instruction is missing",
    "ReentrancyNotAllowed": "Cross-program invocation reentrancy not allowed for this "
                            "instruction",
    "MaxSeedLengthExceeded": "Length of the seed is too long for address generation",
    "InvalidSeeds": "Provided seeds do not result in a valid address",
    "InvalidRealloc": "Failed to reallocate account data",
    "ComputationalBudgetExceeded": "Computational budget exceeded",
    "PrivilegeEscalation": "Cross-program invocation with unauthorized signer or writable "
                           "account",
    "ProgramEnvironmentSetupFailure": "Failed to create program execution environment",
    "ProgramFailedToComplete": "Program failed to complete",
    "ProgramFailedToCompile": "Program failed to compile",
    "Immutable": "Account is immutable",
    "IncorrectAuthority": "Incorrect authority provided",
    "BorshIoError": "Failed to serialize or deserialize account data",
    "AccountNotRentExempt": "An account does not have enough lamports to be rent-exempt",
    "InvalidAccountOwner": "Invalid account owner",
    "ArithmeticOverflow": "Program arithmetic overflowed",
    "UnsupportedSysvar": "Unsupported sysvar",
    "IllegalOwner": "Provided owner is not allowed",
    "MaxAccountsDataAllocationsExceeded": "Accounts data allocations exceeded the maximum "
                                          "allowed per transaction",
    "MaxAccountsExceeded": "Max accounts exceeded",
    "MaxInstructionTraceLengthExceeded": "Max instruction trace length exceeded",
    "BuiltinProgramsMustConsumeComputeUnits": "Builtin programs must consume compute units",
}
"""Agave's ``InstructionError`` display texts (solana-instruction-error; the messages
after ``failed:`` in the log), by variant name."""

# Builtin error codes a program returns as ``k << 32`` (SBPF_SPEC 10.4); code 1 is
# Custom(0).
_BUILTIN_BY_CODE = {
    2: "InvalidArgument", 3: "InvalidInstructionData", 4: "InvalidAccountData",
    5: "AccountDataTooSmall", 6: "InsufficientFunds", 7: "IncorrectProgramId",
    8: "MissingRequiredSignature", 9: "AccountAlreadyInitialized",
    10: "UninitializedAccount", 11: "NotEnoughAccountKeys", 12: "AccountBorrowFailed",
    13: "MaxSeedLengthExceeded", 14: "InvalidSeeds", 15: "BorshIoError",
    16: "AccountNotRentExempt", 17: "UnsupportedSysvar", 18: "IllegalOwner",
    19: "MaxAccountsDataAllocationsExceeded", 20: "InvalidRealloc",
    21: "MaxInstructionTraceLengthExceeded", 22: "BuiltinProgramsMustConsumeComputeUnits",
    23: "InvalidAccountOwner", 24: "ArithmeticOverflow", 25: "Immutable",
    26: "IncorrectAuthority",
}


@dataclass(frozen=True, slots=True)
class InstructionError:
    """Agave's ``InstructionError``: the variant name and, for ``Custom``, its code.

    ``str()`` is Agave's display text.
    """

    kind: str
    code: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in INSTRUCTION_ERROR_TEXT:
            raise ValueError(f"unknown instruction error {self.kind!r}")

    def __str__(self) -> str:
        return INSTRUCTION_ERROR_TEXT[self.kind].format(code=self.code or 0)

    def to_json(self) -> object:
        """``"Kind"`` or ``{"Custom": n}``."""
        return {"Custom": self.code} if self.kind == "Custom" else self.kind


def instruction_error_from_return(r0: int) -> InstructionError | None:
    """The instruction error a program's return value means (SBPF_SPEC 10.4).

    >>> instruction_error_from_return(0) is None
    True
    >>> str(instruction_error_from_return(0x1771))
    'custom program error: 0x1771'
    >>> instruction_error_from_return(3 << 32).kind
    'InvalidInstructionData'
    >>> instruction_error_from_return(99 << 32).kind
    'InvalidError'
    """
    r0 &= U64_MASK
    if r0 == 0:
        return None
    if r0 >> 32 == 0:
        return InstructionError("Custom", r0)
    if r0 & 0xFFFF_FFFF == 0:
        code = r0 >> 32
        if code == 1:
            return InstructionError("Custom", 0)
        if code in _BUILTIN_BY_CODE:
            return InstructionError(_BUILTIN_BY_CODE[code])
    return InstructionError("InvalidError")


# Agave's SyscallError display texts by TBPF inner kind (agave syscalls/src/lib.rs);
# kinds whose text carries data are built in syscall_error_message.
_SYSCALL_ERROR_TEXT = {
    "Abort": "SBF program panicked",
    "InvokeContextBorrowFailed": "Cannot borrow invoke context",
    "UnalignedPointer": "Unaligned pointer",
    "TooManySigners": "Too many signers",
    "TooManyAccounts": "Too many accounts passed to inner instruction",
    "CopyOverlapping": "Overlapping copy",
    "TooManySlices": "Hashing too many sequences",
    "InvalidLength": "InvalidLength",
    "InvalidAttribute": "InvalidAttribute",
    "InvalidPointer": "Invalid pointer",
    "ArithmeticOverflow": "Arithmetic overflow",
}

# Agave's EbpfError display texts (sbpf src/error.rs) of the faults without payload.
_EBPF_ERROR_TEXT = {
    "CallDepthExceeded": "exceeded max BPF to BPF call depth",
    "DivideByZero": "divide by zero at BPF instruction",
    "DivideOverflow": "division overflow at BPF instruction",
    "ExecutionOverrun": "attempted to execute past the end of the text segment at BPF "
                        "instruction",
    "CallOutsideTextSegment": "callx attempted to call outside of the text segment",
    "ExceededMaxInstructions": "exceeded CUs meter at BPF instruction",
    "InvalidInstruction": "invalid BPF instruction",
    "UnsupportedInstruction": "unsupported BPF instruction",
}


_LEGACY_REGION_NAMES = {1: "program", 2: "stack", 3: "heap", 4: "input"}


def ebpf_error_message(fault: ProgramFault) -> str:
    """Agave's display text of the ``EbpfError`` a TBPF fault stands for (SBPF_SPEC 6.1),
    as the pinned Agave (solders 0.29's LiteSVM) prints it. A :class:`SyscallError`
    gives its inner error's text (:func:`syscall_error_message`).

    That Agave links an sbpf older than the 0.21.1 wording change: an access violation
    reads ``Access violation in {name} section at address {addr:#x} of size {len}``
    with the name taken from the address's upper 32 bits alone (``program``, ``stack``,
    ``heap``, ``input``, else ``unknown``), where TBPF's fault (the current reference)
    says ``unallocated`` for an address past its region (checked against the oracle).
    """
    if isinstance(fault, SyscallError):
        return syscall_error_message(fault)
    details = fault.details()
    if fault.kind == "AccessViolation":
        _access, vm_addr, size, _region = details
        assert isinstance(vm_addr, int)
        name = _LEGACY_REGION_NAMES.get(vm_addr >> 32, "unknown")
        return f"Access violation in {name} section at address {vm_addr:#x} of size {size}"
    if fault.kind == "StackAccessViolation":
        _access, vm_addr, size, frame = details
        return f"Access violation in stack frame {frame} at address {vm_addr:#x} of size {size}"
    return _EBPF_ERROR_TEXT.get(fault.kind, fault.message)


def syscall_error_message(err: SyscallError) -> str:
    """Agave's display text of a failed syscall's error (what follows ``failed:``)."""
    kind = err.inner_kind
    if kind in _SYSCALL_ERROR_TEXT:
        return _SYSCALL_ERROR_TEXT[kind]
    if kind == "Panic":
        # TBPF's detail is "file:line:column"; the file may itself contain colons.
        file_name, line, column = err.detail.rsplit(":", 2)
        return f"SBF program Panicked in {file_name} at {line}:{column}"
    if kind == "ComputationalBudgetExceeded":
        return INSTRUCTION_ERROR_TEXT["ComputationalBudgetExceeded"]
    if kind == "ReturnDataTooLarge":
        # TBPF's detail is "<len> > <max>".
        return f"Return data too large ({err.detail})"
    if kind == "InvalidString":
        return err.detail
    cause = err.__cause__
    if isinstance(cause, ProgramFault):
        # A bad pointer: the memory fault is the syscall's error (Agave boxes the
        # EbpfError), displayed as itself.
        return ebpf_error_message(cause)
    return f"{kind}: {err.detail}" if err.detail else kind


# --------------------------------------------------------------------------------------
# Serialization (SBPF_SPEC 10.1 / 10.2) and deserialization
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _SerializedAccount:
    """Where one instruction account lives in the input buffer."""

    index: int               # instruction account position
    duplicate_of: int | None  # position of the first occurrence, for a duplicate
    offset: int = 0          # host offset of the lamports field
    data_offset: int = 0     # host offset of the data
    owner_offset: int = 0
    pre_len: int = 0


@dataclass(frozen=True, slots=True)
class SerializedInput:
    """The input region's bytes and where things are in it.

    Attributes:
        buffer: the bytes mapped at ``0x4_0000_0000``.
        instruction_data_vm_addr: r2 (SIMD-0321).
        aligned: the layout (False for the deprecated loader).
    """

    buffer: bytes
    instruction_data_vm_addr: int
    aligned: bool
    accounts: tuple[_SerializedAccount, ...]


@dataclass(frozen=True, slots=True)
class _InstructionAccount:
    pubkey: bytes
    is_signer: bool
    is_writable: bool
    duplicate_of: int | None


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value & U64_MASK)


def serialize_parameters(accounts: Sequence[tuple[bytes, Account, bool, bool, int | None]],
                         instruction_data: bytes, program_id: bytes, *,
                         aligned: bool = True) -> SerializedInput:
    """The input region of one instruction (SBPF_SPEC 10.1, or 10.2 if not ``aligned``).

    ``accounts`` are ``(pubkey, state, is_signer, is_writable, duplicate_of)`` per
    instruction account, ``duplicate_of`` the position of an earlier entry with the same
    key (its state and flags are then ignored).
    """
    buf = bytearray(_u64(len(accounts)))
    placed: list[_SerializedAccount] = []
    for index, (key, state, is_signer, is_writable, dup) in enumerate(accounts):
        if dup is not None:
            buf.append(dup)
            if aligned:
                buf += bytes(7)
            placed.append(_SerializedAccount(index, dup))
            continue
        data = state.data
        if aligned:
            buf += bytes([NON_DUP_MARKER, is_signer, is_writable, state.executable]) + bytes(4)
            buf += key
            owner_offset = len(buf)
            buf += state.owner
            offset = len(buf)
            buf += _u64(state.lamports) + _u64(len(data))
            data_offset = len(buf)
            buf += data + bytes(MAX_PERMITTED_DATA_INCREASE + (-len(data) % _ALIGN))
            buf += _u64(U64_MASK)  # rent_epoch: Agave always writes u64::MAX
        else:
            buf += bytes([NON_DUP_MARKER, is_signer, is_writable]) + key
            offset = len(buf)
            buf += _u64(state.lamports) + _u64(len(data))
            data_offset = len(buf)
            buf += data
            owner_offset = len(buf)
            buf += state.owner + bytes([state.executable]) + _u64(U64_MASK)
        placed.append(_SerializedAccount(index, None, offset, data_offset, owner_offset,
                                         len(data)))
    buf += _u64(len(instruction_data))
    data_vm_addr = MM_INPUT_START + len(buf)
    buf += instruction_data + program_id
    return SerializedInput(bytes(buf), data_vm_addr, aligned, tuple(placed))


class _DeserializeError(Exception):
    def __init__(self, error: InstructionError) -> None:
        super().__init__(str(error))
        self.error = error


def _fail(kind: str) -> _DeserializeError:
    return _DeserializeError(InstructionError(kind))


def deserialize_parameters(serialized: SerializedInput, buffer: bytes,
                           metas: Sequence[tuple[bytes, bool]],
                           states: Mapping[bytes, Account],
                           program_id: bytes) -> dict[bytes, Account]:
    """Apply the program's changes to ``states`` with Agave's rules; the new states.

    ``metas`` are ``(pubkey, is_writable)`` per instruction account. Follows
    ``deserialize_parameters_for_abiv1`` (and ``_abiv0`` for the unaligned layout) with
    the ``BorrowedAccount`` checks: a changed balance must belong to a writable account
    and may only fall on an account the program owns; data may change only on a
    writable, owned account and grow by at most ``MAX_PERMITTED_DATA_INCREASE``; only the
    owner of a writable account with zeroed data may reassign it.

    Raises:
        _DeserializeError: carrying the :class:`InstructionError`.
    """
    out = dict(states)
    resize_delta = 0
    for placed in serialized.accounts:
        if placed.duplicate_of is not None:
            continue
        key, is_writable = metas[placed.index]
        account = out[key]
        owned = account.owner == program_id
        lamports = int.from_bytes(buffer[placed.offset:placed.offset + 8], "little")
        if lamports != account.lamports:
            if not owned and lamports < account.lamports:
                raise _fail("ExternalAccountLamportSpend")
            if not is_writable:
                raise _fail("ReadonlyLamportChange")
            account = replace(account, lamports=lamports)
        pre_len = placed.pre_len
        if serialized.aligned:
            post_len = int.from_bytes(buffer[placed.offset + 8:placed.offset + 16], "little")
            if (max(post_len - pre_len, 0) > MAX_PERMITTED_DATA_INCREASE
                    or post_len > MAX_PERMITTED_DATA_LENGTH):
                raise _fail("InvalidRealloc")
        else:
            post_len = pre_len  # the deprecated layout has no room to grow
        data = bytes(buffer[placed.data_offset:placed.data_offset + post_len])
        problem = _data_change_problem(account, post_len, owned, is_writable, resize_delta)
        if problem is None:
            resize_delta += post_len - len(account.data)
            account = replace(account, data=data)
        elif account.data != data:
            raise _fail(problem)
        if serialized.aligned:
            owner = bytes(buffer[placed.owner_offset:placed.owner_offset + 32])
            if owner != account.owner:
                if not owned or not is_writable or any(account.data):
                    raise _fail("ModifiedProgramId")
                account = replace(account, owner=owner)
        out[key] = account
    return out


def _data_change_problem(account: Account, new_len: int, owned: bool, is_writable: bool,
                         resize_delta: int) -> str | None:
    """Agave's ``can_data_be_resized`` (then ``can_data_be_changed``): ``None`` or the
    error a change of the data to ``new_len`` bytes would raise."""
    old_len = len(account.data)
    if new_len != old_len and not owned:
        return "AccountDataSizeChanged"
    if new_len > MAX_PERMITTED_DATA_LENGTH:
        return "InvalidRealloc"
    if resize_delta + new_len - old_len > MAX_PERMITTED_ACCOUNTS_DATA_ALLOCATIONS_PER_TRANSACTION:
        return "MaxAccountsDataAllocationsExceeded"
    if not is_writable:
        return "ReadonlyDataModified"
    if not owned:
        return "ExternalAccountDataModified"
    return None


# --------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------

class LogCollector:
    """Agave's log collector: keeps lines until ``bytes_limit`` bytes, then one
    ``Log truncated`` line and nothing more (``None``: no limit)."""

    def __init__(self, bytes_limit: int | None = LOG_BYTES_LIMIT) -> None:
        self.messages: list[str] = []
        self.bytes_written = 0
        self.bytes_limit = bytes_limit
        self.truncated = False

    def log(self, message: str) -> None:
        """Add one line (length counted in UTF-8 bytes, as Rust's ``str::len``)."""
        if self.bytes_limit is None:
            self.messages.append(message)
            return
        written = self.bytes_written + len(message.encode("utf-8"))
        if written >= self.bytes_limit:
            if not self.truncated:
                self.truncated = True
                self.messages.append("Log truncated")
        else:
            self.bytes_written = written
            self.messages.append(message)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------

def solana_config() -> Config:
    """The loader/VM configuration Agave executes with (SBPF_SPEC Appendix C):
    read-only sections mapped from the region start (``optimize_rodata`` off), broken
    ELFs tolerated (execution, not deployment), stack gaps, 64 frames of 4 KiB."""
    return Config(optimize_rodata=False, reject_broken_elfs=False)


_NOT_REGISTERED_BY_AGAVE = frozenset({"sol_remaining_compute_units"})
"""Core TBPF syscalls the pinned Agave does not register (its feature gate is off there):
a call to one is an unresolved call, ``UnsupportedInstruction`` at run time, exactly as
on the oracle."""


def solana_runtime_syscalls() -> SyscallRegistry:
    """The syscalls of a Solana program run, as the pinned Agave registers them for
    execution: the core set of :func:`tbpf.syscalls.solana_syscalls` without
    ``sol_remaining_compute_units`` (feature-gated off), plus ``sol_alloc_free_`` (Agave
    registers it for execution, not for new deployments) and ``sol_invoke_signed_c`` /
    ``sol_invoke_signed_rust`` refusing with ``CpiNotSupported``."""
    return _RUNTIME_SYSCALLS.copy()


def _build_runtime_syscalls() -> SyscallRegistry:
    registry = SyscallRegistry(s for s in solana_syscalls()
                               if s.name not in _NOT_REGISTERED_BY_AGAVE)
    registry.register("sol_alloc_free_", sol_alloc_free)
    registry.register("sol_invoke_signed_c", sol_invoke_signed_unsupported)
    registry.register("sol_invoke_signed_rust", sol_invoke_signed_unsupported)
    return registry


_RUNTIME_SYSCALLS = _build_runtime_syscalls()
_PROGRAM_CACHE: "OrderedDict[bytes, Executable]" = OrderedDict()
_PROGRAM_CACHE_SIZE = 32


def load_solana_program(elf: bytes, *, syscalls: SyscallRegistry | None = None) -> Executable:
    """Load (and cache by content) a deployed-style Solana ``.so`` with Agave's config.

    The same bytes give the same :class:`Executable` object, so both engines' code
    caches hit across invocations.

    Raises:
        ELFError: the file does not load.
    """
    from .elf import load_elf
    registry = _RUNTIME_SYSCALLS if syscalls is None else syscalls
    key = hashlib.sha256(bytes(elf)).digest() + hashlib.sha256(
        repr(sorted(registry.keys())).encode()).digest()
    exe = _PROGRAM_CACHE.get(key)
    if exe is None:
        exe = load_elf(bytes(elf), config=solana_config(), syscalls=registry)
        _PROGRAM_CACHE[key] = exe
        while len(_PROGRAM_CACHE) > _PROGRAM_CACHE_SIZE:
            _PROGRAM_CACHE.popitem(last=False)
    else:
        _PROGRAM_CACHE.move_to_end(key)
    return exe


# --------------------------------------------------------------------------------------
# invoke
# --------------------------------------------------------------------------------------

@dataclass
class InvokeResult:
    """Everything observable about one instruction.

    Attributes:
        logs: the instruction's log lines, as Agave's log collector holds them.
        compute_units: units the VM consumed (the ``consumed <n>`` of the log; excludes
            the heap cost); 0 when no VM was created.
        budget: units available before the VM was created (the ``of <m>``).
        heap_cost: units charged for the heap before the VM.
        transaction_compute_units: what the instruction took from the transaction's
            meter: heap cost + VM units, or everything after a VM fault that is not a
            syscall error (Agave depletes the meter), or after a failed heap charge.
        return_data: ``(program_id, data)`` as the transaction reports it.
        accounts: the state of every distinct key after the instruction (unchanged
            when it failed).
        error: ``None`` or the :class:`InstructionError`.
        failure_message: the text after ``failed:`` in the log (``None`` on success).
        fault: the VM fault, if the program faulted (engine-level detail).
        result: r0 after a normal exit, else ``None``.
        program_logs: the lines the program's syscalls wrote (before any truncation).
        engine: the engine that ran it.
        syscall_log: ``(name, args, result)`` of every syscall.
    """

    logs: list[str]
    compute_units: int
    budget: int
    heap_cost: int
    transaction_compute_units: int
    return_data: tuple[bytes, bytes]
    accounts: dict[bytes, Account]
    error: InstructionError | None
    failure_message: str | None
    fault: ProgramFault | None = None
    result: int | None = None
    program_logs: list[str] = field(default_factory=list)
    engine: str = "interp"
    syscall_log: list[tuple[str, tuple[int, ...], object]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the instruction succeeded."""
        return self.error is None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary (keys in base58, data in hex)."""
        return {
            "ok": self.ok,
            "error": None if self.error is None else self.error.to_json(),
            "failure_message": self.failure_message,
            "compute_units": self.compute_units,
            "transaction_compute_units": self.transaction_compute_units,
            "budget": self.budget,
            "heap_cost": self.heap_cost,
            "logs": list(self.logs),
            "return_data": {"program_id": pubkey_str(self.return_data[0]),
                            "data": self.return_data[1].hex()},
            "accounts": {pubkey_str(k): {"lamports": a.lamports, "data": a.data.hex(),
                                         "owner": pubkey_str(a.owner),
                                         "executable": a.executable}
                         for k, a in self.accounts.items()},
            "engine": self.engine,
        }


def _resolve_accounts(accounts: Iterable["KeyedAccount | tuple[Any, ...]"]
                      ) -> tuple[list[_InstructionAccount], dict[bytes, Account]]:
    entries = [a if isinstance(a, KeyedAccount) else KeyedAccount(*a) for a in accounts]
    first: dict[bytes, int] = {}
    states: dict[bytes, Account] = {}
    signer: dict[bytes, bool] = {}
    writable: dict[bytes, bool] = {}
    for index, entry in enumerate(entries):
        key = entry.pubkey
        if key not in first:
            first[key] = index
            states[key] = entry.account if entry.account is not None else Account()
        elif entry.account is not None and entry.account != states[key]:
            raise ValueError(f"account {pubkey_str(key)} is listed twice with different "
                             f"states")
        signer[key] = signer.get(key, False) or entry.is_signer
        writable[key] = writable.get(key, False) or entry.is_writable
    resolved = [
        _InstructionAccount(e.pubkey, signer[e.pubkey], writable[e.pubkey],
                            None if first[e.pubkey] == i else first[e.pubkey])
        for i, e in enumerate(entries)]
    return resolved, states


def invoke(program: "bytes | Executable",
           accounts: Sequence["KeyedAccount | tuple[Any, ...]"] = (),
           instruction_data: bytes = b"", *, engine: "str | Engine" = "interp",
           budget: int = DEFAULT_BUDGET, heap_size: int = DEFAULT_HEAP_SIZE,
           program_id: "bytes | str" = DEFAULT_PROGRAM_ID, loader: str = "upgradeable",
           clock: Clock | None = None, rent: Rent | None = None,
           syscalls: SyscallRegistry | None = None,
           log_bytes_limit: int | None = LOG_BYTES_LIMIT) -> InvokeResult:
    """Run one top-level instruction of a Solana program the way Agave does.

    Args:
        program: the program's ELF bytes (loaded with :func:`load_solana_program`) or a
            loaded :class:`Executable`.
        accounts: the instruction's accounts, in order, each a :class:`KeyedAccount` (or
            a ``(pubkey, account, is_signer, is_writable)`` tuple).
        instruction_data: the instruction data.
        engine: ``"interp"`` or ``"jit"`` (identical results).
        budget: compute units left for this instruction before the heap is charged.
        heap_size: heap bytes, a multiple of 1024 in [32 KiB, 256 KiB].
        program_id: the program's key (logs, input, ownership checks).
        loader: ``"upgradeable"`` or ``"v2"`` (aligned input) or ``"deprecated"``
            (unaligned input, no alignment checks in syscalls).
        clock: the Clock sysvar (default: all zero).
        rent: the Rent sysvar (default: :class:`Rent`'s).
        syscalls: the registry (default :func:`solana_runtime_syscalls`).
        log_bytes_limit: the log collector's limit (``None``: unlimited).

    Returns:
        an :class:`InvokeResult`; a failing program is ``result.error``, not an exception.

    Raises:
        ValueError: unusable arguments (bad key, heap size, loader, budget).
        ELFError, VerifierError: the program cannot be loaded (nothing ran).
    """
    if loader not in _LOADERS:
        raise ValueError(f"unknown loader {loader!r} (expected one of {', '.join(_LOADERS)})")
    if not DEFAULT_HEAP_SIZE <= heap_size <= MAX_HEAP_SIZE or heap_size % 1024:
        raise ValueError("heap_size must be a multiple of 1024 in [32768, 262144]")
    if not 0 <= budget <= U64_MASK:
        raise ValueError("budget must be a u64")
    program_key = pubkey(program_id)
    registry = _RUNTIME_SYSCALLS if syscalls is None else syscalls
    exe = program if isinstance(program, Executable) else load_solana_program(
        program, syscalls=registry)
    exe.verify()
    entries, states = _resolve_accounts(accounts)
    data = bytes(instruction_data)
    id_text = pubkey_str(program_key)
    log = LogCollector(log_bytes_limit)
    log.log(f"Program {id_text} invoke [1]")

    def finish(error: InstructionError | None, message: str | None, **kw: object
               ) -> InvokeResult:
        log.log(f"Program {id_text} success" if error is None
                else f"Program {id_text} failed: {message}")
        return InvokeResult(logs=log.messages, error=error, failure_message=message,
                            **kw)  # type: ignore[arg-type]

    if len(entries) > MAX_ACCOUNTS_PER_INSTRUCTION:
        error = InstructionError("MaxAccountsExceeded")
        return finish(error, str(error), compute_units=0, budget=budget, heap_cost=0,
                      transaction_compute_units=0, return_data=(program_key, b""),
                      accounts=states)
    aligned = loader != "deprecated"
    serialized = serialize_parameters(
        [(e.pubkey, states[e.pubkey], e.is_signer, e.is_writable, e.duplicate_of)
         for e in entries], data, program_key, aligned=aligned)
    cost = heap_cost(heap_size)
    if cost > budget:
        # Agave charges the heap while creating the VM; on shortage the meter is emptied
        # and no VM (hence no "consumed" line) exists.
        log.log("Failed to create SBF VM: Computational budget exceeded")
        error = InstructionError("ProgramEnvironmentSetupFailure")
        return finish(error, str(error), compute_units=0, budget=budget, heap_cost=cost,
                      transaction_compute_units=budget, return_data=(program_key, b""),
                      accounts=states)
    vm_budget = budget - cost
    eng = get_engine(engine)
    memory = build_memory(exe, serialized.buffer, input_writable=True, heap_size=heap_size)
    state = initial_state(exe, vm_budget, {2: serialized.instruction_data_vm_addr})
    ctx = SyscallContext(memory=memory, remaining=vm_budget,
                         host=_SolanaHost(clock or Clock(), rent or Rent()),
                         program_id=program_key, check_alignment=aligned)
    ctx.return_data = (program_key, b"")
    fault: ProgramFault | None = None
    r0: int | None = None
    try:
        r0 = eng.execute(exe, memory, state, ctx, registry)
    except ProgramFault as err:
        fault = err
    consumed = max(0, vm_budget - state.remaining)
    for line in ctx.logs:
        log.log(line)
    log.log(f"Program {id_text} consumed {consumed} of {budget} compute units")
    return_program, return_bytes = ctx.return_data
    if return_bytes:
        log.log(f"Program return: {pubkey_str(return_program)} "
                f"{base64.b64encode(return_bytes).decode()}")
    common: dict[str, object] = dict(
        compute_units=consumed, budget=budget, heap_cost=cost,
        return_data=(return_program, return_bytes), fault=fault, result=r0,
        program_logs=list(ctx.logs), engine=eng.name, syscall_log=ctx.call_log)
    tx_units = cost + consumed
    if fault is not None:
        if isinstance(fault, SyscallError):
            # A syscall's own budget shortage is an InstructionError inside the
            # syscall error; Agave surfaces it as itself. Other syscall errors fail the
            # program. Either way the meter is not depleted.
            error = InstructionError("ComputationalBudgetExceeded"
                                     if fault.inner_kind == "ComputationalBudgetExceeded"
                                     else "ProgramFailedToComplete")
        else:
            error = InstructionError("ProgramFailedToComplete")
            tx_units = budget
        return finish(error, ebpf_error_message(fault), accounts=states,
                      transaction_compute_units=tx_units, **common)
    assert r0 is not None
    returned = instruction_error_from_return(r0)
    if returned is not None:
        return finish(returned, str(returned), accounts=states,
                      transaction_compute_units=tx_units, **common)
    final = bytes(memory.region("input").data) if serialized.buffer else b""  # type: ignore[union-attr]
    try:
        after = deserialize_parameters(serialized, final,
                                       [(e.pubkey, e.is_writable) for e in entries],
                                       states, program_key)
    except _DeserializeError as err:
        return finish(err.error, str(err.error), accounts=states,
                      transaction_compute_units=tx_units, **common)
    result = finish(None, None, accounts=after, transaction_compute_units=tx_units, **common)
    # The lamport balance is checked when the instruction frame is popped, after the
    # success line is logged.
    if sum(a.lamports for a in after.values()) != sum(a.lamports for a in states.values()):
        result.error = InstructionError("UnbalancedInstruction")
        result.failure_message = None
        result.accounts = states
    return result

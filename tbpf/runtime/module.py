"""Contract modules: what a deploy carries, its binary wire format, and deploy-time loading.

A :data:`ContractModule` is one of

* :class:`TosVMModule` (discriminator 0) -- bytecode for TOS's earlier VM, run by a
  pluggable :class:`~tbpf.runtime.execute.TosVMExecutor`;
* :class:`TBPFModule` (discriminator 1) -- an sBPF ELF plus an optional default entry
  point name;
* :class:`TBPFAsmModule` (discriminator 2) -- TBPF extension for development: sBPF
  assembly text and its version, assembled at load time (usable without clang).

Wire format (all integers little endian; ``docs/runtime.md`` has the full table)::

    u8 discriminator
    0: u32 len | len bytes of TosVM bytecode
    1: u32 len | len bytes of ELF | entry
    2: u8 sbpf version | u32 len | len bytes of UTF-8 assembly | entry
    entry := u8 flag (0 = none, 1 = present) [ | u32 len | len bytes of UTF-8 name ]

Decoding is strict: unknown discriminators, truncated fields, length prefixes over the
limits, flags other than 0/1, invalid names and trailing bytes are all rejected with a
:class:`~tbpf.errors.ModuleFormatError` subclass, never another exception; every
accepted input re-encodes to the same bytes (the encoding is canonical).

:func:`load_module` is the deploy-time gate: the ELF loader with ``reject_broken_elfs``,
the verifier and the deploy-time local verifier, plus a check that every ``call`` resolves.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Union

from ..config import Config
from ..errors import (
    ContractError, ContractTooLargeError, InvalidContractError, InvalidEntryNameError,
    InvalidFlagError, ModuleFormatError, PayloadTooLargeError, TBPFError, TrailingBytesError,
    TruncatedPayloadError, UnknownDiscriminatorError, UnknownEntryPointError,
)
from ..executable import ENTRYPOINT_NAME, Executable
from ..isa import Form
from ..syscalls import SyscallRegistry
from ..versions import SBPFVersion

__all__ = [
    "ModuleKind", "TosVMModule", "TBPFModule", "TBPFAsmModule", "ContractModule",
    "encode_module", "decode_module", "DeployContractPayload", "load_module",
    "resolve_entry", "MAX_CODE_SIZE", "MAX_ENTRY_NAME", "module_kind",
]

MAX_CODE_SIZE = 1 << 20
"""Largest ELF, assembly text or TosVM bytecode a module may carry (1 MiB)."""
MAX_ENTRY_NAME = 255
"""Longest entry-point name, in UTF-8 bytes."""

_U32 = struct.Struct("<I")


class ModuleKind(IntEnum):
    """The wire discriminator of a module."""

    TOSVM = 0
    TBPF = 1
    TBPF_ASM = 2


def _check_entry(name: str | None) -> None:
    if name is None:
        return
    if not isinstance(name, str) or not name:
        raise InvalidEntryNameError("the entry-point name is empty")
    raw = name.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_ENTRY_NAME:
        raise InvalidEntryNameError(f"entry-point name of {len(raw)} bytes (at most "
                                    f"{MAX_ENTRY_NAME})")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEntryNameError("the entry-point name is not valid UTF-8") from None


@dataclass(frozen=True, slots=True)
class TosVMModule:
    """Bytecode for the TosVM executor.

    Attributes:
        bytecode: the module as TOS's earlier VM serializes it (opaque to TBPF).
    """

    bytecode: bytes

    kind = ModuleKind.TOSVM


@dataclass(frozen=True, slots=True)
class TBPFModule:
    """An sBPF ELF contract.

    Attributes:
        elf: the ``.so`` bytes.
        entry_point: the function run when an invoke names ``entrypoint`` (``None``:
            the ELF's own entry).
    """

    elf: bytes
    entry_point: str | None = None

    kind = ModuleKind.TBPF


@dataclass(frozen=True, slots=True)
class TBPFAsmModule:
    """An sBPF assembly contract (TBPF development extension).

    Attributes:
        source: the assembly text (SBPF_SPEC 9).
        version: the sBPF version to assemble for.
        entry_point: as for :class:`TBPFModule`.
    """

    source: str
    version: SBPFVersion = SBPFVersion.V0
    entry_point: str | None = None

    kind = ModuleKind.TBPF_ASM


ContractModule = Union[TosVMModule, TBPFModule, TBPFAsmModule]
"""Any deployable module."""


def module_kind(module: ContractModule) -> ModuleKind:
    """The discriminator of ``module``."""
    return module.kind


def _encode_entry(name: str | None) -> bytes:
    _check_entry(name)
    if name is None:
        return b"\x00"
    raw = name.encode("utf-8")
    return b"\x01" + _U32.pack(len(raw)) + raw


def _encode_blob(what: str, data: bytes) -> bytes:
    if len(data) > MAX_CODE_SIZE:
        raise PayloadTooLargeError(what, len(data), MAX_CODE_SIZE)
    return _U32.pack(len(data)) + data


def encode_module(module: ContractModule) -> bytes:
    """The wire bytes of ``module``.

    Raises:
        PayloadTooLargeError, InvalidEntryNameError: the module cannot be encoded.
        ModuleFormatError: not a module.
    """
    if isinstance(module, TosVMModule):
        return bytes([ModuleKind.TOSVM]) + _encode_blob("TosVM bytecode", bytes(module.bytecode))
    if isinstance(module, TBPFModule):
        return (bytes([ModuleKind.TBPF]) + _encode_blob("ELF", bytes(module.elf))
                + _encode_entry(module.entry_point))
    if isinstance(module, TBPFAsmModule):
        try:
            source = module.source.encode("utf-8")
        except UnicodeEncodeError:
            raise ModuleFormatError("the assembly source is not valid UTF-8") from None
        return (bytes([ModuleKind.TBPF_ASM, int(module.version)])
                + _encode_blob("assembly source", source) + _encode_entry(module.entry_point))
    raise ModuleFormatError(f"not a contract module: {type(module).__name__}")


class _Reader:
    """Bounds-checked cursor over a payload (every shortfall is a typed error)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, what: str, size: int) -> bytes:
        available = len(self.data) - self.pos
        if size > available:
            raise TruncatedPayloadError(what, size, available)
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out

    def u8(self, what: str) -> int:
        return self.take(what, 1)[0]

    def u32(self, what: str) -> int:
        return int(_U32.unpack(self.take(what, 4))[0])

    def blob(self, what: str, limit: int) -> bytes:
        size = self.u32(f"{what} length")
        if size > limit:
            raise PayloadTooLargeError(what, size, limit)
        return self.take(what, size)

    def entry(self) -> str | None:
        flag = self.u8("entry flag")
        if flag == 0:
            return None
        if flag != 1:
            raise InvalidFlagError("entry", flag)
        raw = self.blob("entry name", MAX_ENTRY_NAME)
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEntryNameError("the entry-point name is not valid UTF-8") from None
        _check_entry(name)
        return name

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise TrailingBytesError(len(self.data) - self.pos)


def decode_module(data: bytes | bytearray | memoryview) -> ContractModule:
    """Parse the wire bytes of a module (strict; see the module docstring).

    Raises:
        ModuleFormatError: a subclass naming the problem.
    """
    reader = _Reader(bytes(data))
    tag = reader.u8("discriminator")
    module: ContractModule
    if tag == ModuleKind.TOSVM:
        module = TosVMModule(reader.blob("TosVM bytecode", MAX_CODE_SIZE))
    elif tag == ModuleKind.TBPF:
        elf = reader.blob("ELF", MAX_CODE_SIZE)
        module = TBPFModule(elf, reader.entry())
    elif tag == ModuleKind.TBPF_ASM:
        raw_version = reader.u8("sBPF version")
        try:
            version = SBPFVersion(raw_version)
        except ValueError:
            raise ModuleFormatError(f"unknown sBPF version {raw_version}") from None
        raw = reader.blob("assembly source", MAX_CODE_SIZE)
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ModuleFormatError("the assembly source is not valid UTF-8") from None
        module = TBPFAsmModule(source, version, reader.entry())
    else:
        raise UnknownDiscriminatorError(tag)
    reader.finish()
    return module


@dataclass(frozen=True, slots=True)
class DeployContractPayload:
    """The payload of a deploy transaction: one module (wire format = the module's).

    Attributes:
        module: the contract to deploy.
    """

    module: ContractModule

    def encode(self) -> bytes:
        """The payload's wire bytes."""
        return encode_module(self.module)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> "DeployContractPayload":
        """Parse a payload.

        Raises:
            ModuleFormatError: malformed bytes.
        """
        return cls(decode_module(data))

    def validate(self, syscalls: SyscallRegistry | None = None, *,
                 config: Config | None = None,
                 allow_assembly: bool = True) -> Executable | None:
        """Deploy-time checks; returns the loaded, verified program (``None`` for TosVM,
        whose bytecode only its executor can judge).

        ``syscalls`` defaults to the runtime's shared TOS registry.

        Raises:
            ContractTooLargeError: code over 1 MiB.
            InvalidContractError: the program does not load, verify or link.
            ContractError: assembly modules are disabled, or no ELF loader is available.
        """
        module = self.module
        if isinstance(module, TosVMModule):
            if len(module.bytecode) > MAX_CODE_SIZE:
                raise ContractTooLargeError(len(module.bytecode), MAX_CODE_SIZE)
            return None
        if isinstance(module, TBPFAsmModule) and not allow_assembly:
            raise ContractError("assembly contracts are disabled on this chain")
        if syscalls is None:
            from .execute import default_syscalls
            syscalls = default_syscalls()
        return load_module(module, syscalls, config=config)


def _vm_config(config: Config | None) -> Config:
    base = config or Config()
    return base.with_(reject_broken_elfs=True, enable_symbol_and_section_labels=True)


def _load_elf(elf: bytes, syscalls: SyscallRegistry, config: Config) -> Executable:
    import tbpf
    try:
        return tbpf.load_elf(elf, config, syscalls=syscalls)
    except ImportError:
        raise ContractError("ELF contracts need the ELF loader (tbpf.elf), which this "
                            "TBPF build does not have") from None


def load_module(module: TBPFModule | TBPFAsmModule, syscalls: SyscallRegistry, *,
                config: Config | None = None) -> Executable:
    """Load, verify and link-check an sBPF module (the deploy gate; also used to reload).

    Raises:
        ContractTooLargeError, InvalidContractError, ContractError.
    """
    cfg = _vm_config(config)
    try:
        if isinstance(module, TBPFModule):
            if len(module.elf) > MAX_CODE_SIZE:
                raise ContractTooLargeError(len(module.elf), MAX_CODE_SIZE)
            exe = _load_elf(bytes(module.elf), syscalls, cfg)
        elif isinstance(module, TBPFAsmModule):
            size = len(module.source.encode("utf-8"))
            if size > MAX_CODE_SIZE:
                raise ContractTooLargeError(size, MAX_CODE_SIZE)
            from ..assembler import assemble_program
            exe = assemble_program(module.source, module.version, config=cfg,
                                   syscalls=syscalls)
        else:
            raise ContractError(f"not an sBPF module: {type(module).__name__}")
        insns = exe.verify()
        from ..verifier import verify_local
        verify_local(exe.text, exe.version, syscalls)
    except ContractError:
        raise
    except TBPFError as err:
        raise InvalidContractError("the contract does not load", err) from err
    if not exe.version.static_syscalls:
        # v0-v2 resolve `call imm` by key at run time; a key that is neither a syscall
        # nor a function would fail every time it is reached, so refuse it now (what
        # reject_broken_elfs does for ELF relocations, extended to every call).
        for insn in insns:
            if insn is not None and insn.spec is not None and insn.spec.form is Form.CALL_IMM:
                key = insn.imm & 0xFFFF_FFFF
                if key not in syscalls and exe.functions.lookup_by_key(key) is None:
                    raise InvalidContractError(
                        f"call at pc {insn.pc} targets unknown syscall or function "
                        f"{key:#010x}")
    if module.entry_point is not None:
        try:
            resolve_entry(exe, module.entry_point)
        except UnknownEntryPointError as err:
            raise InvalidContractError("the declared entry point does not exist",
                                       err) from err
    return exe


def resolve_entry(exe: Executable, name: str) -> int:
    """The slot where the function ``name`` starts.

    ``entrypoint`` is the executable's entry; other names are looked up in the function
    registry and the symbol labels, with or without the assembler's ``function_`` prefix.

    Raises:
        UnknownEntryPointError: no such function.
    """
    if name == ENTRYPOINT_NAME:
        return exe.entry_pc
    for candidate in (name, "function_" + name):
        hit = exe.functions.lookup_by_name(candidate)
        if hit is not None:
            return hit[1]
    for pc, label in sorted(exe.labels.items()):
        if label in (name, "function_" + name):
            return pc
    raise UnknownEntryPointError(name)

"""A loaded program: text, read-only data, entry pc, function registry, version.

Built by :func:`tbpf.elf.load_elf` (ELF files), :func:`tbpf.assembler.assemble_program`
(assembly) and :meth:`Executable.from_text_bytes` (raw slots). The verifier runs once,
lazily (:meth:`Executable.verify`); engines only ever see its output.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator

from .config import Config
from .errors import SymbolHashCollisionError
from .hashing import symbol_hash
from .isa import INSN_SIZE, Insn
from .memory import MM_PROGRAM_START, MM_RODATA_START
from .syscalls import SyscallRegistry
from .versions import SBPFVersion

__all__ = ["FunctionRegistry", "Executable", "ENTRYPOINT_NAME", "ENTRYPOINT_KEY"]

ENTRYPOINT_NAME = "entrypoint"
ENTRYPOINT_KEY = symbol_hash(ENTRYPOINT_NAME)


class FunctionRegistry:
    """Internal functions by key: ``key -> (name, pc)`` (SBPF_SPEC 8.5).

    ``pc`` is a slot index into the text.
    """

    def __init__(self) -> None:
        self._by_key: dict[int, tuple[str, int]] = {}

    def register(self, key: int, name: str, pc: int,
                 syscalls: SyscallRegistry | None = None) -> int:
        """Register ``name`` at ``pc`` under ``key`` and return the key.

        Raises:
            SymbolHashCollisionError: if ``key`` belongs to a syscall (only checked when
                ``syscalls`` is given, i.e. for hashed keys) or to a different pc.
        """
        key &= 0xFFFF_FFFF
        if syscalls is not None and key in syscalls:
            raise SymbolHashCollisionError(key)
        old = self._by_key.get(key)
        if old is not None:
            if old[1] != pc:
                raise SymbolHashCollisionError(key)
            return key
        self._by_key[key] = (name, pc)
        return key

    def register_hashed(self, pc: int, name: str, syscalls: SyscallRegistry | None,
                        keep_name: bool = False) -> int:
        """Register a function the way the v0-v2 loader does (SBPF_SPEC 8.5).

        The key is ``murmur3(name)`` for ``entrypoint`` and ``murmur3(pc as u64 LE)``
        otherwise. Names are kept only for ``entrypoint`` or when ``keep_name``.
        """
        if name == ENTRYPOINT_NAME:
            key = ENTRYPOINT_KEY
        else:
            key = symbol_hash(pc.to_bytes(8, "little"))
        stored = name if (keep_name or name == ENTRYPOINT_NAME) else f"function_{pc}"
        return self.register(key, stored, pc, syscalls)

    def unregister(self, key: int) -> None:
        """Remove ``key`` if present."""
        self._by_key.pop(key & 0xFFFF_FFFF, None)

    def lookup_by_key(self, key: int) -> tuple[str, int] | None:
        """``(name, pc)`` for ``key``."""
        return self._by_key.get(key & 0xFFFF_FFFF)

    def lookup_by_name(self, name: str) -> tuple[int, int] | None:
        """``(key, pc)`` of the function called ``name``."""
        for key, (fname, pc) in self._by_key.items():
            if fname == name:
                return key, pc
        return None

    def items(self) -> Iterator[tuple[int, tuple[str, int]]]:
        """``(key, (name, pc))`` pairs."""
        return iter(self._by_key.items())

    def pcs(self) -> set[int]:
        """Every registered target pc."""
        return {pc for _, pc in self._by_key.values()}

    def __len__(self) -> int:
        return len(self._by_key)

    def copy(self) -> "FunctionRegistry":
        """An independent copy."""
        out = FunctionRegistry()
        out._by_key = dict(self._by_key)
        return out


@dataclass(eq=False)
class Executable:
    """A program ready to verify and run.

    Attributes:
        version: its SBPF version.
        text: the executed bytes (after relocation), a multiple of 8 for valid programs.
        text_vaddr: guest address of slot 0 (``callx`` targets are relative to it).
        entry_pc: slot where execution starts.
        functions: the function registry (keys of ``call imm`` in v0-v2).
        ro_vm_addr: guest address of the read-only region.
        ro_data: bytes of the read-only region (may include the text).
        config: the loader/VM configuration it was built with.
        labels: debug names of functions by pc (``.symtab`` or assembler labels).
        source_kind: ``"asm"``, ``"raw"``, ``"elf"`` or ``"obj"``.
    """

    version: SBPFVersion
    text: bytes
    text_vaddr: int
    entry_pc: int
    functions: FunctionRegistry
    ro_vm_addr: int
    ro_data: bytes
    config: Config = field(default_factory=Config)
    labels: dict[int, str] = field(default_factory=dict)
    source_kind: str = "raw"
    _insns: tuple[Insn | None, ...] | None = field(default=None, repr=False)
    _digest: str | None = field(default=None, repr=False)
    _code_digest: str | None = field(default=None, repr=False)

    @property
    def num_slots(self) -> int:
        """Number of 8-byte slots in the text."""
        return len(self.text) // INSN_SIZE

    @classmethod
    def from_text_bytes(cls, text: bytes, version: SBPFVersion, *,
                        config: Config | None = None,
                        syscalls: SyscallRegistry | None = None,
                        functions: FunctionRegistry | None = None,
                        labels: dict[int, str] | None = None,
                        source_kind: str = "raw") -> "Executable":
        """Wrap raw text slots (SBPF_SPEC 8.6, raw text).

        The entry is the function named ``entrypoint`` if the registry has one, else pc 0,
        registered under ``murmur3("entrypoint")`` (v0-v2) or key 0 (v3+). The text is the
        read-only region: at ``0x1_0000_0000`` for v0-v2 and at ``0x0`` for v3/v4.

        Raises:
            SymbolHashCollisionError: if a syscall has the entrypoint's key (v0-v2).
        """
        functions = functions.copy() if functions is not None else FunctionRegistry()
        entry = functions.lookup_by_name(ENTRYPOINT_NAME)
        if entry is not None:
            entry_pc = entry[1]
        else:
            entry_pc = 0
            if version.static_syscalls:
                functions.register(0, ENTRYPOINT_NAME, 0)
            else:
                functions.register(ENTRYPOINT_KEY, ENTRYPOINT_NAME, 0, syscalls)
        ro_vm_addr = MM_RODATA_START if version.enable_lower_rodata_vaddr else MM_PROGRAM_START
        return cls(version=version, text=bytes(text), text_vaddr=MM_PROGRAM_START,
                   entry_pc=entry_pc, functions=functions, ro_vm_addr=ro_vm_addr,
                   ro_data=bytes(text), config=config or Config(), labels=dict(labels or {}),
                   source_kind=source_kind)

    def verify(self) -> tuple[Insn | None, ...]:
        """Verify the text once (SBPF_SPEC 7) and return the decoded slots.

        Raises:
            VerifierError: the first problem found, with its pc.
        """
        if self._insns is None:
            from .verifier import verify
            self._insns = verify(self.text, self.version)
        return self._insns

    @property
    def digest(self) -> str:
        """SHA-256 over everything that determines execution (cache key material)."""
        if self._digest is None:
            h = hashlib.sha256(self.code_digest.encode())
            h.update(self.entry_pc.to_bytes(8, "little"))
            self._digest = h.hexdigest()
        return self._digest

    @property
    def code_digest(self) -> str:
        """SHA-256 over everything but the entry pc: executables that differ only in
        where they start (a contract's entry points) share compiled code."""
        if self._code_digest is None:
            h = hashlib.sha256()
            h.update(b"tbpf-exe-2")
            h.update(bytes([int(self.version)]))
            for value in (self.text_vaddr, self.ro_vm_addr, len(self.text),
                          len(self.ro_data)):
                h.update(value.to_bytes(8, "little"))
            h.update(self.text)
            h.update(self.ro_data)
            for key, (_name, pc) in sorted(self.functions.items()):
                h.update(key.to_bytes(4, "little") + pc.to_bytes(8, "little"))
            c = self.config
            h.update(repr((c.max_call_depth, c.stack_frame_size, c.enable_stack_frame_gaps,
                           c.heap_size)).encode())
            self._code_digest = h.hexdigest()
        return self._code_digest

    def function_name(self, pc: int) -> str | None:
        """A name for the function starting at ``pc``, if known."""
        if pc in self.labels:
            return self.labels[pc]
        for _key, (name, fpc) in self.functions.items():
            if fpc == pc:
                return name
        return None

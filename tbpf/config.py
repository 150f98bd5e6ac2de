"""VM configuration (SBPF_SPEC Appendix C), as one frozen dataclass.

The VM takes any u64 budget; the 200,000 default and 1,400,000 cap of Solana/TOS are
contract-runtime policy (:mod:`tbpf.runtime`), not limits of the VM.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .memory import MM_STACK_START
from .versions import SBPFVersion

__all__ = ["Config", "DEFAULT_BUDGET", "MAX_ELF_SIZE", "DEFAULT_HEAP_SIZE", "MAX_HEAP_SIZE"]

DEFAULT_BUDGET = 200_000
"""Default compute budget of :func:`tbpf.run` (Solana's per-instruction default)."""
MAX_ELF_SIZE = 1 << 20
"""Default cap on the size of an ELF file, checked before parsing (1 MiB)."""
DEFAULT_HEAP_SIZE = 32 * 1024
MAX_HEAP_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of the loader and the VM.

    Attributes:
        max_call_depth: frames, including the entry frame (64).
        stack_frame_size: bytes per frame (4096; a power of two).
        enable_stack_frame_gaps: v0 frames are separated by unmapped gaps (Agave: on).
        heap_size: bytes of zero-filled heap at ``0x3_0000_0000`` (32 KiB).
        enabled_sbpf_versions: versions the loader accepts (by ``e_flags``).
        reject_broken_elfs: the deploy-time loader checks (Agave: on when deploying).
        optimize_rodata: map only ``[lowest, highest)`` of the read-only sections (rbpf
            default) instead of a zero-filled buffer from offset 0 (Agave).
        max_elf_size: files larger than this are rejected before parsing.
        enable_symbol_and_section_labels: keep function names for the disassembler.
    """

    max_call_depth: int = 64
    stack_frame_size: int = 4096
    enable_stack_frame_gaps: bool = True
    heap_size: int = DEFAULT_HEAP_SIZE
    enabled_sbpf_versions: frozenset[SBPFVersion] = field(
        default_factory=lambda: frozenset(SBPFVersion))
    reject_broken_elfs: bool = False
    optimize_rodata: bool = True
    max_elf_size: int = MAX_ELF_SIZE
    enable_symbol_and_section_labels: bool = False

    def __post_init__(self) -> None:
        if self.max_call_depth < 1:
            raise ValueError("max_call_depth must be at least 1")
        size = self.stack_frame_size
        if size <= 0 or size & (size - 1):
            raise ValueError("stack_frame_size must be a positive power of two")
        if not 0 <= self.heap_size <= 1 << 32:
            raise ValueError("heap_size must fit in one 4 GiB region")

    @property
    def stack_size(self) -> int:
        """Host bytes of stack: ``stack_frame_size * max_call_depth``."""
        return self.stack_frame_size * self.max_call_depth

    def with_(self, **changes: object) -> "Config":
        """A copy with ``changes`` applied."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def stack_gaps(self, version: SBPFVersion) -> bool:
        """True if stack frames of ``version`` are gapped under this config."""
        return version.stack_frame_gaps and self.enable_stack_frame_gaps

    def frame_bump(self, version: SBPFVersion) -> int:
        """Bytes added to r10 by a call (0 where the program moves r10 itself)."""
        if version.manual_stack_frame_bump:
            return 0
        return self.stack_frame_size * (2 if self.stack_gaps(version) else 1)

    def initial_frame_pointer(self, version: SBPFVersion) -> int:
        """r10 at entry (SBPF_SPEC 3.1)."""
        if version.manual_stack_frame_bump:
            return MM_STACK_START + self.stack_size
        return MM_STACK_START + self.stack_frame_size

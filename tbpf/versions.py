"""SBPF versions and their feature predicates (SBPF_SPEC 2.1).

Each predicate is named after the feature, never after a version, and is the single
place where "which version has what" is decided. Engines never test versions: the
per-version decode tables in :mod:`tbpf.isa` and :class:`tbpf.config.Config` do.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["SBPFVersion", "parse_version"]


class SBPFVersion(IntEnum):
    """An SBPF version; the value equals the ELF ``e_flags`` that selects it."""

    V0 = 0
    V1 = 1
    V2 = 2
    V3 = 3
    V4 = 4

    @property
    def label(self) -> str:
        """Lower-case name used by the CLI and the API (``"v0"`` ... ``"v4"``)."""
        return f"v{int(self)}"

    # --- stack -----------------------------------------------------------------------
    @property
    def stack_frame_gaps(self) -> bool:
        """Stack frames are separated by unmapped 4 KiB gaps (v0 only)."""
        return self is SBPFVersion.V0

    @property
    def manual_stack_frame_bump(self) -> bool:
        """SIMD-0166: ``add64 r10, imm`` allowed, calls do not move r10, r10 starts at the top."""
        return self in (SBPFVersion.V1, SBPFVersion.V2)

    # --- arithmetic (v2 only) --------------------------------------------------------
    @property
    def enable_pqr(self) -> bool:
        """SIMD-0174: PQR class on; mul/div/mod of the ALU classes off."""
        return self is SBPFVersion.V2

    @property
    def explicit_sign_extension_of_results(self) -> bool:
        """32-bit add/sub/mul results zero-extended; ``mov32 reg`` sign-extends."""
        return self is SBPFVersion.V2

    @property
    def swap_sub_reg_imm_operands(self) -> bool:
        """``sub imm`` computes ``imm - dst``."""
        return self is SBPFVersion.V2

    @property
    def disable_neg(self) -> bool:
        """``neg32``/``neg64`` are invalid."""
        return self is SBPFVersion.V2

    @property
    def callx_uses_src_reg(self) -> bool:
        """SIMD-0173: the ``callx`` register is in ``src``."""
        return self is SBPFVersion.V2

    @property
    def disable_lddw(self) -> bool:
        """``lddw`` invalid, ``hor64`` valid."""
        return self is SBPFVersion.V2

    @property
    def disable_le(self) -> bool:
        """``le`` is invalid."""
        return self is SBPFVersion.V2

    @property
    def move_memory_instruction_classes(self) -> bool:
        """Loads and stores are re-encoded into classes 4 and 7."""
        return self is SBPFVersion.V2

    # --- v3+ -------------------------------------------------------------------------
    @property
    def static_syscalls(self) -> bool:
        """SIMD-0178: ``call`` src=0 is a syscall by hash, src=1 a pc-relative call."""
        return self >= SBPFVersion.V3

    @property
    def enable_stricter_elf_headers(self) -> bool:
        """SIMD-0189: the strict ELF loader."""
        return self >= SBPFVersion.V3

    @property
    def enable_lower_rodata_vaddr(self) -> bool:
        """Read-only data is mapped at ``0x0`` instead of ``0x1_0000_0000``."""
        return self >= SBPFVersion.V3

    @property
    def enable_jmp32(self) -> bool:
        """SIMD-0377: the JMP32 class (class 6)."""
        return self >= SBPFVersion.V3

    @property
    def callx_uses_dst_reg(self) -> bool:
        """SIMD-0377: the ``callx`` register is in ``dst``."""
        return self >= SBPFVersion.V3


def parse_version(value: "str | int | SBPFVersion") -> SBPFVersion:
    """Accept ``"v0"``, ``"V3"``, ``3`` or an :class:`SBPFVersion`.

    Raises:
        ValueError: for anything that does not name a version.

    >>> parse_version("v3")
    <SBPFVersion.V3: 3>
    """
    if isinstance(value, SBPFVersion):
        return value
    if isinstance(value, int):
        return SBPFVersion(value)
    text = str(value).strip().lower()
    if text.startswith("v"):
        text = text[1:]
    if text.isdigit() and int(text) in SBPFVersion._value2member_map_:
        return SBPFVersion(int(text))
    raise ValueError(f"unknown sbpf version {value!r} (expected v0, v1, v2, v3 or v4)")

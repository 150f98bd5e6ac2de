"""THE memory map of an sBPF VM (SBPF_SPEC section 4).

Guest address space (the upper 32 bits of a ``vm_addr`` select the region; "aligned
mapping")::

    0x0_0000_0000  read-only data        v3/v4 only (rodata segment, or raw text)
    0x1_0000_0000  program               v0-v2: .text + .rodata + ... (read-only)
                                         v3/v4: executed, but not readable as data
    0x2_0000_0000  stack                 64 frames x 4 KiB, writable
    0x3_0000_0000  heap                  32 KiB by default, zero-filled, writable
    0x4_0000_0000  input                 the serialized parameters (r1 points here)

The v0 stack has gaps (``stack_frame_gaps``): VM frame *k* lives at
``0x2_0000_0000 + 2k * 4096`` and the 4 KiB after it are unmapped::

    0x2_0000_0000 +---------+  <- frame 0 (entry r10 = 0x2_0000_1000, its top)
                  | frame 0 |     host bytes [0, 4096)
    0x2_0000_1000 +---------+
                  |   gap   |     faults ("stack frame 1")
    0x2_0000_2000 +---------+  <- frame 1 (r10 after one call = 0x2_0000_3000)
                  | frame 1 |     host bytes [4096, 8192)
    0x2_0000_3000 +---------+
                  |   gap   |
                       ...

Only the first byte of an access is tested for being in a gap, so an access that
starts in frame *k* and runs past its end touches the first bytes of frame *k+1* (host
order): the reference does exactly this and so do we. v3/v4 use the same fixed frames
without gaps (+4096 per call); v1/v2 have one contiguous stack and r10 starts at its top.

Regions are ``numpy.uint8`` arrays shared zero-copy by both engines: the interpreter
reads them through ``memoryview``, the JIT through their addresses. Every failing
access raises the exact error of SBPF_SPEC 4.4 (:meth:`MemoryMap.fault`).

This module owns the region base constants; nobody else types them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .arith import U64_MASK, to_i64
from .errors import AccessType, AccessViolationError, ProgramFault, StackAccessViolationError

__all__ = [
    "MM_REGION_SIZE", "MM_RODATA_START", "MM_PROGRAM_START", "MM_BYTECODE_START",
    "MM_STACK_START", "MM_HEAP_START", "MM_INPUT_START", "VIRTUAL_ADDRESS_BITS",
    "REGION_RODATA", "REGION_PROGRAM", "REGION_STACK", "REGION_HEAP", "REGION_INPUT",
    "Region", "MemoryMap", "region_name_for_index",
]

VIRTUAL_ADDRESS_BITS = 32
"""``vm_addr >> 32`` is the region index."""
MM_REGION_SIZE = 1 << VIRTUAL_ADDRESS_BITS
REGION_RODATA = 0
REGION_PROGRAM = 1
REGION_STACK = 2
REGION_HEAP = 3
REGION_INPUT = 4
MM_RODATA_START = REGION_RODATA * MM_REGION_SIZE
MM_PROGRAM_START = REGION_PROGRAM * MM_REGION_SIZE
MM_BYTECODE_START = MM_PROGRAM_START
MM_STACK_START = REGION_STACK * MM_REGION_SIZE
MM_HEAP_START = REGION_HEAP * MM_REGION_SIZE
MM_INPUT_START = REGION_INPUT * MM_REGION_SIZE

_REGION_NAMES = {REGION_PROGRAM: "program", REGION_STACK: "stack", REGION_HEAP: "heap",
                 REGION_INPUT: "input"}

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_PACKERS = {2: _U16, 4: _U32, 8: _U64}


def region_name_for_index(index: int) -> str:
    """The reference's name for an address's region, by ``vm_addr >> 32`` (SBPF_SPEC 4.4)."""
    return _REGION_NAMES.get(index, "allocated")


@dataclass(eq=False)
class Region:
    """One mapped region.

    Attributes:
        name: human name (``"rodata"``, ``"program"``, ``"stack"``, ``"heap"``, ``"input"``).
        vm_addr: first guest address.
        data: the host bytes (``numpy.uint8``, C-contiguous); its length is the host length.
        writable: stores allowed.
        gap_size: 0, or the frame size of a gapped stack (every other ``gap_size`` bytes of
            guest address space are unmapped; the guest span is twice the host length).
    """

    name: str
    vm_addr: int
    data: np.ndarray
    writable: bool
    gap_size: int = 0

    def __post_init__(self) -> None:
        if self.data.dtype != np.uint8 or self.data.ndim != 1 or not self.data.flags.c_contiguous:
            raise ValueError("region data must be a 1-D contiguous numpy uint8 array")
        if self.gap_size and self.gap_size & (self.gap_size - 1):
            raise ValueError("gap size must be a power of two")
        self.view = memoryview(self.data)  # type: ignore[arg-type]
        self.length = int(self.data.shape[0])
        # Address of the first host byte (for the JIT; never shown to the guest).
        self.host_addr = int(self.data.__array_interface__["data"][0])

    @property
    def vm_span(self) -> int:
        """Bytes of guest address space the region claims (twice the length when gapped)."""
        return self.length * 2 if self.gap_size else self.length

    def contains(self, vm_addr: int) -> bool:
        """True if ``vm_addr`` lies in the region's guest span."""
        return self.vm_addr <= vm_addr < self.vm_addr + self.vm_span

    def host_offset(self, vm_addr: int, size: int) -> int:
        """Host offset of an access of ``size`` bytes at ``vm_addr``, or -1 if out of bounds.

        Permission is not checked here.
        """
        offset = vm_addr - self.vm_addr
        if offset < 0:
            return -1
        gap = self.gap_size
        if gap:
            if offset & gap:
                return -1
            offset = ((offset & ~(2 * gap - 1)) >> 1) | (offset & (gap - 1))
        if offset + size > self.length:
            return -1
        return offset

    @classmethod
    def from_bytes(cls, name: str, vm_addr: int, content: bytes | bytearray | memoryview,
                   writable: bool) -> "Region":
        """A region holding a private copy of ``content``."""
        data = np.empty(len(content), dtype=np.uint8)
        data[:] = np.frombuffer(content, dtype=np.uint8) if len(content) else 0
        return cls(name, vm_addr, data, writable)

    @classmethod
    def zeroed(cls, name: str, vm_addr: int, size: int, writable: bool = True,
               gap_size: int = 0) -> "Region":
        """A zero-filled region of ``size`` host bytes."""
        return cls(name, vm_addr, np.zeros(size, dtype=np.uint8), writable, gap_size)


class MemoryMap:
    """The aligned memory mapping of one VM run (SBPF_SPEC 4.2 and 4.4).

    Args:
        regions: the regions; each must start inside its own 4 GiB slot
            (``vm_addr >> 32`` is its index) and no two may share an index.
        stack_frame_size: bytes per stack frame (for the ``StackAccessViolation`` rule).
        max_call_depth: frames in the stack (same rule).
        fixed_frames: the version has fixed frames (v0, v3, v4): failing addresses near
            the stack are reported as ``StackAccessViolation``.

    Raises:
        ValueError: for two regions with the same index.
    """

    def __init__(self, regions: Iterable[Region], *, stack_frame_size: int = 4096,
                 max_call_depth: int = 64, fixed_frames: bool = True) -> None:
        regs = sorted(regions, key=lambda r: r.vm_addr)
        size = (max((r.vm_addr >> VIRTUAL_ADDRESS_BITS) for r in regs) + 1) if regs else 0
        slots: list[Region | None] = [None] * size
        for region in regs:
            index = region.vm_addr >> VIRTUAL_ADDRESS_BITS
            if slots[index] is not None:
                raise ValueError(f"Invalid memory region at index {index}")
            slots[index] = region
        self.regions: tuple[Region | None, ...] = tuple(slots)
        self.stack_frame_size = stack_frame_size
        self.max_call_depth = max_call_depth
        self.fixed_frames = fixed_frames

    def region(self, name: str) -> Region | None:
        """The region called ``name``, if mapped."""
        for region in self.regions:
            if region is not None and region.name == name:
                return region
        return None

    def iter_regions(self) -> Iterable[Region]:
        """The mapped regions in address order."""
        return (r for r in self.regions if r is not None)

    # --- translation ------------------------------------------------------------------
    def translate(self, access: AccessType, vm_addr: int, size: int) -> tuple[memoryview, int]:
        """Map an access to ``(host view, host offset)``.

        Raises:
            AccessViolationError, StackAccessViolationError: per SBPF_SPEC 4.4 (``pc`` unset;
                the engine fills it in).
        """
        index = vm_addr >> VIRTUAL_ADDRESS_BITS
        if index < len(self.regions):
            region = self.regions[index]
            if region is not None and (access is AccessType.LOAD or region.writable):
                offset = region.host_offset(vm_addr, size)
                if offset >= 0:
                    return region.view, offset
        raise self.fault(access, vm_addr, size)

    def fault(self, access: AccessType, vm_addr: int, size: int) -> ProgramFault:
        """The error the reference raises for a failed access (SBPF_SPEC 4.4)."""
        if self.fixed_frames:
            # The address is reinterpreted as i64, the subtraction saturates and the
            # division truncates toward zero.
            delta = max(to_i64(vm_addr) - MM_STACK_START, -(1 << 63))
            frame = abs(delta) // self.stack_frame_size
            frame = -frame if delta < 0 else frame
            if -1 <= frame <= self.max_call_depth:
                return StackAccessViolationError(access, vm_addr, size, frame)
        index = vm_addr >> VIRTUAL_ADDRESS_BITS
        region = self.regions[index] if index < len(self.regions) else None
        if region is None or not region.contains(vm_addr):
            name = "unallocated"
        else:
            name = region_name_for_index(index)
        return AccessViolationError(access, vm_addr, size, name)

    # --- typed accessors (used by syscalls and tests; the engines inline their own) --
    def load(self, vm_addr: int, size: int) -> int:
        """Read an unsigned little-endian integer of 1, 2, 4 or 8 bytes."""
        view, offset = self.translate(AccessType.LOAD, vm_addr & U64_MASK, size)
        if size == 1:
            return int(view[offset])
        return int(_PACKERS[size].unpack_from(view, offset)[0])

    def store(self, vm_addr: int, size: int, value: int) -> None:
        """Write the low ``size`` bytes of ``value`` little endian."""
        view, offset = self.translate(AccessType.STORE, vm_addr & U64_MASK, size)
        if size == 1:
            view[offset] = value & 0xFF
        else:
            _PACKERS[size].pack_into(view, offset, value & ((1 << (8 * size)) - 1))

    def read_bytes(self, vm_addr: int, size: int) -> bytes:
        """Copy ``size`` guest bytes that must lie in one region (syscall pointer rules)."""
        if size == 0:
            return b""
        view, offset = self.translate(AccessType.LOAD, vm_addr & U64_MASK, size)
        return bytes(view[offset:offset + size])

    def write_bytes(self, vm_addr: int, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` into one writable region (syscall pointer rules)."""
        if not data:
            return
        view, offset = self.translate(AccessType.STORE, vm_addr & U64_MASK, len(data))
        view[offset:offset + len(data)] = bytes(data)

    def snapshot(self) -> dict[str, bytes]:
        """Copy of every region's bytes, by name (for differential comparisons)."""
        return {r.name: r.data.tobytes() for r in self.iter_regions()}

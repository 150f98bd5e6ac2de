"""Syscall registry, the context a syscall sees, and the core Solana syscalls.

A syscall is a Python function ``fn(ctx, r1, r2, r3, r4, r5) -> r0`` registered under
``murmur3(name)`` (SBPF_SPEC 8.5). Both engines dispatch through :func:`invoke_syscall`,
the one place where host exceptions become guest-visible :class:`SyscallError` (so a
bug in a syscall never crashes the VM and both engines report it identically).

Conventions every syscall follows (SBPF_SPEC 5.2 and 11):

* gas is charged *before* the work, with :meth:`SyscallContext.consume` ("consume
  checked": on shortage the meter drops to 0 and the syscall fails with
  ``ComputationalBudgetExceeded``);
* every guest pointer is validated with the same rules as loads and stores
  (:meth:`SyscallContext.read` / :meth:`SyscallContext.write`); a bad pointer fails the
  syscall with the access violation as its inner error;
* no host address or wall-clock value ever reaches the guest.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .arith import U64_MASK
from .errors import AccessType, ProgramFault, SyscallError, TBPFError
from .hashing import base58_encode, keccak256, symbol_hash
from .memory import MemoryMap

__all__ = [
    "SyscallFn", "Syscall", "SyscallRegistry", "SyscallContext", "invoke_syscall",
    "solana_syscalls", "SyscallCosts", "SOLANA_COSTS", "symbol_hash", "utf8_error_text",
    "sol_alloc_free", "sol_invoke_signed_unsupported", "BPF_ALIGN_OF_U128",
]

SyscallFn = Callable[["SyscallContext", int, int, int, int, int], int]


@dataclass(frozen=True, slots=True)
class Syscall:
    """A registered syscall: its name, key (``murmur3(name)`` unless overridden) and body."""

    name: str
    key: int
    func: SyscallFn
    doc: str = ""


def utf8_error_text(raw: bytes) -> str:
    """Rust's ``Utf8Error`` display for the first invalid sequence in ``raw``.

    ``"invalid utf-8 sequence of N bytes from index I"``, or ``"incomplete utf-8 byte
    sequence from index I"`` when ``raw`` ends inside a character (Rust's
    ``error_len() == None``). Follows ``core::str::run_utf8_validation`` so the byte
    counts are Rust's, not Python's. Returns ``""`` for valid UTF-8.

    >>> utf8_error_text(b"ok\\xff")
    'invalid utf-8 sequence of 1 bytes from index 2'
    >>> utf8_error_text(b"\\xe2\\x82")
    'incomplete utf-8 byte sequence from index 0'
    """
    i, n = 0, len(raw)
    while i < n:
        start, first = i, raw[i]
        if first < 0x80:
            i += 1
            continue
        width = 2 if 0xC2 <= first <= 0xDF else 3 if 0xE0 <= first <= 0xEF else \
            4 if 0xF0 <= first <= 0xF4 else 0
        if width == 0:
            return f"invalid utf-8 sequence of 1 bytes from index {start}"
        # The second byte's valid range depends on the first (no overlongs, no
        # surrogates, nothing above U+10FFFF); the rest are plain continuation bytes.
        low, high = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF),
                     0xF4: (0x80, 0x8F)}.get(first, (0x80, 0xBF))
        for k in range(1, width):
            if start + k >= n:
                return f"incomplete utf-8 byte sequence from index {start}"
            byte = raw[start + k]
            ok = low <= byte <= high if k == 1 else 0x80 <= byte <= 0xBF
            if not ok:
                return f"invalid utf-8 sequence of {k} bytes from index {start}"
        i = start + width
    return ""


class SyscallRegistry:
    """Syscalls by key. Registration order is kept (for listings and docs)."""

    def __init__(self, syscalls: Iterable[Syscall] = ()) -> None:
        self._by_key: dict[int, Syscall] = {}
        for syscall in syscalls:
            self._add(syscall)

    def _add(self, syscall: Syscall) -> Syscall:
        old = self._by_key.get(syscall.key)
        if old is not None and old.name != syscall.name:
            raise ValueError(f"syscall {syscall.name!r} collides with {old.name!r} "
                             f"(key {syscall.key:#x})")
        self._by_key[syscall.key] = syscall
        return syscall

    def register(self, name: str, func: SyscallFn, *, key: int | None = None,
                 doc: str = "") -> Syscall:
        """Register ``func`` as ``name`` (key ``murmur3(name)`` unless given).

        Raises:
            ValueError: if another name already has that key.
        """
        return self._add(Syscall(name, symbol_hash(name) if key is None else key, func,
                                 doc or (func.__doc__ or "").strip().split("\n")[0]))

    def alias(self, name: str, existing: str) -> Syscall:
        """Register ``name`` as another name for the syscall ``existing``."""
        target = self.by_name(existing)
        if target is None:
            raise KeyError(existing)
        return self.register(name, target.func, doc=target.doc)

    def get(self, key: int) -> Syscall | None:
        """The syscall with ``key`` (a u32), or ``None``."""
        return self._by_key.get(key & 0xFFFF_FFFF)

    def by_name(self, name: str) -> Syscall | None:
        """The syscall called ``name``, or ``None``."""
        syscall = self._by_key.get(symbol_hash(name))
        if syscall is not None and syscall.name == name:
            return syscall
        return next((s for s in self._by_key.values() if s.name == name), None)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and (key & 0xFFFF_FFFF) in self._by_key

    def __iter__(self) -> Iterator[Syscall]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def keys(self) -> frozenset[int]:
        """Every registered key (part of a compiled program's identity)."""
        return frozenset(self._by_key)

    def copy(self) -> "SyscallRegistry":
        """A shallow copy that can be extended without touching this one."""
        return SyscallRegistry(self._by_key.values())

    def merged(self, other: "SyscallRegistry") -> "SyscallRegistry":
        """A copy with ``other``'s syscalls added."""
        out = self.copy()
        for syscall in other:
            out._add(syscall)
        return out


@dataclass
class SyscallContext:
    """Everything a syscall may touch during one run.

    Attributes:
        memory: the run's memory map (pointer validation goes through it).
        remaining: compute units left on the host meter; engines synchronise it before and
            after every syscall (SBPF_SPEC 5.2).
        logs: log lines, in order.
        return_data: ``(program_id, data)`` set by ``sol_set_return_data``.
        program_id: 32-byte id of the running program (for return data).
        host: whatever the embedding runtime needs (the TOS runtime puts its state here).
        call_log: ``(name, args, result)`` of every syscall (for differential testing).
        frame_depth: current call depth of the guest (``sol_get_stack_height``).
        check_alignment: typed pointers must be aligned (Agave's ``check_aligned``: true
            for every loader except the deprecated ``BPFLoader1111...``, SBPF_SPEC 10.2).
        heap_alloc_pos: bytes of the heap handed out by ``sol_alloc_free_`` (Agave's
            ``BpfAllocator`` position; per run).
    """

    memory: MemoryMap
    remaining: int = 0
    logs: list[str] = field(default_factory=list)
    return_data: tuple[bytes, bytes] = (bytes(32), b"")
    program_id: bytes = bytes(32)
    host: object | None = None
    call_log: list[tuple[str, tuple[int, ...], object]] = field(default_factory=list)
    frame_depth: int = 0
    check_alignment: bool = True
    heap_alloc_pos: int = 0

    def consume(self, units: int) -> None:
        """Charge ``units`` before doing work; on shortage drain the meter and fail."""
        if units > self.remaining:
            self.remaining = 0
            raise SyscallError("ComputationalBudgetExceeded",
                               f"needed {units} compute units")
        self.remaining -= units

    def read(self, vm_addr: int, size: int) -> bytes:
        """Guest bytes ``[vm_addr, vm_addr + size)`` (one region, load permission)."""
        return self.memory.read_bytes(vm_addr, size)

    def write(self, vm_addr: int, data: bytes | bytearray) -> None:
        """Write ``data`` at ``vm_addr`` (one writable region)."""
        self.memory.write_bytes(vm_addr, data)

    def check_writable(self, vm_addr: int, size: int) -> None:
        """Validate an output buffer before doing work (no bytes are written)."""
        if size:
            self.memory.translate(AccessType.STORE, vm_addr & U64_MASK, size)

    def read_u64(self, vm_addr: int) -> int:
        """A little-endian u64 at ``vm_addr``."""
        return int.from_bytes(self.read(vm_addr, 8), "little")

    def read_str(self, vm_addr: int, size: int) -> str:
        """A UTF-8 string; invalid UTF-8 fails with ``InvalidString``."""
        raw = self.read(vm_addr, size)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            # The detail is Agave's display of SyscallError::InvalidString (Rust's
            # Utf8Error, then the bytes), the text a Solana runtime logs on failure.
            raise SyscallError("InvalidString",
                               f"{utf8_error_text(raw)}: {list(raw)}") from None

    def check_aligned(self, vm_addr: int, align: int) -> None:
        """Typed pointers must be aligned for the aligned input ABI (``UnalignedPointer``);
        no check when :attr:`check_alignment` is off (deprecated loader)."""
        if self.check_alignment and vm_addr % align:
            raise SyscallError("UnalignedPointer", f"{vm_addr:#x} is not {align}-byte aligned")

    def log(self, message: str) -> None:
        """Append a log line."""
        self.logs.append(message)


def invoke_syscall(syscall: Syscall, ctx: SyscallContext, r1: int, r2: int, r3: int,
                   r4: int, r5: int) -> int:
    """Run one syscall the way both engines must: the one boundary for host exceptions.

    Returns r0 (masked to u64). Raises :class:`SyscallError` for every failure: the
    syscall's own ``SyscallError``, a memory fault while validating a pointer (its kind
    becomes the inner kind), or any Python exception (inner kind ``HostError``).
    """
    try:
        result = syscall.func(ctx, r1, r2, r3, r4, r5)
    except SyscallError as err:
        if err.syscall is None:
            err = SyscallError(err.inner_kind, err.detail, syscall=syscall.name)
        ctx.call_log.append((syscall.name, (r1, r2, r3, r4, r5), err.inner_kind))
        raise err from None
    except ProgramFault as err:
        ctx.call_log.append((syscall.name, (r1, r2, r3, r4, r5), err.kind))
        raise SyscallError(err.kind, err.message, syscall=syscall.name) from err
    except TBPFError as err:
        ctx.call_log.append((syscall.name, (r1, r2, r3, r4, r5), err.kind))
        raise SyscallError(err.kind, err.message, syscall=syscall.name) from err
    except Exception as err:  # noqa: BLE001 - the one place host exceptions are caught
        ctx.call_log.append((syscall.name, (r1, r2, r3, r4, r5), "HostError"))
        raise SyscallError("HostError", f"{type(err).__name__}: {err}",
                           syscall=syscall.name) from err
    if not isinstance(result, int) or isinstance(result, bool):
        ctx.call_log.append((syscall.name, (r1, r2, r3, r4, r5), "HostError"))
        raise SyscallError("HostError", f"returned {type(result).__name__}, not int",
                           syscall=syscall.name)
    result &= U64_MASK
    ctx.call_log.append((syscall.name, (r1, r2, r3, r4, r5), result))
    return result


# --------------------------------------------------------------------------------------
# Core Solana syscalls (SBPF_SPEC 11), costs from Agave's defaults
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SyscallCosts:
    """Compute-unit cost parameters (SBPF_SPEC 11.2)."""

    syscall_base_cost: int = 100
    log_64_units: int = 100
    log_pubkey_units: int = 100
    sha256_base_cost: int = 85
    sha256_byte_cost: int = 1
    sha256_max_slices: int = 20_000
    mem_op_base_cost: int = 10
    cpi_bytes_per_unit: int = 250
    sysvar_base_cost: int = 100
    max_return_data: int = 1024


SOLANA_COSTS = SyscallCosts()


def _mem_op_cost(n: int, c: SyscallCosts = SOLANA_COSTS) -> int:
    return max(c.mem_op_base_cost, n // c.cpi_bytes_per_unit)


def _nonoverlapping(a: int, a_len: int, b: int, b_len: int) -> bool:
    # Agave's is_nonoverlapping: the distance between the starts is at least the length
    # of the region that starts first.
    return (b - a >= a_len) if a <= b else (a - b >= b_len)


def sol_abort(ctx: SyscallContext, *_: int) -> int:
    """abort(): always fails with ``Abort`` (costs nothing)."""
    raise SyscallError("Abort", "SBF program panicked")


def sol_panic(ctx: SyscallContext, file: int, length: int, line: int, column: int,
              _r5: int) -> int:
    """sol_panic_(file, len, line, col): charges ``len``, then fails with ``Panic``."""
    ctx.consume(length)
    name = ctx.read_str(file, length)
    raise SyscallError("Panic", f"{name}:{line}:{column}")


def sol_log(ctx: SyscallContext, msg: int, length: int, *_: int) -> int:
    """sol_log_(msg, len): logs ``Program log: <msg>``; costs ``max(100, len)``."""
    ctx.consume(max(SOLANA_COSTS.syscall_base_cost, length))
    ctx.log("Program log: " + ctx.read_str(msg, length))
    return 0


def sol_log_64(ctx: SyscallContext, a: int, b: int, c: int, d: int, e: int) -> int:
    """sol_log_64_(a, b, c, d, e): logs the five values in hex; costs 100."""
    ctx.consume(SOLANA_COSTS.log_64_units)
    ctx.log(f"Program log: {a:#x}, {b:#x}, {c:#x}, {d:#x}, {e:#x}")
    return 0


def sol_log_pubkey(ctx: SyscallContext, key: int, *_: int) -> int:
    """sol_log_pubkey(ptr): logs a 32-byte key in base58; costs 100."""
    ctx.consume(SOLANA_COSTS.log_pubkey_units)
    ctx.log("Program log: " + base58_encode(ctx.read(key, 32)))
    return 0


def sol_log_compute_units(ctx: SyscallContext, *_: int) -> int:
    """sol_log_compute_units_(): logs the remaining units (after charging 100)."""
    ctx.consume(SOLANA_COSTS.syscall_base_cost)
    ctx.log(f"Program consumption: {ctx.remaining} units remaining")
    return 0


def _read_slices(ctx: SyscallContext, vm_addr: int, count: int) -> list[tuple[int, int]]:
    if count == 0:
        return []
    ctx.check_aligned(vm_addr, 8)
    raw = ctx.read(vm_addr, 16 * count)
    return [(int.from_bytes(raw[16 * i:16 * i + 8], "little"),
             int.from_bytes(raw[16 * i + 8:16 * i + 16], "little")) for i in range(count)]


def sol_log_data(ctx: SyscallContext, slices: int, count: int, *_: int) -> int:
    """sol_log_data(slices, n): logs ``Program data: <b64> ...``; 100 + 100/slice + bytes."""
    ctx.consume(SOLANA_COSTS.syscall_base_cost)
    parts = _read_slices(ctx, slices, count)
    ctx.consume(SOLANA_COSTS.syscall_base_cost * len(parts))
    ctx.consume(sum(length for _, length in parts))
    ctx.log("Program data: " + " ".join(
        base64.b64encode(ctx.read(ptr, length)).decode() for ptr, length in parts))
    return 0


def sol_memcpy(ctx: SyscallContext, dst: int, src: int, n: int, *_: int) -> int:
    """sol_memcpy_(dst, src, n): costs ``max(10, n/250)``; overlap fails ``CopyOverlapping``."""
    ctx.consume(_mem_op_cost(n))
    if not _nonoverlapping(src, n, dst, n):
        raise SyscallError("CopyOverlapping", "memcpy source and destination overlap")
    if n:
        data = ctx.read(src, n)
        ctx.write(dst, data)
    return 0


def sol_memmove(ctx: SyscallContext, dst: int, src: int, n: int, *_: int) -> int:
    """sol_memmove_(dst, src, n): costs ``max(10, n/250)``."""
    ctx.consume(_mem_op_cost(n))
    if n:
        data = ctx.read(src, n)
        ctx.write(dst, data)
    return 0


def sol_memset(ctx: SyscallContext, dst: int, value: int, n: int, *_: int) -> int:
    """sol_memset_(dst, c, n): costs ``max(10, n/250)``."""
    ctx.consume(_mem_op_cost(n))
    if n:
        ctx.write(dst, bytes([value & 0xFF]) * n)
    return 0


def sol_memcmp(ctx: SyscallContext, a: int, b: int, n: int, result: int, _r5: int) -> int:
    """sol_memcmp_(a, b, n, result_ptr): writes the i32 difference of the first differing
    bytes (0 if equal); costs ``max(10, n/250)``."""
    ctx.consume(_mem_op_cost(n))
    left = ctx.read(a, n)
    right = ctx.read(b, n)
    ctx.check_writable(result, 4)  # mapped before the alignment check, as in Agave
    ctx.check_aligned(result, 4)
    diff = 0
    for x, y in zip(left, right):
        if x != y:
            diff = x - y
            break
    ctx.write(result, (diff & 0xFFFF_FFFF).to_bytes(4, "little"))
    return 0


def _hash_syscall(digest: Callable[[bytes], bytes]) -> SyscallFn:
    def hash_fn(ctx: SyscallContext, vals: int, count: int, result: int, *_: int) -> int:
        costs = SOLANA_COSTS
        if count > costs.sha256_max_slices:
            raise SyscallError("TooManySlices", f"{count} slices")
        ctx.consume(costs.sha256_base_cost)
        ctx.check_writable(result, 32)
        data = bytearray()
        for ptr, length in _read_slices(ctx, vals, count):
            ctx.consume(max(costs.mem_op_base_cost, costs.sha256_byte_cost * (length // 2)))
            data += ctx.read(ptr, length)
        ctx.write(result, digest(bytes(data)))
        return 0
    hash_fn.__doc__ = ("(vals, n, result32): hash of the slices; 85 + per slice "
                       "max(10, len/2)")
    return hash_fn


def sol_remaining_compute_units(ctx: SyscallContext, *_: int) -> int:
    """sol_remaining_compute_units(): charges 100, returns what is left."""
    ctx.consume(SOLANA_COSTS.syscall_base_cost)
    return ctx.remaining


def sol_set_return_data(ctx: SyscallContext, ptr: int, length: int, *_: int) -> int:
    """sol_set_return_data(ptr, len): 100 + len/250; over 1024 bytes fails."""
    costs = SOLANA_COSTS
    ctx.consume(costs.syscall_base_cost + length // costs.cpi_bytes_per_unit)
    if length > costs.max_return_data:
        raise SyscallError("ReturnDataTooLarge", f"{length} > {costs.max_return_data}")
    ctx.return_data = (ctx.program_id, ctx.read(ptr, length))
    return 0


def sol_get_return_data(ctx: SyscallContext, ptr: int, length: int, program_id: int,
                        *_: int) -> int:
    """sol_get_return_data(ptr, len, program_id_ptr) -> data length."""
    costs = SOLANA_COSTS
    ctx.consume(costs.syscall_base_cost)
    owner, data = ctx.return_data
    n = min(length, len(data))
    if n:
        ctx.consume((n + 32) // costs.cpi_bytes_per_unit)
        ctx.write(ptr, data[:n])
        ctx.write(program_id, owner)
    return len(data)


def sol_get_stack_height(ctx: SyscallContext, *_: int) -> int:
    """sol_get_stack_height(): 100; the instruction stack height (1 for a top-level call)."""
    ctx.consume(SOLANA_COSTS.syscall_base_cost)
    return 1


def _sysvar(size: int, content: Callable[[SyscallContext], bytes]) -> SyscallFn:
    def sysvar_fn(ctx: SyscallContext, out: int, *_: int) -> int:
        ctx.consume(SOLANA_COSTS.sysvar_base_cost + size)
        # Agave maps the output first (a bad pointer is an access violation), then checks
        # its alignment. Without alignment checks (deprecated loader) it refuses typed
        # sysvar output outright (observed on the pinned Agave, solders 0.29).
        ctx.check_writable(out, size)
        if not ctx.check_alignment:
            raise SyscallError("UnalignedPointer", "sysvar output without alignment checks")
        ctx.check_aligned(out, 8)
        ctx.write(out, content(ctx))
        return 0
    sysvar_fn.__doc__ = f"(out): writes the {size}-byte sysvar; costs 100 + {size}"
    return sysvar_fn


def _clock(ctx: SyscallContext) -> bytes:
    # slot, epoch_start_timestamp, epoch, leader_schedule_epoch, unix_timestamp: a
    # standalone VM has no chain, so all zero (deterministic).
    host_clock = getattr(ctx.host, "clock_sysvar", None)
    return host_clock() if callable(host_clock) else bytes(40)


def _rent(ctx: SyscallContext) -> bytes:
    host_rent = getattr(ctx.host, "rent_sysvar", None)
    if callable(host_rent):
        return bytes(host_rent())
    # lamports_per_byte_year 3480, exemption_threshold 2.0 (f64), burn_percent 50.
    return (3480).to_bytes(8, "little") + bytes.fromhex("0000000000000040") + bytes([50]) \
        + bytes(7)


def _epoch_schedule(ctx: SyscallContext) -> bytes:
    host_schedule = getattr(ctx.host, "epoch_schedule_sysvar", None)
    if callable(host_schedule):
        return bytes(host_schedule())
    # slots_per_epoch 432000, leader_schedule_slot_offset 432000, warmup false,
    # first_normal_epoch 0, first_normal_slot 0.
    return ((432000).to_bytes(8, "little") + (432000).to_bytes(8, "little") + bytes(8)
            + bytes(8) + bytes(8))


BPF_ALIGN_OF_U128 = 8
"""Alignment of ``u128`` on the BPF target (Agave's ``BPF_ALIGN_OF_U128``)."""

_ISIZE_MAX = (1 << 63) - 1


def sol_alloc_free(ctx: SyscallContext, size: int, free_addr: int, *_: int) -> int:
    """sol_alloc_free_(size, free_addr): Agave's deprecated bump allocator; costs 0.

    Allocation (``free_addr == 0``) returns the heap address of ``size`` bytes aligned to 8
    (to 1 under the deprecated loader), or 0 when the heap is exhausted or the layout is
    invalid; freeing does nothing and returns 0. Old programs (e.g. spl_memo 1.0.0) still
    import it; Agave registers it for execution but not for new deployments.
    """
    align = BPF_ALIGN_OF_U128 if ctx.check_alignment else 1
    if size > _ISIZE_MAX - (align - 1) or free_addr != 0:
        return 0
    heap = ctx.memory.region("heap")
    if heap is None:
        return 0
    pos = ctx.heap_alloc_pos
    pad = -pos % align
    if pos + pad + size > heap.length:
        return 0
    ctx.heap_alloc_pos = pos + pad + size
    return heap.vm_addr + pos + pad


def sol_invoke_signed_unsupported(ctx: SyscallContext, *_: int) -> int:
    """sol_invoke_signed_c / sol_invoke_signed_rust: cross-program invocation is not
    modelled; always fails with ``CpiNotSupported`` (nothing charged)."""
    raise SyscallError("CpiNotSupported",
                       "cross-program invocation is not modelled by this runtime")


def solana_syscalls() -> SyscallRegistry:
    """A fresh registry with TBPF's core Solana syscalls (SBPF_SPEC 11.3)."""
    return _SOLANA.copy()


def _build_solana_syscalls() -> SyscallRegistry:
    registry = SyscallRegistry()
    for name, fn in (
        ("abort", sol_abort),
        ("sol_panic_", sol_panic),
        ("sol_log_", sol_log),
        ("sol_log_64_", sol_log_64),
        ("sol_log_pubkey", sol_log_pubkey),
        ("sol_log_compute_units_", sol_log_compute_units),
        ("sol_log_data", sol_log_data),
        ("sol_memcpy_", sol_memcpy),
        ("sol_memmove_", sol_memmove),
        ("sol_memset_", sol_memset),
        ("sol_memcmp_", sol_memcmp),
        ("sol_sha256", _hash_syscall(lambda b: hashlib.sha256(b).digest())),
        ("sol_keccak256", _hash_syscall(keccak256)),
        ("sol_remaining_compute_units", sol_remaining_compute_units),
        ("sol_set_return_data", sol_set_return_data),
        ("sol_get_return_data", sol_get_return_data),
        ("sol_get_stack_height", sol_get_stack_height),
        ("sol_get_clock_sysvar", _sysvar(40, _clock)),
        ("sol_get_rent_sysvar", _sysvar(24, _rent)),
        ("sol_get_epoch_schedule_sysvar", _sysvar(40, _epoch_schedule)),
    ):
        registry.register(name, fn)
    return registry


_SOLANA = _build_solana_syscalls()

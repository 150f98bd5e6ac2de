"""The TOS contract syscalls, their one cost table and their return codes.

A TOS syscall is an ordinary TBPF syscall (``fn(ctx, r1..r5) -> r0``, registered under
``murmur3(name)``) that reaches the contract runtime through ``ctx.host``, an object
implementing :class:`TosHost` (the runtime's call frame, :mod:`tbpf.runtime`). This
module owns:

* :data:`TOS_COSTS` / :data:`TOS_LIMITS`, the only place a TOS gas cost or size limit is
  written down (the documentation and the runtime read them from here);
* the u64 return codes (:class:`TosCode`);
* :func:`tos_syscalls`, the registry the runtime loads and runs contracts with: TBPF's
  core Solana syscalls, the ``tos_*`` syscalls and the plain names TOS renamed them to
  on 2026-01-10 (aliases with the same key function, arguments and return convention).

Conventions (``docs/syscalls.md`` documents them once for every syscall):

* pointer + length pairs; every pointer is validated with the load/store rules of the
  memory map (:meth:`SyscallContext.read`, :meth:`~SyscallContext.write`,
  :meth:`~SyscallContext.check_writable`): a bad pointer aborts the contract;
* hashes, addresses and asset ids are 32 bytes; the native asset's id is all zeros;
* gas is charged *before* the work it pays for, with saturating arithmetic; a shortage
  aborts the contract with ``ComputationalBudgetExceeded`` and leaves 0 gas;
* expected, recoverable outcomes (missing key, short buffer, insufficient balance,
  unknown contract, failing callee, ...) are u64 return codes the contract can test;
  misuse (bad pointer, over-long key, out of gas, reentrancy, call depth) aborts it with
  :class:`~tbpf.errors.SyscallError`;
* error codes are the u64 encodings of small negative numbers (``-1``, ``-2``, ...), so
  they never collide with a length or with ``0`` (success) and test as ``(i64)r0 < 0``;
* no host address, wall-clock value or float ever reaches the guest.

This module imports the core only; the runtime imports it, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, Sequence

from .arith import U64_MASK
from .errors import SyscallError
from .syscalls import SyscallContext, SyscallRegistry, solana_syscalls

__all__ = [
    "TosCode", "TOS_CODE_MEANINGS", "TosCosts", "TosLimits", "TOS_COSTS", "TOS_LIMITS", "TosHost",
    "NATIVE_ASSET", "HASH_SIZE", "TOS_SYSCALL_NAMES", "TOS_ALIASES", "TOS_SYSCALL_DOCS",
    "SyscallDoc", "tos_syscalls", "sat_add", "sat_mul",
]

HASH_SIZE = 32
"""Bytes in a hash, an address or an asset id."""
NATIVE_ASSET = bytes(HASH_SIZE)
"""The native asset's id: the all-zero hash."""


def _neg(n: int) -> int:
    return (1 << 64) - n


class TosCode(IntEnum):
    """u64 return codes of the TOS syscalls (``r0``).

    ``OK`` is 0; every error is ``2**64 - n`` (``-n`` read as an i64), so a contract can
    test ``(int64_t)r0 < 0`` for any syscall, including those that return a length or a
    balance (lengths are bounded far below ``2**63``). Meanings: :data:`TOS_CODE_MEANINGS`.
    """

    OK = 0
    NOT_FOUND = _neg(1)
    SHORT_BUFFER = _neg(2)
    INSUFFICIENT_BALANCE = _neg(3)
    BALANCE_OVERFLOW = _neg(4)
    UNKNOWN_CONTRACT = _neg(5)
    CALLEE_FAILED = _neg(6)
    CALLEE_FAULTED = _neg(7)
    ASSET_EXISTS = _neg(8)
    UNKNOWN_ASSET = _neg(9)
    NOT_ASSET_OWNER = _neg(10)


TOS_CODE_MEANINGS: dict[TosCode, str] = {
    TosCode.OK: "success",
    TosCode.NOT_FOUND: "the storage key does not exist (`tos_storage_delete`)",
    TosCode.SHORT_BUFFER: "the output buffer is smaller than the data; nothing was written",
    TosCode.INSUFFICIENT_BALANCE: "the paying balance is below the amount",
    TosCode.BALANCE_OVERFLOW: "the receiver's balance or the asset's supply would exceed "
                              "2^64 - 1",
    TosCode.UNKNOWN_CONTRACT: "no contract with that hash (`tos_invoke_contract`)",
    TosCode.CALLEE_FAILED: "the callee exited with a non-zero code; its changes were "
                           "rolled back",
    TosCode.CALLEE_FAULTED: "the callee faulted or ran out of gas; its changes were rolled "
                            "back",
    TosCode.ASSET_EXISTS: "this contract already created an asset with that name",
    TosCode.UNKNOWN_ASSET: "no asset with that id",
    TosCode.NOT_ASSET_OWNER: "the asset belongs to another contract (or is the native "
                             "asset)",
}
"""What each :class:`TosCode` means (rendered into ``docs/syscalls.md``)."""


@dataclass(frozen=True, slots=True)
class TosCosts:
    """THE gas cost table of the TOS syscalls (1 gas = 1 compute unit).

    Values marked *TOS* are those of TOS's executable spec (``tos-spec`` syscall
    fixtures); the others are TBPF's, chosen in the same scale. Per-byte costs apply to
    the bytes the syscall reads or writes.
    """

    env_getter: int = 100            # TOS: environment getters
    log_base: int = 100
    log_byte: int = 1
    get_balance: int = 500           # TOS
    transfer: int = 5_000            # TOS
    burn: int = 5_000
    storage_read_base: int = 1_000   # TOS
    storage_read_byte: int = 1       # per byte of key and of value
    storage_write_base: int = 5_000  # TOS
    storage_write_byte: int = 2      # per byte of key and of value
    storage_delete_base: int = 1_000
    storage_delete_byte: int = 1     # per byte of key
    event_base: int = 375            # TOS
    event_topic: int = 125           # TOS
    event_byte: int = 8
    asset_create_base: int = 20_000
    asset_create_byte: int = 10      # per byte of name
    asset_mint: int = 5_000
    input_data: int = 100
    return_data_base: int = 100
    return_data_byte: int = 1
    invoke_base: int = 10_000        # TOS: invoke 10,000 (+ the callee's own gas)
    invoke_byte: int = 1             # per byte of callee input


@dataclass(frozen=True, slots=True)
class TosLimits:
    """Size and depth limits of the TOS syscalls (exceeding one aborts the contract)."""

    max_key_size: int = 256          # TOS storage key limit
    max_value_size: int = 65_536     # TOS storage value limit
    max_log_size: int = 10_000
    max_event_topics: int = 4
    max_event_data: int = 65_536
    max_asset_name: int = 64
    max_return_data: int = 1_024
    max_input_size: int = 65_536
    max_invoke_depth: int = 8
    """Frames on the contract call stack, the transaction's own call included."""


TOS_COSTS = TosCosts()
TOS_LIMITS = TosLimits()


def sat_add(*values: int) -> int:
    """Sum clamped to ``2**64 - 1`` (gas arithmetic never wraps).

    >>> sat_add(2**64 - 2, 5)
    18446744073709551615
    """
    return min(sum(values), U64_MASK)


def sat_mul(a: int, b: int) -> int:
    """Product clamped to ``2**64 - 1``.

    >>> sat_mul(2**40, 2**40) == 2**64 - 1
    True
    """
    return min(a * b, U64_MASK)


class TosHost(Protocol):
    """What a TOS syscall needs from the runtime (``ctx.host``).

    Every state method works on the current call frame's write-set (an overlay that is
    committed only if the whole transaction succeeds); amounts are u64.
    """

    contract_hash: bytes
    caller: bytes
    input_data: bytes
    tx_hash: bytes
    tx_source: bytes
    block_hash: bytes
    block_height: int
    block_timestamp: int
    callee_return_data: bytes

    def storage_get(self, key: bytes) -> bytes | None:
        """The value of ``key`` in this contract's storage, or ``None``."""
        ...

    def storage_put(self, key: bytes, value: bytes) -> None:
        """Set ``key`` (an empty value deletes it)."""
        ...

    def storage_remove(self, key: bytes) -> bool:
        """Delete ``key``; True if it existed."""
        ...

    def balance_of(self, account: bytes, asset: bytes) -> int:
        """The balance of ``account`` in ``asset`` (0 if none)."""
        ...

    def move_funds(self, source: bytes, dest: bytes, asset: bytes, amount: int) -> TosCode:
        """Move ``amount`` from ``source`` to ``dest``."""
        ...

    def burn_funds(self, account: bytes, asset: bytes, amount: int) -> TosCode:
        """Destroy ``amount`` of ``account``'s ``asset``."""
        ...

    def create_asset(self, owner: bytes, name: bytes, decimals: int) -> tuple[TosCode, bytes]:
        """Create an asset owned by ``owner``; ``(code, asset_id)``."""
        ...

    def mint_asset(self, owner: bytes, asset: bytes, amount: int) -> TosCode:
        """Mint ``amount`` of ``asset`` to ``owner`` (who must own the asset)."""
        ...

    def emit_event(self, topics: Sequence[bytes], data: bytes) -> None:
        """Record an event of the running contract."""
        ...

    def invoke(self, ctx: SyscallContext, contract: bytes, input_data: bytes,
               gas_limit: int, deposit: int) -> int:
        """Run another contract (charges ``ctx`` for its gas); returns a code."""
        ...


def _host(ctx: SyscallContext) -> TosHost:
    host = ctx.host
    if host is None or not hasattr(host, "contract_hash"):
        raise SyscallError("NoContractRuntime", "TOS syscalls run only inside the contract "
                           "runtime")
    return host  # type: ignore[return-value]


def _write_hash(ctx: SyscallContext, out: int, value: bytes) -> int:
    ctx.write(out, value)
    return TosCode.OK


def _read_hash(ctx: SyscallContext, ptr: int) -> bytes:
    return ctx.read(ptr, HASH_SIZE)


def _check_len(what: str, size: int, limit: int) -> None:
    if size > limit:
        raise SyscallError("InvalidLength", f"{what} is {size} bytes, over the limit of "
                           f"{limit}")


# --------------------------------------------------------------------------------------
# Syscall bodies. Order in each: charge, check limits, validate pointers, then act.
# --------------------------------------------------------------------------------------

def tos_log(ctx: SyscallContext, msg: int, length: int, *_: int) -> int:
    """tos_log(msg_ptr, msg_len) -> 0: logs ``Program log: <msg>`` (UTF-8)."""
    c = TOS_COSTS
    _host(ctx)
    ctx.consume(sat_add(c.log_base, sat_mul(length, c.log_byte)))
    _check_len("log message", length, TOS_LIMITS.max_log_size)
    ctx.log("Program log: " + ctx.read_str(msg, length))
    return TosCode.OK


def tos_get_contract_hash(ctx: SyscallContext, out: int, *_: int) -> int:
    """tos_get_contract_hash(out32) -> 0: the running contract's hash."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.env_getter)
    return _write_hash(ctx, out, host.contract_hash)


def tos_get_caller(ctx: SyscallContext, out: int, *_: int) -> int:
    """tos_get_caller(out32) -> 0: the invoking contract, or the transaction's source."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.env_getter)
    return _write_hash(ctx, out, host.caller)


def tos_get_tx_hash(ctx: SyscallContext, out: int, *_: int) -> int:
    """tos_get_tx_hash(out32) -> 0: the transaction's hash."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.env_getter)
    return _write_hash(ctx, out, host.tx_hash)


def tos_get_tx_source(ctx: SyscallContext, out: int, *_: int) -> int:
    """tos_get_tx_source(out32) -> 0: the address that signed the transaction."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.env_getter)
    return _write_hash(ctx, out, host.tx_source)


def tos_get_block_hash(ctx: SyscallContext, out: int, *_: int) -> int:
    """tos_get_block_hash(out32) -> 0: hash of the parent of the block being built."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.env_getter)
    return _write_hash(ctx, out, host.block_hash)


def tos_get_block_height(ctx: SyscallContext, *_: int) -> int:
    """tos_get_block_height() -> height of the block being built."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.env_getter)
    return host.block_height


def tos_get_block_timestamp(ctx: SyscallContext, *_: int) -> int:
    """tos_get_block_timestamp() -> the block's timestamp (seconds, derived from height)."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.env_getter)
    return host.block_timestamp


def tos_get_balance(ctx: SyscallContext, account: int, asset: int, *_: int) -> int:
    """tos_get_balance(account32, asset32) -> balance (u64, 0 if none)."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.get_balance)
    who = _read_hash(ctx, account)
    what = _read_hash(ctx, asset)
    return host.balance_of(who, what)


def tos_transfer(ctx: SyscallContext, dest: int, asset: int, amount: int, *_: int) -> int:
    """tos_transfer(dest32, asset32, amount) -> code: pay from the contract's balance."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.transfer)
    to = _read_hash(ctx, dest)
    what = _read_hash(ctx, asset)
    return host.move_funds(host.contract_hash, to, what, amount)


def tos_burn(ctx: SyscallContext, asset: int, amount: int, *_: int) -> int:
    """tos_burn(asset32, amount) -> code: destroy some of the contract's balance."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.burn)
    what = _read_hash(ctx, asset)
    return host.burn_funds(host.contract_hash, what, amount)


def tos_storage_load(ctx: SyscallContext, key: int, key_len: int, out: int, cap: int,
                     _r5: int) -> int:
    """tos_storage_load(key_ptr, key_len, val_ptr, val_cap) -> value length (0 if absent)."""
    c = TOS_COSTS
    host = _host(ctx)
    ctx.consume(sat_add(c.storage_read_base, sat_mul(key_len, c.storage_read_byte)))
    _check_len("storage key", key_len, TOS_LIMITS.max_key_size)
    name = ctx.read(key, key_len)
    value = host.storage_get(name)
    if value is None:
        return 0
    ctx.consume(sat_mul(len(value), c.storage_read_byte))
    if len(value) > cap:
        return TosCode.SHORT_BUFFER
    ctx.write(out, value)
    return len(value)


def tos_storage_store(ctx: SyscallContext, key: int, key_len: int, value: int,
                      value_len: int, _r5: int) -> int:
    """tos_storage_store(key_ptr, key_len, val_ptr, val_len) -> 0 (empty value deletes)."""
    c = TOS_COSTS
    host = _host(ctx)
    ctx.consume(sat_add(c.storage_write_base,
                        sat_mul(sat_add(key_len, value_len), c.storage_write_byte)))
    _check_len("storage key", key_len, TOS_LIMITS.max_key_size)
    _check_len("storage value", value_len, TOS_LIMITS.max_value_size)
    name = ctx.read(key, key_len)
    data = ctx.read(value, value_len)
    host.storage_put(name, data)
    return TosCode.OK


def tos_storage_delete(ctx: SyscallContext, key: int, key_len: int, *_: int) -> int:
    """tos_storage_delete(key_ptr, key_len) -> 0, or NOT_FOUND if the key was absent."""
    c = TOS_COSTS
    host = _host(ctx)
    ctx.consume(sat_add(c.storage_delete_base, sat_mul(key_len, c.storage_delete_byte)))
    _check_len("storage key", key_len, TOS_LIMITS.max_key_size)
    name = ctx.read(key, key_len)
    return TosCode.OK if host.storage_remove(name) else TosCode.NOT_FOUND


def tos_asset_create(ctx: SyscallContext, name: int, name_len: int, decimals: int,
                     out: int, _r5: int) -> int:
    """tos_asset_create(name_ptr, name_len, decimals, out_asset32) -> code."""
    c = TOS_COSTS
    host = _host(ctx)
    ctx.consume(sat_add(c.asset_create_base, sat_mul(name_len, c.asset_create_byte)))
    if not 1 <= name_len <= TOS_LIMITS.max_asset_name:
        raise SyscallError("InvalidLength", f"asset name of {name_len} bytes (1 to "
                           f"{TOS_LIMITS.max_asset_name})")
    if decimals > 18:
        raise SyscallError("InvalidArgument", f"{decimals} decimals (at most 18)")
    label = ctx.read(name, name_len)
    ctx.check_writable(out, HASH_SIZE)
    code, asset = host.create_asset(host.contract_hash, label, decimals)
    if code == TosCode.OK:
        ctx.write(out, asset)
    return code


def tos_asset_mint(ctx: SyscallContext, asset: int, amount: int, *_: int) -> int:
    """tos_asset_mint(asset32, amount) -> code: mint to the contract (its owner)."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.asset_mint)
    what = _read_hash(ctx, asset)
    return host.mint_asset(host.contract_hash, what, amount)


def tos_fire_event(ctx: SyscallContext, topics: int, n_topics: int, data: int,
                   data_len: int, _r5: int) -> int:
    """tos_fire_event(topics_ptr, n_topics, data_ptr, data_len) -> 0."""
    c = TOS_COSTS
    host = _host(ctx)
    ctx.consume(sat_add(c.event_base, sat_mul(n_topics, c.event_topic),
                        sat_mul(data_len, c.event_byte)))
    if n_topics > TOS_LIMITS.max_event_topics:
        raise SyscallError("TooManyTopics", f"{n_topics} topics (at most "
                           f"{TOS_LIMITS.max_event_topics})")
    _check_len("event data", data_len, TOS_LIMITS.max_event_data)
    raw = ctx.read(topics, HASH_SIZE * n_topics)
    payload = ctx.read(data, data_len)
    host.emit_event([raw[i * HASH_SIZE:(i + 1) * HASH_SIZE] for i in range(n_topics)],
                    payload)
    return TosCode.OK


def tos_get_input_data(ctx: SyscallContext, out: int, cap: int, *_: int) -> int:
    """tos_get_input_data(out_ptr, cap) -> input length, or SHORT_BUFFER."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.input_data)
    data = host.input_data
    if len(data) > cap:
        return TosCode.SHORT_BUFFER
    ctx.write(out, data)
    return len(data)


def tos_set_return_data(ctx: SyscallContext, ptr: int, length: int, *_: int) -> int:
    """tos_set_return_data(ptr, len) -> 0: the bytes the invoke returns to its caller."""
    c = TOS_COSTS
    host = _host(ctx)
    ctx.consume(sat_add(c.return_data_base, sat_mul(length, c.return_data_byte)))
    if length > TOS_LIMITS.max_return_data:
        raise SyscallError("ReturnDataTooLarge", f"{length} > {TOS_LIMITS.max_return_data}")
    ctx.return_data = (host.contract_hash, ctx.read(ptr, length))
    return TosCode.OK


def tos_get_return_data(ctx: SyscallContext, out: int, cap: int, *_: int) -> int:
    """tos_get_return_data(out_ptr, cap) -> length of the last callee's return data."""
    host = _host(ctx)
    ctx.consume(TOS_COSTS.input_data)
    data = host.callee_return_data
    if len(data) > cap:
        return TosCode.SHORT_BUFFER
    ctx.write(out, data)
    return len(data)


def tos_invoke_contract(ctx: SyscallContext, contract: int, input_ptr: int, input_len: int,
                        gas_limit: int, deposit: int) -> int:
    """tos_invoke_contract(contract32, input_ptr, input_len, gas_limit, deposit) -> code."""
    c = TOS_COSTS
    host = _host(ctx)
    ctx.consume(sat_add(c.invoke_base, sat_mul(input_len, c.invoke_byte)))
    _check_len("invoke input", input_len, TOS_LIMITS.max_input_size)
    target = _read_hash(ctx, contract)
    data = ctx.read(input_ptr, input_len)
    return host.invoke(ctx, target, data, gas_limit, deposit)


# --------------------------------------------------------------------------------------
# Registry and documentation metadata
# --------------------------------------------------------------------------------------

_TOS_FUNCS = (
    ("tos_log", tos_log),
    ("tos_get_contract_hash", tos_get_contract_hash),
    ("tos_get_caller", tos_get_caller),
    ("tos_get_balance", tos_get_balance),
    ("tos_transfer", tos_transfer),
    ("tos_burn", tos_burn),
    ("tos_storage_load", tos_storage_load),
    ("tos_storage_store", tos_storage_store),
    ("tos_storage_delete", tos_storage_delete),
    ("tos_get_tx_hash", tos_get_tx_hash),
    ("tos_get_tx_source", tos_get_tx_source),
    ("tos_get_block_hash", tos_get_block_hash),
    ("tos_get_block_height", tos_get_block_height),
    ("tos_get_block_timestamp", tos_get_block_timestamp),
    ("tos_asset_create", tos_asset_create),
    ("tos_asset_mint", tos_asset_mint),
    ("tos_fire_event", tos_fire_event),
    ("tos_get_input_data", tos_get_input_data),
    ("tos_set_return_data", tos_set_return_data),
    ("tos_get_return_data", tos_get_return_data),
    ("tos_invoke_contract", tos_invoke_contract),
)

TOS_SYSCALL_NAMES: tuple[str, ...] = tuple(name for name, _ in _TOS_FUNCS)
"""The ``tos_*`` syscalls, in registration order."""

TOS_ALIASES: dict[str, str] = {
    # TOS's 2026-01-10 plain names (same arguments, same return convention).
    "log": "tos_log",
    "storage_read": "tos_storage_load",
    "storage_write": "tos_storage_store",
    "storage_delete": "tos_storage_delete",
    "get_input_data": "tos_get_input_data",
    "set_return_data": "tos_set_return_data",
    "get_tx_sender": "tos_get_tx_source",
    "get_caller": "tos_get_caller",
    "get_block_hash": "tos_get_block_hash",
    "get_block_height": "tos_get_block_height",
    "get_block_timestamp": "tos_get_block_timestamp",
    "get_contract_hash": "tos_get_contract_hash",
    "get_balance": "tos_get_balance",
    "transfer": "tos_transfer",
    "emit_event": "tos_fire_event",
    # TOS kept the prefix on its memory helpers: same bodies as Solana's.
    "tos_memcpy": "sol_memcpy_",
    "tos_memmove": "sol_memmove_",
    "tos_memset": "sol_memset_",
}
"""Alias name -> the syscall it stands for."""


@dataclass(frozen=True, slots=True)
class SyscallDoc:
    """Documentation of one syscall (rendered into ``docs/syscalls.md``).

    Attributes:
        signature: C-like signature; every argument and the result are u64.
        cost: the gas charged, written from the cost table.
        returns: what ``r0`` holds.
        errors: what aborts the contract (inner kind of the ``SyscallError``).
    """

    signature: str
    cost: str
    returns: str
    errors: str


def _docs() -> dict[str, SyscallDoc]:
    c, lim = TOS_COSTS, TOS_LIMITS
    ptr = "AccessViolation (bad pointer)"
    gas = "ComputationalBudgetExceeded"
    code = "`OK` (0)"
    getter = SyscallDoc("", f"{c.env_getter}", code, f"{gas}; {ptr} (out32 not writable)")
    return {
        "tos_log": SyscallDoc(
            "tos_log(msg_ptr, msg_len)",
            f"{c.log_base} + {c.log_byte}/byte",
            code,
            f"{gas}; InvalidLength (> {lim.max_log_size} bytes); InvalidString (not "
            f"UTF-8); {ptr}"),
        "tos_get_contract_hash": SyscallDoc("tos_get_contract_hash(out32)", getter.cost,
                                            code, getter.errors),
        "tos_get_caller": SyscallDoc("tos_get_caller(out32)", getter.cost, code,
                                     getter.errors),
        "tos_get_balance": SyscallDoc(
            "tos_get_balance(account32_ptr, asset32_ptr)", f"{c.get_balance}",
            "the balance (u64; 0 for an unknown account or asset)", f"{gas}; {ptr}"),
        "tos_transfer": SyscallDoc(
            "tos_transfer(dest32_ptr, asset32_ptr, amount)", f"{c.transfer}",
            f"{code}, `INSUFFICIENT_BALANCE`, `BALANCE_OVERFLOW`", f"{gas}; {ptr}"),
        "tos_burn": SyscallDoc(
            "tos_burn(asset32_ptr, amount)", f"{c.burn}",
            f"{code}, `INSUFFICIENT_BALANCE`", f"{gas}; {ptr}"),
        "tos_storage_load": SyscallDoc(
            "tos_storage_load(key_ptr, key_len, val_ptr, val_cap)",
            f"{c.storage_read_base} + {c.storage_read_byte}/key byte, then "
            f"{c.storage_read_byte}/value byte if found",
            "the value's length (0 if the key is absent; empty values are never stored), "
            "or `SHORT_BUFFER` (nothing written)",
            f"{gas}; InvalidLength (key > {lim.max_key_size}); {ptr}"),
        "tos_storage_store": SyscallDoc(
            "tos_storage_store(key_ptr, key_len, val_ptr, val_len)",
            f"{c.storage_write_base} + {c.storage_write_byte}/byte of key and value",
            f"{code} (an empty value deletes the key)",
            f"{gas}; InvalidLength (key > {lim.max_key_size}, value > "
            f"{lim.max_value_size}); {ptr}"),
        "tos_storage_delete": SyscallDoc(
            "tos_storage_delete(key_ptr, key_len)",
            f"{c.storage_delete_base} + {c.storage_delete_byte}/key byte",
            f"{code}, `NOT_FOUND`",
            f"{gas}; InvalidLength (key > {lim.max_key_size}); {ptr}"),
        "tos_get_tx_hash": SyscallDoc("tos_get_tx_hash(out32)", getter.cost, code,
                                      getter.errors),
        "tos_get_tx_source": SyscallDoc("tos_get_tx_source(out32)", getter.cost, code,
                                        getter.errors),
        "tos_get_block_hash": SyscallDoc(
            "tos_get_block_hash(out32)", getter.cost,
            f"{code}; writes the hash of the latest committed block", getter.errors),
        "tos_get_block_height": SyscallDoc(
            "tos_get_block_height()", getter.cost,
            "the height of the block being built", gas),
        "tos_get_block_timestamp": SyscallDoc(
            "tos_get_block_timestamp()", getter.cost,
            "the block's timestamp in seconds (derived from the height)", gas),
        "tos_asset_create": SyscallDoc(
            "tos_asset_create(name_ptr, name_len, decimals, out_asset32_ptr)",
            f"{c.asset_create_base} + {c.asset_create_byte}/name byte",
            f"{code} (asset id written), `ASSET_EXISTS`",
            f"{gas}; InvalidLength (name not 1..{lim.max_asset_name} bytes); "
            f"InvalidArgument (decimals > 18); {ptr}"),
        "tos_asset_mint": SyscallDoc(
            "tos_asset_mint(asset32_ptr, amount)", f"{c.asset_mint}",
            f"{code}, `UNKNOWN_ASSET`, `NOT_ASSET_OWNER`, `BALANCE_OVERFLOW`",
            f"{gas}; {ptr}"),
        "tos_fire_event": SyscallDoc(
            "tos_fire_event(topics_ptr, n_topics, data_ptr, data_len)",
            f"{c.event_base} + {c.event_topic}/topic + {c.event_byte}/data byte",
            code,
            f"{gas}; TooManyTopics (> {lim.max_event_topics}); InvalidLength (data > "
            f"{lim.max_event_data}); {ptr}"),
        "tos_get_input_data": SyscallDoc(
            "tos_get_input_data(out_ptr, cap)", f"{c.input_data}",
            "the input's length, or `SHORT_BUFFER` (nothing written)", f"{gas}; {ptr}"),
        "tos_set_return_data": SyscallDoc(
            "tos_set_return_data(ptr, len)",
            f"{c.return_data_base} + {c.return_data_byte}/byte",
            code, f"{gas}; ReturnDataTooLarge (> {lim.max_return_data}); {ptr}"),
        "tos_get_return_data": SyscallDoc(
            "tos_get_return_data(out_ptr, cap)", f"{c.input_data}",
            "the length of the last successful callee's return data (0 if none), or "
            "`SHORT_BUFFER`", f"{gas}; {ptr}"),
        "tos_invoke_contract": SyscallDoc(
            "tos_invoke_contract(contract32_ptr, input_ptr, input_len, gas_limit, deposit)",
            f"{c.invoke_base} + {c.invoke_byte}/input byte, then the gas the callee used "
            f"(callee limit: min(gas_limit or all, remaining))",
            f"{code}, `UNKNOWN_CONTRACT`, `INSUFFICIENT_BALANCE` (deposit), "
            f"`CALLEE_FAILED`, `CALLEE_FAULTED`",
            f"{gas}; InvalidLength (input > {lim.max_input_size}); Reentrancy (contract "
            f"already on the call stack); InvokeDepthExceeded (> {lim.max_invoke_depth} "
            f"frames); {ptr}"),
    }


TOS_SYSCALL_DOCS: dict[str, SyscallDoc] = _docs()
"""Documentation of every ``tos_*`` syscall, by name."""


def tos_syscalls() -> SyscallRegistry:
    """A fresh registry: core Solana syscalls, ``tos_*`` syscalls and TOS's plain aliases.

    Raises:
        ValueError: a murmur3 collision between two names (cannot happen with this set;
            the test suite checks it).
    """
    registry = solana_syscalls()
    for name, fn in _TOS_FUNCS:
        registry.register(name, fn)
    for alias, target in TOS_ALIASES.items():
        registry.alias(alias, target)
    return registry

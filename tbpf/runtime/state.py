"""Contract state: records, the provider interface, write-set overlays, an in-memory store.

State is read through a :class:`StateView` and changed only through :class:`Overlay`
write-sets. A transaction runs on an overlay over the block's overlay over the
:class:`ContractProvider`; every contract invocation (including each nested
``tos_invoke_contract``) gets a child overlay that is merged into its parent only when
that invocation succeeds and dropped otherwise. Nothing reaches the provider until the
block commits, in one atomic :meth:`ContractProvider.commit_block`. So a failing path
never writes a byte (the SQLite file stays byte-identical).

Amounts are u64 ints; hashes, addresses and asset ids are 32-byte ``bytes``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from ..arith import U64_MASK
from ..errors import InternalError
from ..tos_syscalls import NATIVE_ASSET, TosCode

__all__ = [
    "ContractRecord", "AssetRecord", "EventRecord", "PendingEvent", "BlockHeader", "Receipt",
    "StateView", "ContractProvider", "WriteSet", "Overlay", "MemoryProvider", "asset_id_for",
]


@dataclass(frozen=True, slots=True)
class ContractRecord:
    """A deployed contract.

    Attributes:
        contract_hash: its address (the hash of the deploy transaction).
        code_hash: sha256 of its serialized module (the key of the stored code).
        kind: the module discriminator (:class:`~tbpf.runtime.module.ModuleKind`).
        deployer: who sent the deploy transaction.
        height: the block that deployed it.
    """

    contract_hash: bytes
    code_hash: bytes
    kind: int
    deployer: bytes
    height: int


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """An asset created by a contract (the native asset has no record).

    Attributes:
        asset_id: ``sha256("tbpf-asset" || owner || name)``.
        owner: the contract that created it (the only one that may mint).
        name: its name (1 to 64 bytes).
        decimals: display decimals (0 to 18).
        supply: total minted minus burnt (u64).
    """

    asset_id: bytes
    owner: bytes
    name: bytes
    decimals: int
    supply: int


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event fired during a transaction that has not committed yet."""

    contract: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A committed event.

    Attributes:
        height: block height.
        tx_index: index of its transaction among the block's included transactions.
        index: index within the transaction.
        contract: the contract that fired it.
        topics: up to four 32-byte topics.
        data: the payload.
    """

    height: int
    tx_index: int
    index: int
    contract: bytes
    topics: tuple[bytes, ...]
    data: bytes

    def to_json(self) -> dict[str, object]:
        """The event as the CLI prints it with ``--json``."""
        return {"height": self.height, "tx_index": self.tx_index, "index": self.index,
                "contract": self.contract.hex(), "topics": [t.hex() for t in self.topics],
                "data": self.data.hex()}


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A committed block.

    Attributes:
        height: 1 for the first block.
        hash: ``sha256(parent_hash || height u64 LE || tx hashes...)``.
        parent_hash: hash of the previous block (all zeros for the first).
        timestamp: seconds, derived from the height (never the wall clock).
        tx_hashes: the included transactions, in order.
    """

    height: int
    hash: bytes
    parent_hash: bytes
    timestamp: int
    tx_hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an included transaction did.

    Attributes:
        tx_hash: the transaction.
        height, tx_index: where it is.
        kind: ``"deploy"``, ``"invoke"`` or ``"fund"``.
        sender: its source address.
        contract: the contract deployed or invoked (zeros for ``fund``).
        exit_code: the contract's r0 (0 for deploys).
        gas_used: gas consumed.
        return_data: bytes the contract returned.
    """

    tx_hash: bytes
    height: int
    tx_index: int
    kind: str
    sender: bytes
    contract: bytes
    exit_code: int
    gas_used: int
    return_data: bytes


def asset_id_for(owner: bytes, name: bytes) -> bytes:
    """The id of the asset ``name`` created by ``owner`` (never all zeros)."""
    return hashlib.sha256(b"tbpf-asset" + owner + name).digest()


class StateView(Protocol):
    """Read access to contract state (a provider or an overlay)."""

    def get_contract(self, contract_hash: bytes) -> ContractRecord | None:
        """The contract deployed under ``contract_hash``."""
        ...

    def get_code(self, code_hash: bytes) -> bytes | None:
        """The serialized module stored under ``code_hash`` (uncompressed)."""
        ...

    def get_storage(self, contract: bytes, key: bytes) -> bytes | None:
        """A storage value."""
        ...

    def get_balance(self, account: bytes, asset: bytes) -> int:
        """A balance (0 if none)."""
        ...

    def get_asset(self, asset_id: bytes) -> AssetRecord | None:
        """An asset's record."""
        ...

    def get_nonce(self, account: bytes) -> int:
        """The number of transactions ``account`` has had included."""
        ...


class ContractProvider(StateView, Protocol):
    """Persistent contract state plus the chain's blocks, receipts and events."""

    def head(self) -> BlockHeader | None:
        """The latest committed block (``None`` before the first)."""
        ...

    def get_block(self, height: int) -> BlockHeader | None:
        """The block at ``height``."""
        ...

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of an included transaction."""
        ...

    def iter_storage(self, contract: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, value)`` of ``contract``, sorted by key."""
        ...

    def iter_contracts(self) -> Iterator[ContractRecord]:
        """Every deployed contract, by height."""
        ...

    def iter_balances(self, account: bytes) -> Iterator[tuple[bytes, int]]:
        """Every ``(asset, amount)`` of ``account`` with a non-zero amount."""
        ...

    def iter_events(self, contract: bytes | None = None) -> Iterator[EventRecord]:
        """Committed events (of one contract, or all), in chain order."""
        ...

    def commit_block(self, header: BlockHeader, writes: "WriteSet",
                     receipts: Sequence[Receipt], events: Sequence[EventRecord]) -> None:
        """Apply one block atomically: all of it is visible afterwards, or none of it."""
        ...

    def dump(self) -> bytes:
        """A canonical dump of everything stored (for byte-identity checks)."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


@dataclass
class WriteSet:
    """Pending changes. ``storage`` maps ``(contract, key)`` to the new value or ``None``
    (deleted); ``balances`` maps ``(account, asset)`` to the new amount."""

    code: dict[bytes, bytes] = field(default_factory=dict)
    contracts: dict[bytes, ContractRecord] = field(default_factory=dict)
    storage: dict[tuple[bytes, bytes], bytes | None] = field(default_factory=dict)
    balances: dict[tuple[bytes, bytes], int] = field(default_factory=dict)
    assets: dict[bytes, AssetRecord] = field(default_factory=dict)
    nonces: dict[bytes, int] = field(default_factory=dict)

    def absorb(self, other: "WriteSet") -> None:
        """Apply ``other`` on top of this write-set."""
        self.code.update(other.code)
        self.contracts.update(other.contracts)
        self.storage.update(other.storage)
        self.balances.update(other.balances)
        self.assets.update(other.assets)
        self.nonces.update(other.nonces)

    def is_empty(self) -> bool:
        """True if nothing changed."""
        return not (self.code or self.contracts or self.storage or self.balances
                    or self.assets or self.nonces)


class Overlay:
    """A write-set over a :class:`StateView`; reads see this overlay's writes first.

    :meth:`child` opens a nested overlay, :meth:`merge` folds it into its parent. An
    overlay that is never merged simply disappears (that is the rollback).
    """

    def __init__(self, base: StateView, parent: "Overlay | None" = None) -> None:
        self.base = base
        self.parent = parent
        self.writes = WriteSet()
        self.events: list[PendingEvent] = []
        self._merged = False

    def child(self) -> "Overlay":
        """A nested overlay reading through this one."""
        return Overlay(self, self)

    def merge(self) -> None:
        """Fold this overlay's writes and events into its parent.

        Raises:
            InternalError: a root overlay or one merged twice (a runtime bug).
        """
        if self.parent is None or self._merged:
            raise InternalError("overlay merged twice or without a parent")
        self.parent.writes.absorb(self.writes)
        self.parent.events.extend(self.events)
        self._merged = True

    # --- reads ----------------------------------------------------------------------
    def get_contract(self, contract_hash: bytes) -> ContractRecord | None:
        """See :class:`StateView`."""
        hit = self.writes.contracts.get(contract_hash)
        return hit if hit is not None else self.base.get_contract(contract_hash)

    def get_code(self, code_hash: bytes) -> bytes | None:
        """See :class:`StateView`."""
        hit = self.writes.code.get(code_hash)
        return hit if hit is not None else self.base.get_code(code_hash)

    def get_storage(self, contract: bytes, key: bytes) -> bytes | None:
        """See :class:`StateView`."""
        slot = (contract, key)
        if slot in self.writes.storage:
            return self.writes.storage[slot]
        return self.base.get_storage(contract, key)

    def get_balance(self, account: bytes, asset: bytes) -> int:
        """See :class:`StateView`."""
        hit = self.writes.balances.get((account, asset))
        return hit if hit is not None else self.base.get_balance(account, asset)

    def get_asset(self, asset_id: bytes) -> AssetRecord | None:
        """See :class:`StateView`."""
        hit = self.writes.assets.get(asset_id)
        return hit if hit is not None else self.base.get_asset(asset_id)

    def get_nonce(self, account: bytes) -> int:
        """See :class:`StateView`."""
        hit = self.writes.nonces.get(account)
        return hit if hit is not None else self.base.get_nonce(account)

    # --- writes ---------------------------------------------------------------------
    def put_code(self, code_hash: bytes, module_bytes: bytes) -> None:
        """Store a serialized module under its hash."""
        self.writes.code[code_hash] = module_bytes

    def put_contract(self, record: ContractRecord) -> None:
        """Record a deployed contract."""
        self.writes.contracts[record.contract_hash] = record

    def set_storage(self, contract: bytes, key: bytes, value: bytes | None) -> None:
        """Set (or, with ``None`` or an empty value, delete) a storage key."""
        self.writes.storage[(contract, key)] = value if value else None

    def set_balance(self, account: bytes, asset: bytes, amount: int) -> None:
        """Set a balance (a u64).

        Raises:
            InternalError: ``amount`` is not a u64 (callers check first).
        """
        if not 0 <= amount <= U64_MASK:
            raise InternalError(f"balance {amount} is not a u64")
        self.writes.balances[(account, asset)] = amount

    def put_asset(self, record: AssetRecord) -> None:
        """Create or update an asset."""
        self.writes.assets[record.asset_id] = record

    def set_nonce(self, account: bytes, nonce: int) -> None:
        """Set an account's nonce."""
        self.writes.nonces[account] = nonce

    def add_event(self, contract: bytes, topics: Sequence[bytes], data: bytes) -> None:
        """Record an event (kept only if every enclosing overlay merges)."""
        self.events.append(PendingEvent(contract, tuple(topics), data))

    # --- value operations shared by the syscalls and the chain ----------------------
    def move(self, source: bytes, dest: bytes, asset: bytes, amount: int) -> TosCode:
        """Move ``amount`` of ``asset``; a return code, never a partial move."""
        have = self.get_balance(source, asset)
        if amount > have:
            return TosCode.INSUFFICIENT_BALANCE
        if source == dest or amount == 0:
            return TosCode.OK
        after = self.get_balance(dest, asset) + amount
        if after > U64_MASK:
            return TosCode.BALANCE_OVERFLOW
        self.set_balance(source, asset, have - amount)
        self.set_balance(dest, asset, after)
        return TosCode.OK

    def credit(self, account: bytes, asset: bytes, amount: int) -> TosCode:
        """Add new ``amount`` to ``account`` (minting / faucet); checked, not wrapping."""
        after = self.get_balance(account, asset) + amount
        if after > U64_MASK:
            return TosCode.BALANCE_OVERFLOW
        self.set_balance(account, asset, after)
        return TosCode.OK

    def burn(self, account: bytes, asset: bytes, amount: int) -> TosCode:
        """Destroy ``amount`` of ``account``'s ``asset`` (and of the asset's supply)."""
        have = self.get_balance(account, asset)
        if amount > have:
            return TosCode.INSUFFICIENT_BALANCE
        if amount == 0:
            return TosCode.OK
        self.set_balance(account, asset, have - amount)
        record = self.get_asset(asset) if asset != NATIVE_ASSET else None
        if record is not None:
            self.put_asset(AssetRecord(record.asset_id, record.owner, record.name,
                                       record.decimals, record.supply - amount))
        return TosCode.OK


class MemoryProvider:
    """The in-memory :class:`ContractProvider` (tests and throw-away chains)."""

    def __init__(self) -> None:
        self._state = WriteSet()
        self._blocks: list[BlockHeader] = []
        self._receipts: dict[bytes, Receipt] = {}
        self._events: list[EventRecord] = []

    def get_contract(self, contract_hash: bytes) -> ContractRecord | None:
        """See :class:`StateView`."""
        return self._state.contracts.get(contract_hash)

    def get_code(self, code_hash: bytes) -> bytes | None:
        """See :class:`StateView`."""
        return self._state.code.get(code_hash)

    def get_storage(self, contract: bytes, key: bytes) -> bytes | None:
        """See :class:`StateView`."""
        return self._state.storage.get((contract, key))

    def get_balance(self, account: bytes, asset: bytes) -> int:
        """See :class:`StateView`."""
        return self._state.balances.get((account, asset), 0)

    def get_asset(self, asset_id: bytes) -> AssetRecord | None:
        """See :class:`StateView`."""
        return self._state.assets.get(asset_id)

    def get_nonce(self, account: bytes) -> int:
        """See :class:`StateView`."""
        return self._state.nonces.get(account, 0)

    def head(self) -> BlockHeader | None:
        """See :class:`ContractProvider`."""
        return self._blocks[-1] if self._blocks else None

    def get_block(self, height: int) -> BlockHeader | None:
        """See :class:`ContractProvider`."""
        return self._blocks[height - 1] if 1 <= height <= len(self._blocks) else None

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        """See :class:`ContractProvider`."""
        return self._receipts.get(tx_hash)

    def iter_storage(self, contract: bytes) -> Iterator[tuple[bytes, bytes]]:
        """See :class:`ContractProvider`."""
        items = [(k, v) for (c, k), v in self._state.storage.items() if c == contract and v]
        return iter(sorted(items))

    def iter_contracts(self) -> Iterator[ContractRecord]:
        """See :class:`ContractProvider`."""
        return iter(sorted(self._state.contracts.values(),
                           key=lambda r: (r.height, r.contract_hash)))

    def iter_balances(self, account: bytes) -> Iterator[tuple[bytes, int]]:
        """See :class:`ContractProvider`."""
        return iter(sorted((a, n) for (acc, a), n in self._state.balances.items()
                           if acc == account and n))

    def iter_events(self, contract: bytes | None = None) -> Iterator[EventRecord]:
        """See :class:`ContractProvider`."""
        return iter([e for e in self._events if contract is None or e.contract == contract])

    def commit_block(self, header: BlockHeader, writes: WriteSet,
                     receipts: Sequence[Receipt], events: Sequence[EventRecord]) -> None:
        """See :class:`ContractProvider` (a dict update cannot fail half-way)."""
        if header.height != len(self._blocks) + 1:
            raise InternalError(f"block {header.height} after {len(self._blocks)}")
        self._state.absorb(writes)
        for slot in [s for s, v in self._state.storage.items() if v is None]:
            del self._state.storage[slot]
        self._blocks.append(header)
        self._receipts.update((r.tx_hash, r) for r in receipts)
        self._events.extend(events)

    def dump(self) -> bytes:
        """See :class:`ContractProvider`."""
        s = self._state
        parts = [repr(sorted(s.code.items())), repr(sorted(s.contracts.items())),
                 repr(sorted(s.storage.items())), repr(sorted(s.balances.items())),
                 repr(sorted(s.assets.items())), repr(sorted(s.nonces.items())),
                 repr(self._blocks), repr(sorted(self._receipts.items())), repr(self._events)]
        return "\n".join(parts).encode()

    def close(self) -> None:
        """Nothing to release."""

"""A small local chain: transactions, deterministic blocks, one atomic commit per block.

:class:`Chain` turns transactions into blocks on a
:class:`~tbpf.runtime.state.ContractProvider` (SQLite by default, see
:meth:`Chain.open`). For each block it opens an overlay over the provider; each
transaction runs on a child overlay that is merged into the block only if the
transaction succeeds. A failing transaction (a fault, out of gas, a non-zero exit, a
refused deploy) is *not included*: it has no receipt and changes nothing, though its
result (logs, gas) is still returned. A block with at least one included transaction is
committed in one provider transaction; a block with none is not produced at all. So a
failing path leaves the state database byte-identical.

Determinism: block ``n``'s timestamp is ``GENESIS_TIMESTAMP + n * BLOCK_INTERVAL``, its
hash ``sha256(parent_hash || n as u64 LE || tx hashes...)``, a transaction's hash the
sha256 of its canonical encoding (which includes the sender's nonce). Contracts see the
parent block's hash as their only source of randomness. No wall clock, no floats.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from .errors import ContractError, InvalidTransactionError
from .runtime.execute import DeployResult, InvokeResult, Runtime, RuntimeConfig, TosVMExecutor, TxEnv
from .runtime.module import ContractModule, DeployContractPayload
from .runtime.params import dev_address
from .runtime.sqlite import DB_FILENAME, CommitHook, SqliteProvider
from .runtime.state import (
    BlockHeader, ContractProvider, EventRecord, MemoryProvider, Overlay, Receipt,
)
from .tos_syscalls import NATIVE_ASSET, TosCode

__all__ = [
    "Chain", "DeployTx", "InvokeTx", "FundTx", "Transaction", "TxResult", "BlockResult",
    "GENESIS_TIMESTAMP", "BLOCK_INTERVAL", "GENESIS_PARENT", "DEFAULT_SENDER", "FAUCET",
    "block_hash", "block_timestamp", "dev_address",
]

GENESIS_TIMESTAMP = 1_700_000_000
"""Timestamp of height 0 (seconds)."""
BLOCK_INTERVAL = 10
"""Seconds between consecutive heights."""
GENESIS_PARENT = bytes(32)
"""Parent hash of block 1."""
DEFAULT_SENDER = dev_address("default")
"""The development account the CLI sends from unless told otherwise."""
FAUCET = dev_address("faucet")
"""Sender of development ``fund`` transactions."""

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def block_timestamp(height: int) -> int:
    """The timestamp of ``height`` (seconds; deterministic)."""
    return GENESIS_TIMESTAMP + height * BLOCK_INTERVAL


def block_hash(parent: bytes, height: int, tx_hashes: Sequence[bytes]) -> bytes:
    """``sha256(parent || height u64 LE || tx_hashes...)``."""
    h = hashlib.sha256(parent)
    h.update(_U64.pack(height))
    for tx in tx_hashes:
        h.update(tx)
    return h.digest()


def _blob(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def _check_fields(*, addresses: Sequence[bytes] = (), u64s: Sequence[int] = ()) -> None:
    for address in addresses:
        if not isinstance(address, bytes) or len(address) != 32:
            raise InvalidTransactionError("addresses and hashes are 32 bytes")
    for value in u64s:
        if not isinstance(value, int) or not 0 <= value < 1 << 64:
            raise InvalidTransactionError(f"{value!r} is not a u64")


@dataclass(frozen=True, slots=True)
class DeployTx:
    """Deploy a contract.

    Attributes:
        sender: the deployer.
        payload: the serialized :class:`~tbpf.runtime.module.DeployContractPayload`.
        nonce: the sender's nonce.
    """

    sender: bytes
    payload: bytes
    nonce: int
    kind = "deploy"

    def __post_init__(self) -> None:
        _check_fields(addresses=[self.sender], u64s=[self.nonce])

    def encode(self) -> bytes:
        """Canonical bytes (the transaction hash is their sha256)."""
        return b"\x01" + self.sender + _U64.pack(self.nonce) + _blob(self.payload)

    @property
    def hash(self) -> bytes:
        """The transaction hash (and the deployed contract's address)."""
        return hashlib.sha256(self.encode()).digest()


@dataclass(frozen=True, slots=True)
class InvokeTx:
    """Invoke a contract.

    Attributes:
        sender: who pays the deposits.
        contract: the contract's hash.
        entry: the entry point name.
        input: the parameter bytes.
        gas_limit: the gas limit.
        deposits: ``(asset, amount)`` pairs moved to the contract before it runs.
        nonce: the sender's nonce.
    """

    sender: bytes
    contract: bytes
    entry: str
    input: bytes
    gas_limit: int
    deposits: tuple[tuple[bytes, int], ...]
    nonce: int
    kind = "invoke"

    def __post_init__(self) -> None:
        _check_fields(addresses=[self.sender, self.contract, *(a for a, _ in self.deposits)],
                      u64s=[self.nonce, self.gas_limit, *(n for _, n in self.deposits)])
        try:
            self.entry.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):
            raise InvalidTransactionError("the entry point name is not UTF-8 text") from None

    def encode(self) -> bytes:
        """Canonical bytes (the transaction hash is their sha256)."""
        deposits = b"".join(asset + _U64.pack(amount) for asset, amount in self.deposits)
        return (b"\x02" + self.sender + _U64.pack(self.nonce) + self.contract
                + _blob(self.entry.encode("utf-8")) + _blob(self.input)
                + _U64.pack(self.gas_limit) + _U32.pack(len(self.deposits)) + deposits)

    @property
    def hash(self) -> bytes:
        """The transaction hash."""
        return hashlib.sha256(self.encode()).digest()


@dataclass(frozen=True, slots=True)
class FundTx:
    """Development faucet: create native coins on ``account``.

    Attributes:
        account: who receives them.
        amount: how many.
        nonce: the faucet's nonce.
    """

    account: bytes
    amount: int
    nonce: int
    kind = "fund"

    def __post_init__(self) -> None:
        _check_fields(addresses=[self.account], u64s=[self.amount, self.nonce])

    @property
    def sender(self) -> bytes:
        """The faucet address."""
        return FAUCET

    def encode(self) -> bytes:
        """Canonical bytes (the transaction hash is their sha256)."""
        return b"\x03" + self.account + _U64.pack(self.amount) + _U64.pack(self.nonce)

    @property
    def hash(self) -> bytes:
        """The transaction hash."""
        return hashlib.sha256(self.encode()).digest()


Transaction = Union[DeployTx, InvokeTx, FundTx]


@dataclass
class TxResult:
    """What happened to one transaction.

    Attributes:
        tx_hash: its hash.
        kind: ``"deploy"``, ``"invoke"`` or ``"fund"``.
        included: True if it is in the block (it succeeded and its changes committed).
        error: why it was refused before running (``None`` if it ran).
        deploy: the deploy's result.
        invoke: the invocation's result (also for failed invocations).
        height: the block it is in (or was tried in).
    """

    tx_hash: bytes
    kind: str
    included: bool
    height: int
    error: ContractError | None = None
    deploy: DeployResult | None = None
    invoke: InvokeResult | None = None

    def to_json(self) -> dict[str, object]:
        """The object the CLI prints with ``--json``."""
        return {
            "tx_hash": self.tx_hash.hex(), "kind": self.kind, "included": self.included,
            "height": self.height,
            "error": None if self.error is None else self.error.to_json(),
            "deploy": None if self.deploy is None else self.deploy.to_json(),
            "invoke": None if self.invoke is None else self.invoke.to_json(),
        }


@dataclass
class BlockResult:
    """A block attempt: its header (``None`` if nothing was included) and every result."""

    header: BlockHeader | None
    results: list[TxResult] = field(default_factory=list)


class Chain:
    """A local chain over a provider.

    Args:
        provider: the state store.
        runtime: the contract runtime (default: a :class:`Runtime` with ``config``).
        config: runtime policy, when ``runtime`` is not given.
        tosvm: the TosVM executor, when ``runtime`` is not given.
        dev_faucet: accept :class:`FundTx` transactions.
    """

    def __init__(self, provider: ContractProvider, runtime: Runtime | None = None, *,
                 config: RuntimeConfig | None = None, tosvm: TosVMExecutor | None = None,
                 dev_faucet: bool = True) -> None:
        self.provider = provider
        self.runtime = runtime or Runtime(config, tosvm=tosvm)
        self.dev_faucet = dev_faucet

    @classmethod
    def open(cls, state_dir: str | Path, *, synchronous: str = "FULL",
             commit_hook: CommitHook | None = None, **kwargs: object) -> "Chain":
        """A chain stored in ``state_dir/state.db`` (created if missing).

        Raises:
            StateError, SchemaVersionError.
        """
        provider = SqliteProvider(Path(state_dir) / DB_FILENAME, synchronous=synchronous,
                                  commit_hook=commit_hook)
        return cls(provider, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def in_memory(cls, **kwargs: object) -> "Chain":
        """A chain that lives in memory only."""
        return cls(MemoryProvider(), **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the provider."""
        self.provider.close()

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- queries --------------------------------------------------------------------
    @property
    def head(self) -> BlockHeader | None:
        """The latest block."""
        return self.provider.head()

    @property
    def height(self) -> int:
        """The latest block's height (0 before the first block)."""
        head = self.provider.head()
        return head.height if head else 0

    def nonce(self, account: bytes) -> int:
        """``account``'s committed nonce (the nonce its next transaction must carry)."""
        return self.provider.get_nonce(account)

    def balance(self, account: bytes, asset: bytes = NATIVE_ASSET) -> int:
        """A committed balance."""
        return self.provider.get_balance(account, asset)

    # --- block production -----------------------------------------------------------
    def execute_block(self, txs: Sequence[Transaction], *,
                      engine: str = "interp") -> BlockResult:
        """Run ``txs`` in order as the next block and commit the successful ones.

        Returns:
            the header (``None`` if no transaction succeeded) and one result per
            transaction, in order.

        Raises:
            StateError: the provider failed (nothing of the block is committed).
        """
        head = self.provider.head()
        height = head.height + 1 if head else 1
        parent = head.hash if head else GENESIS_PARENT
        timestamp = block_timestamp(height)
        block = Overlay(self.provider)
        results: list[TxResult] = []
        included: list[tuple[Transaction, TxResult]] = []
        for tx in txs:
            tx_hash = tx.hash
            result = TxResult(tx_hash, tx.kind, False, height)
            env = TxEnv(tx_hash, tx.sender, height, parent, timestamp)
            state = block.child()
            try:
                if tx.nonce != state.get_nonce(tx.sender):
                    raise InvalidTransactionError(
                        f"nonce {tx.nonce}, expected {state.get_nonce(tx.sender)}")
                ok = self._apply(tx, state, env, result, engine)
            except ContractError as err:
                result.error = err
                ok = False
            if ok:
                state.set_nonce(tx.sender, tx.nonce + 1)
                state.merge()
                result.included = True
                included.append((tx, result))
            results.append(result)
        if not included:
            return BlockResult(None, results)
        tx_hashes = tuple(r.tx_hash for _, r in included)
        header = BlockHeader(height, block_hash(parent, height, tx_hashes), parent, timestamp,
                             tx_hashes)
        receipts = []
        events = []
        for index, (tx, r) in enumerate(included):
            receipts.append(self._receipt(tx, r, height, index))
            if r.invoke is not None:
                events.extend(EventRecord(height, index, i, e.contract, e.topics, e.data)
                              for i, e in enumerate(r.invoke.events))
        self.provider.commit_block(header, block.writes, receipts, events)
        return BlockResult(header, results)

    def _apply(self, tx: Transaction, state: Overlay, env: TxEnv, result: TxResult,
               engine: str) -> bool:
        if isinstance(tx, DeployTx):
            payload = DeployContractPayload.decode(tx.payload)
            result.deploy = self.runtime.deploy(state, env, payload)
            return True
        if isinstance(tx, InvokeTx):
            result.invoke = self.runtime.invoke(
                state, env, tx.contract, entry=tx.entry, input=tx.input,
                gas_limit=tx.gas_limit, deposits=tx.deposits, engine=engine)
            return result.invoke.success
        if isinstance(tx, FundTx):
            if not self.dev_faucet:
                raise InvalidTransactionError("the development faucet is disabled")
            if state.credit(tx.account, NATIVE_ASSET, tx.amount) != TosCode.OK:
                raise InvalidTransactionError("the balance would overflow a u64")
            return True
        raise InvalidTransactionError(f"not a transaction: {type(tx).__name__}")

    @staticmethod
    def _receipt(tx: Transaction, r: TxResult, height: int, index: int) -> Receipt:
        if isinstance(tx, DeployTx):
            assert r.deploy is not None
            return Receipt(r.tx_hash, height, index, "deploy", tx.sender,
                           r.deploy.contract_hash, 0, 0, b"")
        if isinstance(tx, InvokeTx):
            assert r.invoke is not None
            return Receipt(r.tx_hash, height, index, "invoke", tx.sender, tx.contract,
                           r.invoke.exit_code or 0, r.invoke.gas_used, r.invoke.return_data)
        return Receipt(r.tx_hash, height, index, "fund", tx.sender, tx.account, 0, 0, b"")

    # --- one-transaction conveniences -----------------------------------------------
    def deploy(self, module: ContractModule | DeployContractPayload | bytes, *,
               sender: bytes = DEFAULT_SENDER) -> TxResult:
        """Deploy in a block of its own.

        ``module`` is a module, a payload, or already-serialized payload bytes.
        """
        if isinstance(module, (bytes, bytearray)):
            payload = bytes(module)
        elif isinstance(module, DeployContractPayload):
            payload = module.encode()
        else:
            payload = DeployContractPayload(module).encode()
        tx = DeployTx(sender, payload, self.nonce(sender))
        return self.execute_block([tx]).results[0]

    def invoke(self, contract: bytes, *, entry: str = "entrypoint",
               input: bytes = b"",  # noqa: A002
               gas_limit: int | None = None, deposits: Sequence[tuple[bytes, int]] = (),
               sender: bytes = DEFAULT_SENDER, engine: str = "interp") -> TxResult:
        """Invoke in a block of its own."""
        gas = self.runtime.config.default_gas if gas_limit is None else gas_limit
        tx = InvokeTx(sender, contract, entry, bytes(input), gas, tuple(deposits),
                      self.nonce(sender))
        return self.execute_block([tx], engine=engine).results[0]

    def fund(self, account: bytes, amount: int) -> TxResult:
        """Faucet ``amount`` native coins to ``account`` in a block of its own."""
        tx = FundTx(account, amount, self.nonce(FAUCET))
        return self.execute_block([tx]).results[0]

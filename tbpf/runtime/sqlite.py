"""The default :class:`~tbpf.runtime.state.ContractProvider`: one embedded SQLite file.

* WAL journal, ``synchronous=FULL`` by default: a committed block survives a crash of
  the process (and, with FULL, of the machine).
* One SQL transaction per block (:meth:`SqliteProvider.commit_block`): a process killed
  in the middle of a commit leaves the previous block as the head, intact and readable
  (SQLite's WAL rolls the unfinished transaction back when the file is next opened).
* Reads run in autocommit mode outside the block transaction; the runtime never writes
  anything except in ``commit_block``, so a failing transaction leaves the file
  byte-identical.
* The schema is versioned (``schema_version`` table). Opening checks it: an empty file
  is initialised, an older version is migrated step by step (:data:`MIGRATIONS`), a newer
  one is refused with :class:`~tbpf.errors.SchemaVersionError`.
* Code is stored zlib-compressed under its sha256; u64 amounts are stored as the i64 with
  the same bits (SQLite integers are signed).

Every ``sqlite3`` error is translated to :class:`~tbpf.errors.StateError` here.
"""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..arith import U64_MASK
from ..errors import InternalError, SchemaVersionError, StateError
from .state import (
    AssetRecord, BlockHeader, ContractRecord, EventRecord, Receipt, WriteSet,
)

__all__ = ["SqliteProvider", "SCHEMA_VERSION", "MIGRATIONS", "DB_FILENAME"]

SCHEMA_VERSION = 1
"""The schema this TBPF writes."""
DB_FILENAME = "state.db"
"""File name of the database inside a state directory."""

_SCHEMA_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE blocks (
    height INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    parent_hash BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    tx_hashes BLOB NOT NULL
);
CREATE TABLE receipts (
    tx_hash BLOB PRIMARY KEY,
    height INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    sender BLOB NOT NULL,
    contract BLOB NOT NULL,
    exit_code INTEGER NOT NULL,
    gas_used INTEGER NOT NULL,
    return_data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE code (
    code_hash BLOB PRIMARY KEY,
    compressed BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE contracts (
    contract_hash BLOB PRIMARY KEY,
    code_hash BLOB NOT NULL,
    kind INTEGER NOT NULL,
    deployer BLOB NOT NULL,
    height INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE storage (
    contract BLOB NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (contract, key)
) WITHOUT ROWID;
CREATE TABLE balances (
    account BLOB NOT NULL,
    asset BLOB NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (account, asset)
) WITHOUT ROWID;
CREATE TABLE assets (
    asset_id BLOB PRIMARY KEY,
    owner BLOB NOT NULL,
    name BLOB NOT NULL,
    decimals INTEGER NOT NULL,
    supply INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE nonces (
    account BLOB PRIMARY KEY,
    nonce INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE events (
    height INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    event_index INTEGER NOT NULL,
    contract BLOB NOT NULL,
    topics BLOB NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (height, tx_index, event_index)
) WITHOUT ROWID;
CREATE INDEX events_by_contract ON events (contract, height, tx_index, event_index);
"""

MIGRATIONS: dict[int, str] = {}
"""``version -> SQL`` that upgrades a database from ``version`` to ``version + 1``."""

_TABLES = ("schema_version", "blocks", "receipts", "code", "contracts", "storage",
           "balances", "assets", "nonces", "events")


def _i64(value: int) -> int:
    value &= U64_MASK
    return value - (1 << 64) if value >> 63 else value


def _u64(value: int) -> int:
    return value & U64_MASK


CommitHook = Callable[[str], None]
"""Called with a stage name (``"begin"``, ``"state-written"``, ``"before-commit"``)
during :meth:`SqliteProvider.commit_block`; tests use it to kill a commit midway."""


class SqliteProvider:
    """Contract state in one SQLite file.

    Args:
        path: the database file (created with its directory if missing).
        synchronous: SQLite ``synchronous`` level (``"FULL"`` or ``"NORMAL"``).
        commit_hook: test hook, see :data:`CommitHook`.

    Raises:
        StateError: the file is not a usable database.
        SchemaVersionError: its schema is newer than this TBPF.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL",
                 commit_hook: CommitHook | None = None) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"unsupported synchronous level {synchronous!r}")
        self.path = Path(path)
        self.commit_hook = commit_hook
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None,
                                       check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open {self.path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise StateError(f"cannot use {self.path}: {exc}") from exc

    # --- schema ---------------------------------------------------------------------
    def _migrate(self) -> None:
        db = self._db
        exists = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                            "name='schema_version'").fetchone()
        if exists:
            version = self._read_version()
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(version, SCHEMA_VERSION)
        db.execute("BEGIN IMMEDIATE")
        try:
            if not exists:
                others = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if others:
                    raise StateError(f"{self.path} is an SQLite database but not a TBPF "
                                     f"state database")
                for statement in _SCHEMA_V1.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)",
                           (SCHEMA_VERSION,))
            else:
                version = self._read_version()
                while version < SCHEMA_VERSION:
                    step = MIGRATIONS.get(version)
                    if step is None:
                        raise SchemaVersionError(version, SCHEMA_VERSION)
                    for statement in step.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    version += 1
                    db.execute("UPDATE schema_version SET version = ?", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _read_version(self) -> int:
        rows = self._db.execute("SELECT version FROM schema_version").fetchall()
        if len(rows) != 1:
            raise StateError(f"{self.path}: schema_version has {len(rows)} rows")
        return int(rows[0][0])

    @property
    def schema_version(self) -> int:
        """The schema version stored in the file."""
        return self._read_version()

    # --- helpers --------------------------------------------------------------------
    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[object, ...] | None:
        try:
            row = self._db.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise StateError(f"reading {self.path}: {exc}") from exc
        return tuple(row) if row is not None else None

    def _all(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            return [tuple(r) for r in self._db.execute(sql, args).fetchall()]
        except sqlite3.Error as exc:
            raise StateError(f"reading {self.path}: {exc}") from exc

    # --- StateView ------------------------------------------------------------------
    def get_contract(self, contract_hash: bytes) -> ContractRecord | None:
        """See :class:`~tbpf.runtime.state.StateView`."""
        row = self._one("SELECT contract_hash, code_hash, kind, deployer, height FROM "
                        "contracts WHERE contract_hash = ?", (contract_hash,))
        return ContractRecord(*row) if row else None  # type: ignore[arg-type]

    def get_code(self, code_hash: bytes) -> bytes | None:
        """See :class:`~tbpf.runtime.state.StateView` (decompressed here)."""
        row = self._one("SELECT compressed FROM code WHERE code_hash = ?", (code_hash,))
        if row is None:
            return None
        try:
            return zlib.decompress(row[0])  # type: ignore[arg-type]
        except zlib.error as exc:
            raise StateError(f"stored code {code_hash.hex()} is corrupt: {exc}") from exc

    def get_storage(self, contract: bytes, key: bytes) -> bytes | None:
        """See :class:`~tbpf.runtime.state.StateView`."""
        row = self._one("SELECT value FROM storage WHERE contract = ? AND key = ?",
                        (contract, key))
        return bytes(row[0]) if row else None  # type: ignore[arg-type]

    def get_balance(self, account: bytes, asset: bytes) -> int:
        """See :class:`~tbpf.runtime.state.StateView`."""
        row = self._one("SELECT amount FROM balances WHERE account = ? AND asset = ?",
                        (account, asset))
        return _u64(row[0]) if row else 0  # type: ignore[arg-type]

    def get_asset(self, asset_id: bytes) -> AssetRecord | None:
        """See :class:`~tbpf.runtime.state.StateView`."""
        row = self._one("SELECT asset_id, owner, name, decimals, supply FROM assets "
                        "WHERE asset_id = ?", (asset_id,))
        if row is None:
            return None
        return AssetRecord(row[0], row[1], row[2], row[3], _u64(row[4]))  # type: ignore[arg-type]

    def get_nonce(self, account: bytes) -> int:
        """See :class:`~tbpf.runtime.state.StateView`."""
        row = self._one("SELECT nonce FROM nonces WHERE account = ?", (account,))
        return int(row[0]) if row else 0  # type: ignore[arg-type]

    # --- chain ----------------------------------------------------------------------
    @staticmethod
    def _header(row: tuple[object, ...]) -> BlockHeader:
        raw = bytes(row[4])  # type: ignore[arg-type]
        hashes = tuple(raw[i:i + 32] for i in range(0, len(raw), 32))
        return BlockHeader(int(row[0]), bytes(row[1]), bytes(row[2]),  # type: ignore[arg-type]
                           int(row[3]), hashes)  # type: ignore[arg-type]

    def head(self) -> BlockHeader | None:
        """See :class:`~tbpf.runtime.state.ContractProvider`."""
        row = self._one("SELECT height, hash, parent_hash, timestamp, tx_hashes FROM blocks "
                        "ORDER BY height DESC LIMIT 1", ())
        return self._header(row) if row else None

    def get_block(self, height: int) -> BlockHeader | None:
        """See :class:`~tbpf.runtime.state.ContractProvider`."""
        row = self._one("SELECT height, hash, parent_hash, timestamp, tx_hashes FROM blocks "
                        "WHERE height = ?", (height,))
        return self._header(row) if row else None

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        """See :class:`~tbpf.runtime.state.ContractProvider`."""
        row = self._one("SELECT tx_hash, height, tx_index, kind, sender, contract, "
                        "exit_code, gas_used, return_data FROM receipts WHERE tx_hash = ?",
                        (tx_hash,))
        if row is None:
            return None
        return Receipt(row[0], row[1], row[2], row[3], row[4], row[5],  # type: ignore[arg-type]
                       _u64(row[6]), row[7], row[8])  # type: ignore[arg-type]

    def iter_storage(self, contract: bytes) -> Iterator[tuple[bytes, bytes]]:
        """See :class:`~tbpf.runtime.state.ContractProvider`."""
        rows = self._all("SELECT key, value FROM storage WHERE contract = ? ORDER BY key",
                         (contract,))
        return iter([(bytes(k), bytes(v)) for k, v in rows])  # type: ignore[arg-type]

    def iter_contracts(self) -> Iterator[ContractRecord]:
        """See :class:`~tbpf.runtime.state.ContractProvider`."""
        rows = self._all("SELECT contract_hash, code_hash, kind, deployer, height FROM "
                         "contracts ORDER BY height, contract_hash")
        return iter([ContractRecord(*r) for r in rows])  # type: ignore[arg-type]

    def iter_balances(self, account: bytes) -> Iterator[tuple[bytes, int]]:
        """See :class:`~tbpf.runtime.state.ContractProvider`."""
        rows = self._all("SELECT asset, amount FROM balances WHERE account = ? AND "
                         "amount != 0 ORDER BY asset", (account,))
        return iter([(bytes(a), _u64(n)) for a, n in rows])  # type: ignore[arg-type]

    def iter_events(self, contract: bytes | None = None) -> Iterator[EventRecord]:
        """See :class:`~tbpf.runtime.state.ContractProvider`."""
        sql = ("SELECT height, tx_index, event_index, contract, topics, data FROM events "
               + ("WHERE contract = ? " if contract is not None else "")
               + "ORDER BY height, tx_index, event_index")
        rows = self._all(sql, (contract,) if contract is not None else ())
        out = []
        for h, t, i, c, topics, data in rows:
            raw = bytes(topics)  # type: ignore[arg-type]
            out.append(EventRecord(h, t, i, bytes(c),  # type: ignore[arg-type]
                                   tuple(raw[j:j + 32] for j in range(0, len(raw), 32)),
                                   bytes(data)))  # type: ignore[arg-type]
        return iter(out)

    # --- commit ---------------------------------------------------------------------
    def _hook(self, stage: str) -> None:
        if self.commit_hook is not None:
            self.commit_hook(stage)

    def commit_block(self, header: BlockHeader, writes: WriteSet,
                     receipts: Sequence[Receipt], events: Sequence[EventRecord]) -> None:
        """Write one block and its state changes in a single SQL transaction.

        Raises:
            StateError: SQLite refused (the transaction is rolled back: nothing changed).
            InternalError: the block does not extend the head (a chain bug).
        """
        db = self._db
        head = self.head()
        expected = (head.height + 1) if head else 1
        if header.height != expected:
            raise InternalError(f"block {header.height} does not follow {expected - 1}")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"cannot start a block transaction: {exc}") from exc
        try:
            self._hook("begin")
            db.execute("INSERT INTO blocks (height, hash, parent_hash, timestamp, tx_hashes) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (header.height, header.hash, header.parent_hash, header.timestamp,
                        b"".join(header.tx_hashes)))
            db.executemany("INSERT OR REPLACE INTO code (code_hash, compressed) VALUES (?, ?)",
                           [(h, zlib.compress(m, 9)) for h, m in writes.code.items()])
            db.executemany("INSERT INTO contracts (contract_hash, code_hash, kind, deployer, "
                           "height) VALUES (?, ?, ?, ?, ?)",
                           [(r.contract_hash, r.code_hash, r.kind, r.deployer, r.height)
                            for r in writes.contracts.values()])
            puts = [(c, k, v) for (c, k), v in writes.storage.items() if v]
            dels = [(c, k) for (c, k), v in writes.storage.items() if not v]
            db.executemany("INSERT OR REPLACE INTO storage (contract, key, value) "
                           "VALUES (?, ?, ?)", puts)
            self._hook("state-written")
            db.executemany("DELETE FROM storage WHERE contract = ? AND key = ?", dels)
            db.executemany("INSERT OR REPLACE INTO balances (account, asset, amount) "
                           "VALUES (?, ?, ?)",
                           [(a, s, _i64(n)) for (a, s), n in writes.balances.items()])
            db.executemany("INSERT OR REPLACE INTO assets (asset_id, owner, name, decimals, "
                           "supply) VALUES (?, ?, ?, ?, ?)",
                           [(r.asset_id, r.owner, r.name, r.decimals, _i64(r.supply))
                            for r in writes.assets.values()])
            db.executemany("INSERT OR REPLACE INTO nonces (account, nonce) VALUES (?, ?)",
                           list(writes.nonces.items()))
            db.executemany("INSERT INTO receipts (tx_hash, height, tx_index, kind, sender, "
                           "contract, exit_code, gas_used, return_data) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(r.tx_hash, r.height, r.tx_index, r.kind, r.sender, r.contract,
                             _i64(r.exit_code), r.gas_used, r.return_data) for r in receipts])
            db.executemany("INSERT INTO events (height, tx_index, event_index, contract, "
                           "topics, data) VALUES (?, ?, ?, ?, ?, ?)",
                           [(e.height, e.tx_index, e.index, e.contract, b"".join(e.topics),
                             e.data) for e in events])
            self._hook("before-commit")
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise StateError(f"block {header.height} could not be committed: {exc}") from exc
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # --- maintenance ----------------------------------------------------------------
    def checkpoint(self) -> None:
        """Move the WAL into the main file and truncate it (for byte comparisons)."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StateError(f"checkpoint failed: {exc}") from exc

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` when healthy)."""
        row = self._one("PRAGMA integrity_check", ())
        return str(row[0]) if row else "no result"

    def dump(self) -> bytes:
        """Every row of every table, in a canonical order (SQL text)."""
        lines = []
        for table in _TABLES:
            for row in self._all(f"SELECT * FROM {table} ORDER BY 1, 2" if table not in (
                    "schema_version",) else f"SELECT * FROM {table}"):
                lines.append(f"{table} {row!r}")
        return "\n".join(lines).encode()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        try:
            self._db.close()
        except sqlite3.Error:  # pragma: no cover - closing never matters for state
            pass

    def __enter__(self) -> "SqliteProvider":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

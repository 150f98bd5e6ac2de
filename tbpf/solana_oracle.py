"""Differential testing of :mod:`tbpf.solana` against the real Agave runtime.

The oracle is LiteSVM as shipped in ``solders`` (pinned: :data:`ORACLE_VERSION`; compute
unit counts and error texts change between releases). It is an optional dependency
(``pip install solders==0.29.0``, the ``oracle`` extra); nothing here imports it at module
level, and :func:`oracle_status` says why it cannot be used.

One :class:`SolanaCase` is one transaction with one instruction. :func:`run_oracle`
builds it for LiteSVM (a funded fee payer, the program deployed from the ELF bytes, the
case's accounts stored, the compute budget and heap set with ``with_compute_budget`` so
no compute-budget instruction is needed), sends it, and reads back what Agave reports.
:func:`run_tbpf` runs the same instruction through :func:`tbpf.solana.invoke` with the
account states LiteSVM held when the instruction started (the fee payer already charged
its fee) and the flags a compiled message gives (OR over duplicates, fee payer signer
and writable, the program id and reserved keys demoted to read-only).
:func:`compare_observations` compares everything both sides report:

================================  ============================================================
``error``                         the instruction error (``Custom(n)``, a variant name, or
                                  ``Transaction:<name>`` for a transaction-level failure)
``logs``                          every log line of the instruction (the program's own lines,
                                  ``invoke``, ``consumed <n> of <m>``, ``Program return``,
                                  ``success`` / ``failed: ...``, ``Log truncated``)
``compute_units``                 the program's ``consumed <n>`` (from the log line)
``transaction_compute_units``     the transaction's units consumed (heap cost, depletion)
``return_data``                   ``(program_id, data)``
``accounts``                      lamports, data, owner and executable of every key after
================================  ============================================================

:func:`generate_cases` varies each of the six bundled programs (memo strings including
invalid UTF-8, signers and non-signers; counter values, lengths, owners, writability,
duplicates; logging with random accounts and data up to the log limit; clock values;
tight compute budgets from TBPF's own count; heap sizes; the deprecated loader) and
falls back to a generic generator for any other ``.so``.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .solana import (
    BPF_LOADER_DEPRECATED_ID, BPF_LOADER_ID, BPF_LOADER_UPGRADEABLE_ID, SYSTEM_PROGRAM_ID,
    Account, Clock, InvokeResult, KeyedAccount, Rent, invoke, load_solana_program, pubkey,
    pubkey_str, rent_transition_allowed,
)

__all__ = [
    "ORACLE_PACKAGE", "ORACLE_VERSION", "oracle_status", "CaseAccount", "SolanaCase",
    "Observation", "Difference", "CaseReport", "run_oracle", "run_tbpf",
    "compare_observations", "run_case", "generate_cases", "baseline_cases",
    "default_corpus", "load_corpus", "KNOWN_PROGRAMS", "case_from_json", "PROBE_PROGRAM",
    "probe_path", "dump_report", "effective_flags", "message_account_keys",
]

ORACLE_PACKAGE = "solders"
ORACLE_VERSION = "0.29.0"
"""The pinned oracle: ``pip install solders==0.29.0`` (module ``solders.litesvm``)."""

KNOWN_PROGRAMS = ("spl_memo-1.0.0.so", "spl_memo-4.0.0.so", "counter.so", "hello_world.so",
                  "spl_example_logging.so", "litesvm_clock_example.so")
"""The programs with their own case generators (``tests/elfs/solana``)."""

DEFAULT_COMPUTE_UNITS = 200_000
"""What LiteSVM gives a one-instruction transaction that sets no budget."""
LAMPORTS_PER_SIGNATURE = 5_000
PAYER_LAMPORTS = 10_000_000_000

U64 = (1 << 64) - 1
_CLOCK_SYSVAR_ID = pubkey("SysvarC1ock11111111111111111111111111111111")
_RESERVED_KEYS = frozenset({
    # Builtin programs and sysvars: a compiled message never makes them writable
    # (Agave's ReservedAccountKeys); only the ones the cases can name are needed.
    SYSTEM_PROGRAM_ID, BPF_LOADER_UPGRADEABLE_ID, BPF_LOADER_ID, BPF_LOADER_DEPRECATED_ID,
    _CLOCK_SYSVAR_ID, pubkey("SysvarRent111111111111111111111111111111111"),
    pubkey("ComputeBudget111111111111111111111111111111"),
    pubkey("NativeLoader1111111111111111111111111111111"),
})
_LOADER_IDS = {"upgradeable": BPF_LOADER_UPGRADEABLE_ID, "v2": BPF_LOADER_ID,
               "deprecated": BPF_LOADER_DEPRECATED_ID}


def oracle_status() -> str | None:
    """``None`` if the pinned oracle is importable, else why it is not (one line)."""
    try:
        import solders  # type: ignore[import-not-found,unused-ignore]
        import solders.litesvm  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError as exc:
        return (f"the Solana oracle is not installed ({exc}); install it with "
                f"`pip install {ORACLE_PACKAGE}=={ORACLE_VERSION}`")
    version = getattr(solders, "__version__", "?")
    if version != ORACLE_VERSION:
        return (f"{ORACLE_PACKAGE} {version} is installed but the oracle is pinned to "
                f"{ORACLE_VERSION} (compute units and error texts differ between "
                f"releases); install it with `pip install {ORACLE_PACKAGE}=={ORACLE_VERSION}`")
    return None


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseAccount:
    """One instruction account of a case.

    Attributes:
        key: ``"payer"`` (the fee payer), ``"program"`` (the invoked program's own
            account), ``"clock"`` (the Clock sysvar), ``"system"`` (the system program) or
            ``"keyN"`` (a key derived from the case seed; it can sign).
        is_signer, is_writable: the meta's flags.
        lamports: ``None`` leaves the account as the runtime has it (payer funded,
            program deployed, sysvar, or a ``keyN`` that does not exist); otherwise the
            account is stored with ``lamports``, ``data`` and ``owner`` first.
        owner: ``"program"``, ``"system"`` or ``"other"`` (a third program).
    """

    key: str
    is_signer: bool = False
    is_writable: bool = False
    lamports: int | None = None
    data: bytes = b""
    owner: str = "system"

    def to_json(self) -> dict[str, Any]:
        """A JSON object (data in hex)."""
        out = asdict(self)
        out["data"] = self.data.hex()
        return out


@dataclass(frozen=True)
class SolanaCase:
    """One transaction with one instruction of ``program``.

    Attributes:
        name: a readable label (``counter/increment``, ``memo4/random-17``...).
        program: the ELF's file name in the corpus.
        instruction_data: the instruction data.
        accounts: the instruction's accounts in order.
        budget: the compute-unit limit (``None``: LiteSVM's default, 200,000).
        heap_size: heap bytes (a multiple of 1024 in [32 KiB, 256 KiB]).
        loader: ``"upgradeable"``, ``"v2"`` or ``"deprecated"``.
        unix_timestamp: the Clock's unix timestamp (``None``: LiteSVM's default).
        seed: derives every key of the case.
    """

    name: str
    program: str
    instruction_data: bytes = b""
    accounts: tuple[CaseAccount, ...] = ()
    budget: int | None = None
    heap_size: int = 32 * 1024
    loader: str = "upgradeable"
    unix_timestamp: int | None = None
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON object (bytes in hex); :func:`case_from_json` reverses it."""
        return {"name": self.name, "program": self.program,
                "instruction_data": self.instruction_data.hex(),
                "accounts": [a.to_json() for a in self.accounts], "budget": self.budget,
                "heap_size": self.heap_size, "loader": self.loader,
                "unix_timestamp": self.unix_timestamp, "seed": self.seed}


def case_from_json(obj: dict[str, Any]) -> SolanaCase:
    """The case :meth:`SolanaCase.to_json` wrote.

    Raises:
        ValueError: a malformed object.
    """
    try:
        accounts = tuple(CaseAccount(
            key=str(a["key"]), is_signer=bool(a["is_signer"]),
            is_writable=bool(a["is_writable"]),
            lamports=None if a["lamports"] is None else int(a["lamports"]),
            data=bytes.fromhex(a["data"]), owner=str(a["owner"])) for a in obj["accounts"])
        return SolanaCase(
            name=str(obj["name"]), program=str(obj["program"]),
            instruction_data=bytes.fromhex(obj["instruction_data"]), accounts=accounts,
            budget=None if obj["budget"] is None else int(obj["budget"]),
            heap_size=int(obj["heap_size"]), loader=str(obj["loader"]),
            unix_timestamp=None if obj["unix_timestamp"] is None else int(obj["unix_timestamp"]),
            seed=int(obj["seed"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a solana-diff case: {exc}") from None


# --------------------------------------------------------------------------------------
# Observations and comparison
# --------------------------------------------------------------------------------------

@dataclass
class Observation:
    """What one side reports about a case (see the module docstring for the fields).

    ``accounts`` maps base58 keys to ``(lamports, data hex, owner, executable)``; a
    missing account is ``(0, "", system program, False)``.
    """

    error: str | None
    logs: list[str]
    compute_units: int | None
    transaction_compute_units: int
    return_data: tuple[str, str]
    accounts: dict[str, tuple[int, str, str, bool]]

    def to_json(self) -> dict[str, Any]:
        """A JSON object."""
        return {"error": self.error, "logs": self.logs, "compute_units": self.compute_units,
                "transaction_compute_units": self.transaction_compute_units,
                "return_data": list(self.return_data),
                "accounts": {k: list(v) for k, v in self.accounts.items()}}


@dataclass(frozen=True)
class Difference:
    """One field that differs: what the oracle said, what TBPF said."""

    field: str
    oracle: Any
    tbpf: Any

    def __str__(self) -> str:
        return f"{self.field}: oracle {self.oracle!r} / tbpf {self.tbpf!r}"


@dataclass
class CaseReport:
    """The comparison of one case on one engine."""

    case: SolanaCase
    engine: str
    oracle: Observation
    tbpf: Observation
    differences: list[Difference] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        """True if any field differs."""
        return bool(self.differences)

    def to_json(self) -> dict[str, Any]:
        """A reproducer: the case, both observations and the differences."""
        return {"case": self.case.to_json(), "engine": self.engine,
                "oracle_version": ORACLE_VERSION, "oracle": self.oracle.to_json(),
                "tbpf": self.tbpf.to_json(),
                "differences": [{"field": d.field, "oracle": _jsonable(d.oracle),
                                 "tbpf": _jsonable(d.tbpf)} for d in self.differences]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _consumed(logs: Sequence[str]) -> int | None:
    for line in logs:
        parts = line.split()
        if len(parts) == 8 and parts[0] == "Program" and parts[2] == "consumed" \
                and parts[4] == "of" and parts[6:] == ["compute", "units"]:
            return int(parts[3])
    return None


def compare_observations(oracle: Observation, tbpf: Observation) -> list[Difference]:
    """Every field that differs (logs: the first differing line, with its index)."""
    out: list[Difference] = []
    if oracle.error != tbpf.error:
        out.append(Difference("error", oracle.error, tbpf.error))
    if oracle.logs != tbpf.logs:
        n = next((i for i, (a, b) in enumerate(zip(oracle.logs, tbpf.logs)) if a != b),
                 min(len(oracle.logs), len(tbpf.logs)))
        out.append(Difference(
            f"logs[{n}]", oracle.logs[n] if n < len(oracle.logs) else "<end>",
            tbpf.logs[n] if n < len(tbpf.logs) else "<end>"))
    for name in ("compute_units", "transaction_compute_units", "return_data"):
        a, b = getattr(oracle, name), getattr(tbpf, name)
        if a != b:
            out.append(Difference(name, a, b))
    for key in sorted(set(oracle.accounts) | set(tbpf.accounts)):
        a, b = oracle.accounts.get(key), tbpf.accounts.get(key)
        if a != b:
            out.append(Difference(f"accounts[{key}]", a, b))
    return out


# --------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------

@dataclass
class _Keys:
    """The keys of one case, derived from its seed (same seed, same keys)."""

    seed: int
    _pairs: dict[str, Any] = field(default_factory=dict)

    def keypair(self, name: str) -> Any:
        from solders.keypair import Keypair  # type: ignore[import-not-found,unused-ignore]
        pair = self._pairs.get(name)
        if pair is None:
            seed = hashlib.sha256(f"tbpf-solana-diff/{self.seed}/{name}".encode()).digest()
            pair = self._pairs[name] = Keypair.from_seed(seed)
        return pair

    def key(self, name: str) -> bytes:
        if name == "clock":
            return _CLOCK_SYSVAR_ID
        if name == "system":
            return SYSTEM_PROGRAM_ID
        return bytes(self.keypair(name).pubkey())

    def owner(self, name: str) -> bytes:
        if name == "system":
            return SYSTEM_PROGRAM_ID
        return self.key("program" if name == "program" else "other-owner")


def _solders_account(state: Account) -> Any:
    from solders.account import Account as SAccount  # type: ignore[import-not-found,unused-ignore]
    from solders.pubkey import Pubkey  # type: ignore[import-not-found,unused-ignore]
    return SAccount(lamports=state.lamports, data=state.data,
                    owner=Pubkey.from_bytes(state.owner), executable=state.executable)


def _account_from_solders(acc: Any) -> Account:
    if acc is None:
        return Account()
    return Account(lamports=int(acc.lamports), data=bytes(acc.data),
                   owner=bytes(acc.owner), executable=bool(acc.executable))


def _account_view(acc: Account) -> tuple[int, str, str, bool]:
    if acc.lamports == 0:
        # Committing a transaction deletes every account left with no lamports: the
        # store reports it as missing whatever the instruction left in it.
        acc = Account()
    return (acc.lamports, acc.data.hex(), pubkey_str(acc.owner), acc.executable)


def _instruction_error_name(err: Any) -> str:
    name = type(err).__name__
    if name == "InstructionErrorCustom":
        return f"Custom({err.code})"
    if name == "InstructionErrorBorshIO":
        return "BorshIoError"
    return str(err).rsplit(".", 1)[-1]


def _transaction_error_name(err: Any) -> str | None:
    if err is None:
        return None
    name = type(err).__name__
    if name == "TransactionErrorInstructionError":
        return _instruction_error_name(err.err)
    if name == "TransactionErrorInsufficientFundsForRent":
        return f"Transaction:InsufficientFundsForRent({err.account_index})"
    return "Transaction:" + str(err).rsplit(".", 1)[-1]


@dataclass
class _Prepared:
    """A case set up in LiteSVM, not yet sent."""

    svm: Any
    tx: Any
    keys: _Keys
    order: list[bytes]            # distinct keys, first-appearance order
    program_id: bytes
    num_signatures: int


def _prepare(case: SolanaCase, elf: bytes) -> _Prepared:
    from solders.compute_budget import ComputeBudget  # type: ignore[import-not-found,unused-ignore]
    from solders.instruction import AccountMeta, Instruction  # type: ignore[import-not-found,unused-ignore]
    from solders.litesvm import LiteSVM  # type: ignore[import-not-found,unused-ignore]
    from solders.message import Message  # type: ignore[import-not-found,unused-ignore]
    from solders.pubkey import Pubkey  # type: ignore[import-not-found,unused-ignore]
    from solders.transaction import VersionedTransaction  # type: ignore[import-not-found,unused-ignore]

    if case.loader not in _LOADER_IDS:
        raise ValueError(f"unknown loader {case.loader!r}")
    keys = _Keys(case.seed)
    svm = LiteSVM()
    if case.budget is not None or case.heap_size != 32 * 1024:
        budget = ComputeBudget(False)
        budget.compute_unit_limit = (DEFAULT_COMPUTE_UNITS if case.budget is None
                                     else case.budget)
        budget.heap_size = case.heap_size
        svm = svm.with_compute_budget(budget)
    payer = keys.keypair("payer")
    # Stored directly (not airdropped): an airdrop is a transaction and would need CUs.
    svm.set_account(payer.pubkey(), _solders_account(Account(lamports=PAYER_LAMPORTS)))
    program_id = keys.key("program")
    pid = Pubkey.from_bytes(program_id)
    if case.loader == "upgradeable":
        svm.add_program(pid, elf)
    else:
        svm.add_program_with_loader(pid, elf, Pubkey.from_bytes(_LOADER_IDS[case.loader]))
    if case.unix_timestamp is not None:
        clock = svm.get_clock()
        clock.unix_timestamp = case.unix_timestamp
        svm.set_clock(clock)
    stored: set[str] = set()
    for acc in case.accounts:
        if acc.lamports is not None and acc.key not in stored and acc.key.startswith("key"):
            stored.add(acc.key)
            svm.set_account(Pubkey.from_bytes(keys.key(acc.key)), _solders_account(
                Account(lamports=acc.lamports, data=acc.data, owner=keys.owner(acc.owner))))
    metas = [AccountMeta(Pubkey.from_bytes(keys.key(a.key)), a.is_signer, a.is_writable)
             for a in case.accounts]
    ix = Instruction(pid, case.instruction_data, metas)
    signer_names = ["payer"] + sorted({a.key for a in case.accounts
                                       if a.is_signer and a.key.startswith("key")})
    message = Message.new_with_blockhash([ix], payer.pubkey(), svm.latest_blockhash())
    tx = VersionedTransaction(message, [keys.keypair(n) for n in signer_names])
    order: list[bytes] = []
    for key in [keys.key("payer")] + [keys.key(a.key) for a in case.accounts]:
        if key not in order:
            order.append(key)
    return _Prepared(svm, tx, keys, order, program_id, len(signer_names))


def _initial_states(prep: _Prepared) -> dict[bytes, Account]:
    from solders.pubkey import Pubkey  # type: ignore[import-not-found,unused-ignore]
    states = {k: _account_from_solders(prep.svm.get_account(Pubkey.from_bytes(k)))
              for k in prep.order}
    payer = prep.keys.key("payer")
    fee = LAMPORTS_PER_SIGNATURE * prep.num_signatures
    # The fee is taken while the transaction is loaded, before the program runs.
    states[payer] = Account(lamports=states[payer].lamports - fee, data=states[payer].data,
                            owner=states[payer].owner, executable=states[payer].executable)
    return states


def run_oracle(case: SolanaCase, elf: bytes) -> tuple[Observation, dict[bytes, Account],
                                                      dict[str, Any]]:
    """Send ``case`` through LiteSVM.

    Returns:
        the oracle's :class:`Observation`, the account states the instruction started
        from (fee already taken) and the sysvars it saw (``clock``, ``rent``).
    """
    from solders.pubkey import Pubkey  # type: ignore[import-not-found,unused-ignore]
    prep = _prepare(case, elf)
    states = _initial_states(prep)
    clock = prep.svm.get_clock()
    rent = prep.svm.get_rent()
    sysvars = {
        "clock": Clock(int(clock.slot), int(clock.epoch_start_timestamp), int(clock.epoch),
                       int(clock.leader_schedule_epoch), int(clock.unix_timestamp)),
        # The f64 threshold crosses as its exact 8 bytes; TBPF never computes with it.
        "rent": Rent(int(rent.lamports_per_byte), struct.pack("<d", rent.exemption_threshold),
                     int(rent.burn_percent)),
    }
    result = prep.svm.send_transaction(prep.tx)
    meta = result.meta() if hasattr(result, "err") else result
    error = _transaction_error_name(result.err()) if hasattr(result, "err") else None
    fee = int(meta.fee()) if hasattr(meta, "fee") else None
    if fee is not None and fee != LAMPORTS_PER_SIGNATURE * prep.num_signatures:
        raise RuntimeError(f"unexpected fee {fee} (the harness assumes "
                           f"{LAMPORTS_PER_SIGNATURE} per signature)")
    logs = list(meta.logs())
    return_data = meta.return_data()
    after = {pubkey_str(k): _account_view(_account_from_solders(
        prep.svm.get_account(Pubkey.from_bytes(k)))) for k in prep.order}
    observation = Observation(
        error=error, logs=logs, compute_units=_consumed(logs),
        transaction_compute_units=int(meta.compute_units_consumed()),
        return_data=(str(return_data.program_id), bytes(return_data.data).hex()),
        accounts=after)
    return observation, states, sysvars


def effective_flags(case: SolanaCase, keys: _Keys) -> list[tuple[bytes, bool, bool]]:
    """``(key, is_signer, is_writable)`` per instruction account as a compiled message
    gives them: flags OR-ed per key, the fee payer a writable signer, the invoked program
    and reserved keys (builtins, sysvars) demoted to read-only."""
    payer = keys.key("payer")
    program_id = keys.key("program")
    signer: dict[bytes, bool] = {payer: True}
    writable: dict[bytes, bool] = {payer: True}
    for acc in case.accounts:
        k = keys.key(acc.key)
        signer[k] = signer.get(k, False) or acc.is_signer
        writable[k] = writable.get(k, False) or acc.is_writable
    out = []
    for acc in case.accounts:
        k = keys.key(acc.key)
        demoted = k == program_id or k in _RESERVED_KEYS
        out.append((k, signer[k], writable[k] and not demoted))
    return out


def message_account_keys(case: SolanaCase, keys: _Keys) -> list[bytes]:
    """The compiled message's account keys: writable signers (fee payer first), read-only
    signers, writable non-signers, read-only non-signers (the invoked program among
    them), each group sorted by key bytes (solana-message's ``CompiledKeys``)."""
    payer = keys.key("payer")
    flags: dict[bytes, tuple[bool, bool]] = {payer: (True, True),
                                             keys.key("program"): (False, False)}
    for acc in case.accounts:
        k = keys.key(acc.key)
        signer, writable = flags.get(k, (False, False))
        flags[k] = (signer or acc.is_signer, writable or acc.is_writable)
    groups: list[list[bytes]] = [[], [], [], []]
    for k, (signer, writable) in flags.items():
        if k != payer:
            groups[(0 if signer else 2) + (0 if writable else 1)].append(k)
    return [payer] + [k for group in groups for k in sorted(group)]


def run_tbpf(case: SolanaCase, elf: bytes, states: dict[bytes, Account],
             sysvars: dict[str, Any], engine: str) -> tuple[Observation, InvokeResult]:
    """Run ``case`` through :func:`tbpf.solana.invoke` from the oracle's initial state,
    then apply the one transaction-level rule that can fail a successful instruction
    here: the rent-state transition of every writable account
    (``InsufficientFundsForRent``, which rolls the accounts back)."""
    keys = _Keys(case.seed)
    flags = effective_flags(case, keys)
    accounts = [KeyedAccount(k, states[k], s, w) for k, s, w in flags]
    rent = sysvars.get("rent") or Rent()
    result = invoke(
        load_solana_program(elf), accounts, case.instruction_data, engine=engine,
        budget=DEFAULT_COMPUTE_UNITS if case.budget is None else case.budget,
        heap_size=case.heap_size, program_id=keys.key("program"), loader=case.loader,
        clock=sysvars.get("clock"), rent=rent)
    error = None
    if result.error is not None:
        error = (f"Custom({result.error.code})" if result.error.kind == "Custom"
                 else result.error.kind)
    after = dict(states)
    after.update(result.accounts)
    if result.error is None:
        writable = {k for k, _s, w in flags if w} | {keys.key("payer")}
        for index, k in enumerate(message_account_keys(case, keys)):
            if k in writable and k in states and not rent_transition_allowed(
                    states[k], after[k], rent):
                error = f"Transaction:InsufficientFundsForRent({index})"
                after = dict(states)
                break
    observation = Observation(
        error=error, logs=list(result.logs), compute_units=_consumed(result.logs),
        transaction_compute_units=result.transaction_compute_units,
        return_data=(pubkey_str(result.return_data[0]), result.return_data[1].hex()),
        accounts={pubkey_str(k): _account_view(after[k]) for k in states})
    return observation, result


def run_case(case: SolanaCase, elf: bytes, engines: Sequence[str] = ("interp",)
             ) -> list[CaseReport]:
    """Run ``case`` on the oracle once and on TBPF once per engine; one report each."""
    oracle, states, sysvars = run_oracle(case, elf)
    reports = []
    for engine in engines:
        tbpf, _ = run_tbpf(case, elf, states, sysvars, engine)
        reports.append(CaseReport(case, engine, oracle, tbpf,
                                  compare_observations(oracle, tbpf)))
    return reports


# --------------------------------------------------------------------------------------
# Corpus and case generation
# --------------------------------------------------------------------------------------

def default_corpus() -> Path:
    """``tests/elfs/solana`` of this checkout."""
    return Path(__file__).resolve().parent.parent / "tests" / "elfs" / "solana"


def probe_path() -> Path:
    """``tests/solana_probe/probe.so`` of this checkout."""
    return Path(__file__).resolve().parent.parent / "tests" / "solana_probe" / PROBE_PROGRAM


def load_corpus(directory: Path | str | None = None,
                names: Iterable[str] | None = None) -> dict[str, bytes]:
    """``{file name: ELF bytes}`` of the ``.so`` files in ``directory`` (default: the six
    programs of ``tests/elfs/solana`` plus TBPF's probe), or only the ``names`` given.

    Raises:
        FileNotFoundError: the directory or a named file is missing.
    """
    root = Path(directory) if directory is not None else default_corpus()
    if not root.is_dir():
        raise FileNotFoundError(f"no program directory {root}")
    paths = {p.name: p for p in sorted(root.glob("*.so"))}
    if directory is None and probe_path().is_file():
        paths[PROBE_PROGRAM] = probe_path()
    wanted = list(names) if names else sorted(paths)
    out = {}
    for name in wanted:
        name = name if name.endswith(".so") else name + ".so"
        path = paths.get(name, root / name)
        if not path.is_file():
            raise FileNotFoundError(f"no program {path}")
        out[name] = path.read_bytes()
    return out


def baseline_cases() -> list[SolanaCase]:
    """The documented behaviour of the six programs (and the three README measurements:
    counter increment 1058 CUs, spl_example_logging 4209, spl_memo 4.0.0 513)."""
    counter = CaseAccount("key1", False, True, 5, bytes(4), "program")
    return [
        SolanaCase("counter/increment", "counter.so", b"\x00", (counter,), seed=1),
        SolanaCase("logging/readme", "spl_example_logging.so", bytes([1, 2, 3]),
                   (CaseAccount("key1"),), seed=2),
        SolanaCase("memo4/readme", "spl_memo-4.0.0.so", b"hello from solders",
                   (CaseAccount("payer", True, True),), seed=3),
        SolanaCase("hello/plain", "hello_world.so", seed=4),
        SolanaCase("clock/default", "litesvm_clock_example.so", seed=5),
        SolanaCase("clock/too-late", "litesvm_clock_example.so", b"x",
                   unix_timestamp=1_735_689_600, seed=6),
        SolanaCase("memo1/plain", "spl_memo-1.0.0.so", b"hi there", seed=7),
        SolanaCase("memo4/invalid-utf8", "spl_memo-4.0.0.so", b"\xff\xfe", seed=8),
    ]


_ALPHABET = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,!?-_"
_UNICODE = "éüß漢字🙂Ωж€→"


def _memo_bytes(rng: random.Random) -> bytes:
    kind = rng.choice(("ascii", "ascii", "unicode", "invalid", "truncated", "empty",
                       "long"))
    if kind == "empty":
        return b""
    length = rng.randint(1, 60)
    if kind == "long":
        length = rng.randint(200, 900)
    text = "".join(rng.choice(_ALPHABET if kind != "unicode" or rng.random() < 0.5
                              else _UNICODE) for _ in range(length))
    raw = text.encode("utf-8")
    if kind == "invalid":
        pos = rng.randrange(len(raw) + 1)
        bad = rng.choice((b"\xff", b"\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\x80",
                          b"\xf8\x88\x80\x80\x80"))
        raw = raw[:pos] + bad + raw[pos:]
    elif kind == "truncated":
        raw = raw + "漢🙂".encode()[:rng.choice((1, 2, 4, 5, 6))]
    return raw[:1000]


def _random_account(rng: random.Random, name: str, *, signer: bool | None = None,
                    writable: bool | None = None) -> CaseAccount:
    exists = rng.random() < 0.8
    return CaseAccount(
        name, rng.random() < 0.3 if signer is None else signer,
        rng.random() < 0.5 if writable is None else writable,
        rng.choice((1, 5, 890_880, 10**9, 2**63)) if exists else None,
        rng.randbytes(rng.choice((0, 1, 4, 8, 33, 100))) if exists else b"",
        rng.choice(("program", "system", "other")))


def _maybe_duplicate(rng: random.Random, accounts: list[CaseAccount]) -> list[CaseAccount]:
    if accounts and rng.random() < 0.25:
        original = rng.choice(accounts)
        can_sign = original.key == "payer" or original.key.startswith("key")
        dup = CaseAccount(original.key, can_sign and rng.random() < 0.3, rng.random() < 0.5)
        accounts.insert(rng.randint(0, len(accounts)), dup)
    return accounts


def _gen_counter(rng: random.Random, seed: int) -> SolanaCase:
    op = rng.choice(("increment",) * 5 + ("unknown", "empty", "random"))
    data = {"increment": b"\x00" + rng.randbytes(rng.choice((0, 0, 3))),
            "unknown": bytes([rng.randint(1, 255)]), "empty": b"",
            "random": rng.randbytes(rng.randint(1, 12))}[op]
    value = rng.choice((0, 1, 41, 0xFFFF_FFFE, 0xFFFF_FFFF, rng.getrandbits(32)))
    length = rng.choice((4,) * 6 + (0, 3, 5, 8))
    state = (value.to_bytes(4, "little") + rng.randbytes(8))[:length]
    counter = CaseAccount("key1", False, rng.random() < 0.85,
                          rng.choice((5, 1_000_000)), state,
                          rng.choice(("program",) * 6 + ("system", "other")))
    shape = rng.choice(("one",) * 5 + ("none", "payer", "nonexistent", "extra", "dup",
                                       "program"))
    accounts: list[CaseAccount]
    if shape == "none":
        accounts = []
    elif shape == "payer":
        accounts = [CaseAccount("payer", True, True)]
    elif shape == "nonexistent":
        accounts = [CaseAccount("key1", False, True)]
    elif shape == "extra":
        accounts = [counter] + [_random_account(rng, f"key{i}") for i in (2, 3)]
    elif shape == "dup":
        accounts = [counter, CaseAccount("key1", False, rng.random() < 0.5)]
    elif shape == "program":
        accounts = [CaseAccount("program", False, True)]
    else:
        accounts = [counter]
    return SolanaCase(f"counter/{op}-{shape}", "counter.so", data, tuple(accounts),
                      seed=seed)


def _gen_memo4(rng: random.Random, seed: int) -> SolanaCase:
    accounts: list[CaseAccount] = []
    for i in range(rng.choice((0, 0, 1, 1, 2, 3))):
        name = "payer" if i == 0 and rng.random() < 0.5 else f"key{i + 1}"
        accounts.append(CaseAccount(name, rng.random() < 0.85, rng.random() < 0.3,
                                    rng.choice((None, 10**9))))
    accounts = _maybe_duplicate(rng, accounts)
    return SolanaCase(f"memo4/{len(accounts)}-accounts", "spl_memo-4.0.0.so",
                      _memo_bytes(rng), tuple(accounts), seed=seed)


def _gen_memo1(rng: random.Random, seed: int) -> SolanaCase:
    loader = rng.choice(("upgradeable", "deprecated", "deprecated"))
    accounts = [_random_account(rng, f"key{i + 1}") for i in range(rng.choice((0, 0, 0, 1, 2)))]
    return SolanaCase(f"memo1/{loader}-{len(accounts)}-accounts", "spl_memo-1.0.0.so",
                      _memo_bytes(rng), tuple(accounts), loader=loader, seed=seed)


def _gen_logging(rng: random.Random, seed: int) -> SolanaCase:
    accounts = [_random_account(rng, f"key{i + 1}") for i in range(rng.choice((0, 1, 1, 2, 3)))]
    if rng.random() < 0.2:
        accounts.insert(0, CaseAccount("payer", True, True))
    if rng.random() < 0.1:
        accounts.append(CaseAccount(rng.choice(("program", "clock", "system")), False,
                                    rng.random() < 0.5))
    accounts = _maybe_duplicate(rng, accounts)
    # Up to ~200 bytes: each byte logs two lines, so the longer ones reach the log limit.
    length = rng.choice((0, 1, 3, 6, 16, 40, rng.randint(100, 200)))
    return SolanaCase(f"logging/{len(accounts)}-accounts-{length}-bytes",
                      "spl_example_logging.so", rng.randbytes(length), tuple(accounts),
                      seed=seed)


def _gen_hello(rng: random.Random, seed: int) -> SolanaCase:
    accounts = [_random_account(rng, f"key{i + 1}") for i in range(rng.choice((0, 0, 1, 2)))]
    return SolanaCase("hello/random", "hello_world.so", rng.randbytes(rng.randint(0, 8)),
                      tuple(accounts), seed=seed)


def _gen_clock(rng: random.Random, seed: int) -> SolanaCase:
    stamp = rng.choice((None, 0, 50, 99, 100, 101, -5, -(2**63), 2**63 - 1, 1_735_689_600))
    accounts = [CaseAccount("clock")] if rng.random() < 0.3 else []
    return SolanaCase(f"clock/{stamp}", "litesvm_clock_example.so",
                      rng.randbytes(rng.randint(0, 4)), tuple(accounts),
                      unix_timestamp=stamp, seed=seed)


def _gen_generic(program: str) -> Callable[[random.Random, int], SolanaCase]:
    def gen(rng: random.Random, seed: int) -> SolanaCase:
        accounts = [_random_account(rng, f"key{i + 1}") for i in range(rng.randint(0, 3))]
        return SolanaCase(f"{program}/random", program, rng.randbytes(rng.randint(0, 32)),
                          tuple(_maybe_duplicate(rng, accounts)), seed=seed)
    return gen


PROBE_PROGRAM = "probe.so"
"""TBPF's probe (``tests/solana_probe/probe.c``): does whatever its instruction data says."""

_PROBE_ADDRESSES = (
    0x4_0000_0000, 0x4_0000_0008, 0x4_0000_5000, 0x4_0010_0000, 0x2_0000_0000,
    0x2_0000_0FF8, 0x2_0000_1000, 0x2_0007_FFF8, 0x1_FFFF_FFFF, 0x3_0000_0000,
    0x3_0000_7FF8, 0x3_0000_8000, 0x1_0000_0000, 0x1_1000_0000, 0, 0x5_0000_0000,
    0xFFFF_FFFF_FFFF_FFF8,
)


def u16(value: int) -> bytes:
    """``value`` as 2 little-endian bytes (wrapping)."""
    return (value & 0xFFFF).to_bytes(2, "little")


def u64(value: int) -> bytes:
    """``value`` as 8 little-endian bytes (wrapping)."""
    return (value & U64).to_bytes(8, "little")


def _probe_command(rng: random.Random, accounts: Sequence[CaseAccount]) -> bytes:
    """One command of the probe's little language (see ``tests/solana_probe/probe.c``)."""
    n = len(accounts)
    if n and rng.random() < 0.45:
        i = rng.randrange(n)
        acc = accounts[i]
        size = len(acc.data)
        lamports: int = acc.lamports if acc.lamports is not None else 0
        op = rng.choice(("lamports", "len", "byte", "byte", "owner", "transfer"))
        if op == "lamports":
            return b"\x01" + bytes([i]) + u64(rng.choice(
                (0, lamports, lamports + 1, max(lamports - 1, 0), rng.getrandbits(64))))
        if op == "len":
            return b"\x02" + bytes([i]) + u64(rng.choice(
                (size, size + 1, max(size - 1, 0), 0, size + 10_240, size + 10_241,
                 rng.randint(0, size + 10_240), 2**63)))
        if op == "byte":
            return b"\x03" + bytes([i]) + u16(rng.choice(
                (0, max(size - 1, 0), size, size + 10_239, rng.randint(0, size + 64)))) \
                + bytes([rng.randint(1, 255)])
        if op == "owner":
            owner = rng.choice((b"program", b"system", b"other", b"random"))
            key = {b"system": bytes(32), b"random": rng.randbytes(32)}.get(owner)
            # The keys of "program"/"other" derive from the case seed: _gen_probe puts
            # them in place of these placeholders.
            return b"\x04" + bytes([i]) + (key if key is not None else owner.ljust(32, b"?"))
        j = rng.randrange(n)
        amount = rng.choice((1, 1000, lamports))
        other = accounts[j].lamports or 0
        return (b"\x01" + bytes([i]) + u64(lamports - amount)
                + b"\x01" + bytes([j]) + u64(other + amount))
    op = rng.choice((
        "return", "exit", "load", "store", "log", "abort", "panic", "div", "alloc", "spin",
        "recurse", "memcpy", "lograw", "clock", "rent", "cu", "remaining", "getret",
        "hash", "logdata", "height", "pubkey", "memops", "r2", "header", "stackset",
        "programid"))
    if op == "return":
        length = rng.choice((0, 1, 32, 1024, 1025))
        return b"\x05" + u16(length) + rng.randbytes(length)
    if op == "exit":
        return b"\x06" + u64(rng.choice((0, 1, 0x1771, rng.randint(1, 30) << 32,
                                         (1 << 32) + 5, rng.getrandbits(64))))
    if op in ("load", "store"):
        addr = rng.choice(_PROBE_ADDRESSES) + rng.choice((0, 0, 1, 7))
        if op == "store":
            return b"\x08" + u64(addr)
        return b"\x07" + u64(addr) + bytes([rng.choice((1, 2, 4, 8))])
    if op == "log":
        text = _memo_bytes(rng)[:200]
        return b"\x09" + bytes([len(text)]) + text
    if op == "abort":
        return b"\x0a"
    if op == "panic":
        name = rng.choice((b"src/lib.rs", b"a:b.rs", b"", b"\xff.rs"))
        return b"\x0b" + bytes([len(name)]) + name + rng.randbytes(8)
    if op == "div":
        return b"\x0c" + u64(rng.choice((0, 3)))
    if op == "alloc":
        return b"\x0d" + u64(rng.choice((0, 1, 7, 100, 32 * 1024, 40_000, 2**63)))
    if op == "spin":
        return b"\x0e" + u64(rng.choice((10, 1000, 100_000)))
    if op == "recurse":
        return b"\x0f" + u16(rng.choice((5, 62, 63, 64, 100)))
    if op == "memcpy":
        dst, src = rng.choice(((16, 24), (24, 16), (0, 100), (8, 8)))
        return b"\x10" + u64(dst) + u64(src) + u64(rng.choice((0, 4, 8, 16, 1 << 20)))
    if op == "lograw":
        return b"\x11" + u64(rng.choice(_PROBE_ADDRESSES)) + u64(rng.choice((0, 1, 8, 100)))
    if op == "getret":
        return b"\x16" + u64(rng.choice((0, 8, 64)))
    if op == "pubkey":
        return b"\x1a" + bytes([rng.randrange(max(n, 1))])
    if op == "memops":
        return b"\x1b" + u64(rng.choice((0, 8, 100, 32 * 1024 - 8, 40_000)))
    if op == "header":
        return b"\x1d" + bytes([rng.randrange(max(n, 1))])
    if op == "stackset":
        return b"\x1e" + u64(rng.choice((16, 4000, 5000)))
    return {"clock": b"\x12", "rent": b"\x13", "cu": b"\x14", "remaining": b"\x15",
            "hash": b"\x17", "logdata": b"\x18", "height": b"\x19", "r2": b"\x1c",
            "programid": b"\x1f"}[op]


def _gen_probe(rng: random.Random, seed: int) -> SolanaCase:
    accounts: list[CaseAccount] = []
    for i in range(rng.choice((0, 1, 2, 2, 3, 4))):
        if i == 0 and rng.random() < 0.15:
            accounts.append(CaseAccount("payer", True, True))
            continue
        exists = rng.random() < 0.9
        accounts.append(CaseAccount(
            f"key{i + 1}", rng.random() < 0.2, rng.random() < 0.8,
            rng.choice((1_000_000, 10**9, 2_000_000_000)) if exists else None,
            rng.randbytes(rng.choice((0, 1, 8, 33, 100))) if exists else b"",
            rng.choice(("program",) * 4 + ("system", "other"))))
    if rng.random() < 0.1:
        accounts.append(CaseAccount(rng.choice(("program", "clock")), False, rng.random() < 0.5))
    accounts = _maybe_duplicate(rng, accounts)
    commands = b"".join(_probe_command(rng, accounts)
                        for _ in range(rng.choice((1, 1, 2, 3, 5))))
    keys = _Keys(seed)
    commands = commands.replace(b"program".ljust(32, b"?"), keys.key("program")).replace(
        b"other".ljust(32, b"?"), keys.owner("other"))
    loader = "deprecated" if rng.random() < 0.1 else "upgradeable"
    return SolanaCase(f"probe/{commands[:1].hex()}-{len(accounts)}-accounts", PROBE_PROGRAM,
                      commands, tuple(accounts), loader=loader, seed=seed)


_GENERATORS: dict[str, Callable[[random.Random, int], SolanaCase]] = {
    PROBE_PROGRAM: _gen_probe,
    "counter.so": _gen_counter, "spl_memo-4.0.0.so": _gen_memo4,
    "spl_memo-1.0.0.so": _gen_memo1, "spl_example_logging.so": _gen_logging,
    "hello_world.so": _gen_hello, "litesvm_clock_example.so": _gen_clock,
}


def _with_budget(case: SolanaCase, rng: random.Random, elf: bytes) -> SolanaCase:
    """Sometimes another heap size, sometimes a budget that runs out mid-program (drawn
    from TBPF's own count at the default budget, so every exhaustion point is reachable)."""
    from dataclasses import replace
    if rng.random() < 0.2:
        case = replace(case, heap_size=rng.choice((33, 64, 100, 256)) * 1024)
    if rng.random() < 0.3:
        keys = _Keys(case.seed)
        states: dict[bytes, Account] = {}
        for a in case.accounts:
            states.setdefault(keys.key(a.key), Account(
                lamports=a.lamports or 0, data=a.data, owner=keys.owner(a.owner)))
        try:
            probe = run_tbpf(case, elf, states, {}, "interp")[1]
            full = probe.heap_cost + probe.compute_units
        except Exception:  # noqa: BLE001 - only a hint for the budget
            full = 2_000
        case = replace(case, budget=rng.randint(0, max(full, 1)),
                       name=case.name + "/tight")
    return case


def generate_cases(corpus: dict[str, bytes], cases_per_program: int, seed: int
                   ) -> list[SolanaCase]:
    """``cases_per_program`` varied cases for each program of ``corpus`` (deterministic
    for a seed)."""
    out = []
    for program in sorted(corpus):
        gen = _GENERATORS.get(program, _gen_generic(program))
        rng = random.Random(f"{seed}/{program}")
        for i in range(cases_per_program):
            case_seed = rng.getrandbits(32)
            case = gen(rng, case_seed)
            case = _with_budget(case, rng, corpus[program])
            out.append(case)
    return out


def dump_report(report: CaseReport, out_dir: Path) -> Path:
    """Write ``report`` as a JSON reproducer in ``out_dir``; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(json.dumps(report.case.to_json(), sort_keys=True).encode()
                            ).hexdigest()[:12]
    path = out_dir / f"solana-diff-{report.case.program.removesuffix('.so')}-{digest}.json"
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return path

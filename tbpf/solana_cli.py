"""``tbpf solana-run`` and ``tbpf solana-diff``: Solana programs on TBPF, and against Agave.

::

    tbpf solana-run PROGRAM.so [--data HEX | --text STR] [--account SPEC]... [--engine E]
                    [--budget N] [--heap-size N] [--program-id KEY] [--loader L]
                    [--unix-timestamp T] [--json]
    tbpf solana-diff [--programs DIR] [--program NAME]... [--cases N] [--seed S]
                     [--engine E]... [--out DIR] [--json] [--show N]
    tbpf solana-diff --replay FINDING.json [--engine E]...

``solana-run`` exits 0 whether or not the program failed (like ``tbpf run``).
``solana-diff`` runs the baseline cases and ``--cases`` generated cases per program on
the pinned oracle (solders 0.29.0's LiteSVM) and on TBPF, and exits 0 when everything
agrees, 1 when something diverged (each divergence written to ``--out`` as a JSON
reproducer), 2 when the oracle is missing or an argument is unusable. See
``docs/solana.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .cli import EXIT_FAILURE, EXIT_OK, CommandError, read_program_file

__all__ = ["add_command", "cmd_solana_run", "cmd_solana_diff", "parse_account_spec"]


def _int(value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None


def _positive(value: str) -> int:
    n = _int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``tbpf solana-run`` and ``tbpf solana-diff``."""
    p = sub.add_parser("solana-run", help="run a Solana program (.so) the way Agave does",
                       description="Serialize the accounts and data like Agave, run the "
                                   "program, print Agave's log lines and the accounts after.")
    p.add_argument("file", help="the program's ELF (.so)")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="HEX", default="", help="instruction data as hex")
    data.add_argument("--text", metavar="STR", help="instruction data as UTF-8 text")
    p.add_argument("--account", action="append", default=[], metavar="SPEC",
                   help="an instruction account: KEY[,signer][,writable][,lamports=N]"
                        "[,data=HEX][,owner=KEY|program][,executable] (repeatable, in "
                        "order; KEY is base58)")
    p.add_argument("--engine", choices=("interp", "jit"), default="interp")
    p.add_argument("--budget", type=_int, default=200_000,
                   help="compute units before the heap cost (default 200000)")
    p.add_argument("--heap-size", type=_int, default=32 * 1024,
                   help="heap bytes, a multiple of 1024 in [32768, 262144]")
    p.add_argument("--program-id", metavar="KEY", help="the program's key (base58)")
    p.add_argument("--loader", choices=("upgradeable", "v2", "deprecated"),
                   default="upgradeable", help="owner loader (deprecated: unaligned input)")
    p.add_argument("--unix-timestamp", type=_int, help="the Clock sysvar's unix timestamp")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_solana_run)

    d = sub.add_parser("solana-diff", help="differential test against the real Agave "
                                           "runtime (LiteSVM from solders 0.29.0)",
                       description="Run the same transactions on LiteSVM and on TBPF and "
                                   "compare logs, compute units, return data, accounts and "
                                   "errors.")
    d.add_argument("--programs", metavar="DIR",
                   help="directory of .so files (default: tests/elfs/solana)")
    d.add_argument("--program", action="append", metavar="NAME",
                   help="only this program (repeatable; e.g. counter.so)")
    d.add_argument("--cases", type=_int, default=50,
                   help="generated cases per program (default 50; 0: baseline only)")
    d.add_argument("--seed", type=_int, help="generator seed (default: random, printed)")
    d.add_argument("--engine", action="append", choices=("interp", "jit"),
                   help="TBPF engine(s) (default: interp and jit)")
    d.add_argument("--out", default="tbpf-solana-diff", metavar="DIR",
                   help="where divergences are written (default ./tbpf-solana-diff)")
    d.add_argument("--show", type=_int, default=10, metavar="N",
                   help="print the first N divergences (default 10)")
    d.add_argument("--json", action="store_true", help="print a JSON summary")
    d.add_argument("--replay", metavar="FILE.json",
                   help="re-run one reproducer written by a previous run")
    d.set_defaults(func=cmd_solana_diff)


# --- solana-run -------------------------------------------------------------------------

def parse_account_spec(spec: str, program_id: bytes) -> Any:
    """A :class:`~tbpf.solana.KeyedAccount` from ``KEY[,signer][,writable][,lamports=N]
    [,data=HEX][,owner=KEY|program][,executable]``.

    Raises:
        CommandError: a malformed spec.
    """
    from .solana import SYSTEM_PROGRAM_ID, Account, KeyedAccount, pubkey
    parts = [p.strip() for p in spec.split(",")]
    try:
        key = pubkey(parts[0])
        signer = writable = executable = False
        lamports, data, owner = 0, b"", SYSTEM_PROGRAM_ID
        for part in parts[1:]:
            name, _, value = part.partition("=")
            if part == "signer":
                signer = True
            elif part == "writable":
                writable = True
            elif part == "executable":
                executable = True
            elif name == "lamports" and value:
                lamports = int(value, 0)
            elif name == "data":
                data = bytes.fromhex(value)
            elif name == "owner" and value:
                owner = program_id if value == "program" else pubkey(value)
            else:
                raise ValueError(f"unknown field {part!r}")
        return KeyedAccount(key, Account(lamports, data, owner, executable), signer, writable)
    except ValueError as exc:
        raise CommandError(f"bad --account {spec!r}: {exc}") from None


def cmd_solana_run(args: argparse.Namespace) -> int:
    """``tbpf solana-run FILE``: one instruction; prints the log and the accounts."""
    from .solana import DEFAULT_PROGRAM_ID, Clock, invoke, pubkey, pubkey_str
    elf = read_program_file(args.file)
    try:
        program_id = pubkey(args.program_id) if args.program_id else DEFAULT_PROGRAM_ID
        data = args.text.encode() if args.text is not None else bytes.fromhex(args.data)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    accounts = [parse_account_spec(s, program_id) for s in args.account]
    clock = Clock(unix_timestamp=args.unix_timestamp) if args.unix_timestamp is not None \
        else None
    try:
        result = invoke(elf, accounts, data, engine=args.engine, budget=args.budget,
                        heap_size=args.heap_size, program_id=program_id, loader=args.loader,
                        clock=clock)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(result.to_json()))
        return EXIT_OK
    for line in result.logs:
        print(line)
    if result.error is not None:
        print(f"error: {result.error.to_json()}")
    print(f"compute units: {result.compute_units} (transaction: "
          f"{result.transaction_compute_units}, heap cost {result.heap_cost})")
    for key, account in result.accounts.items():
        print(f"account {pubkey_str(key)}: lamports {account.lamports}, "
              f"owner {pubkey_str(account.owner)}, data {account.data.hex() or '-'}")
    return EXIT_OK


# --- solana-diff ------------------------------------------------------------------------

def _require_oracle() -> None:
    from .solana_oracle import oracle_status
    reason = oracle_status()
    if reason is not None:
        raise CommandError(reason)


def cmd_solana_diff(args: argparse.Namespace) -> int:
    """``tbpf solana-diff``: compare TBPF with the pinned Agave on varied transactions."""
    _require_oracle()
    from .solana_oracle import (
        baseline_cases, case_from_json, dump_report, generate_cases, load_corpus, run_case,
    )
    engines = args.engine or ["interp", "jit"]
    if args.cases < 0:
        raise CommandError("--cases must not be negative")
    try:
        if args.replay:
            try:
                record = json.loads(Path(args.replay).read_text())
                case = case_from_json(record["case"] if "case" in record else record)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"cannot read {args.replay}: {exc}") from None
            corpus = load_corpus(args.programs, [case.program])
            cases = [case]
        else:
            corpus = load_corpus(args.programs, args.program)
            seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4),
                                                                          "little")
            print(f"seed {seed}", file=sys.stderr)
            cases = [c for c in baseline_cases() if c.program in corpus]
            cases += generate_cases(corpus, args.cases, seed)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None
    stats: dict[str, dict[str, int]] = {}
    baseline: list[tuple[str, int | None, dict[str, int | None]]] = []
    divergent = []
    out_dir = Path(args.out)
    baseline_names = {c.name for c in baseline_cases()}
    for case in cases:
        reports = run_case(case, corpus[case.program], engines)
        row = stats.setdefault(case.program, {"cases": 0, "agree": 0, "diverged": 0})
        row["cases"] += 1
        if any(r.diverged for r in reports):
            row["diverged"] += 1
        else:
            row["agree"] += 1
        if case.name in baseline_names:
            baseline.append((case.name, reports[0].oracle.compute_units,
                             {r.engine: r.tbpf.compute_units for r in reports}))
        for report in reports:
            if report.diverged:
                divergent.append((report, dump_report(report, out_dir)))
    if args.json:
        print(json.dumps({
            "oracle": "solders 0.29.0", "engines": engines, "programs": stats,
            "baseline": [{"case": n, "oracle_cu": o, "tbpf_cu": t} for n, o, t in baseline],
            "divergences": [{"case": r.case.name, "engine": r.engine, "file": str(p),
                             "differences": [str(d) for d in r.differences]}
                            for r, p in divergent]}))
    else:
        _print_summary(stats, baseline, engines, divergent, args.show)
    return EXIT_FAILURE if divergent else EXIT_OK


def _print_summary(stats: dict[str, dict[str, int]],
                   baseline: list[tuple[str, int | None, dict[str, int | None]]],
                   engines: list[str], divergent: list[Any], show: int) -> None:
    from rich.console import Console
    from rich.table import Table
    console = Console(highlight=False)
    table = Table(title="solana-diff: TBPF vs LiteSVM (solders 0.29.0), engines "
                        + ", ".join(engines))
    for column in ("program", "cases", "agree", "diverged"):
        table.add_column(column, justify="left" if column == "program" else "right")
    for program, row in sorted(stats.items()):
        table.add_row(program, str(row["cases"]), str(row["agree"]), str(row["diverged"]))
    console.print(table)
    if baseline:
        cu = Table(title="compute units of the baseline cases")
        cu.add_column("case")
        cu.add_column("LiteSVM", justify="right")
        for engine in engines:
            cu.add_column(f"TBPF {engine}", justify="right")
        for name, oracle, tbpf in baseline:
            cu.add_row(name, str(oracle), *(str(tbpf.get(e)) for e in engines))
        console.print(cu)
    for report, path in divergent[:show]:
        console.print(f"[red]DIVERGED[/red] {report.case.name} ({report.engine}) -> {path}")
        for difference in report.differences:
            console.print(f"    {difference}", markup=False)
    if not divergent:
        console.print("no divergence")

"""``tbpf fuzz``: differential fuzzing of the JIT (or any engine) against the interpreter.

::

    tbpf fuzz [--kind smart|dumb|elf] [--seconds N | --cases N] [--seed S] [--workers N]
              [--out DIR] [--sbpf-version v0 ...] [--engine-a interp] [--engine-b jit]
    tbpf fuzz --replay FINDING.json [--engine-a ...] [--engine-b ...]

Exit status: 0 when the campaign found nothing, 1 when it found a divergence, a crash or a
hang (each written to ``--out`` as a minimized reproducer), 2 for unusable arguments.
See ``docs/fuzzing.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from .cli import EXIT_FAILURE, EXIT_OK, CommandError

__all__ = ["add_command", "cmd_fuzz"]


def _positive_int(value: str) -> int:
    try:
        n = int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return x


def _seed(value: str) -> int:
    try:
        return int(value, 0) & ((1 << 64) - 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``tbpf fuzz``."""
    p = sub.add_parser("fuzz", help="differential fuzzing: interpreter vs JIT",
                       description="Generate programs, run them on two engines, compare "
                                   "everything observable, minimize what differs.")
    p.add_argument("--kind", choices=("smart", "dumb", "elf"), default="smart",
                   help="smart: valid generated programs; dumb: random bytes; "
                        "elf: mutated ELF files (default smart)")
    limit = p.add_mutually_exclusive_group()
    limit.add_argument("--seconds", type=_positive_float,
                       help="run for N seconds (default 60 unless --cases)")
    limit.add_argument("--cases", type=_positive_int, help="run N cases")
    p.add_argument("--seed", type=_seed, help="campaign seed (default: random, printed)")
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="worker processes (default 1)")
    p.add_argument("--out", default="tbpf-fuzz-findings", metavar="DIR",
                   help="where reproducers are written (default ./tbpf-fuzz-findings)")
    p.add_argument("--sbpf-version", action="append", metavar="V",
                   help="versions of generated programs (repeatable; default all)")
    p.add_argument("--engine-a", metavar="ENGINE",
                   help="reference engine (default interp; --replay: the record's)")
    p.add_argument("--engine-b", metavar="ENGINE",
                   help="candidate engine: jit (= jit:fast), jit:optimized, jit:auto, "
                        "interp, or planted:FIELD (a planted bug, to see a finding) "
                        "(default jit; --replay: the record's)")
    p.add_argument("--min-insns", type=_positive_int, default=20,
                   help="smart: fewest instructions (default 20)")
    p.add_argument("--max-insns", type=_positive_int, default=60,
                   help="smart: most instructions (default 60)")
    p.add_argument("--elf-corpus", action="append", metavar="PATH",
                   help="elf: seed files or directories (default: shared/programs beside "
                        "the checkout, tests/elfs)")
    p.add_argument("--case-timeout", type=_positive_float, default=30.0, metavar="S",
                   help="seconds before a case counts as a hang (default 30)")
    p.add_argument("--max-run-slots", type=_positive_int, metavar="N",
                   help="do not run verified programs larger than N slots (elf kind: "
                        "skips the JIT compile of big seed files)")
    p.add_argument("--repeat", type=_positive_int, default=3, metavar="N",
                   help="runs per case (default 3): 2 = the candidate again on the same "
                        "compiled code, 3+ = both engines on another input and heap size")
    p.add_argument("--no-minimize", action="store_true", help="write findings as found")
    p.add_argument("--plain", action="store_true",
                   help="plain progress lines even on a terminal")
    p.add_argument("--replay", metavar="FILE.json",
                   help="re-run a reproducer on both engines and show the comparison")
    p.set_defaults(func=cmd_fuzz)


def cmd_fuzz(args: argparse.Namespace) -> int:
    """``tbpf fuzz``: run a campaign (or ``--replay`` one finding)."""
    from .versions import parse_version
    for spec in (args.engine_a, args.engine_b):
        if spec is not None:
            _check_engine(spec)
    if args.replay:
        return _replay(args)
    from .fuzz.campaign import CampaignConfig, run_campaign
    versions = None
    if args.sbpf_version:
        try:
            versions = tuple(sorted({parse_version(v) for v in args.sbpf_version}))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    if args.min_insns > args.max_insns:
        raise CommandError("--min-insns is larger than --max-insns")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    seconds = args.seconds
    cases = args.cases
    if seconds is None and cases is None:
        seconds = 60.0
    extra: dict[str, Any] = {"versions": versions} if versions else {}
    config = CampaignConfig(
        kind=args.kind, seed=seed, cases=cases, seconds=seconds, workers=args.workers,
        reference=args.engine_a or "interp", candidate=args.engine_b or "jit",
        min_insns=args.min_insns, max_insns=args.max_insns,
        elf_corpus=tuple(args.elf_corpus or ()), case_timeout=args.case_timeout,
        minimize=not args.no_minimize, max_run_slots=args.max_run_slots,
        repeat=args.repeat,
        **extra)
    if args.kind == "elf":
        _check_elf(config)
    out_dir = Path(args.out)
    display = _Display(config, plain=args.plain or not sys.stdout.isatty())
    display.start()
    try:
        stats, findings, elapsed = run_campaign(
            config, out_dir=out_dir, on_progress=display.update,
            on_finding=display.finding)
    finally:
        display.stop()
    display.summary(stats, elapsed, out_dir if findings else None)
    return EXIT_FAILURE if stats.findings else EXIT_OK


def _check_engine(spec: str) -> None:
    from .fuzz.campaign import resolve_engine
    try:
        resolve_engine(spec)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except ImportError as exc:
        raise CommandError(f"engine {spec!r} is unavailable: {exc}") from None


def _check_elf(config: Any) -> None:
    from .fuzz.campaign import CaseFactory
    from .fuzz.elfmut import LoaderUnavailable
    try:
        seeds = CaseFactory(config).elf_seeds()
    except LoaderUnavailable as exc:
        raise CommandError(f"elf kind: {exc}") from None
    if not seeds:
        raise CommandError("elf kind: no seed ELF files found (use --elf-corpus DIR)")


def _replay(args: argparse.Namespace) -> int:
    from .fuzz.campaign import replay
    try:
        report, engines = replay(args.replay, args.engine_a, args.engine_b)
    except OSError as exc:
        raise CommandError(f"cannot read {args.replay}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommandError(f"{args.replay}: {exc}") from None
    case = report.case
    print(f"case: {case.kind} {case.version.label} {case.program_kind} "
          f"{len(case.program)} bytes, input {len(case.input)} bytes, budget {case.budget}")
    print(f"engines: {engines[0]} (reference) vs {engines[1]} (candidate)")
    if report.status == "rejected":
        print(f"rejected by the loader/verifier: {report.reject_kind}")
        return EXIT_OK
    for label, obs in (("reference", report.reference), ("candidate", report.candidate)):
        if obs is None:
            continue
        f = obs.fields
        if f.get("exception"):
            print(f"  {label}: exception {f['exception']}")
        elif f.get("error.kind"):
            print(f"  {label}: {f['error.kind']} at pc {f['error.pc']}, "
                  f"{f['compute_units']} CUs")
        else:
            print(f"  {label}: r0 = {f['result']:#x}, {f['compute_units']} CUs")
    if report.crash:
        print("crash:\n" + report.crash.rstrip())
    if report.status == "same":
        print("result: the engines agree on every observable field")
        return EXIT_OK
    print(f"result: {report.status}")
    for diff in report.differences:
        print(f"  {diff.describe()}")
    return EXIT_FAILURE


class _Display:
    """Live progress: a rich panel on a terminal, plain lines otherwise."""

    def __init__(self, config: Any, plain: bool) -> None:
        from .fuzz.campaign import coverage_total
        self.config = config
        self.plain = plain
        self.total_opcodes = coverage_total(config.versions)
        self.live: Any = None
        self.last_line = 0.0
        self.found: list[str] = []
        self.stats: Any = None
        self.elapsed = 0.0

    def _header(self) -> str:
        c = self.config
        limit = f"{c.cases} cases" if c.cases is not None else f"{c.seconds:g} s"
        return (f"tbpf fuzz: kind {c.kind}, seed {c.seed}, {limit}, {c.workers} worker(s), "
                f"{c.reference} vs {c.candidate}")

    def start(self) -> None:
        if self.plain:
            print(self._header(), flush=True)
            return
        from rich.console import Console
        from rich.live import Live
        self.live = Live(self._render(), console=Console(), refresh_per_second=4,
                         transient=False)
        self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.stop()
            self.live = None

    def _coverage(self, stats: Any) -> str:
        hit = len(stats.opcodes)
        return f"{hit}/{self.total_opcodes} ({100 * hit // max(1, self.total_opcodes)}%)"

    def _render(self) -> Any:
        from rich.table import Table
        table = Table(title=self._header(), show_header=False, title_justify="left")
        table.add_column("what", style="bold")
        table.add_column("value")
        s = self.stats
        if s is None:
            table.add_row("status", "starting workers...")
            return table
        rate = s.cases / self.elapsed if self.elapsed > 0 else 0.0
        table.add_row("elapsed", f"{self.elapsed:.0f} s")
        table.add_row("cases", f"{s.cases}  ({rate:.0f}/s)")
        table.add_row("compared", f"{s.compared}  (rejected by loader/verifier: {s.rejected}"
                                  + (f", loaded only: {s.loaded})" if s.loaded else ")"))
        table.add_row("opcodes hit", self._coverage(s))
        top = ", ".join(f"{k} {v}" for k, v in s.outcomes.most_common(6))
        table.add_row("outcomes", top or "-")
        if s.handovers:
            table.add_row("hand-overs", f"{s.handovers} case(s) finished by the interpreter")
        style = "bold red" if s.findings else "green"
        table.add_row("divergences", f"[{style}]{s.divergences}[/{style}]")
        table.add_row("crashes / hangs", f"[{style}]{s.crashes} / {s.hangs}[/{style}]")
        for line in self.found[-5:]:
            table.add_row("found", line)
        return table

    def update(self, stats: Any, elapsed: float) -> None:
        self.stats, self.elapsed = stats, elapsed
        if self.live is not None:
            self.live.update(self._render())
        elif time.monotonic() - self.last_line >= 10 and stats.cases:
            self.last_line = time.monotonic()
            print(f"[{elapsed:6.0f} s] cases {stats.cases} ({stats.cases / max(elapsed, 1e-9):.0f}/s) "
                  f"compared {stats.compared} rejected {stats.rejected} "
                  f"opcodes {self._coverage(stats)} divergences {stats.divergences} "
                  f"crashes {stats.crashes} hangs {stats.hangs}", flush=True)

    def finding(self, record: dict[str, Any], path: Path | None) -> None:
        line = f"{record['type']}: {' '.join(record['signature'])} -> {path}"
        self.found.append(line)
        if self.live is None:
            print(f"FOUND {line}", flush=True)

    def summary(self, stats: Any, elapsed: float, out_dir: Path | None) -> None:
        rate = stats.cases / elapsed if elapsed > 0 else 0.0
        print(f"done: {stats.cases} cases in {elapsed:.1f} s ({rate:.1f} cases/s), "
              f"{stats.compared} compared, {stats.rejected} rejected, "
              f"opcodes hit {self._coverage(stats)}, {stats.handovers} hand-over(s)")
        print(f"findings: {stats.divergences} divergence(s), {stats.crashes} crash(es), "
              f"{stats.hangs} hang(s)")
        for sig, n in stats.signatures.most_common():
            print(f"  {n} x {sig}")
        if out_dir is not None:
            print(f"reproducers in {out_dir}/ (replay: tbpf fuzz --replay FILE.json)")

"""Fuzz campaigns: generate cases, run them differentially, collect statistics and
findings, in one process or in parallel worker processes with a watchdog.

Case ``i`` of a campaign is a pure function of ``(kind, seed, i)`` and the generator
options (:meth:`CaseFactory.make`), so workers split the index space (worker ``w`` of
``W`` runs ``w, w + W, w + 2W, ...``) and any case can be regenerated on its own.

A *finding* is a divergence (the engines disagree on an observable field), a crash (an
untyped exception, or an :class:`~tbpf.errors.InternalError`, anywhere: loader,
verifier, either engine; or a worker process that died) or a hang (a case that ran past
``case_timeout``). Each new finding signature is minimized (:mod:`tbpf.fuzz.minimize`)
and written by :func:`write_finding` as ``<kind>-<index>.json`` (+ ``.s`` for text
programs); repeats of a signature are counted, and written up to a cap.

Hangs are caught twice: inside the worker by a ``SIGALRM`` timer (Python code that
loops), and by the parent, which kills a worker whose heartbeat is older than
``case_timeout`` (native code that never returns), records the case and restarts the
worker after it.
"""

from __future__ import annotations

import collections
import importlib
import json
import multiprocessing as mp
import os
import signal
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..isa import decode_table
from ..syscalls import solana_syscalls
from ..versions import SBPFVersion
from .case import FuzzCase
from .chooser import RandomChooser, derive_seed
from .compare import CaseReport, run_differential, self_test

__all__ = ["CampaignConfig", "CaseFactory", "Runner", "Stats", "resolve_engine",
           "run_inprocess", "run_campaign", "write_finding", "replay", "coverage_total",
           "CaseTimeout", "FINDING_FORMAT", "KINDS"]

KINDS = ("smart", "dumb", "elf")
FINDING_FORMAT = "tbpf-fuzz-finding/1"


class CaseTimeout(BaseException):
    """A case ran past its time limit (a ``BaseException`` so no engine swallows it)."""


@dataclass(frozen=True)
class CampaignConfig:
    """Everything that defines a campaign.

    Attributes:
        kind: ``smart``, ``dumb`` or ``elf``.
        seed: campaign seed; case ``i`` uses ``derive_seed(seed, kind, i)``.
        cases: number of cases (``None``: until ``seconds`` run out).
        seconds: wall-clock limit of the campaign (``None``: until ``cases`` are done).
        workers: worker processes (``run_campaign``).
        reference: engine spec of the reference (``interp``).
        candidate: engine spec of the candidate (``jit``, ``jit:fast``, ``jit:optimized``).
        versions: SBPF versions of text programs.
        min_insns, max_insns: smart program size.
        dumb_slots: most slots of a dumb program.
        elf_corpus: seed files/directories for the elf kind (default corpus if empty).
        case_timeout: seconds before a case counts as a hang.
        minimize: delta-debug findings.
        max_reports_per_signature: findings of one signature that are minimized and written.
        max_run_slots: verified programs larger than this are not run (elf kind: keeps
            the JIT's compile time of big seed files out of quick campaigns).
        repeat: runs per case: 2 adds a second candidate run (same compiled code), 3 and
            more add runs on another input and heap size (both engines).
    """

    kind: str = "smart"
    seed: int = 0
    cases: int | None = 1000
    seconds: float | None = None
    workers: int = 1
    reference: str = "interp"
    candidate: str = "jit"
    versions: tuple[SBPFVersion, ...] = tuple(SBPFVersion)
    min_insns: int = 20
    max_insns: int = 60
    dumb_slots: int = 16
    elf_corpus: tuple[str, ...] = ()
    case_timeout: float = 30.0
    minimize: bool = True
    max_reports_per_signature: int = 3
    max_run_slots: int | None = None
    repeat: int = 3

    def with_(self, **changes: Any) -> "CampaignConfig":
        """A copy with ``changes``."""
        return replace(self, **changes)


def resolve_engine(spec: str) -> Any:
    """An engine for ``spec``: ``interp``, ``jit[:fast|optimized|auto]``, or
    ``planted:FIELD`` (the interpreter with a planted bug, :mod:`tbpf.fuzz.planted`).

    The fuzzer's JIT never uses the on-disk code cache (one-off programs would only fill
    it). Plain ``jit`` means ``$TBPF_JIT_TIER`` or else ``fast``: a fuzz case runs once,
    so ``auto`` would only start background O2 compiles that compete for the CPU (and,
    holding LLVM's lock, delay the next case's compile); fuzz the optimizer explicitly
    with ``jit:optimized``.

    Raises:
        ValueError: an unknown engine or tier.
    """
    name, _, tier = spec.partition(":")
    if name == "interp" and not tier:
        return "interp"
    if name == "planted":
        from .planted import PlantedEngine
        return PlantedEngine(tier)
    if name == "jit":
        module = importlib.import_module("jit.engine")
        config = module.JitConfig(tier=tier or os.environ.get("TBPF_JIT_TIER", "fast"),
                                  cache_dir=None)
        return module.JitEngine(config)
    raise ValueError(f"unknown engine {spec!r} (interp, jit, jit:fast, jit:optimized, "
                     f"jit:auto, planted:FIELD)")


def engine_available(spec: str) -> bool:
    """True if ``spec`` names an engine this checkout can run."""
    try:
        resolve_engine(spec)
    except (ImportError, ValueError):
        return False
    return True


def coverage_total(versions: Iterable[SBPFVersion]) -> int:
    """Number of (version, opcode) pairs that are valid: the coverage denominator."""
    return sum(1 for v in versions for spec in decode_table(v) if spec is not None)


class CaseFactory:
    """Makes case ``i`` of a campaign."""

    def __init__(self, config: CampaignConfig) -> None:
        self.config = config
        self._seeds: list[Any] | None = None

    def elf_seeds(self) -> list[Any]:
        """The ELF seed files (loaded once).

        Raises:
            LoaderUnavailable: ``tbpf.elf`` is absent.
        """
        from .elfmut import (
            LoaderUnavailable, clang_seeds, default_corpus_dirs, elf_loader_available,
            load_corpus,
        )
        if not elf_loader_available():
            raise LoaderUnavailable("ELF loader unavailable (tbpf/elf.py is not in this "
                                    "checkout)")
        if self._seeds is None:
            paths = [Path(p) for p in self.config.elf_corpus] or default_corpus_dirs()
            self._seeds = load_corpus(paths) + clang_seeds()
        return self._seeds

    def make(self, index: int) -> FuzzCase:
        """Case ``index`` (deterministic)."""
        cfg = self.config
        seed = derive_seed(cfg.seed, cfg.kind, index)
        ch = RandomChooser(seed)
        if cfg.kind == "smart":
            from .smart import SmartOptions, generate_smart
            case = generate_smart(ch, options=SmartOptions(
                min_insns=cfg.min_insns, max_insns=cfg.max_insns, versions=cfg.versions))
        elif cfg.kind == "dumb":
            from .dumb import generate_dumb
            case = generate_dumb(ch, max_slots=cfg.dumb_slots, versions=cfg.versions)
        elif cfg.kind == "elf":
            from .elfmut import mutate_elf
            case = mutate_elf(ch, self.elf_seeds())
        else:
            raise ValueError(f"unknown fuzz kind {cfg.kind!r} (smart, dumb, elf)")
        if cfg.kind == "smart" and ch.chance(1, 4):
            case = self._tight_budget(case, ch)
        return case.with_(seed=seed, index=index)

    def _tight_budget(self, case: FuzzCase, ch: RandomChooser) -> FuzzCase:
        """The case with a budget at (or just under) what it needs: run it once on the
        interpreter (the specification) and take its compute units minus 0-3 (or half),
        where metering off-by-ones at block ends, exits and syscalls live."""
        from ..syscalls import solana_syscalls
        from .compare import run_engine
        syscalls = solana_syscalls()
        exe = case.executable(syscalls)
        exe.verify()
        used = run_engine(exe, case, "interp", syscalls).fields.get("compute_units")
        if not isinstance(used, int):  # pragma: no cover - the interpreter always reports
            return case
        cut = ch.choice((0, 0, 1, 1, 2, 3, used // 2))
        return case.with_(budget=max(0, used - cut))


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in this thread after ``seconds`` (main thread only;
    elsewhere the parent's watchdog is the only limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"case ran longer than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Stats:
    """Counters of a campaign (mergeable across workers)."""

    cases: int = 0
    compared: int = 0
    rejected: int = 0
    loaded: int = 0
    divergences: int = 0
    crashes: int = 0
    hangs: int = 0
    handovers: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    signatures: collections.Counter[str] = field(default_factory=collections.Counter)
    opcodes: set[int] = field(default_factory=set)

    @property
    def findings(self) -> int:
        """Divergences + crashes + hangs."""
        return self.divergences + self.crashes + self.hangs

    def add(self, report: CaseReport) -> None:
        """Count one case."""
        self.cases += 1
        self.outcomes[report.outcome_kind] += 1
        self.opcodes |= report.opcodes
        if report.status == "rejected":
            self.rejected += 1
            return
        if report.status == "loaded":
            self.loaded += 1
            return
        if report.reference is not None:
            self.compared += 1
        if report.status == "diverged":
            self.divergences += 1
        elif report.status == "crash":
            self.crashes += 1
        elif report.status == "hang":
            self.hangs += 1
        if report.status in ("diverged", "crash", "hang"):
            self.signatures[" ".join(report.signature) or report.status] += 1

    def merge(self, other: "Stats") -> None:
        """Add ``other``'s counts."""
        for name in ("cases", "compared", "rejected", "loaded", "divergences", "crashes",
                     "hangs", "handovers"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.outcomes.update(other.outcomes)
        self.signatures.update(other.signatures)
        self.opcodes |= other.opcodes

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return {"cases": self.cases, "compared": self.compared, "rejected": self.rejected,
                "loaded": self.loaded, "divergences": self.divergences, "crashes": self.crashes, "hangs": self.hangs,
                "handovers": self.handovers, "outcomes": dict(self.outcomes),
                "signatures": dict(self.signatures), "opcodes": sorted(self.opcodes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Stats":
        """Inverse of :meth:`to_json`."""
        return cls(cases=data["cases"], compared=data["compared"], rejected=data["rejected"],
                   loaded=data["loaded"], divergences=data["divergences"], crashes=data["crashes"],
                   hangs=data["hangs"], handovers=data["handovers"],
                   outcomes=collections.Counter(data["outcomes"]),
                   signatures=collections.Counter(data["signatures"]),
                   opcodes=set(data["opcodes"]))


class Runner:
    """Runs cases of one campaign in this process (a worker, or the test suite)."""

    def __init__(self, config: CampaignConfig) -> None:
        self.config = config
        self.factory = CaseFactory(config)
        self.syscalls = solana_syscalls()
        self.reference = resolve_engine(config.reference)
        self.candidate = resolve_engine(config.candidate)
        self.reported: collections.Counter[tuple[str, ...]] = collections.Counter()

    def _handovers(self) -> int:
        return int(getattr(self.candidate, "handovers", 0))

    def run_case(self, case: FuzzCase, stats: Stats | None = None) -> CaseReport:
        """Run one case under the time limit; never raises (except KeyboardInterrupt)."""
        before = self._handovers()
        try:
            with _time_limit(self.config.case_timeout):
                report = run_differential(case, self.reference, self.candidate, self.syscalls,
                                          max_run_slots=self.config.max_run_slots,
                                          repeat=self.config.repeat)
        except CaseTimeout as exc:
            report = CaseReport(case, "hang", crash=f"CaseTimeout: {exc}")
        except KeyboardInterrupt:
            raise
        except Exception:  # noqa: BLE001 - a harness crash is a finding too
            report = CaseReport(case, "crash", crash=traceback.format_exc())
        if stats is not None:
            stats.add(report)
            if self._handovers() != before:
                stats.handovers += 1
        return report

    def run(self, index: int, stats: Stats | None = None) -> CaseReport:
        """Generate and run case ``index``."""
        try:
            case = self.factory.make(index)
        except Exception:  # noqa: BLE001 - a generator crash is a finding (a TBPF bug)
            placeholder = FuzzCase(kind=self.config.kind, version=SBPFVersion.V0,
                                   program=b"", index=index,
                                   seed=derive_seed(self.config.seed, self.config.kind, index))
            report = CaseReport(placeholder, "crash", crash=traceback.format_exc())
            if stats is not None:
                stats.add(report)
            return report
        return self.run_case(case, stats)

    def wants_report(self, report: CaseReport) -> bool:
        """True for the first ``max_reports_per_signature`` findings of a signature."""
        if report.status not in ("diverged", "crash", "hang"):
            return False
        self.reported[report.signature] += 1
        return self.reported[report.signature] <= self.config.max_reports_per_signature

    def finding(self, report: CaseReport,
                heartbeat: Callable[[], None] | None = None) -> dict[str, Any]:
        """The finding record of a failing case, minimized when possible."""
        original = report.case
        minimized = original
        final = report
        if self.config.minimize and report.status in ("diverged", "crash") \
                and original.program_kind == "raw":
            from .minimize import minimize
            want = set(report.signature)

            def still_fails(candidate: FuzzCase) -> bool:
                again = self.run_case(candidate)
                return bool(want & set(again.signature)) and again.status == report.status

            try:
                minimized = minimize(original, still_fails, on_trial=heartbeat)
            except CaseTimeout:
                minimized = original
            final = self.run_case(minimized)
            if final.status != report.status:  # pragma: no cover - flaky engine
                minimized, final = original, report
        return finding_record(final, original if minimized is not original else None,
                              (self.config.reference, self.config.candidate))


def finding_record(report: CaseReport, original: FuzzCase | None,
                   engines: tuple[str, str]) -> dict[str, Any]:
    """The JSON record of a finding."""
    kind = {"diverged": "divergence", "crash": "crash", "hang": "hang"}.get(report.status,
                                                                          report.status)
    record: dict[str, Any] = {
        "format": FINDING_FORMAT,
        "type": kind,
        "signature": list(report.signature),
        "engines": list(engines),
        "differences": [d.to_json() for d in report.differences],
        "crash": report.crash,
        "case": report.case.to_json(),
        "reference": report.reference.summary() if report.reference else None,
        "candidate": report.candidate.summary() if report.candidate else None,
    }
    if original is not None:
        record["original_case"] = original.to_json()
    if report.case.program_kind == "raw" and report.case.program:
        record["asm"] = report.case.to_asm()
    return record


def write_finding(out_dir: Path, record: dict[str, Any]) -> Path:
    """Write ``<kind>-<index>-<type>.json`` (and ``.s``) into ``out_dir``; return the JSON
    path. The record gets a ``replay`` list of commands."""
    out_dir.mkdir(parents=True, exist_ok=True)
    case = record["case"]
    stem = f"{case['kind']}-{case.get('index', 'x')}-{record['type']}"
    path = out_dir / f"{stem}.json"
    n = 1
    while path.exists():
        n += 1
        path = out_dir / f"{stem}-{n}.json"
    engines = record["engines"]
    replay_cmds = [f"tbpf fuzz --replay {path} --engine-a {engines[0]} --engine-b {engines[1]}"]
    asm = record.get("asm")
    if asm:
        s_path = path.with_suffix(".s")
        s_path.write_text(asm)
        fc = FuzzCase.from_json(case)
        args = " ".join(fc.run_args())
        for engine in engines:
            name = engine.split(":")[0]
            if name in ("interp", "jit"):  # the engines `tbpf run` knows
                replay_cmds.append(f"tbpf run {s_path} {args} --engine {name}")
        if not fc.input_writable or fc.registers:
            replay_cmds.append("# note: this case has a read-only input or preset registers; "
                               "only `tbpf fuzz --replay` reproduces those")
    record = dict(record, replay=replay_cmds)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def replay(path: Path | str, reference: str | None = None,
           candidate: str | None = None) -> tuple[CaseReport, tuple[str, str]]:
    """Re-run a finding (or a bare case record) on two engines.

    Raises:
        ValueError: the file is not a finding or case record.
        OSError: it cannot be read.
    """
    data = json.loads(Path(path).read_text())
    engines = tuple(data.get("engines") or ("interp", "jit"))
    case_data = data.get("case", data)
    case = FuzzCase.from_json(case_data)
    ref = reference or str(engines[0])
    cand = candidate or str(engines[1])
    report = Runner(CampaignConfig(kind=case.kind, reference=ref, candidate=cand)).run_case(case)
    return report, (ref, cand)


def run_inprocess(config: CampaignConfig, indices: Iterable[int], *,
                  on_report: Callable[[CaseReport], None] | None = None,
                  runner: Runner | None = None) -> tuple[Stats, list[dict[str, Any]]]:
    """Run the given case indices in this process; return the statistics and the finding
    records (minimized, up to the per-signature cap)."""
    runner = runner or Runner(config)
    stats = Stats()
    findings = []
    for index in indices:
        report = runner.run(index, stats)
        if on_report is not None:
            on_report(report)
        if runner.wants_report(report):
            findings.append(runner.finding(report))
    return stats, findings


# --------------------------------------------------------------------------------------
# Parallel campaigns
# --------------------------------------------------------------------------------------

def _worker_main(config: CampaignConfig, wid: int, n_workers: int, first_k: int,
                 queue: Any, stop: Any, current: Any, heartbeat: Any,
                 fault_log: str | None = None) -> None:
    """Worker process: run indices ``wid + n_workers * k`` for ``k >= first_k``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if fault_log is not None:
        # A segfault in compiled code kills the process: leave its stacks for the parent.
        import faulthandler
        log = open(fault_log, "w")  # noqa: SIM115 - lives as long as the worker
        faulthandler.enable(log, all_threads=True)
        if hasattr(signal, "SIGUSR1"):
            # The watchdog asks for every thread's stack before it kills a hung worker.
            faulthandler.register(signal.SIGUSR1, log, all_threads=True)
    try:
        runner = Runner(config)
    except Exception:  # noqa: BLE001
        queue.put(("fatal", wid, traceback.format_exc()))
        return
    delta = Stats()
    sent: set[int] = set()
    last = time.monotonic()

    def beat() -> None:
        heartbeat.value = time.monotonic()

    def flush(k: int) -> None:
        nonlocal delta
        delta.opcodes -= sent
        sent.update(delta.opcodes)
        queue.put(("stats", wid, delta.to_json(), k))
        delta = Stats()

    k = first_k
    while not stop.is_set():
        index = wid + n_workers * k
        if config.cases is not None and index >= config.cases:
            break
        current.value = index
        beat()
        report = runner.run(index, delta)
        if runner.wants_report(report):
            beat()
            try:
                record = runner.finding(report, heartbeat=beat)
            except Exception:  # noqa: BLE001 - never lose a finding to a minimizer bug
                record = finding_record(report, None, (config.reference, config.candidate))
                record["minimizer_error"] = traceback.format_exc()
            queue.put(("finding", wid, record))
        k += 1
        if time.monotonic() - last > 0.25:
            flush(k)
            last = time.monotonic()
    flush(k)
    queue.put(("done", wid, None))


@dataclass
class _Worker:
    wid: int
    process: Any
    current: Any
    heartbeat: Any
    done: bool = False
    fault_log: str = ""

    def native_stacks(self) -> str:
        """What faulthandler wrote when the worker died (empty if nothing)."""
        try:
            with open(self.fault_log) as f:
                return f.read()
        except OSError:
            return ""


def run_campaign(config: CampaignConfig, *, out_dir: Path | None = None,
                 on_progress: Callable[[Stats, float], None] | None = None,
                 on_finding: Callable[[dict[str, Any], Path | None], None] | None = None,
                 start_method: str = "spawn") -> tuple[Stats, list[dict[str, Any]], float]:
    """Run a campaign in ``config.workers`` processes.

    Returns:
        ``(stats, finding records, elapsed seconds)``.

    Raises:
        HarnessError: the harness self test failed (nothing was run).
    """
    self_test(resolve_engine(config.reference))
    ctx: Any = mp.get_context(start_method)
    queue = ctx.Queue()
    stop = ctx.Event()
    n = max(1, config.workers)
    workers: dict[int, _Worker] = {}

    fault_dir = tempfile.TemporaryDirectory(prefix="tbpf-fuzz-")

    def start(wid: int, first_k: int) -> None:
        current = ctx.Value("q", -1)
        heartbeat = ctx.Value("d", time.monotonic())
        fault_log = os.path.join(fault_dir.name, f"worker-{wid}-{first_k}.txt")
        proc = ctx.Process(target=_worker_main, name=f"tbpf-fuzz-{wid}",
                           args=(config, wid, n, first_k, queue, stop, current, heartbeat,
                                 fault_log),
                           daemon=True)
        proc.start()
        workers[wid] = _Worker(wid, proc, current, heartbeat, fault_log=fault_log)

    for wid in range(n):
        start(wid, 0)
    stats = Stats()
    findings: list[dict[str, Any]] = []
    begin = time.monotonic()
    deadline = None if config.seconds is None else begin + config.seconds
    factory = CaseFactory(config)
    last_progress = 0.0

    def record(rec: dict[str, Any]) -> None:
        findings.append(rec)
        path = write_finding(out_dir, rec) if out_dir is not None else None
        if on_finding is not None:
            on_finding(rec, path)

    def lost_case(w: _Worker, kind: str, detail: str) -> None:
        index = int(w.current.value)
        try:
            case = factory.make(index)
        except Exception:  # noqa: BLE001
            case = FuzzCase(kind=config.kind, version=SBPFVersion.V0, program=b"", index=index)
        status = "hang" if kind == "hang" else "crash"
        report = CaseReport(case, status, crash=detail)
        stats.add(report)
        record(finding_record(report, None, (config.reference, config.candidate)))
        # Restart the worker after the lost case.
        start(w.wid, (index - w.wid) // n + 1)

    try:
        while True:
            try:
                msg = queue.get(timeout=0.2)
            except Exception:  # queue.Empty
                msg = None
            if msg is not None:
                tag, wid, payload = msg[0], msg[1], msg[2]
                if tag == "stats":
                    stats.merge(Stats.from_json(payload))
                elif tag == "finding":
                    record(payload)
                elif tag == "done":
                    workers[wid].done = True
                elif tag == "fatal":
                    stop.set()
                    raise RuntimeError(f"fuzz worker {wid} could not start:\n{payload}")
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                stop.set()
            for w in list(workers.values()):
                if w.done:
                    continue
                if not w.process.is_alive():
                    w.process.join()
                    # It may have said "done" just before exiting: drain first.
                    if not _drain_until_done(queue, w, stats, record, workers):
                        code = w.process.exitcode
                        stacks = w.native_stacks()
                        lost_case(w, "crash", (f"{stacks}\n" if stacks else "")
                                  + f"WorkerDied: worker exited with status {code} "
                                    f"while running case {w.current.value}")
                elif now - w.heartbeat.value > config.case_timeout + max(2.0, config.case_timeout):
                    # The worker's own timer had its chance (case_timeout): this is a
                    # hang it cannot see (native code, a blocked signal). Ask for its
                    # threads' stacks first, so the finding says where it was stuck.
                    stalled = now - w.heartbeat.value
                    if hasattr(signal, "SIGUSR1") and w.process.pid is not None:
                        try:
                            os.kill(w.process.pid, signal.SIGUSR1)
                            time.sleep(1.0)
                        except OSError:
                            pass
                    w.process.kill()
                    w.process.join()
                    stacks = w.native_stacks()
                    lost_case(w, "hang", (f"{stacks}\n" if stacks else "")
                              + f"CaseTimeout: no progress for {stalled:.0f} s (native hang?)")
            if on_progress is not None and now - last_progress > 0.25:
                on_progress(stats, now - begin)
                last_progress = now
            if all(w.done for w in workers.values()):
                break
    finally:
        stop.set()
        for w in workers.values():
            w.process.join(timeout=5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
        fault_dir.cleanup()
    elapsed = time.monotonic() - begin
    if on_progress is not None:
        on_progress(stats, elapsed)
    return stats, findings, elapsed


def _drain_until_done(queue: Any, w: _Worker, stats: Stats,
                      record: Callable[[dict[str, Any]], None],
                      workers: dict[int, _Worker]) -> bool:
    """Read pending messages after a worker exited; True if it had finished cleanly."""
    deadline = time.monotonic() + 1.0
    while not w.done and time.monotonic() < deadline:
        try:
            tag, wid, payload = queue.get(timeout=0.1)
        except Exception:  # queue.Empty
            continue
        if tag == "stats":
            stats.merge(Stats.from_json(payload))
        elif tag == "finding":
            record(payload)
        elif tag == "done":
            workers[wid].done = True
    return w.done

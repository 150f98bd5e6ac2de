"""The differential runner: run one case on a reference and a candidate engine and
compare everything observable.

An :class:`Observation` is the full observable result of one run, as named fields:

==================  ===================================================================
``result``          r0 after a normal exit, ``None`` after a fault
``registers``       r0..r10 at the end (whatever the outcome)
``error.kind``      the fault's reference name, or ``None``
``error.pc``        the fault's slot
``error.details``   the fault's payload (access, address, size, region/frame; syscall
                    inner kind, detail and name)
``compute_units``   units consumed (instructions plus syscall charges)
``memory.<name>``   final bytes of every region (``stack``, ``heap``, ``input``, and the
                    read-only ``rodata``/``program``)
``syscall_log``     ``(name, args, result)`` of every syscall made
``logs``            log lines
``return_data``     ``(program_id, bytes)``
``exception``       an exception other than a guest fault (``JITError``, a crash...), as
                    ``"Type: message"``, or ``None``
==================  ===================================================================

Repeated runs of a case (:func:`run_differential`, ``repeat``) report their differences
as ``run<k>:<field>``.

Fault messages are not compared (they are prose; ``error.details`` carries their data).

:func:`compare` returns one :class:`Difference` per field that differs. The harness is
itself tested by planting a difference in exactly one field (``tests/test_fuzz_harness``)
and by :func:`self_test`, which every campaign runs before its first case: a harness that
compares nothing must fail loudly, not pass quietly.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from ..errors import InternalError, ProgramFault, TBPFError, VerifierError
from ..executable import Executable
from ..syscalls import SyscallRegistry
from ..vm import Engine, run_executable
from .case import FuzzCase

__all__ = ["Observation", "Difference", "CaseReport", "observe", "run_engine", "compare",
           "run_differential", "HarnessError", "FIELDS", "self_test"]

FIELDS = ("result", "registers", "error.kind", "error.pc", "error.details", "compute_units",
          "memory", "syscall_log", "logs", "return_data", "exception")
"""Top-level observable fields (``memory`` is split into one field per region)."""

_REQUIRED_REGIONS = ("stack", "heap", "input")


class HarnessError(Exception):
    """The harness itself is broken (e.g. it would compare nothing)."""


@dataclass
class Observation:
    """Everything observable about one run, by field name (see the module docstring).

    Attributes:
        engine: the engine's name, as it reported it.
        fields: field name -> value.
        crash: the traceback of an untyped exception (a TBPF bug), or ``""``.
    """

    engine: str
    fields: dict[str, Any]
    crash: str = ""

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly digest (memory as lengths, not bytes)."""
        out: dict[str, Any] = {"engine": self.engine}
        for name, value in self.fields.items():
            if isinstance(value, (bytes, bytearray)):
                out[name] = f"<{len(value)} bytes>"
            else:
                out[name] = _jsonable(value)
        if self.crash:
            out["crash"] = self.crash
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return repr(value)


@dataclass
class Difference:
    """One field on which the two engines disagree."""

    field: str
    reference: Any
    candidate: Any

    def describe(self) -> str:
        """One line saying how they differ (memory: the first differing offset)."""
        a, b = self.reference, self.candidate
        if isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray)):
            if len(a) != len(b):
                return f"{self.field}: length {len(a)} != {len(b)}"
            first = next(i for i in range(len(a)) if a[i] != b[i])
            count = sum(1 for i in range(len(a)) if a[i] != b[i])
            return (f"{self.field}: {count} byte(s) differ, first at offset {first:#x}: "
                    f"{bytes(a[first:first + 8]).hex()} != {bytes(b[first:first + 8]).hex()}")
        return f"{self.field}: {_short(a)} != {_short(b)}"

    def to_json(self) -> dict[str, Any]:
        """JSON form (memory values as a description)."""
        if isinstance(self.reference, (bytes, bytearray)):
            return {"field": self.field, "description": self.describe()}
        return {"field": self.field, "reference": _jsonable(self.reference),
                "candidate": _jsonable(self.candidate), "description": self.describe()}


def _short(value: Any, limit: int = 200) -> str:
    text = repr(_jsonable(value)) if not isinstance(value, int) or isinstance(value, bool) \
        else f"{value} ({value:#x})" if value >= 0 else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def observe(outcome: Any) -> dict[str, Any]:
    """The observable fields of a :class:`tbpf.vm.Outcome`.

    Raises:
        HarnessError: the outcome lacks what must be compared (no memory map, a missing
            region): comparing it would silently compare less than everything.
    """
    err = outcome.error
    memory = outcome.memory
    if memory is None:
        raise HarnessError(f"{outcome.engine}: outcome has no memory map to compare")
    snapshot = memory.snapshot()
    missing = [r for r in _REQUIRED_REGIONS if r not in snapshot]
    if missing:
        raise HarnessError(f"{outcome.engine}: outcome lacks region(s) {missing}")
    if len(outcome.registers) != 11:
        raise HarnessError(f"{outcome.engine}: {len(outcome.registers)} registers, not 11")
    fields: dict[str, Any] = {
        "result": outcome.result,
        "registers": tuple(outcome.registers),
        "error.kind": None if err is None else err.kind,
        "error.pc": None if err is None else err.pc,
        "error.details": None if err is None else tuple(err.details()),
        "compute_units": outcome.compute_units,
        "syscall_log": [tuple(_freeze(x) for x in entry) for entry in outcome.syscall_log],
        "logs": list(outcome.logs),
        "return_data": tuple(outcome.return_data),
        "exception": None,
    }
    for name, data in sorted(snapshot.items()):
        fields[f"memory.{name}"] = data
    return fields


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def run_engine(exe: Executable, case: FuzzCase, engine: "str | Engine",
               syscalls: SyscallRegistry, *, variant: bool = False) -> Observation:
    """Run ``exe`` (already verified) on ``engine`` with the case's parameters.

    Never raises for what the engine does: a guest fault is part of the observation, any
    other exception is recorded in the ``exception`` field (and, when it is not a typed
    TBPF error or is an :class:`InternalError`, as a crash with its traceback).

    Raises:
        HarnessError: the outcome cannot be observed completely.
    """
    name = engine if isinstance(engine, str) else getattr(engine, "name", repr(engine))
    data, heap_size = (variant_input(case), variant_heap_size(case)) if variant \
        else (case.input, None)
    try:
        outcome = run_executable(exe, engine=engine, input=data,
                                 input_writable=case.input_writable, budget=case.budget,
                                 registers=dict(case.registers) or None, syscalls=syscalls,
                                 heap_size=heap_size)
    except HarnessError:
        raise
    except ProgramFault as exc:  # pragma: no cover - run_executable turns these into outcomes
        return Observation(name, {"exception": f"escaped fault {exc.kind}: {exc}"},
                           crash=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - everything an engine throws is a finding
        crash = "" if isinstance(exc, TBPFError) and not isinstance(exc, InternalError) \
            else traceback.format_exc()
        return Observation(name, {"exception": f"{type(exc).__name__}: {exc}"}, crash=crash)
    return Observation(outcome.engine, observe(outcome))


def variant_input(case: FuzzCase) -> bytes:
    """The input of a case's *variant* run: other bytes, another length."""
    return bytes(reversed(case.input)) + bytes(range(1, 1 + 8 + len(case.input) % 13))


def variant_heap_size(case: FuzzCase) -> int:
    """The heap size of a case's variant run (another size)."""
    return 1024 if case.heap_size != 1024 else 32 * 1024


def compare(reference: Observation, candidate: Observation) -> list[Difference]:
    """Every field on which the observations differ (a field missing on one side counts
    as different). When either run ended in an exception that is not a guest fault, only
    the ``exception`` field is compared: the other fields of that run do not exist."""
    if reference.fields.get("exception") or candidate.fields.get("exception"):
        a = reference.fields.get("exception")
        b = candidate.fields.get("exception")
        return [] if a == b else [Difference("exception", a, b)]
    diffs = []
    names = list(reference.fields)
    names += [n for n in candidate.fields if n not in reference.fields]
    missing = object()
    for name in names:
        a = reference.fields.get(name, missing)
        b = candidate.fields.get(name, missing)
        if a != b:
            diffs.append(Difference(name, None if a is missing else a,
                                    None if b is missing else b))
    return diffs


@dataclass
class CaseReport:
    """The result of running one case differentially.

    Attributes:
        case: the case.
        status: ``"rejected"`` (load or verifier said no: nothing compared), ``"loaded"``
            (verified but too large to run), ``"same"``, ``"diverged"``, ``"hang"``, or
            ``"crash"`` (an untyped exception outside the engines,
            e.g. in the loader).
        reject_kind: the loader/verifier error kind of a rejected case.
        reference, candidate: the observations (``None`` if nothing ran).
        differences: the differing fields.
        crash: traceback of a crash (either engine, the loader or the harness).
    """

    case: FuzzCase
    status: str
    reject_kind: str = ""
    reference: Observation | None = None
    candidate: Observation | None = None
    differences: list[Difference] = field(default_factory=list)
    crash: str = ""
    opcodes: frozenset[int] = frozenset()

    @property
    def signature(self) -> tuple[str, ...]:
        """What kind of finding this is: the differing fields (memory grouped), or the
        crash's exception type; empty for a clean case."""
        if self.status == "hang":
            return ("hang",)
        if self.crash:
            last = self.crash.strip().splitlines()[-1] if self.crash.strip() else "crash"
            return ("crash", last.split(":", 1)[0])
        return tuple(sorted({d.field for d in self.differences}))

    @property
    def outcome_kind(self) -> str:
        """``ok``, the reference's fault kind, or the rejection kind (for statistics)."""
        if self.status == "rejected":
            return f"rejected:{self.reject_kind}"
        if self.status == "loaded":
            return "loaded (not run: too large)"
        if self.reference is None:
            return self.status
        kind = self.reference.fields.get("error.kind")
        if self.reference.fields.get("exception"):
            return "exception"
        return "ok" if kind is None else str(kind)


def run_differential(case: FuzzCase, reference: "str | Engine", candidate: "str | Engine",
                     syscalls: SyscallRegistry, *, max_run_slots: int | None = None,
                     repeat: int = 1) -> CaseReport:
    """Load, verify and run ``case`` on both engines and compare.

    A loader rejection (``ELFError``) or verifier rejection makes the case ``rejected``.
    Any other exception while loading (a loader bug) is a ``crash``. A verified program
    of more than ``max_run_slots`` slots is not run (status ``loaded``: the loader
    contract was still checked). With ``repeat > 1`` the candidate runs the same
    executable again (its compiled code is reused): run 2 with the same parameters,
    compared with its first run (state leaking from one run into the next); runs 3 and
    later with another input and heap size (:func:`variant_input`), compared with the
    reference on the same variant. Their differences are reported as ``run<k>:<field>``.
    """
    from ..errors import ELFError
    try:
        exe = case.executable(syscalls)
    except ELFError as err:
        cause = err.__cause__
        if cause is not None and not isinstance(cause, TBPFError):
            # The loader's last-resort net turned a Python exception into an ELFError:
            # typed for the user, but a loader bug all the same.
            crash = "".join(traceback.format_exception(cause))
            return CaseReport(case, "crash", reject_kind=err.kind,
                              crash=crash + f"LoaderNetFired: {err.kind}: {err}")
        return CaseReport(case, "rejected", reject_kind=err.kind)
    except Exception:  # noqa: BLE001 - a loader that throws anything else is a finding
        return CaseReport(case, "crash", crash=traceback.format_exc())
    try:
        insns = exe.verify()
    except VerifierError as err:
        return CaseReport(case, "rejected", reject_kind=err.kind)
    except Exception:  # noqa: BLE001
        return CaseReport(case, "crash", crash=traceback.format_exc())
    opcodes = frozenset((int(exe.version) << 8) | i.opc for i in insns if i is not None)
    if max_run_slots is not None and exe.num_slots > max_run_slots:
        return CaseReport(case, "loaded", opcodes=opcodes)
    ref = run_engine(exe, case, reference, syscalls)
    cand = run_engine(exe, case, candidate, syscalls)
    diffs = compare(ref, cand)
    crash = ref.crash or cand.crash
    for k in range(2, repeat + 1):
        if crash:
            break
        if k == 2:
            # The same run again, compared with the candidate's first: a bug that shows
            # every time is reported once (above); a run that differs from its
            # predecessor is state leaking between runs.
            base, again = cand, run_engine(exe, case, candidate, syscalls)
        else:
            # The same executable (and compiled code) on another input length and heap
            # size, on both engines: what a deployed program sees from call to call.
            base = run_engine(exe, case, reference, syscalls, variant=True)
            again = run_engine(exe, case, candidate, syscalls, variant=True)
        crash = base.crash or again.crash
        seen = {d.field for d in diffs}
        diffs += [Difference(f"run{k}:{d.field}", d.reference, d.candidate)
                  for d in compare(base, again) if d.field not in seen]
    status = "crash" if crash else "diverged" if diffs else "same"
    return CaseReport(case, status, reference=ref, candidate=cand, differences=diffs,
                      crash=crash, opcodes=opcodes)


# --------------------------------------------------------------------------------------
# Self test: a campaign refuses to start if the harness cannot see a planted difference.
# --------------------------------------------------------------------------------------

class _PerturbR0:
    """An engine that runs ``inner`` and then changes r0 in the register file only."""

    name = "self-test"

    def __init__(self, inner: "Engine") -> None:
        self.inner = inner

    def execute(self, exe: Executable, memory: Any, state: Any, ctx: Any,
                syscalls: SyscallRegistry) -> int:
        result = self.inner.execute(exe, memory, state, ctx, syscalls)
        state.registers[7] ^= 1
        return result


def self_test(reference: "str | Engine" = "interp") -> None:
    """Check that the harness reports a planted one-field difference and nothing else
    (``reference``: an engine name or object).

    Raises:
        HarnessError: it did not.
    """
    from ..assembler import assemble
    from ..syscalls import solana_syscalls
    from ..versions import SBPFVersion
    from ..vm import get_engine
    text = assemble("mov64 r7, 5\nstxdw [r10-8], r7\nmov64 r0, 1\nexit", SBPFVersion.V3)
    case = FuzzCase(kind="smart", version=SBPFVersion.V3, program=text, input=bytes(8),
                    budget=100)
    syscalls = solana_syscalls()
    same = run_differential(case, reference, reference, syscalls)
    if same.status != "same" or same.reference is None or \
            same.reference.fields.get("result") != 1:
        raise HarnessError(f"self test: {reference} vs itself gave {same.status}")
    planted = run_differential(case, reference, _PerturbR0(get_engine(reference)), syscalls)
    if [d.field for d in planted.differences] != ["registers"]:
        raise HarnessError("self test: a planted register difference was reported as "
                           f"{[d.field for d in planted.differences]}")

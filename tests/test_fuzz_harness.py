"""Tests of the differential harness itself (a harness that compares nothing must fail).

Mutation testing: each planted engine runs the interpreter and perturbs exactly one
observable field; the comparator must report exactly that field, no more, no less.
Then the minimizer, the crash/exception classification, and the self test.
"""

from __future__ import annotations

import pytest

from tbpf.assembler import assemble
from tbpf.errors import DivideByZeroError
from tbpf.fuzz.campaign import CampaignConfig, Runner, resolve_engine
from tbpf.fuzz.case import FuzzCase
from tbpf.fuzz.compare import (
    FIELDS, HarnessError, Observation, compare, observe, run_differential, self_test,
)
from tbpf.fuzz.minimize import delete_slots, minimize, neutralise
from tbpf.fuzz.planted import PLANTABLE, PlantedEngine
from tbpf.isa import decode_program
from tbpf.syscalls import solana_syscalls
from tbpf.versions import SBPFVersion
from tbpf.vm import run, run_executable

SYSCALLS = solana_syscalls()

# A program that touches every observable: stack, heap and input bytes, a syscall with a
# log line, return data, and a normal exit.
RICH = """
    mov64 r6, r1
    ldxdw r2, [r6+0]
    stxdw [r10-8], r2
    lddw r3, 0x300000000
    stxdw [r3+16], r2
    stxdw [r6+8], r2
    mov64 r1, 7
    mov64 r2, 8
    syscall sol_log_64_
    mov64 r1, r6
    mov64 r2, 4
    syscall sol_set_return_data
    mov64 r7, 99
    mov64 r0, 5
    exit
"""
DIVIDE_BY_ZERO = "mov64 r0, 1\nmov64 r1, 0\ndiv64 r0, r1\nexit"
LOAD_FAULT = "lddw r1, 0x500000000\nldxdw r0, [r1+0]\nexit"
SYSCALL_FAULT = "mov64 r1, 0\nmov64 r2, 4\nsyscall sol_log_\nexit"


def _case(src: str, version: SBPFVersion = SBPFVersion.V3) -> FuzzCase:
    return FuzzCase(kind="smart", version=version, program=assemble(src, version),
                    input=bytes(range(1, 33)), budget=10_000)


def _fields(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.field for d in report.differences]


STATE_FIELDS = ["result", "registers", "compute_units", "memory.stack", "memory.heap",
                "memory.input", "syscall_log", "logs", "return_data"]


@pytest.mark.parametrize("field", STATE_FIELDS)
def test_a_planted_state_difference_is_reported_as_exactly_that_field(field):
    report = run_differential(_case(RICH), "interp", PlantedEngine(field), SYSCALLS)
    assert report.status == "diverged"
    assert _fields(report) == [field]
    assert report.signature == (field,)


@pytest.mark.parametrize("field,program", [
    ("error.kind", DIVIDE_BY_ZERO),
    ("error.pc", DIVIDE_BY_ZERO),
    ("error.details", LOAD_FAULT),
    ("error.details", SYSCALL_FAULT),
])
def test_a_planted_fault_difference_is_reported_as_exactly_that_field(field, program):
    report = run_differential(_case(program), "interp", PlantedEngine(field), SYSCALLS)
    assert _fields(report) == [field], [d.describe() for d in report.differences]


def test_every_plantable_field_is_covered_by_a_test():
    tested = set(STATE_FIELDS) | {"error.kind", "error.pc", "error.details", "exception",
                                  "crash"}
    assert tested == set(PLANTABLE)
    # ... and every compared field can be planted (memory is one field per region).
    assert {f.split(".")[0] if f.startswith("memory.") else f for f in PLANTABLE} - {"crash"} \
        == set(FIELDS)


def test_a_typed_engine_exception_is_a_divergence_not_a_crash():
    report = run_differential(_case(RICH), "interp", PlantedEngine("exception"), SYSCALLS)
    assert report.status == "diverged"
    assert _fields(report) == ["exception"]
    assert not report.crash


def test_an_untyped_engine_exception_is_a_crash_with_its_traceback():
    report = run_differential(_case(RICH), "interp", PlantedEngine("crash"), SYSCALLS)
    assert report.status == "crash"
    assert "RuntimeError: planted" in report.crash
    assert report.signature == ("crash", "RuntimeError")


def test_the_same_engine_twice_agrees_on_everything():
    report = run_differential(_case(RICH), "interp", "interp", SYSCALLS)
    assert report.status == "same" and report.differences == []
    # The observation really holds every field (nothing silently left out).
    assert report.reference is not None
    fields = report.reference.fields
    assert {"memory.stack", "memory.heap", "memory.input"} <= set(fields)
    assert fields["result"] == 5 and fields["registers"][7] == 99
    assert fields["logs"] and fields["syscall_log"] and fields["return_data"][1]


def test_observe_refuses_an_outcome_without_memory():
    outcome = run("mov64 r0, 1\nexit")
    outcome.memory = None
    with pytest.raises(HarnessError):
        observe(outcome)


def test_compare_counts_a_missing_field_as_different():
    a = Observation("a", {"result": 1, "logs": []})
    b = Observation("b", {"result": 1})
    assert [d.field for d in compare(a, b)] == ["logs"]


def test_self_test_passes_on_the_real_harness():
    self_test("interp")


def test_a_planted_bug_only_for_some_programs_is_found_and_minimized():
    # The candidate gets r0 wrong, but only in programs that contain an arsh64 by an
    # immediate: the minimizer must cut a generated program down to (about) that.
    def has_arsh(exe):  # type: ignore[no-untyped-def]
        return any(i is not None and i.spec is not None and i.spec.mnemonic == "arsh64"
                   and i.spec.form.value == "alu-imm"
                   for i in decode_program(exe.text, exe.version))

    runner = Runner(CampaignConfig(kind="smart", seed=4, candidate="interp"))
    runner.candidate = PlantedEngine("registers", when=has_arsh)
    for index in range(400):
        report = runner.run(index)
        if report.status == "diverged":
            break
    else:  # pragma: no cover
        pytest.fail("no generated program contained arsh64 imm in 400 cases")
    before = report.case.num_slots
    record = runner.finding(report)
    small = FuzzCase.from_json(record["case"])
    insns = [i for i in decode_program(small.program, small.version) if i is not None]
    assert any(i.spec is not None and i.spec.mnemonic == "arsh64" for i in insns)
    assert len(insns) <= 3 < before
    assert record["signature"] == ["registers"]
    assert record["original_case"]["index"] == report.case.index


def test_minimize_keeps_the_failure_and_the_verifier_happy():
    case = _case("mov64 r1, 2\nmov64 r2, 0\njeq r1, 2, +1\nmov64 r2, 7\nmov64 r0, 1\n"
                 "div64 r0, r2\nexit")

    def fails(c: FuzzCase) -> bool:
        out = run(c.program, kind="raw", version=c.version)
        return isinstance(out.error, DivideByZeroError)

    assert fails(case)
    small = minimize(case, fails)
    assert fails(small)
    assert small.num_slots <= 3  # mov64 r0 may go too: r0 is 0 and 0 / 0 still faults


def test_delete_slots_moves_jump_and_call_targets():
    src = ("mov64 r0, 0\nor64 r0, 0\njeq r0, 0, +2\nor64 r0, 0\nmov64 r0, 9\n"
           "call function_7\nexit\nfunction_7:\nmov64 r0, 3\nexit")
    for version in (SBPFVersion.V0, SBPFVersion.V3):
        text = assemble(src, version)
        case = FuzzCase(kind="smart", version=version, program=text, function_pcs=(7,))
        smaller = delete_slots(case, [1, 3])
        assert smaller is not None and smaller.function_pcs == (5,)
        before = run_executable(case.executable(SYSCALLS), syscalls=SYSCALLS)
        after = run_executable(smaller.executable(SYSCALLS), syscalls=SYSCALLS)
        assert before.error is None and after.error is None
        assert before.result == after.result == 3
        assert after.compute_units == before.compute_units - 1  # one deleted no-op ran


def test_neutralise_replaces_an_lddw_by_two_no_ops():
    case = _case("lddw r0, 0x1122334455667788\nexit")
    flat = neutralise(case, [0])
    assert len(flat.program) == len(case.program)
    assert run(flat.program, kind="raw", version=flat.version).result == 0


@pytest.mark.parametrize("spec", ["interp", "planted:logs"])
def test_resolve_engine_accepts_the_documented_names(spec):
    assert resolve_engine(spec) is not None


@pytest.mark.parametrize("spec", ["nope", "jit:warp", "planted:nothing"])
def test_resolve_engine_rejects_unknown_names(spec):
    with pytest.raises(ValueError):
        resolve_engine(spec)


class _SecondRunOnly(PlantedEngine):
    """A planted bug that only shows when the same executable runs a second time."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.runs = 0

    def execute(self, exe, memory, state, ctx, syscalls):  # type: ignore[no-untyped-def]
        self.runs += 1
        if self.runs % 2:
            from tbpf.vm import get_engine
            return get_engine("interp").execute(exe, memory, state, ctx, syscalls)
        return super().execute(exe, memory, state, ctx, syscalls)


def test_state_leaking_into_a_second_run_is_reported_with_its_run_number():
    engine = _SecondRunOnly("memory.heap")
    once = run_differential(_case(RICH), "interp", engine, SYSCALLS, repeat=1)
    assert once.status == "same"
    twice = run_differential(_case(RICH), "interp", _SecondRunOnly("memory.heap"), SYSCALLS,
                             repeat=2)
    assert _fields(twice) == ["run2:memory.heap"]


class _StaleRegionTable(PlantedEngine):
    """A planted bug like a region table cached per program: wrong only when the same
    executable later runs with another input length."""

    def __init__(self) -> None:
        super().__init__("memory.input")
        self.first_length: dict[int, int] = {}

    def execute(self, exe, memory, state, ctx, syscalls):  # type: ignore[no-untyped-def]
        length = memory.region("input").length
        if self.first_length.setdefault(id(exe), length) == length:
            from tbpf.vm import get_engine
            return get_engine("interp").execute(exe, memory, state, ctx, syscalls)
        return super().execute(exe, memory, state, ctx, syscalls)


def test_a_bug_that_needs_another_input_on_the_same_code_is_found_by_the_variant_run():
    assert run_differential(_case(RICH), "interp", _StaleRegionTable(), SYSCALLS,
                            repeat=2).status == "same"
    report = run_differential(_case(RICH), "interp", _StaleRegionTable(), SYSCALLS, repeat=3)
    assert _fields(report) == ["run3:memory.input"]

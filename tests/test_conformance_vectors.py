"""TBPF's own vector files (tests/vectors/*.jsonl) and the runner's drop-in behaviour."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

from tbpf.cli import main
from tbpf.conformance import available_engines, iter_case_files, load_cases, run_case

VECTORS = Path(__file__).parent / "vectors"
CASES = [c for f in iter_case_files(VECTORS) for c in load_cases(f)]


def test_the_vector_directory_is_not_empty():
    assert len(CASES) >= 15
    assert {c.category for c in CASES} == {"execution", "verifier", "assembler",
                                           "disassembler"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_vector(case, engine):
    result = run_case(case, engine)
    assert result.passed, result.detail
    assert not result.skipped and result.runs > 0


def test_a_wrong_expectation_fails():
    case = next(c for c in CASES if c.id.endswith("/mul64"))
    broken = copy.deepcopy(case)
    broken.raw["expected"]["r0"] = 43
    assert not run_case(broken).passed
    broken = copy.deepcopy(case)
    broken.raw["expected"]["instruction_count"] = 4
    assert not run_case(broken).passed


def test_the_jit_runs_the_vectors_when_it_is_importable():
    if importlib.util.find_spec("jit.engine") is not None \
            and importlib.util.find_spec("llvmlite") is not None:
        assert "jit" in available_engines()
    assert available_engines()[0] == "interp"


def _write(path: Path, cases: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


DROP_IN = [
    {"id": "drop/exec", "kind": "asm", "program": "mov64 r0, 3\nexit",
     "expected": {"r0": 3, "error": None, "instruction_count": 2}, "sbpf_version": "V3",
     "holds_for_versions": ["V3"], "instruction_budget": 2},
    {"id": "drop/verify", "kind": "asm", "program": "mov64 r0, 1\ndiv64 r0, 0\nexit",
     "expected": {"error": "VerifierError:DivisionByZero", "verifier_message":
                  "DivisionByZero(1)"}, "sbpf_version": "V0"},
]


def test_a_file_with_any_name_is_run_by_what_its_cases_expect(tmp_path):
    path = _write(tmp_path / "my_new_vectors.jsonl", DROP_IN)
    cases = load_cases(path)
    assert [c.category for c in cases] == ["execution", "verifier"]
    assert all(run_case(c).passed for c in cases)
    assert main(["conformance", str(tmp_path)]) == 0


def test_the_cli_fails_on_a_failing_vector(tmp_path, capsys):
    bad = copy.deepcopy(DROP_IN[0])
    bad["expected"]["r0"] = 4
    _write(tmp_path / "bad.jsonl", [bad])
    assert main(["conformance", str(tmp_path), "--engine", "interp"]) == 1
    assert "drop/exec" in capsys.readouterr().out


def test_a_malformed_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "broken.jsonl").write_text('{"id": 1}\nnot json\n')
    assert main(["conformance", str(tmp_path)]) == 2
    assert "broken.jsonl:2" in capsys.readouterr().err

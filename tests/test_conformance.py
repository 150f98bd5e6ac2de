"""The reference VM's own vectors (copied from shared/conformance/sbpf) on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbpf.conformance import load_cases, run_case

DATA = Path(__file__).parent / "conformance"
CASES = [c for f in sorted(DATA.glob("*.jsonl")) for c in load_cases(f)]
EXECUTION = [c for c in CASES if c.category == "execution"]
STATIC = [c for c in CASES if c.category != "execution"]


@pytest.mark.parametrize("case", EXECUTION, ids=[c.id for c in EXECUTION])
def test_execution_vector(case, engine):
    result = run_case(case, engine)
    assert result.passed, result.detail
    assert result.skipped or result.runs > 0


@pytest.mark.parametrize("case", STATIC, ids=[c.id for c in STATIC])
def test_static_vector(case):
    result = run_case(case)
    assert result.passed, result.detail


def test_every_vector_file_is_present():
    names = {p.name for p in DATA.glob("*.jsonl")}
    assert names == {"sbpf_execution.jsonl", "sbpf_verifier.jsonl", "sbpf_assembler.jsonl",
                     "sbpf_disassembler.jsonl"}
    assert len(EXECUTION) == 476 and len(STATIC) == 132


def test_only_the_untranslated_config_case_is_skipped(engine):
    skipped = [c.id for c in EXECUTION if c.raw.get("kind") != "elf"
               and run_case(c, engine).skipped]
    assert skipped == ["sbpf/execution/test_direct_stores/0"]

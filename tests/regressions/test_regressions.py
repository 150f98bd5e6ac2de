"""Replay every kept fuzz finding (tests/regressions/*.json) on every engine pair.

A record names the engines it was found on (``engines``: e.g. ``jit:optimized``); it is
replayed on that candidate when this checkout has it, and on every other engine of the
checkout, and all must agree with the interpreter on every observable field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ENGINES
from tbpf.fuzz.campaign import CampaignConfig, Runner, engine_available
from tbpf.fuzz.case import FuzzCase

HERE = Path(__file__).parent
RECORDS = sorted(HERE.glob("*.json"))
CANDIDATES = [e for e in ENGINES if e != "interp"] or ["interp"]


def _candidates(record: dict) -> list[str]:
    named = [e for e in record.get("engines", [])[1:] if e.split(":")[0] in ("jit", "interp")]
    return sorted({*CANDIDATES, *(e for e in named if engine_available(e))})


CASES = [(p, c) for p in RECORDS for c in _candidates(json.loads(p.read_text()))]


@pytest.mark.parametrize("path,candidate", CASES, ids=[f"{p.stem}-{c}" for p, c in CASES])
def test_kept_finding_agrees_now(path, candidate):
    record = json.loads(path.read_text())
    case = FuzzCase.from_json(record.get("case", record))
    runner = Runner(CampaignConfig(kind=case.kind, candidate=candidate))
    report = runner.run_case(case)
    assert report.status in ("same", "rejected", "loaded"), (
        [d.describe() for d in report.differences], report.crash)
    if record.get("expect_status"):
        assert report.status == record["expect_status"]
    if "expect_result" in record:
        assert report.reference is not None
        assert report.reference.fields["result"] == record["expect_result"]


def test_every_record_is_a_case_or_a_finding():
    assert RECORDS
    for path in RECORDS:
        record = json.loads(path.read_text())
        FuzzCase.from_json(record.get("case", record))

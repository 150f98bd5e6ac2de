"""Replay every kept fuzz finding (tests/regressions/*.json) on every engine pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ENGINES
from tbpf.fuzz.campaign import CampaignConfig, Runner
from tbpf.fuzz.case import FuzzCase

HERE = Path(__file__).parent
RECORDS = sorted(HERE.glob("*.json"))
CANDIDATES = [e for e in ENGINES if e != "interp"] or ["interp"]


@pytest.mark.parametrize("candidate", CANDIDATES)
@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_kept_finding_agrees_now(path, candidate):
    record = json.loads(path.read_text())
    case = FuzzCase.from_json(record.get("case", record))
    runner = Runner(CampaignConfig(kind=case.kind, candidate=candidate))
    report = runner.run_case(case)
    assert report.status in ("same", "rejected", "loaded"), (
        [d.describe() for d in report.differences], report.crash)
    if record.get("expect_status"):
        assert report.status == record["expect_status"]

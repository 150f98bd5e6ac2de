"""The CI fuzz campaign: the interpreter against every other engine of this checkout.

Default run: 2,000 smart programs, 2,000 dumb programs, 1,000 ELF mutations (and 400
smart programs on the JIT's optimized tier), zero divergences, zero crashes, zero hangs.
The seed is fixed so CI is reproducible; ``TBPF_FUZZ_SEED`` picks another one. Long
campaigns run with ``--runslow`` (or ``tbpf fuzz``, see docs/fuzzing.md).

Until another engine exists, the candidate is the interpreter itself (a determinism and
crash check); once the JIT is importable it must be among the candidates, so these tests
can never silently compare the interpreter with itself only.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from conftest import ENGINES
from tbpf.fuzz.campaign import CampaignConfig, Runner, coverage_total, run_inprocess
from tbpf.fuzz.elfmut import default_corpus_dirs, elf_loader_available, load_corpus

SEED = int(os.environ.get("TBPF_FUZZ_SEED", "20240607"), 0)
CANDIDATES = [e for e in ENGINES if e != "interp"] or ["interp"]
SMART_CASES, DUMB_CASES, ELF_CASES, OPTIMIZED_CASES = 2000, 2000, 1000, 400
CHUNKS = 4  # spread over pytest-xdist workers


def _findings_text(findings: list[dict]) -> str:
    return "\n".join(f"{f['type']} {f['signature']}: {f.get('asm') or f['case'].get('note')}"
                     f"\n{f['differences']}\n{f['crash']}" for f in findings)


def test_the_jit_is_compared_whenever_it_is_importable():
    if importlib.util.find_spec("jit.engine") is not None \
            and importlib.util.find_spec("llvmlite") is not None:
        assert "jit" in CANDIDATES
        runner = Runner(CampaignConfig(candidate="jit"))
        assert type(runner.candidate).__name__ == "JitEngine"
    assert "interp" not in CANDIDATES or CANDIDATES == ["interp"]


@pytest.mark.parametrize("candidate", CANDIDATES)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_smart_campaign(candidate, chunk):
    config = CampaignConfig(kind="smart", seed=SEED, candidate=candidate, cases=SMART_CASES)
    stats, findings = run_inprocess(config, range(chunk, SMART_CASES, CHUNKS))
    assert stats.findings == 0, _findings_text(findings)
    assert stats.cases == stats.compared == SMART_CASES // CHUNKS
    assert len(stats.opcodes) >= 0.9 * coverage_total(config.versions)
    assert stats.outcomes["ok"] > stats.cases // 5  # not everything faults early


@pytest.mark.parametrize("candidate", [c for c in CANDIDATES if c == "jit"])
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_smart_campaign_on_the_optimized_tier(candidate, chunk):
    # The optimizing tier is where the fuzzer found real JIT bugs (tests/regressions/
    # jit-o2-*): O2 exploits every register the lowering wrongly considers dead.
    config = CampaignConfig(kind="smart", seed=SEED + 1, candidate="jit:optimized",
                            cases=OPTIMIZED_CASES, max_insns=40)
    stats, findings = run_inprocess(config, range(chunk, OPTIMIZED_CASES, CHUNKS))
    assert stats.findings == 0, _findings_text(findings)
    assert stats.compared == OPTIMIZED_CASES // CHUNKS


@pytest.mark.parametrize("candidate", CANDIDATES)
@pytest.mark.parametrize("chunk", range(2))
def test_dumb_campaign(candidate, chunk):
    config = CampaignConfig(kind="dumb", seed=SEED, candidate=candidate, cases=DUMB_CASES)
    stats, findings = run_inprocess(config, range(chunk, DUMB_CASES, 2))
    assert stats.findings == 0, _findings_text(findings)
    assert stats.cases == DUMB_CASES // 2
    assert stats.compared > 20 and stats.rejected > stats.cases // 2


@pytest.mark.skipif(not elf_loader_available(), reason="the ELF loader (tbpf/elf.py) is absent")
@pytest.mark.parametrize("candidate", CANDIDATES)
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_elf_campaign(candidate, chunk):
    if not load_corpus(default_corpus_dirs()):
        pytest.skip("no seed ELF files next to this checkout (shared/programs)")
    # Big seed files are loaded and verified but not run: their JIT compile time would
    # dominate CI; `tbpf fuzz --kind elf` runs them.
    config = CampaignConfig(kind="elf", seed=SEED, candidate=candidate, cases=ELF_CASES,
                            max_run_slots=1024)
    stats, findings = run_inprocess(config, range(chunk, ELF_CASES, CHUNKS))
    assert stats.findings == 0, _findings_text(findings)
    assert stats.cases == ELF_CASES // CHUNKS
    assert stats.rejected > 0 and stats.compared > 0


@pytest.mark.slow
@pytest.mark.parametrize("kind,cases", [("smart", 50_000), ("dumb", 200_000), ("elf", 20_000)])
def test_long_campaign(kind, cases):
    for candidate in CANDIDATES:
        config = CampaignConfig(kind=kind, seed=SEED + 7, candidate=candidate, cases=cases)
        stats, findings = run_inprocess(config, range(cases))
        assert stats.findings == 0, _findings_text(findings)



@pytest.mark.parametrize("candidate", CANDIDATES)
def test_hypothesis_driven_differential(candidate):
    # The same generators driven by Hypothesis draws: a failure shrinks to the simplest
    # choices that still diverge (profile `ci`: 50 examples each; `nightly`: 2,000).
    from hypothesis import given
    from hypothesis import strategies as st

    from tbpf.fuzz.strategies import dumb_cases, smart_cases

    runner = Runner(CampaignConfig(candidate=candidate))

    @given(st.one_of(smart_cases(), dumb_cases()))
    def check(case):  # type: ignore[no-untyped-def]
        report = runner.run_case(case)
        assert report.status in ("same", "rejected"), (
            report.signature, [d.describe() for d in report.differences], report.crash,
            case.to_asm())

    check()

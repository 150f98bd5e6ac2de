"""Hostile input: mutated ELF files and objects never escape TBPF's error types.

Contract checked on every case: :func:`tbpf.load_elf` returns an ``Executable`` or raises
an ``ELFError`` that did not come from its last-resort net (a chained Python exception
means a bounds check is missing); a loaded program either fails verification with a
``VerifierError`` or runs on the interpreter to a result or a ``ProgramFault``; a sample
of the runnable ones also runs on the JIT, which must agree exactly.

The default run does a few thousand deterministic cases (under ~30 s); the ``slow``
campaign (``--runslow``, size from ``TBPF_ELF_MUTATIONS``, default 200,000) prints what it
ran. Every crash these found is pinned as a regression test at the end of this file.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tbpf.config import Config
from tbpf.elf import load_elf
from tbpf.errors import ELFError, ProgramFault, TBPFError, VerifierError
from tbpf.executable import Executable
from tbpf.linker import link_objects
from tbpf.syscalls import solana_syscalls
from tbpf.versions import SBPFVersion
from tbpf.vm import run_executable

from conftest import ENGINES
from elfgen import synthetic_object
from elfmutate import mutate
from vmtest import outcome_key

ELFS = Path(__file__).parent / "elfs"
SYSCALLS = solana_syscalls()
INPUT = bytes(range(1, 65))
CONFIGS = [
    Config(),
    Config(reject_broken_elfs=True, optimize_rodata=False),
    Config(enable_symbol_and_section_labels=True),
    Config(enabled_sbpf_versions=frozenset({SBPFVersion.V3, SBPFVersion.V4})),
]
DEFAULT_CASES_PER_SEED = 110
JIT_EVERY = 12  # run every 12th runnable case on the JIT too
# TBPF_ELF_MUTATION_JIT=0 keeps a long campaign on the loader and the interpreter.
JIT_SAMPLE = os.environ.get("TBPF_ELF_MUTATION_JIT", "1") != "0"


def seeds() -> dict[str, bytes]:
    """The files to mutate: every test ELF, plus synthetic objects and their links."""
    out = {p.relative_to(ELFS).as_posix(): p.read_bytes() for p in sorted(ELFS.rglob("*.so"))}
    obj = synthetic_object(5).build()
    out["synthetic.o"] = obj
    out["synthetic_v0.so"] = link_objects([obj], version="v0")
    out["synthetic_v3.so"] = link_objects([obj], version="v3")
    return out


SEEDS = seeds()


class CampaignStats:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.jit_runs = 0


def from_safety_net(err: ELFError) -> bool:
    """True if the error wraps a Python exception (a missing check in TBPF)."""
    cause = err.__cause__
    return cause is not None and not isinstance(cause, TBPFError)


def check_case(data: bytes, config: Config, stats: CampaignStats, jit: bool,
               what: str) -> bool:
    """Check one case; True if the program ran."""
    try:
        exe = load_elf(data, config, syscalls=SYSCALLS)
    except ELFError as err:
        assert not from_safety_net(err), f"{what}: {err!r} from {err.__cause__!r}"
        stats.outcomes[f"load:{err.kind}"] += 1
        return False
    assert isinstance(exe, Executable)
    try:
        exe.verify()
    except VerifierError as err:
        stats.outcomes[f"verify:{err.kind}"] += 1
        return False
    outcome = run_executable(exe, engine="interp", input=INPUT, budget=400, syscalls=SYSCALLS)
    assert outcome.error is None or isinstance(outcome.error, ProgramFault)
    stats.outcomes["ran:" + ("ok" if outcome.error is None else outcome.error.kind)] += 1
    if jit and JIT_SAMPLE and "jit" in ENGINES:
        other = run_executable(exe, engine="jit", input=INPUT, budget=400, syscalls=SYSCALLS)
        assert outcome_key(other) == outcome_key(outcome), what
        stats.jit_runs += 1
    return True


def run_campaign(seed_name: str, n_cases: int, stats: CampaignStats, rng_seed: int) -> None:
    base = SEEDS[seed_name]
    rng = random.Random(f"{seed_name}/{rng_seed}")
    runnable = 0
    for case in range(n_cases):
        data, used = mutate(rng, base)
        config = CONFIGS[case % len(CONFIGS)]
        what = f"{seed_name} case {case} (seed {rng_seed}) {used}"
        runnable += check_case(data, config, stats, jit=runnable % JIT_EVERY == 0, what=what)


@pytest.mark.parametrize("seed_name", sorted(SEEDS))
def test_mutated_elf(seed_name):
    stats = CampaignStats()
    run_campaign(seed_name, DEFAULT_CASES_PER_SEED, stats, rng_seed=0)
    assert sum(stats.outcomes.values()) == DEFAULT_CASES_PER_SEED
    # The mutations must reach the loader's deeper stages, not only its first checks.
    assert len(stats.outcomes) >= 3, stats.outcomes


def test_default_campaign_size():
    assert len(SEEDS) * DEFAULT_CASES_PER_SEED >= 3000


@pytest.mark.slow
def test_long_mutation_campaign():
    total = int(os.environ.get("TBPF_ELF_MUTATIONS", "200000"))
    per_seed = max(1, total // len(SEEDS))
    stats = CampaignStats()
    started = time.perf_counter()
    for n, name in enumerate(sorted(SEEDS)):
        run_campaign(name, per_seed, stats, rng_seed=1000 + n)
    elapsed = time.perf_counter() - started
    ran = sum(stats.outcomes.values())
    print(f"\nELF mutation campaign: {ran} cases over {len(SEEDS)} seeds in {elapsed:.0f} s, "
          f"{stats.jit_runs} also on the JIT; outcomes:")
    for kind, count in stats.outcomes.most_common():
        print(f"  {count:8d}  {kind}")
    assert ran == per_seed * len(SEEDS)


# --------------------------------------------------------------------------------------
# Regressions: crashes the campaigns found, pinned (see the report in docs/elf.md)
# --------------------------------------------------------------------------------------

REGRESSIONS = Path(__file__).parent / "elf_regressions"  # not a seed directory


@pytest.mark.parametrize("engine_name", ENGINES)
def test_call_target_inside_an_lddw(engine_name):
    # A mutated `call` whose pc-relative target is the tail slot of an lddw: the loader
    # registers it like the reference does (only the text range is checked), the
    # program verifies, and the interpreter runs it; the JIT must agree.
    data = (REGRESSIONS / "jit_call_into_lddw_tail.so").read_bytes()
    exe = load_elf(data, syscalls=SYSCALLS)
    exe.verify()
    assert any(pc == 911 for _key, (_name, pc) in exe.functions.items())
    reference = run_executable(exe, engine="interp", input=INPUT, budget=400,
                               syscalls=SYSCALLS)
    outcome = run_executable(exe, engine=engine_name, input=INPUT, budget=400,
                             syscalls=SYSCALLS)
    assert outcome_key(outcome) == outcome_key(reference)

"""The fuzz generators: reproducible, valid where promised, covering the opcode table."""

from __future__ import annotations

import importlib.util
import json

import pytest
from hypothesis import given, settings

from tbpf.assembler import assemble_program
from tbpf.errors import ELFError, VerifierError
from tbpf.fuzz.campaign import CampaignConfig, CaseFactory, coverage_total
from tbpf.fuzz.case import FuzzCase, text_to_asm
from tbpf.fuzz.chooser import RandomChooser, derive_seed
from tbpf.fuzz.dumb import generate_dumb
from tbpf.fuzz.elfmut import (
    LoaderUnavailable, default_corpus_dirs, elf_loader_available, load_corpus, mutate_elf,
)
from tbpf.fuzz.smart import SmartOptions, generate_smart
from tbpf.fuzz.strategies import dumb_cases, smart_cases
from tbpf.isa import decode_program, decode_table
from tbpf.verifier import verify
from tbpf.versions import SBPFVersion

VERSIONS = list(SBPFVersion)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_smart_same_seed_same_bytes(version):
    for i in range(20):
        seed = derive_seed(99, "smart", i)
        a = generate_smart(RandomChooser(seed), version)
        b = generate_smart(RandomChooser(seed), version)
        assert a == b
        assert a.program == b.program and a.input == b.input and a.budget == b.budget
    different = {generate_smart(RandomChooser(s), version).program for s in range(20)}
    assert len(different) == 20


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_every_smart_program_verifies_and_every_opcode_is_generated(version):
    hit: set[int] = set()
    sizes = []
    for i in range(400):
        case = generate_smart(RandomChooser(derive_seed(5, version.label, i)), version)
        insns = verify(case.program, version)  # raises if the generator is wrong
        hit |= {insn.opc for insn in insns if insn is not None}
        sizes.append(case.num_slots)
        assert 0 not in case.function_pcs
        assert all(0 < pc < case.num_slots for pc in case.function_pcs)
    valid = {spec.opcode for spec in decode_table(version) if spec is not None}
    assert hit == valid, sorted(hex(o) for o in valid - hit)
    assert min(sizes) >= 20 and max(sizes) <= 100  # CI programs stay short


def test_smart_programs_respect_the_size_options():
    opts = SmartOptions(min_insns=150, max_insns=200)
    for i in range(20):
        case = generate_smart(RandomChooser(i), options=opts)
        assert 140 <= case.num_slots <= 240


def test_smart_programs_reach_every_outcome_kind():
    config = CampaignConfig(kind="smart", seed=3)
    factory = CaseFactory(config)
    from tbpf.fuzz.compare import run_differential
    from tbpf.syscalls import solana_syscalls
    syscalls = solana_syscalls()
    kinds = set()
    for i in range(1200):
        kinds.add(run_differential(factory.make(i), "interp", "interp", syscalls).outcome_kind)
    assert {"ok", "AccessViolation", "StackAccessViolation", "DivideByZero", "DivideOverflow",
            "ExceededMaxInstructions", "CallOutsideTextSegment", "CallDepthExceeded",
            "UnsupportedInstruction", "SyscallError", "ExecutionOverrun"} <= kinds


def test_dumb_same_seed_same_bytes_and_some_verify():
    accepted = 0
    for i in range(300):
        seed = derive_seed(1, "dumb", i)
        a = generate_dumb(RandomChooser(seed))
        assert a == generate_dumb(RandomChooser(seed))
        try:
            verify(a.program, a.version)
            accepted += 1
        except VerifierError:
            pass
    assert 0 < accepted < 300


def test_case_json_round_trip():
    case = generate_smart(RandomChooser(7)).with_(seed=7, index=3, note="x")
    data = json.loads(json.dumps(case.to_json()))
    assert FuzzCase.from_json(data) == case
    with pytest.raises(ValueError):
        FuzzCase.from_json({"format": "something-else"})
    with pytest.raises(ValueError):
        FuzzCase.from_json({"format": "tbpf-fuzz-case/1", "program_hex": "zz"})


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_asm_form_assembles_back_to_the_same_program(version):
    fills = slots = 0
    for i in range(60):
        case = generate_smart(RandomChooser(derive_seed(8, version.label, i)), version)
        asm = case.to_asm()
        exe = assemble_program(asm, version)
        assert exe.text == case.program, asm
        registered = {pc for _key, (_name, pc) in exe.functions.items()}
        assert registered == set(case.function_pcs) | {0}
        fills += asm.count(".fill")
        slots += case.num_slots
    # Readable: most slots are instructions; ``.fill`` only where the syntax cannot say
    # it (non-zero unused fields, planted on purpose in about one instruction in eight).
    assert fills <= slots // 4


def test_asm_form_of_random_bytes_round_trips_with_fill():
    for i in range(100):
        case = generate_dumb(RandomChooser(derive_seed(2, "asm", i)))
        text = case.program[: len(case.program) - len(case.program) % 8]
        asm = text_to_asm(text, case.version)
        assert assemble_program(asm, case.version).text == text


@settings(max_examples=60)
@given(smart_cases())
def test_hypothesis_smart_cases_verify(case):
    verify(case.program, case.version)
    assert decode_program(case.program, case.version)


@settings(max_examples=60)
@given(dumb_cases())
def test_hypothesis_dumb_cases_are_text(case):
    assert case.program and case.program_kind == "raw"


def test_coverage_total_counts_every_valid_opcode():
    assert coverage_total([SBPFVersion.V0]) == sum(1 for s in decode_table(SBPFVersion.V0) if s)
    assert coverage_total(VERSIONS) == sum(coverage_total([v]) for v in VERSIONS)


# --- ELF mutations --------------------------------------------------------------------

needs_loader = pytest.mark.skipif(not elf_loader_available(), reason="tbpf/elf.py is absent")


@needs_loader
def test_elf_mutations_are_reproducible_and_differ_from_their_seed():
    seeds = load_corpus(default_corpus_dirs())
    if not seeds:
        pytest.skip("no seed ELF files next to this checkout")
    originals = {s.data for s in seeds}
    changed = 0
    for i in range(100):
        seed = derive_seed(3, "elf", i)
        a = mutate_elf(RandomChooser(seed), seeds)
        assert a == mutate_elf(RandomChooser(seed), seeds)
        changed += a.program not in originals
    assert changed >= 90


@needs_loader
def test_every_seed_file_loads_or_fails_with_a_typed_error():
    from tbpf.elf import load_elf
    for seed in load_corpus(default_corpus_dirs()):
        try:
            load_elf(seed.data)
        except ELFError:
            pass


def test_elf_kind_reports_a_missing_loader_cleanly(monkeypatch):
    import tbpf.fuzz.elfmut as elfmut
    real = importlib.util.find_spec
    monkeypatch.setattr(elfmut.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tbpf.elf" else real(name, *a))
    with pytest.raises(LoaderUnavailable, match="loader unavailable"):
        CaseFactory(CampaignConfig(kind="elf")).make(0)

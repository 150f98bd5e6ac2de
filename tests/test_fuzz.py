"""Hostile input: random text into the assembler, random bytes into the verifier and the
interpreter, for every version. The only exceptions allowed out are TBPF errors
(subclasses of :class:`~tbpf.errors.TBPFError`, never :class:`~tbpf.errors.InternalError`),
and a program that verifies always runs to an :class:`~tbpf.vm.Outcome`.

The default run does a few thousand seeded cases per target (deterministic and fast);
``--runslow`` adds long campaigns, which also compare the engines on every program
that verifies.
"""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tbpf.assembler import assemble_program
from tbpf.errors import InternalError, TBPFError, VerifierError
from tbpf.isa import INSN_SIZE, assembler_mnemonics, decode_table, encode_slot
from tbpf.syscalls import solana_syscalls
from tbpf.vm import Outcome, load_program, run_executable
from tbpf.versions import SBPFVersion

from vmtest import run_both

VERSIONS = list(SBPFVersion)
SYSCALLS = solana_syscalls()

_WORDS = sorted({m for v in VERSIONS for m in assembler_mnemonics(v)}) + [
    "entrypoint:", "function_a:", "function_a", "lbl:", "lbl", ".fill", ".fill 2, 0x95",
    "exit", "syscall sol_log_", "call function_a"]
_OPERANDS = [f"r{i}" for i in range(17)] + [
    "r99", "0", "1", "-1", "+1", "- 1", "0x10", "0xffffffffffffffff", "0x1ffffffffffffffff",
    "9223372036854775808", "-9223372036854775809", "2147483648", "-2147483649", "32767",
    "-32769", "[r1]", "[r1+8]", "[r10-4096]", "[r1 + 8]", "[r1+0x7fff]", "[r1-0x8000]",
    "[r1+40000]", "[r16]", "[", "]", "lbl", "function_a", "entrypoint", "64", "16", "63"]
_JUNK = [",", ", ", "  ", "\t", ";", "#", ":", "[", "]", "+", "-", ".", "\n", "é", "\x00", "0x"]


def random_asm(rng: random.Random) -> str:
    """Assembly-like text: plausible statements with mutations and junk."""
    lines = []
    for _ in range(rng.randint(0, 12)):
        roll = rng.random()
        if roll < 0.08:
            lines.append("".join(rng.choice(string.printable) for _ in range(rng.randint(0, 20))))
            continue
        parts = [rng.choice(_WORDS)]
        n_ops = rng.choice([0, 1, 2, 2, 3, 3, 4])
        ops = [rng.choice(_OPERANDS) for _ in range(n_ops)]
        if ops:
            parts.append(" " + ", ".join(ops))
        line = "".join(parts)
        if rng.random() < 0.15:
            i = rng.randint(0, len(line))
            line = line[:i] + rng.choice(_JUNK) + line[i:]
        lines.append(line)
    return rng.choice(["\n", "\n", " ", "\r\n"]).join(lines)


def random_text(rng: random.Random, version: SBPFVersion) -> bytes:
    """Program bytes: either pure noise or slots with valid opcodes and random fields,
    biased towards values the verifier accepts so that most programs reach the engine."""
    if rng.random() < 0.2:
        return rng.randbytes(rng.choice([0, 3, 8, 16, 40, rng.randint(0, 200)]))
    table = [s for s in decode_table(version) if s is not None]
    n = rng.randint(1, 16)
    slots = []
    while len(slots) < n:
        spec = rng.choice(table)
        pc = len(slots)
        dst = rng.randint(0, 9) if rng.random() < 0.95 else rng.randint(0, 15)
        src = rng.randint(0, 10) if rng.random() < 0.95 else rng.randint(0, 15)
        if spec.is_jump and rng.random() < 0.9:
            off = rng.randint(-pc - 1, n - pc - 1)
        else:
            off = rng.choice([rng.randint(-16, 16), rng.randint(-32768, 32767)])
        imm = rng.choice([rng.randint(-2, 70), rng.randint(-2**31, 2**31 - 1), 16, 32, 64])
        if spec.rule.value == "shift-imm" and rng.random() < 0.9:
            imm = rng.randint(0, spec.width - 1)
        if spec.rule.value == "callx-reg" and rng.random() < 0.9:
            imm = dst
        slots.append(encode_slot(spec.opcode, dst, src, off, imm))
        if spec.form.value == "lddw" and rng.random() < 0.95:
            slots.append(encode_slot(0, 0, 0, 0, rng.randint(-2**31, 2**31 - 1)))
    return b"".join(slots)


def check_assembler(text: str, version: SBPFVersion) -> None:
    try:
        exe = assemble_program(text, version, syscalls=SYSCALLS)
    except InternalError:
        raise
    except TBPFError:
        return
    assert len(exe.text) % INSN_SIZE == 0
    check_run(exe)


def check_run(exe, engines=("interp",)) -> Outcome | None:
    """Verify and run; a verified program must end in an Outcome."""
    try:
        exe.verify()
    except VerifierError:
        return None
    outcome = None
    for engine in engines:
        outcome = run_executable(exe, engine=engine, input=bytes(range(64)), budget=500,
                                 syscalls=SYSCALLS)
        assert isinstance(outcome, Outcome)
        assert 0 <= outcome.compute_units <= 500
        assert (outcome.error is None) != (outcome.result is None)
    return outcome


def check_bytes(data: bytes, version: SBPFVersion) -> Outcome | None:
    try:
        exe = load_program(data, kind="raw", version=version, syscalls=SYSCALLS)
    except InternalError:
        raise
    except TBPFError:
        return None
    return check_run(exe)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_random_text_into_the_assembler(version):
    rng = random.Random(f"asm-{version.label}")
    for _ in range(3000):
        check_assembler(random_asm(rng), version)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_random_bytes_into_verifier_and_interpreter(version):
    rng = random.Random(f"bytes-{version.label}")
    verified = 0
    for _ in range(2000):
        outcome = check_bytes(random_text(rng, version), version)
        verified += outcome is not None
    # the generator must reach the engines, not only the verifier
    assert verified >= 400, verified


@given(text=st.text(max_size=200), version=st.sampled_from(VERSIONS))
def test_arbitrary_unicode_into_the_assembler(text, version):
    check_assembler(text, version)


@given(data=st.binary(max_size=256), version=st.sampled_from(VERSIONS))
def test_arbitrary_bytes_into_the_verifier(data, version):
    check_bytes(data, version)


# --- long campaigns (--runslow) ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_long_assembler_campaign(version):
    rng = random.Random(f"asm-long-{version.label}")
    for _ in range(40_000):
        check_assembler(random_asm(rng), version)


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
def test_long_bytes_campaign_on_every_engine(version):
    rng = random.Random(f"bytes-long-{version.label}")
    for _ in range(4_000):
        data = random_text(rng, version)
        try:
            exe = load_program(data, kind="raw", version=version, syscalls=SYSCALLS)
            exe.verify()
        except InternalError:
            raise
        except TBPFError:
            continue
        # run_both asserts that every engine agrees on everything observable
        run_both(exe, input=bytes(range(64)), budget=500)

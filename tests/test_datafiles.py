"""Run every ``tests/data/*.data`` and ``tests/data/errors/err-*.data`` file on every
engine (test ids ``<name>-interp`` / ``<name>-jit``), plus the parser's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbpf.syscalls import solana_syscalls
from tbpf.vm import load_program, run_executable

from conftest import ENGINES
from datafile import DataFile, DataFileError, load_datafile, parse_datafile

DATA = Path(__file__).parent / "data"
OK_FILES = sorted(DATA.glob("*.data"))
ERROR_FILES = sorted((DATA / "errors").glob("err-*.data"))
CASES = [(path, engine) for path in OK_FILES + ERROR_FILES for engine in ENGINES]


def run_datafile(case: DataFile, engine: str):
    syscalls = solana_syscalls()
    exe = load_program(case.program, kind=case.kind, version=case.version, syscalls=syscalls)
    return run_executable(exe, engine=engine, input=case.mem, budget=case.budget,
                          input_writable=not case.readonly, syscalls=syscalls)


@pytest.mark.parametrize("path,engine", CASES, ids=[f"{p.stem}-{e}" for p, e in CASES])
def test_datafile(path: Path, engine: str):
    case = load_datafile(path)
    out = run_datafile(case, engine)
    if case.error is None:
        assert out.error is None, f"unexpected {out.error.kind} at pc {out.error.pc}: {out.error}"
        assert out.result == case.result, f"r0 = {out.result:#x}, expected {case.result:#x}"
    else:
        assert out.error is not None, f"expected {case.error}, got r0 = {out.result:#x}"
        assert out.error.kind == case.error, str(out.error)
        if case.error_pc is not None:
            assert out.error.pc == case.error_pc
        if case.error_details is not None:
            assert out.error.details() == case.error_details
    if case.cu is not None:
        assert out.compute_units == case.cu


def test_error_files_live_in_errors_and_others_do_not():
    assert len(OK_FILES) >= 30 and len(ERROR_FILES) >= 15
    for path in OK_FILES:
        assert load_datafile(path).error is None, path.name
    for path in ERROR_FILES:
        assert load_datafile(path).error is not None, path.name
    assert sorted((DATA / "errors").glob("*.data")) == ERROR_FILES  # all named err-*


# --- the parser ----------------------------------------------------------------------------

def test_parse_full_file():
    case = parse_datafile("""
        # comment
        -- version
        v3
        -- asm
        mov64 r0, 1   # trailing comment
        exit
        -- mem
        00 11
        22
        -- result
        0x10
        -- cu
        2
        -- budget
        7
        -- readonly
    """.replace("        ", ""), "x")
    assert case == DataFile(name="x", kind="asm", program="mov64 r0, 1\nexit", mem=b"\x00\x11\x22",
                            result=16, cu=2, version="v3", budget=7, readonly=True)


def test_parse_raw_in_both_notations():
    a = parse_datafile("-- raw\n0x0000002a000000b7\n-- result\n0\n")
    b = parse_datafile("-- raw\nb7 00 00 00 2a 00 00 00\n-- result\n0\n")
    assert a.program == b.program == bytes.fromhex("b70000002a000000")


def test_parse_error_section_with_details():
    case = parse_datafile("-- asm\nexit\n-- error\nStackAccessViolation pc=3\n"
                          "details: Store 0x200001008 4 -1\n")
    assert (case.error, case.error_pc, case.error_details) == (
        "StackAccessViolation", 3, ("Store", 0x2_0000_1008, 4, -1))
    assert parse_datafile("-- asm\nexit\n-- error\nDivideByZero\n").error_pc is None


@pytest.mark.parametrize("text,message", [
    ("-- asm\nexit\n", "exactly one of '-- result' and '-- error'"),
    ("-- result\n1\n", "exactly one of '-- asm' and '-- raw'"),
    ("-- asm\nexit\n-- raw\n0x95\n-- result\n0\n", "exactly one of '-- asm'"),
    ("-- asm\nexit\n-- result\n1\n-- error\nX\n", "exactly one of '-- result'"),
    ("-- asm\nexit\n-- bogus\n", "x:3: unknown section 'bogus'"),
    ("-- asm\nexit\n-- asm\nexit\n", "x:3: section 'asm' appears twice"),
    ("exit\n-- asm\nexit\n", "x:1: text before the first section"),
    ("-- asm\nexit\n-- result\nfoo\n", "x:4: not an integer"),
    ("-- asm\nexit\n-- result\n1 2\n", "exactly one value"),
    ("-- raw\n12 34\n-- result\n0\n", "x:2: a raw slot"),
    ("-- raw\nzz 00 00 00 00 00 00 00\n-- result\n0\n", "x:2: bad hex byte"),
    ("-- asm\nexit\n-- mem\n0g\n-- result\n0\n", "bad hex in the mem section"),
    ("-- asm\nexit\n-- version\nv9\n-- result\n0\n", "version must be one of"),
    ("-- asm\nexit\n-- error\nDivideByZero at 3\n", "x:4: unexpected 'at'"),
    ("-- asm\nexit\n-- error\nDivideByZero\nfoo\n", "x:5: expected 'details: ...'"),
    ("-- asm\nexit\n-- readonly\nyes\n-- result\n0\n", "readonly section takes no value"),
])
def test_parse_rejects_malformed_files(text, message):
    with pytest.raises(DataFileError, match=message.replace("(", r"\(")):
        parse_datafile(text, "x")

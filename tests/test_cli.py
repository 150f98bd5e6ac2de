"""The ``tbpf`` command line: run (kinds, engines, versions, inputs, budgets, --json),
asm, disasm, verify and conformance, in-process through ``tbpf.cli.main`` and once
through a real subprocess.

Exit status: 0 when the program ran (even if it faulted); 2 with a single
``tbpf: error: ...`` line for unusable input; ``verify``/``conformance`` exit 1 when
the program or a vector fails.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tbpf.assembler import assemble
from tbpf.cli import main
from tbpf.conformance import load_cases

from conftest import ENGINES

CONFORMANCE = Path(__file__).parent / "conformance"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tbpf: error: ")
    assert "Traceback" not in err
    return lines[0]


# --- run -------------------------------------------------------------------------------------

def test_run_assembly_prints_result_and_units(tmp_path, capsys):
    prog = write(tmp_path, "p.s", "mov64 r0, 42\nexit\n")
    code, out, err = cli(capsys, "run", prog)
    assert code == 0 and err == ""
    assert "result: 42 (0x2a)" in out and "compute units: 2" in out and "engine: interp" in out


@pytest.mark.parametrize("engine", ENGINES)
def test_run_json_shape(tmp_path, capsys, engine):
    prog = write(tmp_path, "p.asm", "mov64 r0, 7\nexit\n")
    code, out, _ = cli(capsys, "run", prog, "--json", "--engine", engine)
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"engine", "result", "error", "compute_units", "registers"}
    assert data["engine"] == engine and data["result"] == 7 and data["error"] is None
    assert data["compute_units"] == 2
    assert len(data["registers"]) == 11 and data["registers"][0] == 7
    assert data["registers"][1] == 0x4_0000_0000


@pytest.mark.parametrize("engine", ENGINES)
def test_run_faulting_program_exits_zero(tmp_path, capsys, engine):
    prog = write(tmp_path, "p.s", "mov64 r0, 1\nmov64 r1, 0\ndiv64 r0, r1\nexit\n")
    code, out, err = cli(capsys, "run", prog, "--json", "--engine", engine)
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["result"] is None and data["compute_units"] == 3
    assert set(data["error"]) == {"kind", "pc", "message"}
    assert (data["error"]["kind"], data["error"]["pc"]) == ("DivideByZero", 2)
    code, out, _ = cli(capsys, "run", prog, "--engine", engine)
    assert code == 0 and "error: DivideByZero at pc 2" in out


def test_run_raw_by_extension_and_by_kind(tmp_path, capsys):
    raw = assemble("mov64 r0, 9\nexit")
    code, out, _ = cli(capsys, "run", write(tmp_path, "p.bin", raw), "--json")
    assert code == 0 and json.loads(out)["result"] == 9
    code, out, _ = cli(capsys, "run", write(tmp_path, "p.dat", raw), "--kind", "raw", "--json")
    assert code == 0 and json.loads(out)["result"] == 9
    # --kind wins over the extension
    code, out, _ = cli(capsys, "run", write(tmp_path, "q.s", raw), "--kind", "raw", "--json")
    assert code == 0 and json.loads(out)["result"] == 9


def test_run_elf_by_extension(tmp_path, capsys):
    case = next(c for c in load_cases(CONFORMANCE / "sbpf_execution.jsonl")
                if c.id == "sbpf/execution/test_relative_call_sbpfv0/0")
    elf = write(tmp_path, "p.so", base64.b64decode(case.raw["program"]))
    code, out, _ = cli(capsys, "run", elf, "--input-hex", "01", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["result"], data["compute_units"]) == (3, 16)


def test_run_unknown_extension_needs_kind(tmp_path, capsys):
    code, _, err = cli(capsys, "run", write(tmp_path, "p.txt", "exit"))
    assert code == 2 and "--kind" in one_line_error(err)


def test_run_sbpf_version(tmp_path, capsys):
    prog = write(tmp_path, "p.s", "mov32 r0, 1\nhor64 r0, 1\nexit\n")
    code, out, _ = cli(capsys, "run", prog, "--sbpf-version", "v2", "--json")
    assert code == 0 and json.loads(out)["result"] == (1 << 32) | 1
    code, _, err = cli(capsys, "run", prog)  # hor64 does not exist in v0
    assert code == 2 and "UnknownOpCode" in one_line_error(err)
    with pytest.raises(SystemExit) as info:
        main(["run", str(prog), "--sbpf-version", "v9"])
    assert info.value.code == 2


def test_run_input_file_and_hex(tmp_path, capsys):
    prog = write(tmp_path, "p.s", "ldxdw r0, [r1+0]\nexit\n")
    data = write(tmp_path, "in.bin", (0x1122334455667788).to_bytes(8, "little"))
    code, out, _ = cli(capsys, "run", prog, "--input", data, "--json")
    assert json.loads(out)["result"] == 0x1122_3344_5566_7788
    code, out, _ = cli(capsys, "run", prog, "--input-hex", "0100000000000000", "--json")
    assert json.loads(out)["result"] == 1
    code, _, err = cli(capsys, "run", prog, "--input-hex", "zz")
    assert code == 2 and "hex" in one_line_error(err)
    code, _, err = cli(capsys, "run", prog, "--input", tmp_path / "missing.bin")
    assert code == 2 and "cannot read" in one_line_error(err)
    with pytest.raises(SystemExit):
        main(["run", str(prog), "--input", str(data), "--input-hex", "00"])


def test_run_budget(tmp_path, capsys):
    prog = write(tmp_path, "p.s", "loop:\nja loop\n")
    code, out, _ = cli(capsys, "run", prog, "--budget", "0x10", "--json")
    data = json.loads(out)
    assert code == 0 and data["error"]["kind"] == "ExceededMaxInstructions"
    assert data["compute_units"] == 16
    for bad in ("-1", "abc", str(1 << 64)):
        with pytest.raises(SystemExit) as info:
            main(["run", str(prog), "--budget", bad])
        assert info.value.code == 2


def test_run_unusable_input_is_one_line(tmp_path, capsys):
    code, _, err = cli(capsys, "run", tmp_path / "nope.s")
    assert code == 2 and "cannot read" in one_line_error(err)
    code, _, err = cli(capsys, "run", write(tmp_path, "bad.s", "mov64 r0, 1\nfrobnicate r1\n"))
    line = one_line_error(err)
    assert code == 2 and "AssemblerError" in line and "line 2" in line
    code, _, err = cli(capsys, "run", write(tmp_path, "bad2.s", "mov64 r10, 1\nexit\n"))
    assert code == 2 and "CannotWriteR10" in one_line_error(err)
    code, _, err = cli(capsys, "run", write(tmp_path, "short.bin", b"\x95\x00\x00"))
    assert code == 2 and "ProgramLengthNotMultiple" in one_line_error(err)
    code, _, err = cli(capsys, "run", write(tmp_path, "junk.so", b"\x7fELF junk"))
    assert code == 2 and one_line_error(err)
    code, _, err = cli(capsys, "run", write(tmp_path, "latin1.s", b"mov64 r0, \xff\n"))
    assert code == 2 and "UTF-8" in one_line_error(err)


# --- asm / disasm / verify ---------------------------------------------------------------------

def test_asm_writes_slots(tmp_path, capsys):
    src = "mov64 r0, 1\nlddw r1, 0x1122334455667788\nexit\n"
    prog = write(tmp_path, "p.s", src)
    code, out, _ = cli(capsys, "asm", prog)
    assert code == 0 and "wrote 4 instructions" in out
    assert (tmp_path / "p.bin").read_bytes() == assemble(src)
    code, _, _ = cli(capsys, "asm", prog, "-o", tmp_path / "other.bin", "--sbpf-version", "v3")
    assert code == 0 and (tmp_path / "other.bin").read_bytes() == assemble(src, "v3")
    code, _, err = cli(capsys, "asm", write(tmp_path, "bad.s", "nope\n"))
    assert code == 2 and "Invalid instruction" in one_line_error(err)
    code, _, err = cli(capsys, "asm", prog, "-o", tmp_path / "no" / "dir" / "x.bin")
    assert code == 2 and "cannot write" in one_line_error(err)


def test_disasm(tmp_path, capsys):
    raw = write(tmp_path, "p.bin", assemble("mov64 r0, 1\nsyscall sol_log_\nexit"))
    code, out, _ = cli(capsys, "disasm", raw)
    assert code == 0
    assert out == "entrypoint:\n    mov64 r0, 1\n    syscall sol_log_\n    exit\n"
    code, out2, _ = cli(capsys, "disasm", write(tmp_path, "p.s", out))  # assembly in, too
    assert out2 == out


def test_verify(tmp_path, capsys):
    code, out, _ = cli(capsys, "verify", write(tmp_path, "ok.s", "lddw r0, 1\nexit\n"))
    assert code == 0 and out.startswith("OK: 2 instructions, sbpf v0, entry pc 0")
    bad = write(tmp_path, "bad.s", "mov64 r0, 1\nlsh64 r0, 64\nexit\n")
    code, out, _ = cli(capsys, "verify", bad)
    assert code == 1
    assert "FAILED: ShiftWithOverflow" in out and "at pc 1: lsh64 r0, 64" in out
    code, out, _ = cli(capsys, "verify", bad, "--sbpf-version", "v3")
    assert code == 1


def test_conformance(tmp_path, capsys):
    lines = (CONFORMANCE / "sbpf_execution.jsonl").read_text().splitlines()
    small = write(tmp_path, "small.jsonl", "\n".join(lines[:3]) + "\n")
    code, out, _ = cli(capsys, "conformance", small, "--engine", "interp")
    assert code == 0 and "small.jsonl" in out
    case = json.loads(lines[0])
    case["expected"]["r0"] = case["expected"]["r0"] + 1
    broken = write(tmp_path, "broken.jsonl", json.dumps(case) + "\n")
    code, out, _ = cli(capsys, "conformance", broken, "--engine", "interp")
    assert code == 1 and "FAIL" in out
    code, _, err = cli(capsys, "conformance", tmp_path / "missing")
    assert code == 2 and one_line_error(err)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli(capsys, "conformance", empty)
    assert code == 2 and "no .jsonl vectors" in one_line_error(err)


def test_no_command_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


# --- a real process ------------------------------------------------------------------------------

def test_subprocess_run_and_error(tmp_path):
    prog = write(tmp_path, "p.s", "mov64 r0, 5\nexit\n")
    done = subprocess.run([sys.executable, "-m", "tbpf.cli", "run", str(prog), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == 5
    done = subprocess.run([sys.executable, "-m", "tbpf.cli", "run", str(tmp_path / "x.s")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    one_line_error(done.stderr)

"""``tbpf fuzz``: campaigns in worker processes, reproducers, replay, exit status."""

from __future__ import annotations

import importlib.util
import json
import shlex

import pytest

from conftest import ENGINES
from tbpf.cli import main

CANDIDATE = next((e for e in ENGINES if e != "interp"), "interp")


def test_a_clean_campaign_exits_zero_and_reports_its_numbers(tmp_path, capsys):
    out = tmp_path / "findings"
    code = main(["fuzz", "--cases", "40", "--workers", "2", "--seed", "5", "--out", str(out),
                 "--engine-b", CANDIDATE, "--plain"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "seed 5" in text and "done: 40 cases" in text and "40 compared" in text
    assert "0 divergence(s), 0 crash(es), 0 hang(s)" in text
    assert "opcodes hit" in text
    assert not out.exists()  # nothing found, nothing written


def test_dumb_kind_counts_rejections(capsys, tmp_path):
    assert main(["fuzz", "--kind", "dumb", "--cases", "300", "--seed", "2", "--plain",
                 "--engine-b", CANDIDATE, "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "done: 300 cases" in text and "rejected" in text


def test_a_divergence_exits_one_and_writes_a_replayable_reproducer(tmp_path, capsys):
    out = tmp_path / "findings"
    code = main(["fuzz", "--cases", "3", "--seed", "9", "--out", str(out), "--plain",
                 "--engine-b", "planted:registers"])
    text = capsys.readouterr().out
    assert code == 1
    assert "3 divergence(s)" in text and "registers" in text
    records = sorted(out.glob("*.json"))
    assert len(records) == 3
    record = json.loads(records[0].read_text())
    assert record["type"] == "divergence" and record["signature"] == ["registers"]
    assert record["engines"] == ["interp", "planted:registers"]
    assert record["case"]["format"] == "tbpf-fuzz-case/1"
    asm = records[0].with_suffix(".s")
    assert asm.exists() and asm.read_text() == record["asm"]
    # Minimized: a planted register bug needs no instruction at all but one slot.
    assert len(bytes.fromhex(record["case"]["program_hex"])) <= 16
    # Replay on the recorded engines: still diverges (exit 1).
    assert main(["fuzz", "--replay", str(records[0])]) == 1
    replay_text = capsys.readouterr().out
    assert "registers" in replay_text and "diverged" in replay_text
    # Replay with the interpreter on both sides: the engines agree (exit 0).
    assert main(["fuzz", "--replay", str(records[0]), "--engine-b", "interp"]) == 0
    # The documented `tbpf run` line runs the .s on the interpreter.
    run_line = next(c for c in record_replay(records[0]) if c.startswith("tbpf run"))
    argv = shlex.split(run_line)[1:]
    assert main(argv) == 0


def record_replay(path):  # type: ignore[no-untyped-def]
    return json.loads(path.read_text())["replay"]


@pytest.mark.parametrize("planted,kind", [("hang", "hang"), ("die", "crash")])
def test_hangs_and_dead_workers_are_findings(tmp_path, capsys, planted, kind):
    out = tmp_path / "findings"
    code = main(["fuzz", "--cases", "2", "--seed", "1", "--out", str(out), "--plain",
                 "--engine-b", f"planted:{planted}", "--case-timeout", "1"])
    text = capsys.readouterr().out
    assert code == 1
    assert f"{kind}" in text
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert len(records) == 2 and {r["type"] for r in records} == {kind}
    assert {r["case"]["index"] for r in records} == {0, 1}  # the campaign went on


def test_a_hang_in_native_code_is_caught_by_the_parent(tmp_path, capsys):
    out = tmp_path / "findings"
    assert main(["fuzz", "--cases", "1", "--seed", "1", "--out", str(out), "--plain",
                 "--engine-b", "planted:stall", "--case-timeout", "1"]) == 1
    record = json.loads(next(out.glob("*.json")).read_text())
    assert record["type"] == "hang" and "no progress" in record["crash"]
    # The watchdog had the stuck worker dump its threads before killing it.
    assert "planted.py" in record["crash"]


def test_seconds_limit(capsys, tmp_path):
    assert main(["fuzz", "--seconds", "2", "--seed", "4", "--plain",
                 "--engine-b", CANDIDATE, "--out", str(tmp_path)]) == 0
    assert "done:" in capsys.readouterr().out


def test_elf_kind_without_a_loader_is_a_clean_usage_error(monkeypatch, capsys, tmp_path):
    import tbpf.fuzz.elfmut as elfmut
    real = importlib.util.find_spec
    monkeypatch.setattr(elfmut.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tbpf.elf" else real(name, *a))
    assert main(["fuzz", "--kind", "elf", "--cases", "5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "loader unavailable" in err and "Traceback" not in err


@pytest.mark.skipif(importlib.util.find_spec("tbpf.elf") is None, reason="no ELF loader")
def test_elf_kind_runs(capsys, tmp_path):
    from tbpf.fuzz.elfmut import default_corpus_dirs, load_corpus
    if not load_corpus(default_corpus_dirs()):
        pytest.skip("no seed ELF files next to this checkout")
    assert main(["fuzz", "--kind", "elf", "--cases", "60", "--seed", "3", "--plain",
                 "--max-run-slots", "1024", "--engine-b", CANDIDATE,
                 "--out", str(tmp_path)]) == 0
    assert "done: 60 cases" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["fuzz", "--engine-b", "warp"], "unknown engine"),
    (["fuzz", "--replay", "/nonexistent/x.json"], "cannot read"),
    (["fuzz", "--min-insns", "50", "--max-insns", "10"], "--min-insns"),
    (["fuzz", "--sbpf-version", "v9"], "unknown sbpf version"),
])
def test_bad_arguments_are_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_replay_of_a_file_that_is_not_a_record(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text('{"format": "nope"}')
    assert main(["fuzz", "--replay", str(path)]) == 2
    assert "not a tbpf-fuzz-case/1 record" in capsys.readouterr().err


def test_cases_and_seconds_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fuzz", "--cases", "3", "--seconds", "3"])
    assert exc.value.code == 2

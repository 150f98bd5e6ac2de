"""``tbpf chain``: deploy, invoke, storage, events, fund, balance, info on a state dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tbpf.cli import main
from tbpf.runtime.params import dev_address, encode_param

from tos_helpers import INPUT, asm, probe

COUNTER = asm(probe(("tos_storage_store", [INPUT, 1, INPUT + 1, 8]),
                    ("tos_fire_event", [INPUT + 1, 0, INPUT + 1, 8])))


def run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env(tmp_path: Path, capsys):  # type: ignore[no-untyped-def]
    source = tmp_path / "counter.s"
    source.write_text(COUNTER)
    state = str(tmp_path / "state")
    code, out, _ = run(capsys, "chain", "deploy", str(source), "--state-dir", state, "--json")
    assert code == 0
    contract = json.loads(out)["deploy"]["contract"]
    return state, contract, tmp_path


def test_deploy_invoke_storage_events(env, capsys, engine: str) -> None:  # type: ignore[no-untyped-def]
    state, contract, _ = env
    code, out, _ = run(capsys, "chain", "invoke", contract[:10], "--param", "u8:107",
                       "--param", "u64:12345", "--engine", engine, "--state-dir", state,
                       "--json")
    assert code == 0
    result = json.loads(out)
    assert result["included"] and result["invoke"]["success"]
    assert result["invoke"]["gas_limit"] == 200_000
    assert result["invoke"]["refund"] == 200_000 - result["invoke"]["gas_used"]
    code, out, _ = run(capsys, "chain", "storage", contract, "--state-dir", state, "--json")
    assert json.loads(out)["storage"] == [{"key": "6b", "value": (12345).to_bytes(8, "little")
                                           .hex()}]
    code, out, _ = run(capsys, "chain", "storage", contract, "--state-dir", state)
    assert "6b  'k' = 3930000000000000" in out
    code, out, _ = run(capsys, "chain", "events", "--state-dir", state, "--json")
    events = json.loads(out)["events"]
    assert [(e["contract"], e["data"], e["height"]) for e in events] == [
        (contract, (12345).to_bytes(8, "little").hex(), 2)]
    code, out, _ = run(capsys, "chain", "info", "--state-dir", state)
    assert out.startswith("height 2 head ") and contract in out


def test_human_output_and_failure_status(env, capsys) -> None:  # type: ignore[no-untyped-def]
    state, contract, _ = env
    code, out, _ = run(capsys, "chain", "invoke", contract, "--param", "u8:1",
                       "--param", "hex:0102030405060708", "--state-dir", state)
    assert code == 0
    assert "included in block 2" in out and "status    success" in out and "gas " in out
    # Too little input: the store reads past the input region and the contract aborts.
    code, out, _ = run(capsys, "chain", "invoke", contract, "--gas", "50000",
                       "--state-dir", state)
    assert code == 1
    assert "NOT included" in out and "AccessViolation" in out
    assert "gas       " in out and "of 50000" in out


def test_fund_deposit_balance(env, capsys) -> None:  # type: ignore[no-untyped-def]
    state, contract, _ = env
    assert run(capsys, "chain", "fund", "alice", "1000", "--state-dir", state)[0] == 0
    code, out, _ = run(capsys, "chain", "invoke", contract, "--param", "u8:1",
                       "--param", "u64:1", "--deposit", "400", "--sender", "alice",
                       "--state-dir", state, "--json")
    assert code == 0 and json.loads(out)["included"]
    code, out, _ = run(capsys, "chain", "balance", "alice", "--state-dir", state, "--json")
    assert json.loads(out)["balances"] == [{"asset": "00" * 32, "amount": 600}]
    assert json.loads(out)["account"] == dev_address("alice").hex()
    code, out, _ = run(capsys, "chain", "balance", contract, "--state-dir", state)
    assert "native: 400" in out
    # Without the funds the deposit is refused before the contract runs.
    code, out, _ = run(capsys, "chain", "invoke", contract, "--deposit", "1", "--sender",
                       "bob", "--state-dir", state)
    assert code == 1 and "InsufficientFunds" in out


@pytest.mark.parametrize("argv, message", [
    (["chain", "invoke", "abcd"], "prefix of 8+ hex digits"),
    (["chain", "invoke", "ffffffffff"], "0 contracts match"),
    (["chain", "invoke", "CONTRACT", "--param", "u8:300"], "does not fit in u8"),
    (["chain", "invoke", "CONTRACT", "--param", "float:1"], "unknown parameter type"),
    (["chain", "invoke", "CONTRACT", "--deposit", "x"], "bad deposit"),
    (["chain", "deploy", "FILE.txt"], "cannot tell the kind"),
    (["chain", "deploy", "missing.s"], "cannot read"),
    (["chain", "storage", "00" * 32], "no contract"),
], ids=["short", "no-match", "param-range", "param-type", "deposit", "kind", "missing",
        "no-contract"])
def test_usage_errors(env, capsys, argv: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    state, contract, tmp = env
    (tmp / "FILE.txt").write_text("exit")
    argv = [a.replace("CONTRACT", contract).replace("FILE.txt", str(tmp / "FILE.txt"))
            for a in argv]
    code, out, err = run(capsys, *argv, "--state-dir", state)
    assert code == 2 and message in err and "Traceback" not in err


def test_refused_deploy(env, capsys) -> None:  # type: ignore[no-untyped-def]
    state, _, tmp = env
    bad = tmp / "bad.s"
    bad.write_text("ja 9\nexit")
    code, out, _ = run(capsys, "chain", "deploy", str(bad), "--state-dir", state)
    assert code == 1 and "InvalidContract" in out and "JumpOutOfCode" in out
    code, out, _ = run(capsys, "chain", "deploy", str(bad), "--state-dir", state, "--json")
    assert code == 1 and json.loads(out)["error"]["kind"] == "InvalidContract"


def test_default_state_dir(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.s").write_text("mov64 r0, 0\nexit")
    assert run(capsys, "chain", "deploy", "c.s")[0] == 0
    assert (tmp_path / ".tbpf" / "state.db").exists()


def test_params() -> None:
    assert encode_param("i16:-2") == b"\xfe\xff"
    assert encode_param("bool:true") == b"\x01"
    assert encode_param("hash:" + "ab" * 32) == b"\xab" * 32
    assert encode_param("addr:alice") == dev_address("alice")
    assert encode_param("bytes:0a0b") == b"\x02\x00\x00\x00\x0a\x0b"
    for bad in ("u64", "hash:00", "bool:maybe", "i8:128", "hex:zz"):
        with pytest.raises(ValueError):
            encode_param(bad)


def test_deploy_an_elf_file(tmp_path: Path, capsys, engine: str) -> None:  # type: ignore[no-untyped-def]
    from tbpf.linker import link_objects
    from test_runtime_module import ECHO, _object
    so = tmp_path / "echo.so"
    so.write_bytes(link_objects([_object(ECHO)], version="v3"))
    state = str(tmp_path / "state")
    code, out, _ = run(capsys, "chain", "deploy", str(so), "--state-dir", state, "--json")
    assert code == 0 and json.loads(out)["deploy"]["kind"] == "TBPF"
    contract = json.loads(out)["deploy"]["contract"]
    code, out, _ = run(capsys, "chain", "invoke", contract, "--param", "str:hey", "--engine",
                       engine, "--state-dir", state, "--json")
    result = json.loads(out)["invoke"]
    assert code == 0 and result["return_data"] == encode_param("str:hey").hex()
    code, out, _ = run(capsys, "chain", "invoke", contract, "--entry", "answer",
                       "--state-dir", state)
    assert code == 1 and "exit code 42" in out

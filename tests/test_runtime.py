"""The runtime around the syscalls: TosVM dispatch, entry points, gas limits, the
executable cache, blocks and nonces, determinism, and the SQLite store (schema versions,
migrations, crash safety with a process killed in the middle of a commit)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tbpf.chain import (
    BLOCK_INTERVAL, GENESIS_PARENT, GENESIS_TIMESTAMP, Chain, DeployTx, FundTx, InvokeTx,
    block_hash, dev_address,
)
from tbpf.errors import (
    InvalidContractError, SchemaVersionError, StateError, TosVMDeployDisabledError,
    TosVMNotConfiguredError,
)
from tbpf.runtime import (
    DeployContractPayload, Overlay, RuntimeConfig, SqliteProvider,
    TBPFAsmModule, TosVMModule, TosVMOutcome, TosVMRequest, UnconfiguredTosVM,
)
from tbpf.runtime import sqlite as sqlite_module
from tbpf.tos_syscalls import TosCode

from tos_helpers import ALICE, BOB, DATA, INPUT, asm, deploy_asm, probe, u64, unchanged

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def chain(tmp_path):  # type: ignore[no-untyped-def]
    c = Chain.open(tmp_path / "state", synchronous="NORMAL")
    assert c.fund(ALICE, 10**6).included
    yield c
    c.close()


STORE = probe(("tos_storage_store", [INPUT, 1, INPUT + 1, 4]))   # input: key(1) value(4)


# --------------------------------------------------------------------------------------
# TosVM dispatch
# --------------------------------------------------------------------------------------

class FakeTosVM:
    """Bytecode ``b"TOS" + exit code``: stores the input under ``tosvm``, fires an event."""

    def validate(self, bytecode: bytes) -> None:
        if not bytecode.startswith(b"TOS"):
            raise InvalidContractError("not TosVM bytecode")

    def execute(self, request: TosVMRequest) -> TosVMOutcome:
        request.host.storage_put(b"tosvm", request.input)
        request.host.emit_event([], b"from tosvm")
        return TosVMOutcome(exit_code=request.bytecode[3], gas_used=1234,
                            logs=("Program log: tosvm",), return_data=b"ret")


def test_tosvm_needs_an_executor(chain: Chain) -> None:
    with unchanged(chain):
        tx = chain.deploy(TosVMModule(b"TOS\x00"))
    assert isinstance(tx.error, TosVMNotConfiguredError)
    assert str(tx.error) == "TosVM executor not configured"


def test_tosvm_modules_go_to_the_executor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Chain.open(tmp_path / "s", synchronous="NORMAL", tosvm=FakeTosVM()) as chain:
        assert isinstance(chain.deploy(TosVMModule(b"ELF?")).error, InvalidContractError)
        ok = chain.deploy(TosVMModule(b"TOS\x00")).deploy.contract_hash
        bad = chain.deploy(TosVMModule(b"TOS\x01")).deploy.contract_hash
        r = chain.invoke(ok, input=b"hi").invoke
        assert r.success and r.gas_used == 1234 and r.return_data == b"ret"
        assert "Program log: tosvm" in r.logs
        assert chain.provider.get_storage(ok, b"tosvm") == b"hi"
        assert [e.data for e in chain.provider.iter_events(ok)] == [b"from tosvm"]
        with unchanged(chain):
            r = chain.invoke(bad, input=b"hi").invoke
        assert r.exit_code == 1 and not r.success


def test_tosvm_deploys_stop_at_the_activation_height(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = RuntimeConfig(tosvm_deploy_cutoff_height=3)
    with Chain.open(tmp_path / "s", synchronous="NORMAL", tosvm=FakeTosVM(),
                    config=config) as chain:
        first = chain.deploy(TosVMModule(b"TOS\x00"))               # height 1
        assert chain.deploy(TosVMModule(b"TOS\x00")).included       # height 2
        with unchanged(chain):
            late = chain.deploy(TosVMModule(b"TOS\x00"))            # would be height 3
        assert isinstance(late.error, TosVMDeployDisabledError)
        assert chain.deploy(TBPFAsmModule("exit")).included         # sBPF still deploys
        # Existing TosVM contracts keep running.
        assert chain.invoke(first.deploy.contract_hash).invoke.success


def test_sbpf_contract_calling_tosvm(tmp_path, engine: str) -> None:  # type: ignore[no-untyped-def]
    with Chain.open(tmp_path / "s", synchronous="NORMAL", tosvm=FakeTosVM()) as chain:
        tosvm = chain.deploy(TosVMModule(b"TOS\x00")).deploy.contract_hash
        caller = deploy_asm(chain, probe(("tos_invoke_contract", [INPUT, INPUT, 5, 0, 0])))
        r = chain.invoke(caller, engine=engine, input=tosvm).invoke
        assert r.success and chain.provider.get_storage(tosvm, b"tosvm") == tosvm[:5]
        # Without an executor the callee fails; the caller sees a code, not a crash.
        chain.runtime.tosvm = UnconfiguredTosVM()
        r = chain.invoke(caller, engine=engine, input=tosvm).invoke
        assert r.success and r.return_data == u64(TosCode.CALLEE_FAULTED)
        assert any("TosVMNotConfigured" in line for line in r.logs)
        with unchanged(chain):
            top = chain.invoke(tosvm)
        assert isinstance(top.error, TosVMNotConfiguredError)


# --------------------------------------------------------------------------------------
# Entry points, gas limits, cache
# --------------------------------------------------------------------------------------

TWO_ENTRIES = asm("""
    mov64 r0, 0
    exit
function_seven:
    mov64 r0, 7
    exit
""")


def test_named_entry_points(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, TWO_ENTRIES)
    assert chain.invoke(contract, engine=engine).invoke.exit_code == 0
    assert chain.invoke(contract, engine=engine, entry="seven").invoke.exit_code == 7
    assert chain.invoke(contract, engine=engine, entry="function_seven").invoke.exit_code == 7
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, entry="eight")
    assert tx.error is not None and tx.error.kind == "UnknownEntryPoint"
    declared = deploy_asm(chain, TWO_ENTRIES, entry="seven")
    assert chain.invoke(declared, engine=engine).invoke.exit_code == 7


def test_gas_limits(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, "mov64 r0, 0\nexit")
    r = chain.invoke(contract, engine=engine).invoke
    assert (r.gas_limit, r.gas_used, r.refund) == (200_000, 2, 199_998)
    assert chain.invoke(contract, engine=engine, gas_limit=1_400_000).invoke.gas_limit \
        == 1_400_000
    for bad in (0, 1_400_001):
        with unchanged(chain):
            tx = chain.invoke(contract, engine=engine, gas_limit=bad)
        assert tx.error is not None and tx.error.kind == "InvalidTransaction"
    custom = Chain.in_memory(config=RuntimeConfig(default_gas=5, max_gas=10))
    c2 = deploy_asm(custom, "mov64 r0, 0\nexit")
    assert custom.invoke(c2, engine=engine).invoke.gas_limit == 5


def test_out_of_gas_in_the_program_itself(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, "spin:\nja spin")
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, gas_limit=1000)
    r = tx.invoke
    assert r.error is not None and r.error.kind == "ExceededMaxInstructions"
    assert (r.gas_used, r.refund) == (1000, 0)


def test_executables_are_cached_per_contract(chain: Chain, engine: str) -> None:
    a = deploy_asm(chain, TWO_ENTRIES)
    b = deploy_asm(chain, TWO_ENTRIES)
    runtime = chain.runtime
    view = Overlay(chain.provider)
    record_a, record_b = chain.provider.get_contract(a), chain.provider.get_contract(b)
    assert record_a.code_hash == record_b.code_hash        # same module, stored once
    rows = chain.provider._db.execute("SELECT count(*) FROM code").fetchone()[0]
    assert rows == 1
    exe = runtime.executable(view, record_a, "entrypoint")
    assert runtime.executable(view, record_b, "entrypoint") is exe
    seven = runtime.executable(view, record_a, "seven")
    assert seven is not exe and seven.text is exe.text and seven.entry_pc == 2
    assert seven.digest != exe.digest
    hits = runtime.cache.hits
    chain.invoke(a, engine=engine, entry="seven")
    assert runtime.cache.hits == hits + 1
    assert runtime.executable(view, record_a, "seven") is seven


# --------------------------------------------------------------------------------------
# Blocks, nonces, determinism
# --------------------------------------------------------------------------------------

def _scenario(chain: Chain, engine: str) -> list[object]:
    deploy = DeployTx(ALICE, DeployContractPayload(TBPFAsmModule(asm(STORE))).encode(), 0)
    contract = deploy.hash
    txs = [
        FundTx(BOB, 50, chain.nonce(dev_address("faucet"))),
        deploy,
        InvokeTx(ALICE, contract, "entrypoint", b"kval1", 10_000, (), 1),
        InvokeTx(BOB, contract, "entrypoint", b"", 10_000, (), 0),   # bad pointer: fails
        InvokeTx(ALICE, contract, "entrypoint", b"jval2", 10_000, (), 2),
        InvokeTx(ALICE, contract, "entrypoint", b"xval3", 10_000, (), 2),  # nonce reused
    ]
    block = chain.execute_block(txs, engine=engine)
    second = chain.execute_block([InvokeTx(BOB, contract, "entrypoint", b"zval4", 10_000,
                                           (), 0)], engine=engine)
    return [block, second, contract]


def test_blocks_include_only_successful_transactions(chain: Chain, engine: str) -> None:
    block, second, contract = _scenario(chain, engine)
    included = [r.included for r in block.results]
    assert included == [True, True, True, False, True, False]
    assert block.results[5].error is not None and "nonce" in str(block.results[5].error)
    header = block.header
    assert header.tx_hashes == tuple(r.tx_hash for r in block.results if r.included)
    assert header.hash == block_hash(header.parent_hash, header.height, header.tx_hashes)
    assert header.timestamp == GENESIS_TIMESTAMP + header.height * BLOCK_INTERVAL
    assert second.header.parent_hash == header.hash
    assert dict(chain.provider.iter_storage(contract)) == {b"k": b"val1", b"j": b"val2",
                                                           b"z": b"val4"}
    receipts = [chain.provider.get_receipt(h) for h in header.tx_hashes]
    assert [(r.kind, r.tx_index) for r in receipts] == [("fund", 0), ("deploy", 1),
                                                       ("invoke", 2), ("invoke", 3)]
    assert chain.nonce(ALICE) == 3 and chain.nonce(BOB) == 1


def test_empty_blocks_are_not_produced(chain: Chain) -> None:
    height = chain.height
    with unchanged(chain):
        result = chain.execute_block([InvokeTx(ALICE, bytes(32), "entrypoint", b"", 100, (),
                                               chain.nonce(ALICE))])
    assert result.header is None and chain.height == height
    assert result.results[0].error is not None


def test_same_transactions_same_chain(tmp_path, engine: str) -> None:  # type: ignore[no-untyped-def]
    memory = Chain.in_memory()
    sqlite = Chain.open(tmp_path / "s", synchronous="NORMAL")
    a = _scenario(memory, engine)
    b = _scenario(sqlite, engine)
    assert a[0].header == b[0].header and a[1].header == b[1].header
    for x, y in zip(a[0].results + a[1].results, b[0].results + b[1].results):
        assert x.to_json() == y.to_json()
    assert memory.provider.get_block(1) == sqlite.provider.get_block(1)
    assert list(memory.provider.iter_contracts()) == list(sqlite.provider.iter_contracts())
    sqlite.close()


def test_block_randomness_comes_from_block_data(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe(("tos_get_block_hash", [DATA]), dump=32))
    head = chain.head
    r = chain.invoke(contract, engine=engine).invoke
    assert r.return_data[:32] == head.hash
    assert chain.provider.get_block(1).parent_hash == GENESIS_PARENT


# --------------------------------------------------------------------------------------
# SQLite store
# --------------------------------------------------------------------------------------

def test_schema_version_and_reopen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s"
    with Chain.open(path) as chain:
        contract = deploy_asm(chain, STORE)
        assert chain.invoke(contract, input=b"kabcd").included
        assert chain.provider.schema_version == sqlite_module.SCHEMA_VERSION == 1
        mode = chain.provider._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    with Chain.open(path) as chain:
        assert chain.height == 2
        assert chain.provider.get_storage(contract, b"k") == b"abcd"
        assert chain.provider.integrity_check() == "ok"


def test_newer_schema_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    Chain.open(tmp_path / "s").close()
    db = sqlite3.connect(tmp_path / "s" / "state.db")
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(SchemaVersionError) as info:
        Chain.open(tmp_path / "s")
    assert (info.value.found, info.value.expected) == (99, 1)


def test_migrations_run_in_order(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    Chain.open(tmp_path / "s").close()
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", {
        1: "CREATE TABLE extra (x INTEGER)",
        2: "INSERT INTO extra (x) VALUES (42)",
    })
    with Chain.open(tmp_path / "s") as chain:
        assert chain.provider.schema_version == 3
        assert chain.provider._db.execute("SELECT x FROM extra").fetchall() == [(42,)]
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", 4)
    with pytest.raises(SchemaVersionError):       # no migration from 3 to 4
        Chain.open(tmp_path / "s")
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", 3)
    with Chain.open(tmp_path / "s") as chain:     # the failed migration left it at 3
        assert chain.provider.schema_version == 3


@pytest.mark.parametrize("content", [b"this is not a database" * 100, None],
                         ids=["garbage", "foreign-sqlite"])
def test_unusable_files_are_state_errors(tmp_path, content: bytes | None) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s" / "state.db"
    path.parent.mkdir()
    if content is None:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE other (x)")
        db.commit()
        db.close()
    else:
        path.write_bytes(content)
    with pytest.raises(StateError):
        SqliteProvider(path)


KILL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {tests!r})
    from tbpf.chain import Chain, InvokeTx
    from tos_helpers import ALICE, deploy_asm, probe, INPUT
    state, marker, stage = sys.argv[1:4]
    chain = Chain.open(state)
    # Blocks 1-3: a deploy, one small write, another deploy.
    contract = deploy_asm(chain, probe(("tos_storage_store", [INPUT, 4, INPUT + 4, 8])))
    assert chain.invoke(contract, input=b"key0" + b"v" * 8).included
    bigc = deploy_asm(chain, probe(("tos_storage_store", [INPUT, 4, INPUT + 4, 40_000])))
    committed = chain.height
    def hook(name):
        if name == stage:
            # (Inside the transaction the connection already sees block 4's row.)
            assert chain.height == committed + 1
            with open(marker + ".tmp", "w") as f:
                f.write(str(committed))
            os.rename(marker + ".tmp", marker)
            time.sleep(600)
    chain.provider.commit_hook = hook
    # Block 4: 120 transactions of 40 KB each (more than SQLite's page cache, so pages
    # reach the WAL before the commit), killed before its commit.
    nonce = chain.nonce(ALICE)
    txs = [InvokeTx(ALICE, bigc, "entrypoint", b"%04d" % i + bytes([i % 256]) * 40_000,
                    200_000, (), nonce + i) for i in range(120)]
    chain.execute_block(txs)
    print("commit was not interrupted", flush=True)
""")


@pytest.mark.parametrize("stage", ["state-written", "before-commit"])
def test_sigkill_during_a_block_commit_keeps_the_last_block(tmp_path, stage: str) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    marker = tmp_path / "marker"
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", script, str(state), str(marker), stage],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate(timeout=5)
                pytest.fail(f"the writer ended early: {out!r} {err!r}")
            time.sleep(0.02)
        # The uncommitted block's pages are already in the WAL: the kill really lands
        # in the middle of a big write.
        wal = state / "state.db-wal"
        assert wal.stat().st_size > 1_000_000
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    committed_height = int(marker.read_text())
    with Chain.open(state) as chain:
        assert chain.provider.integrity_check() == "ok"
        assert chain.height == committed_height == 3
        contracts = list(chain.provider.iter_contracts())
        assert len(contracts) == 2
        first = contracts[0].contract_hash
        assert list(chain.provider.iter_storage(first)) == [(b"key0", b"v" * 8)]
        assert list(chain.provider.iter_storage(contracts[1].contract_hash)) == []
        # The chain goes on from the last committed block.
        assert chain.invoke(first, input=b"key1" + b"w" * 8).included
        assert chain.height == committed_height + 1

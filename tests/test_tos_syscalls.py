"""Every TOS syscall, its gas, its return codes and its aborts, on every engine.

Each test deploys an assembly contract (see ``tos_helpers.probe``) on a SQLite-backed
local chain and invokes it with the ``engine`` fixture, asserting exact results and exact
gas (straight-line instructions plus the cost table), so both engines are held to the
same numbers. Failing paths also assert that the database file stays byte-identical.
"""

from __future__ import annotations

import pytest

import tbpf
from tbpf.chain import Chain, block_timestamp
from tbpf.errors import SyscallError
from tbpf.runtime import RuntimeConfig
from tbpf.runtime.state import asset_id_for
from tbpf.tos_syscalls import (
    NATIVE_ASSET, TOS_ALIASES, TOS_COSTS, TOS_LIMITS, TosCode, tos_syscalls,
)
from tbpf.hashing import symbol_hash

from tos_helpers import (
    ALICE, BOB, DATA, INPUT, PROGRAM, UNMAPPED, asm, deploy_asm, load_args, probe, results,
    straight_line_cost, u64, unchanged,
)

C = TOS_COSTS
ENV = C.env_getter


@pytest.fixture
def chain(tmp_path):  # type: ignore[no-untyped-def]
    """A SQLite chain where ALICE has 10**9 native coins."""
    c = Chain.open(tmp_path / "state", synchronous="NORMAL")
    assert c.fund(ALICE, 10**9).included
    yield c
    c.close()


def invoke(chain: Chain, contract: bytes, engine: str, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("sender", ALICE)
    result = chain.invoke(contract, engine=engine, **kwargs)
    assert result.error is None, result.error
    assert result.invoke is not None
    return result


def run_probe(chain: Chain, engine: str, *steps, dump: int = 0, **kwargs):  # type: ignore[no-untyped-def]
    source = probe(*steps, dump=dump)
    contract = deploy_asm(chain, source)
    tx = invoke(chain, contract, engine, **kwargs)
    r = tx.invoke
    assert r.success, (r.error, r.exit_code, r.logs)
    data, values = results(r.return_data, dump)
    return contract, tx, data, values, straight_line_cost(source)


def ret_cost(size: int) -> int:
    return C.return_data_base + C.return_data_byte * size


def aborted(result, inner: str, syscall: str | None = None) -> SyscallError:  # type: ignore[no-untyped-def]
    r = result.invoke
    assert not result.included
    assert isinstance(r.error, SyscallError), (r.error, r.exit_code)
    assert r.error.inner_kind == inner, r.error
    if syscall is not None:
        assert r.error.syscall == syscall
    assert r.events == [] and r.return_data == b""
    return r.error


# --------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------

def test_environment_getters(chain: Chain, engine: str) -> None:
    steps = [
        ("tos_get_contract_hash", [DATA]),
        ("tos_get_caller", [DATA + 32]),
        ("tos_get_tx_hash", [DATA + 64]),
        ("tos_get_tx_source", [DATA + 96]),
        ("tos_get_block_hash", [DATA + 128]),
        ("tos_get_block_height", []),
        ("tos_get_block_timestamp", []),
    ]
    source = probe(*steps, dump=160)
    contract = deploy_asm(chain, source)
    parent = chain.head
    assert parent is not None
    tx = invoke(chain, contract, engine)
    data, values = results(tx.invoke.return_data, 160)
    assert data[0:32] == contract
    assert data[32:64] == ALICE            # a top-level call's caller is the sender
    assert data[64:96] == tx.tx_hash
    assert data[96:128] == ALICE
    assert data[128:160] == parent.hash    # the block being built has no hash yet
    height = parent.height + 1
    assert tx.height == height == chain.height
    assert values == [0, 0, 0, 0, 0, height, block_timestamp(height)]
    assert tx.invoke.gas_used == straight_line_cost(source) + 7 * ENV + ret_cost(160 + 56)


def test_clock_sysvar_comes_from_the_chain(chain: Chain, engine: str) -> None:
    _, tx, data, values, _ = run_probe(chain, engine, ("sol_get_clock_sysvar", [DATA]),
                                       dump=40)
    height = tx.height
    assert values == [0]
    assert data == (u64(height) + u64(block_timestamp(height)) + bytes(16)
                    + u64(block_timestamp(height)))


def test_input_region_registers_and_get_input_data(chain: Chain, engine: str) -> None:
    source = asm(f"""
        stxdw [r10-8], r1          # r1 = input address
        stxdw [r10-16], r2         # r2 = input length
        ldxdw r3, [r1]
        stxdw [r10-24], r3         # first 8 input bytes, read directly
        {chr(10).join(load_args([DATA, 64]))}
        syscall tos_get_input_data
        stxdw [r10-32], r0
        {chr(10).join(load_args([DATA, 9]))}
        syscall tos_get_input_data # a 9-byte buffer is too short
        stxdw [r10-40], r0
        mov64 r1, r10
        sub64 r1, 40
        mov64 r2, 40
        syscall tos_set_return_data
        mov64 r0, 0
        exit
    """)
    contract = deploy_asm(chain, source)
    payload = bytes(range(1, 11))
    r = invoke(chain, contract, engine, input=payload).invoke
    values = [int.from_bytes(r.return_data[i:i + 8], "little") for i in range(0, 40, 8)]
    short, copied, first, length, address = values
    assert address == INPUT and length == 10
    assert first == int.from_bytes(payload[:8], "little")
    assert copied == 10 and short == TosCode.SHORT_BUFFER
    assert r.gas_used == straight_line_cost(source) + 2 * C.input_data + ret_cost(40)


# --------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------

def test_storage_store_load_delete(chain: Chain, engine: str) -> None:
    key, value = b"color", b"turquoise"
    payload = key + value
    k, v = INPUT, INPUT + len(key)
    steps = [
        ("tos_storage_load", [k, len(key), DATA, 32]),          # absent: 0
        ("tos_storage_store", [k, len(key), v, len(value)]),
        ("tos_storage_load", [k, len(key), DATA, 32]),          # its length
        ("tos_storage_delete", [k, len(key)]),
        ("tos_storage_delete", [k, len(key)]),                  # already gone
        ("tos_storage_load", [k, len(key), DATA + 16, 32]),     # absent again: 0
        ("tos_storage_store", [k, len(key), v, 4]),             # final value "turq"
    ]
    contract, tx, data, values, insns = run_probe(chain, engine, *steps, dump=32,
                                                  input=payload)
    assert values == [0, 0, len(value), 0, TosCode.NOT_FOUND, 0, 0]
    assert data[:len(value)] == value
    read_base = C.storage_read_base + C.storage_read_byte * len(key)
    expected = (insns + 3 * read_base + C.storage_read_byte * len(value)
                + C.storage_write_base + C.storage_write_byte * (len(key) + len(value))
                + 2 * (C.storage_delete_base + C.storage_delete_byte * len(key))
                + C.storage_write_base + C.storage_write_byte * (len(key) + 4)
                + ret_cost(32 + 56))
    assert tx.invoke.gas_used == expected
    assert list(chain.provider.iter_storage(contract)) == [(key, b"turq")]


def test_empty_value_deletes_and_storage_is_per_contract(chain: Chain, engine: str) -> None:
    contract, _, _, values, _ = run_probe(chain, engine,
                                          ("tos_storage_store", [INPUT, 1, INPUT + 1, 5]),
                                          ("tos_storage_store", [INPUT, 1, INPUT + 1, 0]),
                                          ("tos_storage_load", [INPUT, 1, DATA, 8]),
                                          input=b"kvalue")
    assert values == [0, 0, 0]
    assert list(chain.provider.iter_storage(contract)) == []
    writer, _, _, _, _ = run_probe(chain, engine,
                                   ("tos_storage_store", [INPUT, 1, INPUT + 1, 5]),
                                   input=b"kvalue")
    assert chain.provider.get_storage(writer, b"k") == b"value"
    # A later block sees the committed value; another contract does not.
    reader = probe(("tos_storage_load", [INPUT, 1, DATA, 8]), dump=8)
    other = deploy_asm(chain, reader)
    r = invoke(chain, other, engine, input=b"k").invoke
    assert results(r.return_data, 8)[1] == [0]


def test_storage_short_buffer_writes_nothing(chain: Chain, engine: str) -> None:
    contract, tx, data, values, insns = run_probe(
        chain, engine, ("tos_storage_store", [INPUT, 1, INPUT + 1, 10]),
        ("tos_storage_load", [INPUT, 1, DATA, 9]),
        ("tos_storage_load", [INPUT, 1, DATA + 16, 10]), dump=32, input=b"k0123456789")
    assert values == [0, TosCode.SHORT_BUFFER, 10]
    assert data[:16] == bytes(16)                     # nothing written on SHORT_BUFFER
    assert data[16:26] == b"0123456789"
    read = C.storage_read_base + C.storage_read_byte * (1 + 10)
    assert tx.invoke.gas_used == (insns + C.storage_write_base + C.storage_write_byte * 11
                                  + 2 * read + ret_cost(32 + 24))


def test_storage_load_key_limit(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe(
        ("tos_storage_load", [INPUT, TOS_LIMITS.max_key_size + 1, DATA, 8])))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(300))
    err = aborted(tx, "InvalidLength", "tos_storage_load")
    assert "key" in err.detail


@pytest.mark.parametrize("name, args", [
    ("tos_storage_store", [INPUT, TOS_LIMITS.max_key_size + 1, INPUT, 1]),
    # The value limit is checked before the pointer: an unmapped pointer still reports
    # the length.
    ("tos_storage_store", [INPUT, 1, UNMAPPED, TOS_LIMITS.max_value_size + 1]),
    ("tos_storage_delete", [INPUT, TOS_LIMITS.max_key_size + 1]),
], ids=["store-key", "store-value", "delete-key"])
def test_storage_size_limits_abort(chain: Chain, engine: str, name: str,
                                   args: list[int]) -> None:
    contract = deploy_asm(chain, probe((name, args)))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(300))
    aborted(tx, "InvalidLength", name)


# --------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------

def test_log(chain: Chain, engine: str) -> None:
    message = "héllo, TOS".encode()
    contract, tx, _, values, insns = run_probe(
        chain, engine, ("tos_log", [INPUT, len(message)]), ("tos_log", [INPUT, 0]),
        input=message)
    assert values == [0, 0]
    assert "Program log: héllo, TOS" in tx.invoke.logs
    assert "Program log: " in tx.invoke.logs
    assert tx.invoke.gas_used == (insns + 2 * C.log_base + C.log_byte * len(message)
                                  + ret_cost(16))


@pytest.mark.parametrize("payload, length, inner", [
    (b"\xff\xfe", 2, "InvalidString"),
    (b"x", TOS_LIMITS.max_log_size + 1, "InvalidLength"),
], ids=["not-utf8", "too-long"])
def test_log_aborts(chain: Chain, engine: str, payload: bytes, length: int,
                    inner: str) -> None:
    contract = deploy_asm(chain, probe(("tos_log", [INPUT, length])))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=payload)
    aborted(tx, inner, "tos_log")


# --------------------------------------------------------------------------------------
# Balances, transfers, burns
# --------------------------------------------------------------------------------------

def test_deposit_balance_transfer(chain: Chain, engine: str) -> None:
    # input: [BOB (32) | native id (32)]
    steps = [
        ("tos_get_balance", ["CONTRACT", INPUT + 32]),
        ("tos_transfer", [INPUT, INPUT + 32, 300]),
        ("tos_transfer", [INPUT, INPUT + 32, 10**6]),           # more than it has
        ("tos_get_balance", [INPUT, INPUT + 32]),
        ("tos_get_balance", ["CONTRACT", INPUT + 32]),
        ("tos_transfer", [INPUT, INPUT, 1]),                    # unknown asset id = BOB's hash
    ]
    # The contract's own hash is not known before deploy: fetch it first.
    source = asm(f"""
        {chr(10).join(load_args([DATA + 64]))}
        syscall tos_get_contract_hash
    """) + "\n" + probe(*[(n, [DATA + 64 if a == "CONTRACT" else a for a in args])
                          for n, args in steps], dump=0)
    contract = deploy_asm(chain, source)
    before = chain.balance(ALICE)
    tx = invoke(chain, contract, engine, input=BOB + NATIVE_ASSET,
                deposits=[(NATIVE_ASSET, 1000)])
    r = tx.invoke
    assert r.success
    _, values = results(r.return_data)
    assert values == [1000, 0, TosCode.INSUFFICIENT_BALANCE, 300, 700,
                      TosCode.INSUFFICIENT_BALANCE]
    assert chain.balance(ALICE) == before - 1000
    assert chain.balance(contract) == 700 and chain.balance(BOB) == 300
    assert r.gas_used == (straight_line_cost(source) + ENV + 3 * C.get_balance
                          + 3 * C.transfer + ret_cost(48))


def test_failed_invoke_returns_the_deposit(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe(("tos_transfer", [INPUT, INPUT + 32, 10]),
                                       exit_code=3))
    before = chain.balance(ALICE)
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=BOB + NATIVE_ASSET,
                          deposits=[(NATIVE_ASSET, 500)])
    assert not tx.included and tx.invoke.exit_code == 3 and tx.invoke.error is None
    assert chain.balance(ALICE) == before and chain.balance(BOB) == 0


def test_deposit_beyond_the_senders_balance_is_refused(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe())
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=BOB, deposits=[(NATIVE_ASSET, 1)])
    assert not tx.included and tx.invoke is None
    assert tx.error is not None and tx.error.kind == "InsufficientFunds"


def test_burn(chain: Chain, engine: str) -> None:
    contract, tx, _, values, insns = run_probe(
        chain, engine, ("tos_burn", [INPUT, 40]), ("tos_burn", [INPUT, 61]),
        ("tos_burn", [INPUT, 0]), input=NATIVE_ASSET, deposits=[(NATIVE_ASSET, 100)])
    assert values == [0, TosCode.INSUFFICIENT_BALANCE, 0]
    assert chain.balance(contract) == 60
    assert tx.invoke.gas_used == insns + 3 * C.burn + ret_cost(24)


# --------------------------------------------------------------------------------------
# Assets
# --------------------------------------------------------------------------------------

def test_asset_create_mint_burn_transfer(chain: Chain, engine: str) -> None:
    name = b"GOLD"
    # input: [name | BOB]
    steps = [
        ("tos_asset_create", [INPUT, len(name), 6, DATA]),
        ("tos_asset_create", [INPUT, len(name), 6, DATA + 32]),   # exists: nothing written
        ("tos_asset_mint", [DATA, 1000]),
        ("tos_asset_mint", [DATA, 2**64 - 1]),                     # supply overflow
        ("tos_burn", [DATA, 100]),
        ("tos_transfer", [INPUT + len(name), DATA, 250]),
        ("tos_asset_mint", [INPUT + len(name), 1]),                # no such asset
        ("tos_asset_mint", [DATA + 32, 1]),                        # native: nobody's
    ]
    contract, tx, data, values, insns = run_probe(chain, engine, *steps, dump=64,
                                                  input=name + BOB)
    asset = asset_id_for(contract, name)
    assert data[:32] == asset and data[32:64] == bytes(32)
    assert values == [0, TosCode.ASSET_EXISTS, 0, TosCode.BALANCE_OVERFLOW, 0, 0,
                      TosCode.UNKNOWN_ASSET, TosCode.NOT_ASSET_OWNER]
    record = chain.provider.get_asset(asset)
    assert record is not None
    assert (record.owner, record.name, record.decimals, record.supply) == (contract, name,
                                                                          6, 900)
    assert chain.balance(contract, asset) == 650 and chain.balance(BOB, asset) == 250
    assert tx.invoke.gas_used == (insns + 2 * (C.asset_create_base
                                               + C.asset_create_byte * len(name))
                                  + 4 * C.asset_mint + C.burn + C.transfer
                                  + ret_cost(64 + 64))


def test_only_the_owner_mints(chain: Chain, engine: str) -> None:
    name = b"SILVER"
    owner, _, _, _, _ = run_probe(chain, engine,
                                  ("tos_asset_create", [INPUT, len(name), 0, DATA]),
                                  input=name)
    asset = asset_id_for(owner, name)
    thief, _, _, values, _ = run_probe(chain, engine, ("tos_asset_mint", [INPUT, 5]),
                                       input=asset)
    assert values == [TosCode.NOT_ASSET_OWNER]
    assert chain.balance(thief, asset) == 0


@pytest.mark.parametrize("length, decimals, inner", [
    (0, 0, "InvalidLength"), (TOS_LIMITS.max_asset_name + 1, 0, "InvalidLength"),
    (3, 19, "InvalidArgument"),
], ids=["empty-name", "long-name", "decimals"])
def test_asset_create_aborts(chain: Chain, engine: str, length: int, decimals: int,
                             inner: str) -> None:
    contract = deploy_asm(chain, probe(("tos_asset_create", [INPUT, length, decimals, DATA])))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(100))
    aborted(tx, inner, "tos_asset_create")


# --------------------------------------------------------------------------------------
# Events and return data
# --------------------------------------------------------------------------------------

def test_events_commit_with_the_block(chain: Chain, engine: str) -> None:
    topics = bytes([1]) * 32 + bytes([2]) * 32
    payload = b"transfer:42"
    contract, tx, _, values, insns = run_probe(
        chain, engine, ("tos_fire_event", [INPUT, 2, INPUT + 64, len(payload)]),
        ("tos_fire_event", [INPUT, 0, INPUT, 0]), input=topics + payload)
    assert values == [0, 0]
    events = tx.invoke.events
    assert [(e.contract, e.topics, e.data) for e in events] == [
        (contract, (topics[:32], topics[32:]), payload), (contract, (), b"")]
    stored = list(chain.provider.iter_events(contract))
    assert [(e.height, e.tx_index, e.index, e.topics, e.data) for e in stored] == [
        (tx.height, 0, 0, (topics[:32], topics[32:]), payload), (tx.height, 0, 1, (), b"")]
    assert tx.invoke.gas_used == (insns + 2 * C.event_base + 2 * C.event_topic
                                  + C.event_byte * len(payload) + ret_cost(16))


def test_events_of_a_failed_invoke_are_dropped(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe(("tos_fire_event", [INPUT, 1, INPUT, 4]), exit_code=1))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(32))
    assert tx.invoke.exit_code == 1 and tx.invoke.events == []
    assert list(chain.provider.iter_events()) == []


def test_event_aborts(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe(
        ("tos_fire_event", [INPUT, TOS_LIMITS.max_event_topics + 1, INPUT, 0])))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(200))
    aborted(tx, "TooManyTopics", "tos_fire_event")


def test_return_data_limit(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe(
        ("tos_set_return_data", [INPUT, TOS_LIMITS.max_return_data + 1])))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(2000))
    aborted(tx, "ReturnDataTooLarge", "tos_set_return_data")


def test_no_runtime_no_tos_syscalls(engine: str) -> None:
    out = tbpf.run(asm(probe(("tos_get_block_height", []))), engine=engine,
                   syscalls=tos_syscalls())
    assert isinstance(out.error, SyscallError)
    assert out.error.inner_kind == "NoContractRuntime"


# --------------------------------------------------------------------------------------
# Aliases (TOS's plain names)
# --------------------------------------------------------------------------------------

def test_aliases_share_body_and_gas(chain: Chain, engine: str) -> None:
    def steps(names: dict[str, str]) -> list[tuple[str, list[int | str]]]:
        return [
            (names["storage_write"], [INPUT, 1, INPUT + 1, 3]),
            (names["storage_read"], [INPUT, 1, DATA, 8]),
            (names["storage_delete"], [INPUT, 1]),
            (names["get_input_data"], [DATA + 8, 64]),
            (names["log"], [INPUT + 1, 3]),
            (names["get_tx_sender"], [DATA + 16]),
            (names["get_block_height"], []),
            (names["get_balance"], [DATA + 16, INPUT + 4]),
            (names["emit_event"], [INPUT + 4, 1, INPUT, 1]),
        ]
    payload = b"kabc" + bytes(32)
    plain = {n: n for n in TOS_ALIASES}
    prefixed = dict(TOS_ALIASES)
    _, tx_plain, d1, v1, _ = run_probe(chain, engine, *steps(plain), dump=48, input=payload)
    _, tx_tos, d2, v2, _ = run_probe(chain, engine, *steps(prefixed), dump=48, input=payload)
    # Everything but the block height (the second contract runs one block later).
    assert d1 == d2 and v1[:6] + v1[7:] == v2[:6] + v2[7:] and v2[6] == v1[6] + 2
    assert v1[:4] == [0, 3, 0, len(payload)]
    assert tx_plain.invoke.gas_used == tx_tos.invoke.gas_used
    registry = tos_syscalls()
    for alias, target in TOS_ALIASES.items():
        syscall = registry.get(symbol_hash(alias))
        assert syscall is not None and syscall.name == alias
        assert syscall.func is registry.by_name(target).func


# --------------------------------------------------------------------------------------
# Every pointer argument is validated; every charge happens first
# --------------------------------------------------------------------------------------

#: (syscall, args with one bad pointer) -- UNMAPPED reads, PROGRAM is read-only.
BAD_POINTERS = [
    ("tos_log", [UNMAPPED, 4]),
    ("tos_get_contract_hash", [PROGRAM]),
    ("tos_get_caller", [UNMAPPED]),
    ("tos_get_tx_hash", [PROGRAM]),
    ("tos_get_tx_source", [PROGRAM + 2**20]),
    ("tos_get_block_hash", [INPUT + 40]),           # runs past the end of the input
    ("tos_get_balance", [UNMAPPED, INPUT]),
    ("tos_get_balance", [INPUT, UNMAPPED]),
    ("tos_transfer", [UNMAPPED, INPUT, 1]),
    ("tos_transfer", [INPUT, UNMAPPED, 1]),
    ("tos_burn", [UNMAPPED, 1]),
    ("tos_storage_load", [UNMAPPED, 4, DATA, 8]),
    ("tos_storage_store", [UNMAPPED, 4, INPUT, 4]),
    ("tos_storage_store", [INPUT, 4, UNMAPPED, 4]),
    ("tos_storage_delete", [UNMAPPED, 4]),
    ("tos_asset_create", [UNMAPPED, 4, 0, DATA]),
    ("tos_asset_create", [INPUT, 4, 0, PROGRAM]),
    ("tos_asset_mint", [UNMAPPED, 1]),
    ("tos_fire_event", [UNMAPPED, 1, INPUT, 1]),
    ("tos_fire_event", [INPUT, 1, UNMAPPED, 1]),
    ("tos_get_input_data", [PROGRAM, 64]),
    ("tos_set_return_data", [UNMAPPED, 4]),
    ("tos_invoke_contract", [UNMAPPED, INPUT, 0, 0, 0]),
    ("tos_invoke_contract", [INPUT, UNMAPPED, 4, 0, 0]),
]


@pytest.mark.parametrize("name, args", BAD_POINTERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_POINTERS)])
def test_bad_pointer_aborts(chain: Chain, engine: str, name: str, args: list[int]) -> None:
    contract = deploy_asm(chain, probe((name, args)))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(48),
                          deposits=[(NATIVE_ASSET, 5)])
    err = aborted(tx, "AccessViolation", name)
    assert "Access violation" in err.detail


def test_short_buffer_is_checked_before_the_pointer(chain: Chain, engine: str) -> None:
    contract, _, _, values, _ = run_probe(chain, engine,
                                          ("tos_get_input_data", [UNMAPPED, 3]),
                                          input=b"four")
    assert values == [TosCode.SHORT_BUFFER]


#: (syscall, args, exact gas charged) with deterministic costs.
CHARGES = [
    ("tos_log", [INPUT, 8], C.log_base + 8 * C.log_byte),
    ("tos_get_contract_hash", [DATA], ENV),
    ("tos_get_caller", [DATA], ENV),
    ("tos_get_tx_hash", [DATA], ENV),
    ("tos_get_tx_source", [DATA], ENV),
    ("tos_get_block_hash", [DATA], ENV),
    ("tos_get_block_height", [], ENV),
    ("tos_get_block_timestamp", [], ENV),
    ("tos_get_balance", [INPUT, INPUT], C.get_balance),
    ("tos_transfer", [INPUT, INPUT, 0], C.transfer),
    ("tos_burn", [INPUT, 0], C.burn),
    ("tos_storage_load", [INPUT, 5, DATA, 8], C.storage_read_base + 5 * C.storage_read_byte),
    ("tos_storage_store", [INPUT, 5, INPUT, 7],
     C.storage_write_base + 12 * C.storage_write_byte),
    ("tos_storage_delete", [INPUT, 5], C.storage_delete_base + 5 * C.storage_delete_byte),
    ("tos_asset_create", [INPUT, 5, 2, DATA], C.asset_create_base + 5 * C.asset_create_byte),
    ("tos_asset_mint", [INPUT, 1], C.asset_mint),
    ("tos_fire_event", [INPUT, 1, INPUT, 6], C.event_base + C.event_topic + 6 * C.event_byte),
    ("tos_get_input_data", [DATA, 64], C.input_data),
    ("tos_set_return_data", [INPUT, 9], C.return_data_base + 9 * C.return_data_byte),
    ("tos_get_return_data", [DATA, 64], C.input_data),
    ("tos_invoke_contract", [INPUT, INPUT, 7, 0, 0], C.invoke_base + 7 * C.invoke_byte),
]


@pytest.mark.parametrize("name, args, cost", CHARGES, ids=[c[0] for c in CHARGES])
def test_out_of_gas_inside_each_syscall(chain: Chain, engine: str, name: str,
                                        args: list[int], cost: int) -> None:
    source = "\n".join(load_args(args) + [f"syscall {name}", "mov64 r0, 0", "exit"])
    before_call = len(args) + 1          # the argument loads and the call itself
    contract = deploy_asm(chain, source)
    # One unit short: the syscall's charge fails before it does anything.
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(48),
                          gas_limit=before_call + cost - 1)
    aborted(tx, "ComputationalBudgetExceeded", name)
    assert tx.invoke.gas_used == tx.invoke.gas_limit and tx.invoke.refund == 0
    # Exactly enough (plus the two instructions after it): the same call succeeds, and
    # the gas used is the exact sum. (tos_invoke_contract targets an unknown contract.)
    tx = chain.invoke(contract, engine=engine, sender=ALICE, input=bytes(48),
                      gas_limit=before_call + cost + 2)
    assert tx.invoke.success, (tx.invoke.error, tx.invoke.logs)
    assert tx.invoke.gas_used == before_call + cost + 2 and tx.invoke.refund == 0


def test_huge_lengths_saturate_into_out_of_gas(chain: Chain, engine: str) -> None:
    contract = deploy_asm(chain, probe(("tos_storage_store", [INPUT, 2**63, INPUT, 2**63])))
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, sender=ALICE)
    err = aborted(tx, "ComputationalBudgetExceeded", "tos_storage_store")
    assert str(2**64 - 1) in err.detail


def test_config_changes_the_call_depth(tmp_path, engine: str) -> None:  # type: ignore[no-untyped-def]
    chain = Chain.open(tmp_path / "s", synchronous="NORMAL",
                       config=RuntimeConfig(max_invoke_depth=1))
    callee = deploy_asm(chain, probe())
    caller = deploy_asm(chain, probe(("tos_invoke_contract", [INPUT, INPUT, 0, 0, 0])))
    with unchanged(chain):
        tx = chain.invoke(caller, engine=engine, input=callee)
    aborted(tx, "InvokeDepthExceeded", "tos_invoke_contract")
    chain.close()

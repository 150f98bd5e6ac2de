"""Cross-contract calls: gas passed down and charged, rollback of failing callees,
deposits, return data, reentrancy and call-depth limits, on every engine."""

from __future__ import annotations

import re

import pytest

from tbpf.chain import Chain
from tbpf.errors import SyscallError
from tbpf.tos_syscalls import NATIVE_ASSET, TOS_COSTS, TOS_LIMITS, TosCode

from tos_helpers import ALICE, UNMAPPED, asm, deploy_asm, straight_line_cost, u64, unchanged

C = TOS_COSTS

#: The callee. Stores input under the key input[0], then by mode = input[0]:
#: 0 fire an event and return the input; 1 exit 7; 2 fault (bad pointer); 3 spin until
#: out of gas; 4 invoke the contract whose hash is input[1:33]; 5 return the gas left.
CALLEE = asm("""
    mov64 r6, r1
    mov64 r7, r2
    mov64 r1, r6
    mov64 r2, 1
    mov64 r3, r6
    mov64 r4, r7
    syscall tos_storage_store
    ldxb r8, [r6]
    jeq r8, 1, fail_exit
    jeq r8, 2, fault
    jeq r8, 3, spin
    jeq r8, 4, reenter
    jeq r8, 5, remaining
    mov64 r1, r6
    mov64 r2, 0
    mov64 r3, r6
    mov64 r4, r7
    syscall tos_fire_event
    mov64 r1, r6
    mov64 r2, r7
    syscall tos_set_return_data
    mov64 r0, 0
    exit
fail_exit:
    mov64 r0, 7
    exit
fault:
    lddw r1, 0x10
    mov64 r2, 4
    syscall tos_log
    exit
spin:
    ja spin
reenter:
    mov64 r1, r6
    add64 r1, 1
    mov64 r2, r6
    mov64 r3, 0
    mov64 r4, 0
    mov64 r5, 0
    syscall tos_invoke_contract
    exit
remaining:
    syscall sol_remaining_compute_units
    stxdw [r10-8], r0
    mov64 r1, r10
    sub64 r1, 8
    mov64 r2, 8
    syscall tos_set_return_data
    mov64 r0, 0
    exit
""")

#: The caller. Input: [callee hash | gas u64 | deposit u64 | callee input]. Stores
#: "a" = "a", invokes, reads the callee's return data; returns
#: [get_return_data result u64 | 64-byte buffer | invoke code u64] and exits 0.
CALLER = asm("""
    mov64 r6, r1
    mov64 r7, r2
    stb [r10-1], 97
    mov64 r1, r10
    sub64 r1, 1
    mov64 r2, 1
    mov64 r3, r10
    sub64 r3, 1
    mov64 r4, 1
    syscall tos_storage_store
    mov64 r1, r6
    mov64 r2, r6
    add64 r2, 48
    mov64 r3, r7
    sub64 r3, 48
    ldxdw r4, [r6+32]
    ldxdw r5, [r6+40]
    syscall tos_invoke_contract
    stxdw [r10-16], r0
    mov64 r1, r10
    sub64 r1, 80
    mov64 r2, 64
    syscall tos_get_return_data
    stxdw [r10-88], r0
    mov64 r1, r10
    sub64 r1, 88
    mov64 r2, 80
    syscall tos_set_return_data
    mov64 r0, 0
    exit
""")

#: Invokes input[0:32] with input[32:] (all its gas, no deposit) and exits with the
#: result; with less than 32 bytes of input it just exits 0.
RELAY = asm("""
    jlt r2, 32, done
    mov64 r3, r2
    sub64 r3, 32
    mov64 r2, r1
    add64 r2, 32
    mov64 r4, 0
    mov64 r5, 0
    syscall tos_invoke_contract
    exit
done:
    mov64 r0, 0
    exit
""")


@pytest.fixture
def chain(tmp_path):  # type: ignore[no-untyped-def]
    c = Chain.open(tmp_path / "state", synchronous="NORMAL")
    assert c.fund(ALICE, 10**9).included
    yield c
    c.close()


def caller_input(callee: bytes, callee_input: bytes, gas: int = 0, deposit: int = 0) -> bytes:
    return callee + u64(gas) + u64(deposit) + callee_input


def decode(return_data: bytes) -> tuple[int, bytes, int]:
    """(get_return_data result, buffer, invoke code) from CALLER's return data."""
    return (int.from_bytes(return_data[0:8], "little"), return_data[8:72],
            int.from_bytes(return_data[72:80], "little"))


def consumed(logs: list[str], contract: bytes) -> tuple[int, int]:
    """(used, limit) from the runtime's "consumed" log line of ``contract``."""
    for line in logs:
        m = re.fullmatch(rf"Program {contract.hex()} consumed (\d+) of (\d+) compute units",
                         line)
        if m:
            return int(m.group(1)), int(m.group(2))
    raise AssertionError(f"no consumed line for {contract.hex()}")


def caller_overhead(callee_input: bytes) -> int:
    """Gas CALLER spends itself when the callee returns ``ret_len`` bytes (straight line)."""
    return (straight_line_cost(CALLER) + C.storage_write_base + 2 * C.storage_write_byte
            + C.invoke_base + C.invoke_byte * len(callee_input) + C.input_data
            + C.return_data_base + 80 * C.return_data_byte)


def test_successful_call_commits_both_and_charges_the_callee(chain: Chain, engine: str) -> None:
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    ping = b"\x00ping"
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, ping))
    r = tx.invoke
    assert tx.included and r.success, r.logs
    ret_len, buf, code = decode(r.return_data)
    assert (code, ret_len, buf[:5]) == (0, 5, ping)
    assert chain.provider.get_storage(callee, b"\x00") == ping
    assert chain.provider.get_storage(caller, b"a") == b"a"
    assert [(e.contract, e.data) for e in r.events] == [(callee, ping)]
    used, limit = consumed(r.logs, callee)
    assert r.gas_used == caller_overhead(ping) + used
    # The callee had everything the caller had left at the call.
    before_call = 10 + C.storage_write_base + 2 * C.storage_write_byte + 8 \
        + C.invoke_base + len(ping)
    assert limit == r.gas_limit - before_call
    # The callee's own cost is what it costs when called directly.
    direct = chain.invoke(callee, engine=engine, input=ping).invoke
    assert direct.success and direct.gas_used == used
    # Logs nest in execution order.
    heads = [line for line in r.logs if " invoke [" in line]
    assert heads == [f"Program {caller.hex()} invoke [1]", f"Program {callee.hex()} invoke [2]"]
    assert r.logs.index(f"Program {callee.hex()} success") < r.logs.index(
        f"Program {caller.hex()} success")


@pytest.mark.parametrize("mode, expected, inner", [
    (1, TosCode.CALLEE_FAILED, None),
    (2, TosCode.CALLEE_FAULTED, "AccessViolation"),
], ids=["non-zero-exit", "fault"])
def test_failing_callee_is_rolled_back(chain: Chain, engine: str, mode: int,
                                       expected: int, inner: str | None) -> None:
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, bytes([mode]) + b"x"))
    r = tx.invoke
    assert tx.included and r.success
    ret_len, buf, code = decode(r.return_data)
    assert code == expected and ret_len == 0
    assert chain.provider.get_storage(callee, bytes([mode])) is None   # rolled back
    assert chain.provider.get_storage(caller, b"a") == b"a"            # caller kept
    assert r.events == []
    failure = next(line for line in r.logs if line.startswith(f"Program {callee.hex()} failed"))
    assert (inner or "exit code 7") in failure


def test_callee_out_of_gas_costs_exactly_its_limit(chain: Chain, engine: str) -> None:
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, b"\x03", gas=6000))
    r = tx.invoke
    assert tx.included and r.success
    assert decode(r.return_data)[2] == TosCode.CALLEE_FAULTED
    assert consumed(r.logs, callee) == (6000, 6000)
    assert r.gas_used == caller_overhead(b"\x03") + 6000
    assert chain.provider.get_storage(callee, b"\x03") is None


def test_callee_taking_all_the_gas_starves_the_caller(chain: Chain, engine: str) -> None:
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    with unchanged(chain):
        tx = chain.invoke(caller, engine=engine, input=caller_input(callee, b"\x03"),
                          gas_limit=50_000)
    r = tx.invoke
    assert not tx.included and r.error is not None
    assert r.error.kind == "ExceededMaxInstructions"
    assert r.gas_used == 50_000 and r.refund == 0


def test_gas_limit_is_passed_down(chain: Chain, engine: str) -> None:
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, b"\x05", gas=20_000))
    ret_len, buf, code = decode(tx.invoke.return_data)
    assert (code, ret_len) == (0, 8)
    # 14 instructions up to and including the call, the store, then the charge of 100.
    left = 20_000 - 14 - (C.storage_write_base + C.storage_write_byte * (1 + 1)) - 100
    assert int.from_bytes(buf[:8], "little") == left


def test_unknown_contract(chain: Chain, engine: str) -> None:
    caller = deploy_asm(chain, CALLER)
    tx = chain.invoke(caller, engine=engine, input=caller_input(bytes(range(32)), b""))
    assert tx.invoke.success
    ret_len, _, code = decode(tx.invoke.return_data)
    assert (code, ret_len) == (TosCode.UNKNOWN_CONTRACT, 0)
    assert tx.invoke.gas_used == caller_overhead(b"")


def test_deposits_between_contracts(chain: Chain, engine: str) -> None:
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, b"\x00", deposit=300),
                      deposits=[(NATIVE_ASSET, 1000)], sender=ALICE)
    assert decode(tx.invoke.return_data)[2] == 0
    assert chain.balance(caller) == 700 and chain.balance(callee) == 300
    # Too much: refused before the callee runs.
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, b"\x00", deposit=701))
    assert decode(tx.invoke.return_data)[2] == TosCode.INSUFFICIENT_BALANCE
    assert f"Program {callee.hex()} invoke [2]" not in tx.invoke.logs
    # A failing callee gives the deposit back.
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, b"\x01", deposit=200))
    assert decode(tx.invoke.return_data)[2] == TosCode.CALLEE_FAILED
    assert chain.balance(caller) == 700 and chain.balance(callee) == 300


def test_direct_reentrancy_aborts(chain: Chain, engine: str) -> None:
    caller = deploy_asm(chain, CALLER)
    with unchanged(chain):
        tx = chain.invoke(caller, engine=engine, input=caller_input(caller, b""))
    err = tx.invoke.error
    assert isinstance(err, SyscallError) and err.inner_kind == "Reentrancy"
    assert err.syscall == "tos_invoke_contract" and not tx.included


def test_indirect_reentrancy_aborts_the_reentering_callee(chain: Chain, engine: str) -> None:
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    tx = chain.invoke(caller, engine=engine, input=caller_input(callee, b"\x04" + caller))
    assert tx.included
    assert decode(tx.invoke.return_data)[2] == TosCode.CALLEE_FAULTED
    assert any("Reentrancy" in line for line in tx.invoke.logs)
    assert chain.provider.get_storage(callee, b"\x04") is None


def test_call_depth(chain: Chain, engine: str) -> None:
    depth = TOS_LIMITS.max_invoke_depth
    relays = [deploy_asm(chain, RELAY) for _ in range(depth + 1)]
    assert len(set(relays)) == depth + 1        # one module, distinct contracts
    tx = chain.invoke(relays[0], engine=engine, input=b"".join(relays[1:depth]))
    assert tx.included, tx.invoke.logs
    assert f"Program {relays[depth - 1].hex()} invoke [{depth}]" in tx.invoke.logs
    with unchanged(chain):
        tx = chain.invoke(relays[0], engine=engine, input=b"".join(relays[1:]))
    r = tx.invoke
    assert not tx.included and r.exit_code == TosCode.CALLEE_FAILED
    deepest = next(line for line in r.logs
                   if line.startswith(f"Program {relays[depth - 1].hex()} failed"))
    assert "InvokeDepthExceeded" in deepest


def test_return_data_buffer_checks(chain: Chain, engine: str) -> None:
    callee = deploy_asm(chain, CALLEE)
    probe_src = asm(f"""
        mov64 r6, r1
        mov64 r1, r6
        mov64 r2, r6
        add64 r2, 32
        mov64 r3, 5
        mov64 r4, 0
        mov64 r5, 0
        syscall tos_invoke_contract
        mov64 r1, r10
        sub64 r1, 8
        mov64 r2, 4
        syscall tos_get_return_data
        jne r0, {int(TosCode.SHORT_BUFFER) - 2**64}, wrong
        lddw r1, {UNMAPPED}
        mov64 r2, 64
        syscall tos_get_return_data
    wrong:
        mov64 r0, 99
        exit
    """)
    contract = deploy_asm(chain, probe_src)
    with unchanged(chain):
        tx = chain.invoke(contract, engine=engine, input=callee + b"\x00ping")
    err = tx.invoke.error
    assert isinstance(err, SyscallError), (tx.invoke.exit_code, tx.invoke.logs)
    assert err.inner_kind == "AccessViolation" and err.syscall == "tos_get_return_data"


def _everything(engine: str) -> list[object]:
    """A scenario touching calls, failures and rollbacks; everything observable."""
    chain = Chain.in_memory()
    chain.fund(ALICE, 10**6)
    callee = deploy_asm(chain, CALLEE)
    caller = deploy_asm(chain, CALLER)
    relays = [deploy_asm(chain, RELAY) for _ in range(TOS_LIMITS.max_invoke_depth + 1)]
    out: list[object] = []
    for callee_input, gas, deposit in [(b"\x00ping", 0, 5), (b"\x01", 0, 0), (b"\x02", 0, 0),
                                       (b"\x03", 7000, 0), (b"\x04" + caller, 0, 0),
                                       (b"\x05", 30_000, 0)]:
        tx = chain.invoke(caller, engine=engine, sender=ALICE, deposits=[(NATIVE_ASSET, 10)],
                          input=caller_input(callee, callee_input, gas, deposit))
        out.append(tx.to_json())
    out.append(chain.invoke(caller, engine=engine, input=caller_input(caller, b"")).to_json())
    out.append(chain.invoke(relays[0], engine=engine, input=b"".join(relays[1:])).to_json())
    out.append(chain.provider.dump())
    return out


def test_engines_agree_on_everything() -> None:
    from conftest import ENGINES
    reference = _everything(ENGINES[0])
    for engine in ENGINES[1:]:
        assert _everything(engine) == reference, engine

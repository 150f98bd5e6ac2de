"""Calls, returns and syscalls (SBPF_SPEC 3): frames, r6-r10 save/restore, call depth,
``callx`` targets (unaligned, below the text, the second slot of ``lddw``, past the end),
``call imm`` resolution per version, ``exit`` and returning past the end of the text.
Every case runs on every engine (``run_both``)."""

from __future__ import annotations

import pytest

from tbpf.config import Config
from tbpf.memory import MM_STACK_START
from tbpf.syscalls import SyscallRegistry, solana_syscalls

from vmtest import run_both


def fault(out):
    assert out.error is not None, f"expected a fault, got r0={out.result}"
    return out.error.kind, out.error.pc


# --- frames ------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v0", "v1", "v2", "v3", "v4"])
def test_callee_saved_registers_are_restored_and_r0_r5_are_not(version):
    src = """
        mov64 r1, 1
        mov64 r5, 5
        mov64 r6, 6
        mov64 r7, 7
        mov64 r8, 8
        mov64 r9, 9
        call function_clobber
        mov64 r0, r6
        add64 r0, r7
        add64 r0, r8
        add64 r0, r9
        lsh64 r0, 8
        add64 r0, r1
        lsh64 r0, 8
        add64 r0, r5
        exit
    function_clobber:
        mov64 r1, 100
        mov64 r5, 50
        mov64 r6, 0
        mov64 r7, 0
        mov64 r8, 0
        mov64 r9, 0
        exit
    """
    out = run_both(src, version=version)
    assert out.result == ((6 + 7 + 8 + 9) << 16) | (100 << 8) | 50
    assert out.compute_units == 7 + 7 + 9


@pytest.mark.parametrize("version,bump", [("v0", 8192), ("v1", 0), ("v2", 0), ("v3", 4096),
                                          ("v4", 4096)])
def test_frame_pointer_per_call(version, bump):
    src = "call function_a\nexit\nfunction_a:\nmov64 r0, r10\nexit"
    out = run_both(src, version=version)
    entry = MM_STACK_START + (4096 if version in ("v0", "v3", "v4") else 64 * 4096)
    assert out.result == entry + bump
    assert out.registers[10] == entry


@pytest.mark.parametrize("version", ["v0", "v1", "v3"])
def test_max_call_depth_boundary(version):
    # r6 counts the nesting level; a function calls itself until r1 reaches 0.
    src = """
        ldxb r1, [r1+0]
        call function_f
        exit
    function_f:
        jeq r1, 0, +2
        add64 r1, -1
        call function_f
        exit
    """
    ok = run_both(src, version=version, input=bytes([62]))  # 1 + 62 = 63 nested frames
    assert ok.error is None
    bad = run_both(src, version=version, input=bytes([63]))
    assert fault(bad) == ("CallDepthExceeded", 5)
    # entry: ldxb, call (2); 63 levels of jeq, add, call; the last call faults
    assert bad.compute_units == 2 + 63 * 3


def test_call_depth_follows_the_config():
    cfg = Config(max_call_depth=3)
    src = "function_f:\ncall function_f\nexit"
    out = run_both(src, config=cfg)
    assert fault(out) == ("CallDepthExceeded", 0)
    assert out.compute_units == 3
    assert "3" in out.error.message


# --- exit ----------------------------------------------------------------------------------

def test_exit_in_nested_calls_unwinds_one_frame_at_a_time():
    src = """
        mov64 r0, 0
        call function_a
        add64 r0, 1000
        exit
    function_a:
        add64 r0, 1
        call function_b
        add64 r0, 100
        exit
    function_b:
        add64 r0, 10
        exit
    """
    out = run_both(src)
    assert out.result == 1111 and out.compute_units == 10


# --- callx -----------------------------------------------------------------------------------

CALLX_TARGET = """
        mov64 r0, 0
        mov64 r8, 1
        lsh64 r8, 32
        or64 r8, {offset}
        callx r8
        exit
    function_foo:
        mov64 r0, 42
        exit
"""


@pytest.mark.parametrize("version", ["v0", "v1", "v2", "v3", "v4"])
def test_callx_register_field_per_version(version):
    out = run_both(CALLX_TARGET.format(offset="0x30"), version=version)
    assert out.result == 42 and out.compute_units == 8


@pytest.mark.parametrize("offset", ["0x31", "0x34", "0x37"])
def test_callx_unaligned_address_selects_the_containing_slot(offset):
    out = run_both(CALLX_TARGET.format(offset=offset))
    assert out.result == 42


@pytest.mark.parametrize("target", ["3", "8", "0xffffffff"])
def test_callx_below_the_text(target):
    # the subtraction from text_vaddr wraps to a huge slot number
    src = f"add64 r10, 0\nlddw r0, {target}\ncallx r0\nexit"
    out = run_both(src, budget=3)
    assert fault(out) == ("CallOutsideTextSegment", 3)
    assert out.compute_units == 3


def test_callx_just_past_the_last_slot():
    src = "mov64 r1, 1\nlsh64 r1, 32\nor64 r1, 0x20\ncallx r1\nexit"  # 5 slots = 0x28 bytes
    assert run_both(src).error is None  # 0x20 is the exit slot
    out = run_both(src.replace("0x20", "0x28"))
    assert fault(out) == ("CallOutsideTextSegment", 3)


def test_callx_depth_check_comes_before_the_range_check():
    cfg = Config(max_call_depth=2)
    out = run_both("mov64 r0, 3\ncall function_a\nexit\nfunction_a:\ncallx r0\nexit", config=cfg)
    assert fault(out) == ("CallDepthExceeded", 3)


def test_callx_pushes_a_frame_like_call():
    src = "mov64 r9, 1\nlsh64 r9, 32\nor64 r9, 0x28\ncallx r9\nexit\nmov64 r0, r10\nexit"
    out = run_both(src)
    assert out.result == MM_STACK_START + 4096 + 8192


# --- call imm resolution -----------------------------------------------------------------

def test_call_to_a_label_that_is_not_a_function_is_unsupported_in_v0():
    out = run_both("call helper\nexit\nhelper:\nexit")
    assert fault(out) == ("UnsupportedInstruction", 0)


def test_call_registered_pc_outside_the_text():
    out = run_both("call 77\nexit")
    assert fault(out) == ("CallOutsideTextSegment", 0)


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_static_calls(version):
    out = run_both("call helper\nexit\nhelper:\nmov64 r0, 5\nexit", version=version)
    assert out.result == 5  # v3: pc-relative, any label works
    out = run_both("call 5\nexit", version=version)
    assert fault(out) == ("UnsupportedInstruction", 0)  # target outside the text
    out = run_both("syscall 77\nexit", version=version)
    assert fault(out) == ("UnsupportedInstruction", 0)  # unknown static syscall


def test_recursive_call_into_the_entry():
    src = "jeq r6, 1, +3\nmov64 r6, 1\ncall -3\nexit\nmov64 r0, 9\nexit"
    out = run_both(src)
    assert out.result == 9 and out.compute_units == 7


def test_entrypoint_is_callable_by_its_hash_in_v0():
    # raw text registers pc 0 under murmur3("entrypoint"); the syscall registry is
    # consulted first and does not have that key, so this is an internal call
    src = "jeq r6, 1, +3\nmov64 r6, 1\nsyscall entrypoint\nexit\nmov64 r0, 9\nexit"
    out = run_both(src)
    assert out.result == 9 and out.compute_units == 7


# --- syscalls ------------------------------------------------------------------------------

def registry(**fns) -> SyscallRegistry:
    reg = solana_syscalls().copy()
    for name, fn in fns.items():
        reg.register(name, fn)
    return reg


def test_syscall_arguments_result_and_preserved_registers():
    seen = []

    def probe(ctx, a, b, c, d, e):
        seen.append((a, b, c, d, e))
        return a + b + c + d + e

    src = """
        mov64 r1, 1
        mov64 r2, 2
        mov64 r3, 3
        mov64 r4, 4
        mov64 r5, 5
        mov64 r6, 6
        syscall probe
        add64 r0, r6
        exit
    """
    out = run_both(src, syscalls=registry(probe=probe))
    assert out.result == 21
    assert out.registers[1:6] == (1, 2, 3, 4, 5)  # arguments survive the call
    assert set(seen) == {(1, 2, 3, 4, 5)}
    assert out.compute_units == 9


def test_syscall_charges_are_included_in_the_count():
    def charge(ctx, n, *_):
        ctx.consume(n)
        return ctx.remaining

    reg = registry(charge=charge)
    out = run_both("mov64 r1, 100\nsyscall charge\nexit", syscalls=reg, budget=1000)
    # mov, call (2 units) then 100 charged; the syscall sees 1000 - 2 - 100 left
    assert out.result == 898 and out.compute_units == 103


def test_syscall_that_drains_the_meter_stops_the_next_instruction():
    def drain(ctx, *_):
        ctx.consume(ctx.remaining)
        return 0

    out = run_both("syscall drain\nexit", syscalls=registry(drain=drain), budget=50)
    assert fault(out) == ("ExceededMaxInstructions", 1)
    assert out.compute_units == 50

"""Loads and stores (SBPF_SPEC 2.2, 4): every size into every writable region, read-only
regions, bounds, the v0 stack gaps (including "only the first byte is tested"), the
fault kinds and their payloads. Every case runs on every engine (``run_both``)."""

from __future__ import annotations

import struct

import pytest

from tbpf.memory import MM_HEAP_START, MM_INPUT_START, MM_PROGRAM_START, MM_STACK_START

from vmtest import run_both

VERSIONS = ["v0", "v1", "v2", "v3", "v4"]
SIZES = {"b": 1, "h": 2, "w": 4, "dw": 8}
VALUE = 0x8877_6655_4433_2211


def fault(out):
    """``(kind, pc, details)`` of a faulting outcome."""
    assert out.error is not None, f"expected a fault, got r0={out.result}"
    return out.error.kind, out.error.pc, out.error.details()


def base_for(region: str, version: str) -> str:
    """Assembly putting a writable address of ``region`` in r9 (16-byte aligned, with room
    on both sides)."""
    if region == "stack":
        return "mov64 r9, r10\nadd64 r9, -64"
    if region == "heap":
        return f"mov64 r9, {MM_HEAP_START >> 32}\nlsh64 r9, 32\nor64 r9, 0x100"
    return "mov64 r9, r1\nadd64 r9, 64"


def host_offset(region: str, version: str) -> int:
    """Host offset inside the region's bytes of the address ``base_for`` builds."""
    if region == "stack":
        return (4096 if version in ("v0", "v3", "v4") else 256 * 1024) - 64
    if region == "heap":
        return 0x100
    return 64


# --- every size, every region, register and immediate stores ---------------------------

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("region", ["stack", "heap", "input"])
@pytest.mark.parametrize("suffix", list(SIZES))
def test_store_and_load_every_size(version, region, suffix):
    size = SIZES[suffix]
    src = f"""
        {base_for(region, version)}
        lddw r2, {VALUE:#x}
        stx{suffix} [r9+0], r2
        ldx{suffix} r3, [r9+0]
        st{suffix} [r9+8], -2
        ldx{suffix} r4, [r9+8]
        stx{suffix} [r9+17], r2
        ldx{suffix} r5, [r9+17]
        mov64 r0, r3
        exit
    """
    if version == "v2":  # no lddw: build the value with mov32 + hor64
        src = src.replace(f"lddw r2, {VALUE:#x}",
                          f"mov32 r2, {VALUE & 0xFFFF_FFFF:#x}\nhor64 r2, {(VALUE >> 32) - (1 << 32)}")
    out = run_both(src, version=version, input=bytes(256))
    assert out.error is None, out.error
    mask = (1 << (8 * size)) - 1
    regs = out.registers
    assert regs[3] == VALUE & mask                      # loads zero-extend
    assert regs[4] == (-2) & mask                       # st: sx(imm) truncated
    assert regs[5] == VALUE & mask                      # unaligned access
    data = out.memory.snapshot()[region]
    h = host_offset(region, version)
    assert data[h:h + size] == (VALUE & mask).to_bytes(size, "little")
    assert data[h + size:h + 8] == bytes(8 - size)      # nothing past the access size
    assert data[h + 8:h + 8 + size] == ((-2) & mask).to_bytes(size, "little")
    assert data[h + 17:h + 17 + size] == (VALUE & mask).to_bytes(size, "little")


@pytest.mark.parametrize("version", VERSIONS)
def test_loads_of_input_bytes_are_little_endian(version):
    data = bytes(range(1, 17))
    src = "ldxb r2, [r1+0]\nldxh r3, [r1+1]\nldxw r4, [r1+3]\nldxdw r5, [r1+7]\nexit"
    out = run_both(src, version=version, input=data)
    assert out.registers[2:6] == (0x01, 0x0302, 0x07060504, 0x0F0E0D0C0B0A0908)


# --- bounds of each region ---------------------------------------------------------------

@pytest.mark.parametrize("suffix", list(SIZES))
def test_heap_end_is_exact(suffix):
    size = SIZES[suffix]
    end = MM_HEAP_START + 32 * 1024
    ok = run_both(f"lddw r1, {end - size:#x}\nstx{suffix} [r1+0], r1\nldx{suffix} r0, [r1+0]\n"
                  "exit")
    assert ok.error is None
    bad = run_both(f"lddw r1, {end - size + 1:#x}\nldx{suffix} r0, [r1+0]\nexit")
    # named after the region if the first byte is inside it, else "unallocated"
    name = "heap" if size > 1 else "unallocated"
    assert fault(bad) == ("AccessViolation", 2, ("Load", end - size + 1, size, name))
    assert bad.compute_units == 2  # lddw (one unit) and the faulting load


def test_empty_input_region_faults_on_any_access():
    # An empty region's span contains no address, so the name is "unallocated".
    out = run_both("ldxb r0, [r1+0]\nexit", input=b"")
    assert fault(out) == ("AccessViolation", 0, ("Load", MM_INPUT_START, 1, "unallocated"))


def test_unmapped_region_index_is_unallocated():
    out = run_both("lddw r1, 0x500000000\nldxb r0, [r1+0]\nexit")
    assert fault(out) == ("AccessViolation", 2, ("Load", 0x5_0000_0000, 1, "unallocated"))
    out = run_both("mov64 r1, -1\nstxb [r1+0], r1\nexit")
    assert fault(out) == ("AccessViolation", 1, ("Store", 2**64 - 1, 1, "unallocated"))


@pytest.mark.parametrize("version", ["v0", "v3"])
def test_effective_address_wraps_at_2_64(version):
    # r1 + off crosses 2^64 and wraps to 0: v3/v4 map the (raw) text there, v0 nothing.
    src = "mov64 r1, -8\nldxb r0, [r1+8]\nexit"
    out = run_both(src, version=version)
    if version == "v3":
        assert out.error is None and out.result == 0xB7  # opcode of mov64 imm
    else:
        assert fault(out) == ("AccessViolation", 1, ("Load", 0, 1, "unallocated"))
    # and below zero: 0 - 1 wraps to 2^64 - 1
    out = run_both("mov64 r1, 0\nldxb r0, [r1-1]\nexit", version=version)
    assert fault(out) == ("AccessViolation", 1, ("Load", 2**64 - 1, 1, "unallocated"))


# --- read-only regions ---------------------------------------------------------------------

@pytest.mark.parametrize("version", ["v0", "v1", "v2"])
@pytest.mark.parametrize("suffix", list(SIZES))
def test_program_region_is_readable_not_writable(version, suffix):
    size = SIZES[suffix]
    src = f"mov64 r1, 1\nlsh64 r1, 32\nldx{suffix} r0, [r1+0]\nstx{suffix} [r1+0], r0\nexit"
    out = run_both(src, version=version)
    assert fault(out) == ("AccessViolation", 3, ("Store", MM_PROGRAM_START, size, "program"))
    # the load before it read the first bytes of the text
    from tbpf.assembler import assemble
    text = assemble(src, version)
    assert out.registers[0] == int.from_bytes(text[:size], "little")


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_v3_rodata_at_zero(version):
    load = run_both("mov64 r1, 0\nldxdw r0, [r1+0]\nexit", version=version)
    assert load.error is None
    assert load.result == int.from_bytes(bytes.fromhex("b701000000000000"), "little")
    store = run_both("mov64 r1, 0\nstb [r1+0], 1\nexit", version=version)
    assert fault(store) == ("AccessViolation", 1, ("Store", 0, 1, "allocated"))
    past = run_both("mov64 r1, 0\nldxb r0, [r1+24]\nexit", version=version)
    assert fault(past) == ("AccessViolation", 1, ("Load", 24, 1, "unallocated"))
    # the bytecode region is executed but not readable as data
    code = run_both("mov64 r1, 1\nlsh64 r1, 32\nldxb r0, [r1+0]\nexit", version=version)
    assert fault(code) == ("AccessViolation", 2, ("Load", MM_PROGRAM_START, 1, "unallocated"))


@pytest.mark.parametrize("suffix", list(SIZES))
def test_read_only_input(suffix):
    size = SIZES[suffix]
    out = run_both(f"ldx{suffix} r0, [r1+0]\nst{suffix} [r1+0], 1\nexit", input=bytes(8),
                   input_writable=False)
    assert fault(out) == ("AccessViolation", 1, ("Store", MM_INPUT_START, size, "input"))
    assert out.compute_units == 2
    assert out.memory.snapshot()["input"] == bytes(8)


# --- v0 stack gaps (SBPF_SPEC 4.3, 4.4) ------------------------------------------------------

@pytest.mark.parametrize("suffix", list(SIZES))
def test_v0_gap_after_each_frame(suffix):
    size = SIZES[suffix]
    for addr, frame in [(0x2_0000_1000, 1), (0x2_0000_1FFF, 1), (0x2_0000_3000, 3),
                        (0x2_0000_3800, 3)]:
        out = run_both(f"lddw r1, {addr:#x}\nldx{suffix} r0, [r1+0]\nexit", version="v0")
        assert fault(out) == ("StackAccessViolation", 2, ("Load", addr, size, frame))


def test_v0_only_the_first_byte_is_tested_for_a_gap():
    # An 8-byte store at r10-4 starts in frame 0 and runs into the gap: the reference
    # writes 4 bytes at the top of frame 0 and 4 at the start of VM frame 1 (host order).
    src = """
        lddw r2, 0x1122334455667788
        stxdw [r10-4], r2
        ldxdw r0, [r10-4]
        exit
    """
    out = run_both(src, version="v0")
    assert out.error is None and out.result == 0x1122_3344_5566_7788
    stack = out.memory.snapshot()["stack"]
    assert stack[4092:4100] == (0x1122_3344_5566_7788).to_bytes(8, "little")
    # ...and what was written is visible from frame 1 at 0x2_0000_2000
    src2 = src.replace("ldxdw r0, [r10-4]", "lddw r3, 0x200002000\nldxw r0, [r3+0]")
    assert run_both(src2, version="v0").result == 0x1122_3344
    # An access that *starts* in the gap faults even if it would end in a frame.
    out = run_both("lddw r1, 0x200001ffc\nldxdw r0, [r1+0]\nexit", version="v0")
    assert fault(out) == ("StackAccessViolation", 2, ("Load", 0x2_0000_1FFC, 8, 1))


def test_v0_frames_after_calls_are_8_kib_apart():
    src = """
        stdw [r10-8], 1
        call function_a
        ldxdw r0, [r10-8]
        exit
    function_a:
        mov64 r0, r10
        stdw [r10-8], 2
        exit
    """
    out = run_both(src, version="v0")
    assert out.result == 1
    assert out.registers[10] == MM_STACK_START + 4096
    stack = out.memory.snapshot()["stack"]
    assert stack[4088:4096] == (1).to_bytes(8, "little")
    assert stack[8184:8192] == (2).to_bytes(8, "little")   # VM frame 1 = host bytes 4096..
    out = run_both("call function_a\nexit\nfunction_a:\nmov64 r0, r10\nexit", version="v0")
    assert out.result == MM_STACK_START + 3 * 4096


def test_v0_stack_window_names():
    cases = [
        (MM_STACK_START - 1, "StackAccessViolation", 0),          # just below: frame 0
        (MM_STACK_START - 4096, "StackAccessViolation", -1),
        (MM_STACK_START - 4097, "StackAccessViolation", -1),
        (MM_STACK_START + 64 * 4096 + 0x1000, "AccessViolation", "stack"),  # frame 65: a gap
        (MM_STACK_START + 0x80000, "AccessViolation", "unallocated"),       # past the span
    ]
    for addr, kind, where in cases:
        out = run_both(f"lddw r1, {addr:#x}\nstb [r1+0], 1\nexit", version="v0")
        assert fault(out) == (kind, 2, ("Store", addr, 1, where)), hex(addr)
    # two frames below the stack is outside the window: the program region does not
    # contain the address
    addr = MM_STACK_START - 8193
    out = run_both(f"lddw r1, {addr:#x}\nstb [r1+0], 1\nexit", version="v0")
    assert fault(out) == ("AccessViolation", 2, ("Store", addr, 1, "unallocated"))


def test_v0_gapped_stack_top_frame_is_mapped():
    # VM frame 63 is slot 126: its last byte is the last host byte of the stack.
    addr = MM_STACK_START + 126 * 4096 + 4095
    out = run_both(f"lddw r1, {addr:#x}\nstb [r1+0], 9\nldxb r0, [r1+0]\nexit", version="v0")
    assert out.result == 9
    assert out.memory.snapshot()["stack"][-1] == 9


def test_v0_without_gaps_config_is_contiguous():
    from tbpf.config import Config
    cfg = Config(enable_stack_frame_gaps=False)
    out = run_both("stb [r10+8], 5\nldxb r0, [r10+8]\nexit", version="v0", config=cfg)
    assert out.result == 5
    out = run_both("call function_a\nexit\nfunction_a:\nmov64 r0, r10\nexit", version="v0",
                   config=cfg)
    assert out.result == MM_STACK_START + 2 * 4096


# --- v3/v4 fixed frames without gaps, v1/v2 one contiguous stack ----------------------------

@pytest.mark.parametrize("version", ["v3", "v4"])
def test_v3_stack_is_contiguous(version):
    out = run_both("stw [r10+8], 77\nldxw r0, [r10+8]\nexit", version=version)
    assert out.result == 77
    out = run_both("lddw r1, 0x1ffffffff\nstb [r1+0], 1\nexit", version=version)
    assert fault(out) == ("StackAccessViolation", 2, ("Store", 0x1_FFFF_FFFF, 1, 0))
    out = run_both("lddw r1, 0x200040000\nstb [r1+0], 1\nexit", version=version)
    assert fault(out) == ("StackAccessViolation", 2, ("Store", 0x2_0004_0000, 1, 64))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_v1_v2_stack_faults_are_plain_access_violations(version):
    out = run_both("stb [r10+0], 1\nexit", version=version)
    assert fault(out) == ("AccessViolation", 0, ("Store", 0x2_0004_0000, 1, "unallocated"))
    out = run_both("mov64 r1, r10\nadd64 r1, -262145\nstb [r1+0], 1\nexit", version=version)
    assert fault(out) == ("AccessViolation", 2, ("Store", MM_STACK_START - 1, 1, "unallocated"))
    out = run_both("stb [r10-1], 3\nldxb r0, [r10-1]\nexit", version=version)
    assert out.result == 3
    assert out.memory.snapshot()["stack"][-1] == 3


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_v1_v2_manual_stack_bump(version):
    src = """
        add64 r10, -64
        stdw [r10+0], 7
        call function_a
        mov64 r0, r10
        exit
    function_a:
        add64 r10, -128
        mov64 r6, r10
        exit
    """
    out = run_both(src, version=version)
    # the callee's bump is undone by exit (r10 restored), the caller's stays
    assert out.result == MM_STACK_START + 256 * 1024 - 64
    assert struct.unpack_from("<Q", out.memory.snapshot()["stack"], 256 * 1024 - 64)[0] == 7

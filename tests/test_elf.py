"""The ELF loader against the reference's own test ELFs and deployed Solana programs.

Expected outcomes come from the reference (``tests/elf.rs``, ``tests/execution.rs``) and
SBPF_SPEC section 8; execution results are also covered by the ``elf`` conformance vectors.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import tbpf
from tbpf.config import Config
from tbpf.elf import load_elf
from tbpf.errors import (
    ELFError, EntrypointOutOfBoundsError, FailedToParseError, InvalidEntrypointError,
    InvalidProgramHeaderError, ProgramTooLargeError, RelativeJumpOutOfBoundsError,
    SymbolHashCollisionError, UnknownSymbolError, UnresolvedSymbolError,
    UnsupportedSBPFVersionError, ValueOutOfBoundsError, WritableSectionNotSupportedError,
    WrongAbiError, WrongMachineError, WrongTypeError,
)
from tbpf.hashing import symbol_hash
from tbpf.memory import MM_PROGRAM_START, MM_RODATA_START
from tbpf.syscalls import SyscallRegistry, solana_syscalls
from tbpf.versions import SBPFVersion

from vmtest import run_both

ELFS = Path(__file__).parent / "elfs"
SBPF_TESTS = ELFS / "sbpf-tests"
SOLANA = ELFS / "solana"
ALL_VERSIONS = frozenset(SBPFVersion)


def read(name: str) -> bytes:
    return (SBPF_TESTS / name).read_bytes()


def e_flags(data: bytes) -> int:
    return struct.unpack_from("<I", data, 48)[0]


def log_syscalls() -> SyscallRegistry:
    """The reference test loader's syscalls (``log``, ``log_64``), bodies irrelevant here."""
    registry = SyscallRegistry()
    registry.register("log", lambda ctx, *a: 0)
    registry.register("log_64", lambda ctx, *a: 0)
    return registry


# --------------------------------------------------------------------------------------
# Every reference test ELF
# --------------------------------------------------------------------------------------

FAILING = {
    "bss_section_sbpfv0.so": (WritableSectionNotSupportedError,
                              "Found writable section (.bss) in ELF, read-write data not "
                              "supported"),
    "data_section_sbpfv0.so": (WritableSectionNotSupportedError,
                               "Found writable section (.data) in ELF, read-write data not "
                               "supported"),
    "long_section_name.so": (FailedToParseError,
                             "Failed to parse ELF file: Section or symbol name "
                             "`.bss.__rust_no_a` is longer than `16` bytes"),
    "long_dynamic_symbol_name_sbpfv0.so": (UnknownSymbolError, "Unknown symbol with index"),
    # The reference's tests/elf.rs expects InvalidProgramHeader (its PT_LOAD segments
    # are not in ascending p_vaddr order, SBPF_SPEC 8.2 step 5); so does Agave.
    "program_headers_overflow.so": (InvalidProgramHeaderError, "Invalid ELF program header"),
}
LOADING = sorted(p.name for p in SBPF_TESTS.glob("*.so") if p.name not in FAILING)


@pytest.mark.parametrize("name", sorted(FAILING))
@pytest.mark.parametrize("labels", [False, True], ids=["plain", "labels"])
def test_reference_elf_fails_as_expected(name, labels):
    cls, text = FAILING[name]
    with pytest.raises(cls) as info:
        load_elf(read(name), Config(enable_symbol_and_section_labels=labels),
                 syscalls=log_syscalls())
    assert str(info.value).startswith(text)


@pytest.mark.parametrize("name", LOADING)
@pytest.mark.parametrize("config", [Config(), Config(optimize_rodata=False),
                                    Config(enable_symbol_and_section_labels=True)],
                         ids=["default", "agave-rodata", "labels"])
def test_reference_elf_loads_and_verifies(name, config):
    data = read(name)
    exe = load_elf(data, config, syscalls=log_syscalls())
    assert exe.version == SBPFVersion(e_flags(data))
    assert exe.source_kind == "elf"
    assert 0 <= exe.entry_pc < exe.num_slots
    exe.verify()
    if exe.version.enable_lower_rodata_vaddr:
        assert exe.text_vaddr == MM_PROGRAM_START and exe.ro_vm_addr == MM_RODATA_START
    else:
        assert exe.ro_vm_addr >> 32 == 1 and exe.text_vaddr >> 32 == 1
        # The executed text is the relocated .text inside the read-only region.
        start = exe.text_vaddr - exe.ro_vm_addr
        assert exe.ro_data[start:start + len(exe.text)] == exe.text


def test_the_reference_elfs_cover_both_loaders():
    versions = {e_flags(read(name)) for name in LOADING}
    assert versions == {0, 3}
    assert len(LOADING) + len(FAILING) == 23


@pytest.mark.parametrize("name", sorted(p.name for p in SOLANA.glob("*.so")))
def test_solana_programs_load_and_verify(name):
    data = (SOLANA / name).read_bytes()
    exe = load_elf(data)
    assert exe.version is SBPFVersion.V0
    insns = exe.verify()
    assert sum(1 for i in insns if i is not None) > 100
    assert exe.labels.get(exe.entry_pc) == "entrypoint"
    # The entrypoint is registered under murmur3("entrypoint") (SBPF_SPEC 8.6).
    assert exe.functions.lookup_by_key(symbol_hash("entrypoint"))[1] == exe.entry_pc


@pytest.mark.parametrize("name", ["counter.so", "hello_world.so", "spl_memo-4.0.0.so",
                                  "spl_example_logging.so", "litesvm_clock_example.so"])
def test_solana_programs_load_with_the_agave_deploy_config(name):
    config = Config(reject_broken_elfs=True, optimize_rodata=False)
    exe = load_elf((SOLANA / name).read_bytes(), config, syscalls=solana_syscalls())
    # Agave maps [0x1_0000_0000, 0x1_0000_0000 + highest) zero-filled (SBPF_SPEC 8.7).
    assert exe.ro_vm_addr == MM_PROGRAM_START
    exe.verify()


def test_deploy_config_rejects_syscalls_the_vm_does_not_have():
    # spl_memo 1.0.0 still calls the long-removed sol_alloc_free_.
    with pytest.raises(UnresolvedSymbolError) as info:
        load_elf((SOLANA / "spl_memo-1.0.0.so").read_bytes(),
                 Config(reject_broken_elfs=True), syscalls=solana_syscalls())
    assert info.value.name == "sol_alloc_free_"
    # Without reject_broken_elfs it loads; the call fails only if it runs.
    load_elf((SOLANA / "spl_memo-1.0.0.so").read_bytes(), syscalls=solana_syscalls())


# --------------------------------------------------------------------------------------
# Worked examples of SBPF_SPEC 8.4-8.6
# --------------------------------------------------------------------------------------

def slot_imm(exe, pc):
    return struct.unpack_from("<i", exe.text, pc * 8 + 4)[0] & 0xFFFF_FFFF


def test_syscall_and_relative_relocation_example():
    exe = load_elf(read("syscall_reloc_64_32_sbpfv0.so"), syscalls=log_syscalls())
    lddw = slot_imm(exe, 0) | slot_imm(exe, 1) << 32
    assert lddw == 0x1_0000_0150
    assert slot_imm(exe, 3) == 0x6BF5C3FE == symbol_hash("log")


def test_data_pointer_relocation_quirk():
    # .data.rel.ro holds 00 00 00 00 40 01 00 00: the loader reads the upper word.
    exe = load_elf(read("reloc_64_relative_data_sbpfv0.so"))
    offset = 0x160 - (exe.ro_vm_addr - MM_PROGRAM_START)
    assert struct.unpack_from("<Q", exe.ro_data, offset)[0] == 0x1_0000_0140
    outcome = run_both(read("reloc_64_relative_data_sbpfv0.so"), kind="elf")
    assert outcome.result == 0x1_0000_0140 and outcome.compute_units == 3


def test_relative_call_registry_and_run():
    exe = load_elf(read("relative_call_sbpfv0.so"))
    assert exe.entry_pc == 4
    assert exe.functions.lookup_by_key(0x63852AFC)[1] == 0
    assert exe.functions.lookup_by_key(0x31F6352D)[1] == 13
    assert exe.functions.lookup_by_key(symbol_hash("entrypoint"))[1] == 4
    outcome = run_both(read("relative_call_sbpfv0.so"), kind="elf", input=bytes([1]))
    assert (outcome.result, outcome.compute_units) == (3, 16)


def test_strict_elf_maps_only_its_rodata_at_zero():
    exe = load_elf(read("rodata_section.so"))
    assert exe.ro_vm_addr == 0 and len(exe.ro_data) == 8
    assert run_both(read("rodata_section.so"), kind="elf").result == 42


@pytest.mark.parametrize("optimize", [True, False])
def test_rodata_region_modes(optimize):
    data = read("rodata_section_sbpfv0.so")
    exe = load_elf(data, Config(optimize_rodata=optimize))
    text_len = len(exe.text)
    if optimize:
        # Only [lowest, highest) of .text/.rodata, borrowed from the (relocated) file.
        assert exe.ro_vm_addr == MM_PROGRAM_START + 0x120
        image = exe.ro_data
    else:
        assert exe.ro_vm_addr == MM_PROGRAM_START
        assert exe.ro_data[:0x120] == bytes(0x120)  # zero-filled up to .text
        image = exe.ro_data[0x120:]
    assert image[:text_len] == exe.text  # the relocated .text...
    assert exe.text != data[0x120:0x120 + text_len]  # (its lddw was relocated)
    assert image[text_len:] == data[0x120 + text_len:0x120 + len(image)]  # ...then .rodata
    assert run_both(data, kind="elf", config=Config(optimize_rodata=optimize)).result == 42


# --------------------------------------------------------------------------------------
# Ports of the reference's tests/elf.rs
# --------------------------------------------------------------------------------------

STRICT = "strict_header.so"
INVALID_FILE_HEADER = "Failed to parse ELF file: invalid file header"


def strict_outcome(data: bytes) -> str:
    try:
        load_elf(data, syscalls=log_syscalls())
    except ELFError as err:
        return f"{err.kind}: {err}"
    return "ok"


def test_strict_header_labels():
    exe = load_elf(read(STRICT), Config(enable_symbol_and_section_labels=True))
    assert exe.functions.lookup_by_key(4) == ("entrypoint", 4)
    assert exe.labels[4] == "entrypoint"


def test_strict_header_byte_sweep():
    data = read(STRICT)
    expected = (["bad"] * 16 + ["ok"] * 2 + ["bad"] * 22 + ["ok"] * 8 + ["flags"] * 4
                + ["bad"] * 6 + ["ok"] * 6)
    for offset, want in enumerate(expected):
        mutated = bytearray(data)
        mutated[offset] = 0xAF
        got = strict_outcome(bytes(mutated))
        if want == "bad":
            assert got == f"FailedToParse: {INVALID_FILE_HEADER}", offset
        elif want == "flags":  # e_flags 0xAF... is a reserved version
            assert got.startswith("UnsupportedSBPFVersion"), offset
        else:
            assert got == "ok", offset


def test_strict_program_header_byte_sweep():
    data = read(STRICT)
    for header in (0, 1):
        for field in range(56):
            mutated = bytearray(data)
            mutated[64 + 56 * header + field] = 0xAF
            got = strict_outcome(bytes(mutated))
            if field < 48:
                assert got.startswith("InvalidProgramHeader"), (header, field)
            else:  # p_align is not checked
                assert got == "ok", (header, field)


def test_strict_header_rodata_segment_is_optional():
    data = read(STRICT)
    second = data[64 + 56:64 + 112]
    mutated = bytearray(data)
    mutated[56] = 1  # e_phnum
    mutated[64 + 8] = 0x40  # p_offset of the first (PF_R) header
    assert strict_outcome(bytes(mutated)) == f"FailedToParse: {INVALID_FILE_HEADER}"
    mutated[64:64 + 56] = second  # the bytecode header first...
    mutated[64 + 8] = 0x78  # ...right after the (now one-entry) table
    assert strict_outcome(bytes(mutated)) == "ok"


def test_strict_header_unaligned_segment_size():
    mutated = bytearray(read(STRICT))
    mutated[0x98] = 0x29
    mutated[0xA0] = 0x29
    assert strict_outcome(bytes(mutated)).startswith("InvalidProgramHeader")


@pytest.mark.parametrize("data", [b"", b"\x7fELF", bytes(51)], ids=["empty", "magic", "51"])
def test_files_too_short_for_e_flags(data):
    with pytest.raises(ValueOutOfBoundsError):
        load_elf(data)


def test_reserved_and_disabled_versions():
    data = bytearray(read(STRICT))
    data[48] = 0xFF
    with pytest.raises(UnsupportedSBPFVersionError):
        load_elf(bytes(data))
    with pytest.raises(UnsupportedSBPFVersionError):
        load_elf(read(STRICT), Config(enabled_sbpf_versions=frozenset({SBPFVersion.V0})))
    with pytest.raises(UnsupportedSBPFVersionError):
        load_elf(read("relative_call_sbpfv0.so"),
                 Config(enabled_sbpf_versions=frozenset({SBPFVersion.V3})))


def test_size_cap_is_checked_before_parsing():
    with pytest.raises(ProgramTooLargeError):
        load_elf(bytes(200), Config(max_elf_size=100))
    with pytest.raises(ProgramTooLargeError):
        load_elf(read("relative_call_sbpfv0.so"), Config(max_elf_size=1000))


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


REL_CALL = "relative_call_sbpfv0.so"


@pytest.mark.parametrize("offset,fmt,value,error", [
    (4, "<B", 1, FailedToParseError),          # ELFCLASS32: the parser rejects it first
    (5, "<B", 2, FailedToParseError),          # big endian
    (7, "<B", 1, WrongAbiError),
    (18, "<H", 42, WrongMachineError),
    (16, "<H", 2, WrongTypeError),             # ET_EXEC (ET_REL goes to the linker)
    (24, "<Q", 1, EntrypointOutOfBoundsError),
    (24, "<Q", (1 << 64) - 1, EntrypointOutOfBoundsError),
    (24, "<Q", 0x140 + 9, InvalidEntrypointError),
])
def test_validate_and_entrypoint(offset, fmt, value, error):
    with pytest.raises(error):
        load_elf(patched(read(REL_CALL), offset, fmt, value), syscalls=log_syscalls())


def test_machine_247_and_263_both_load():
    for machine in (247, 263):
        load_elf(patched(read(REL_CALL), 18, "<H", machine))


def test_entrypoint_moves_with_e_entry():
    exe = load_elf(patched(read(REL_CALL), 24, "<Q", 0x140 + 8))
    assert exe.entry_pc == 5


def text_section_header_offset(data: bytes) -> int:
    e_shoff = struct.unpack_from("<Q", data, 40)[0]
    shstrndx = struct.unpack_from("<H", data, 62)[0]
    shnum = struct.unpack_from("<H", data, 60)[0]
    strtab_off = struct.unpack_from("<Q", data, e_shoff + 64 * shstrndx + 24)[0]
    for i in range(shnum):
        name = struct.unpack_from("<I", data, e_shoff + 64 * i)[0]
        if data[strtab_off + name:].startswith(b".text\0"):
            return e_shoff + 64 * i
    raise AssertionError("no .text")


def test_text_section_at_region_boundary():
    data = read(REL_CALL)
    sh = text_section_header_offset(data)
    sh_addr = struct.unpack_from("<Q", data, sh + 16)[0]
    e_entry = struct.unpack_from("<Q", data, 24)[0]
    data = patched(data, sh + 16, "<Q", 1 << 32)
    data = patched(data, 24, "<Q", (1 << 32) + e_entry - sh_addr)
    with pytest.raises(ValueOutOfBoundsError):
        load_elf(data)


def test_reject_broken_elfs_requires_text_at_its_file_offset():
    data = read(REL_CALL)
    sh = text_section_header_offset(data)
    moved = patched(patched(data, sh + 16, "<Q", 0x128), 24, "<Q", 0x148)
    load_elf(moved)  # tolerated when executing...
    with pytest.raises(ValueOutOfBoundsError):  # ...but not when deploying
        load_elf(moved, Config(reject_broken_elfs=True))


@pytest.mark.parametrize("offset,imm,pc", [(0x164, -11, 8), (0x17C, 5, 11)])
def test_relative_call_out_of_bounds(offset, imm, pc):
    with pytest.raises(RelativeJumpOutOfBoundsError) as info:
        load_elf(patched(read(REL_CALL), offset, "<i", imm))
    assert info.value.pc == pc


def test_unresolved_syscall_with_reject_broken_elfs():
    config = Config(reject_broken_elfs=True, enabled_sbpf_versions=frozenset({SBPFVersion.V0}))
    with pytest.raises(UnresolvedSymbolError) as info:
        load_elf(read("syscall_reloc_64_32_sbpfv0.so"), config, syscalls=SyscallRegistry())
    err = info.value
    assert (err.name, err.slot, err.file_offset) == ("log", 39, 312)
    assert str(err) == "Unresolved symbol (log) at instruction #39 (ELF file offset 0x138)"
    load_elf(read("syscall_reloc_64_32_sbpfv0.so"), config, syscalls=log_syscalls())


def test_function_key_colliding_with_a_syscall():
    registry = SyscallRegistry()
    registry.register("evil", lambda ctx, *a: 0, key=0x63852AFC)  # murmur3(pc 0)
    with pytest.raises(SymbolHashCollisionError) as info:
        load_elf(read(REL_CALL), syscalls=registry)
    assert info.value.key == 0x63852AFC
    registry = SyscallRegistry()
    registry.register("entrypoint", lambda ctx, *a: 0)
    with pytest.raises(SymbolHashCollisionError):
        load_elf(read(REL_CALL), syscalls=registry)


@pytest.mark.parametrize("name", ["long_symbol_name_sbpfv0.so", "long_symbol_name.so"])
def test_long_symbol_names_become_labels(name):
    exe = load_elf(read(name), Config(enable_symbol_and_section_labels=True),
                   syscalls=log_syscalls())
    assert exe.functions.lookup_by_name("entrypoint") is not None
    lengths = [len(fname) for _key, (fname, _pc) in exe.functions.items()]
    assert any(n > 64 for n in lengths) and all(n <= 255 for n in lengths)


def test_stripped_strict_elf_loads_with_labels():
    # relative_call.so was stripped: an empty .strtab and no .symtab.
    exe = load_elf(read("relative_call.so"), Config(enable_symbol_and_section_labels=True))
    assert len(exe.functions) == 0 and exe.labels == {}


def test_load_elf_is_exported_and_accepts_buffers():
    data = read(REL_CALL)
    for form in (data, bytearray(data), memoryview(data)):
        assert tbpf.load_elf(form).entry_pc == 4


# --------------------------------------------------------------------------------------
# The CLI on ELF files
# --------------------------------------------------------------------------------------

def test_cli_verify_and_disasm_on_solana_program(capsys):
    from tbpf.cli import main
    path = str(SOLANA / "spl_memo-4.0.0.so")
    assert main(["verify", path]) == 0
    assert capsys.readouterr().out.startswith("OK: ")
    assert main(["disasm", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("entrypoint:\n")
    assert "syscall sol_log_" in out and "syscall sol_log_pubkey" in out


def test_cli_reports_loader_errors_in_one_line(capsys):
    from tbpf.cli import main
    assert main(["run", str(SBPF_TESTS / "long_section_name.so")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["tbpf: error: FailedToParse: Failed to parse ELF file: Section or symbol "
                   "name `.bss.__rust_no_a` is longer than `16` bytes"]


def test_cli_verify_shows_the_offending_instruction(tmp_path, capsys):
    from tbpf.cli import main
    data = bytearray(read("reloc_64_64_sbpfv0.so"))
    exe = load_elf(bytes(data))
    text_offset = 0x120  # .text of this file; slot 2 is the exit
    assert exe.text[16] == 0x95 and data[text_offset + 16] == 0x95
    data[text_offset + 16] = 0xFF  # not an opcode
    path = tmp_path / "bad.so"
    path.write_bytes(bytes(data))
    assert main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "FAILED: UnknownOpCode: unknown eBPF opcode 0xff (insn #2)"
    assert "at pc 2: unknown opcode=0xff" in out


# --------------------------------------------------------------------------------------
# Fidelity details found while reviewing the loader against the reference
# --------------------------------------------------------------------------------------

def test_segment_end_overflow_is_checked_before_containment():
    # DT_REL (0x260) lies in the third segment. The reference computes p_vaddr + p_memsz
    # of every header it walks past, so an overflowing non-LOAD header before it fails
    # the load with ValueOutOfBounds even though it does not contain DT_REL.
    data = read("syscall_reloc_64_32_sbpfv0.so")
    first = 64
    data = patched(data, first, "<I", 4)  # PT_NOTE: skipped by the PT_LOAD order check
    data = patched(data, first + 16, "<Q", (1 << 64) - 8)  # p_vaddr
    data = patched(data, first + 40, "<Q", 16)  # p_memsz: the end overflows
    with pytest.raises(ValueOutOfBoundsError):
        load_elf(data, syscalls=log_syscalls())


def test_relative_call_to_the_entrypoint_is_keyed_by_pc():
    # The pc-relative pass keys every target by murmur3(pc), even the function whose
    # symbol is "entrypoint" (only the dynamic-symbol path keys by name).
    from elfgen import ObjectBuilder, slot
    from tbpf.isa import CALL_IMM_OPCODE, EXIT_OPCODE
    from tbpf.linker import link_objects
    b = ObjectBuilder()
    b.function("helper", slot(CALL_IMM_OPCODE, 0, 1, 0, -1) + slot(EXIT_OPCODE))
    b.reloc("text", 0, 10, "entrypoint")
    b.function("entrypoint", slot(EXIT_OPCODE))
    for labels in (False, True):
        exe = load_elf(link_objects([b.build()]),
                       Config(enable_symbol_and_section_labels=labels))
        assert exe.entry_pc == 2
        key = slot_imm(exe, 0)
        assert key == symbol_hash((2).to_bytes(8, "little"))
        assert exe.functions.lookup_by_key(key)[1] == 2


def test_strict_loader_ignores_e_type_even_et_rel():
    # Found by differential testing against the reference: its strict loader never
    # looks at e_type, so a v3 file that says ET_REL still loads. TBPF sends a file to
    # the linker only if it is ET_REL *and* has no program headers (a real object).
    data = patched(read(STRICT), 16, "<H", 1)
    exe = load_elf(data)
    assert exe.source_kind == "elf" and exe.version is SBPFVersion.V3
    # A v0 file with program headers that says ET_REL fails like in the reference...
    with pytest.raises(WrongTypeError):
        load_elf(patched(read(REL_CALL), 16, "<H", 1))
    # ...but without program headers it is taken for an object and handed to the linker.
    with pytest.raises(ELFError) as info:
        load_elf(patched(patched(read(REL_CALL), 16, "<H", 1), 56, "<H", 0))
    assert info.value.kind == "LinkError"

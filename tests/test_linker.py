"""The linker on objects from Debian's clang (``tests/c/*.c``), on both engines.

Each C program is compiled at test time (``clang -target bpf -mcpu=v1 -O2 -c``, the flags
of :data:`tbpf.linker.CLANG_FLAGS`) and run as a ``.o`` (linked in memory), as a linked
v0 ``.so`` and as a linked v3 ``.so``; every form must give the hand-computed result, the
same logs and the same compute units. The output files are also read back with
pyelftools (an independent ELF reader) to check their layout.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tbpf.cli import main
from tbpf.config import Config
from tbpf.elf import load_elf
from tbpf.errors import (
    LinkError, SyscallError, UndefinedSymbolError, UnresolvedSymbolError,
    UnsupportedInstructionError, UnsupportedRelocationError, WritableSectionNotSupportedError,
)
from tbpf.hashing import symbol_hash
from tbpf.isa import CALL_IMM_OPCODE, EXIT_OPCODE, InsnClass, JmpOp, Source
from tbpf.linker import CLANG_FLAGS, link_objects
from tbpf.memory import MM_PROGRAM_START
from tbpf.syscalls import solana_syscalls
from tbpf.versions import SBPFVersion

from elfgen import ADD64_IMM, MOV64_IMM, ObjectBuilder, slot
from vmtest import run_both

C_DIR = Path(__file__).parent / "c"
CALLX = InsnClass.JMP | JmpOp.CALL | Source.X


class Compiler:
    """Compiles ``tests/c/<name>.c`` once per flag set into a session temp dir."""

    def __init__(self, clang: str, out_dir: Path) -> None:
        self.clang = clang
        self.out_dir = out_dir
        self.cache: dict[tuple[str, tuple[str, ...]], bytes] = {}

    def __call__(self, name: str, *extra: str) -> bytes:
        key = (name, extra)
        if key not in self.cache:
            out = self.out_dir / f"{name}{''.join(extra).replace('=', '_')}.o"
            flags = [f for f in CLANG_FLAGS if not (f.startswith("-mcpu=") and
                                                    any(e.startswith("-mcpu=") for e in extra))]
            cmd = [self.clang, *flags, *extra, str(C_DIR / f"{name}.c"), "-o", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
            self.cache[key] = out.read_bytes()
        return self.cache[key]


@pytest.fixture(scope="session")
def cc(tmp_path_factory: pytest.TempPathFactory) -> Compiler:
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang is not installed (CI installs it): cannot build tests/c/*.c")
    probe = subprocess.run([clang, "-target", "bpf", "-print-targets"], capture_output=True,
                           text=True)
    if "bpf" not in probe.stdout:
        pytest.skip(f"{clang} has no BPF target")
    return Compiler(clang, tmp_path_factory.mktemp("c-objects"))


def forms(obj: bytes) -> dict[str, tuple[bytes, str]]:
    """The three ways to run an object: as itself, linked v0, linked v3."""
    return {"obj": (obj, "obj"), "v0": (link_objects([obj], version="v0"), "elf"),
            "v3": (link_objects([obj], version="v3"), "elf")}


def run_all_forms(obj: bytes, input_: bytes, **kwargs):
    outcomes = {}
    for name, (data, kind) in forms(obj).items():
        outcomes[name] = run_both(data, kind=kind, input=input_, **kwargs)
    first = outcomes["obj"]
    for name, outcome in outcomes.items():
        assert (outcome.result, outcome.logs, outcome.compute_units) == \
            (first.result, first.logs, first.compute_units), name
    return first


# --------------------------------------------------------------------------------------
# Programs that run
# --------------------------------------------------------------------------------------

PROG_CASES = [
    # input [op, a, b, n] -> op(a, b) * 1000 + (2 + 3 + 5 + ... first n primes)
    ([0, 5, 7, 4], 12 * 1000 + 17, "add", "0x0, 0x5, 0x7, 0xc, 0x11"),
    ([1, 5, 7, 8], 35 * 1000 + 77, "mul", "0x1, 0x5, 0x7, 0x23, 0x4d"),
    ([2, 9, 4, 2], 5 * 1000 + 5, "sub", "0x2, 0x9, 0x4, 0x5, 0x5"),
    ([4, 3, 3, 0], 9 * 1000, "mul", "0x1, 0x3, 0x3, 0x9, 0x0"),  # 4 % 3 = 1
]

FLAG_VARIANTS = {
    "default": (),
    "function-sections": ("-ffunction-sections", "-fdata-sections"),
    "pic": ("-fPIC",),           # pointer tables go to .data.rel.ro
    "mcpu-v2": ("-mcpu=v2",),
    "O1": ("-O1",),
}


@pytest.mark.parametrize("variant", sorted(FLAG_VARIANTS))
@pytest.mark.parametrize("case", range(len(PROG_CASES)))
def test_prog_runs_in_every_form(cc, variant, case):
    input_, result, op_name, dump = PROG_CASES[case]
    obj = cc("prog", *FLAG_VARIANTS[variant])
    outcome = run_all_forms(obj, bytes(input_))
    assert outcome.error is None
    assert outcome.result == result
    assert outcome.logs == ["Program log: hello from C", f"Program log: {op_name}",
                            f"Program log: {dump}"]


def test_prog_uses_what_it_is_meant_to_exercise(cc):
    """Guard against clang optimising the interesting parts away."""
    obj = cc("prog")
    exe = load_elf(link_objects([obj], version="v3"))
    ops = [exe.text[i] for i in range(0, len(exe.text), 8)]
    assert CALLX in ops  # the function pointer call survived
    syscall_keys = {struct.unpack_from("<I", exe.text, i + 4)[0]
                    for i in range(0, len(exe.text), 8)
                    if exe.text[i] == CALL_IMM_OPCODE and exe.text[i + 1] >> 4 == 0}
    assert syscall_keys == {symbol_hash("sol_log_"), symbol_hash("sol_log_64_")}
    internal = [i for i in range(0, len(exe.text), 8)
                if exe.text[i] == CALL_IMM_OPCODE and exe.text[i + 1] >> 4 == 1]
    assert len(internal) >= 3  # my_strlen twice, sum_primes (global)
    ro = link_objects([cc("prog", "-fPIC")])
    with io.BytesIO(cc("prog", "-fPIC")) as f:
        assert ELFFile(f).get_section_by_name(".data.rel.ro") is not None
    assert load_elf(ro).verify()


def test_two_objects_in_either_order(cc):
    main_o, lib_o = cc("multi_main"), cc("multi_lib")
    for objects in ([main_o, lib_o], [lib_o, main_o]):
        for version in ("v0", "v3"):
            data = link_objects(objects, version=version)
            for x, i, want in ((3, 2, 7 + 300), (0, 4, 1 + 100), (10, 3, 21 + 400)):
                assert run_both(data, kind="elf", input=bytes([x, i])).result == want


def test_recursion(cc):
    outcome = run_all_forms(cc("recursion"), bytes([12]))
    assert outcome.result == 144


def test_abort_syscall(cc):
    outcome = run_all_forms(cc("abort"), bytes([7]))
    assert isinstance(outcome.error, SyscallError) and outcome.error.inner_kind == "Abort"
    assert run_all_forms(cc("abort"), bytes([3])).result == 3


def test_unknown_syscall(cc):
    obj = cc("unknown_syscall")
    v0 = link_objects([obj], version="v0")
    with pytest.raises(UnresolvedSymbolError) as info:
        load_elf(v0, Config(reject_broken_elfs=True), syscalls=solana_syscalls())
    assert info.value.name == "not_a_registered_syscall"
    for data in (v0, link_objects([obj], version="v3"), obj):
        outcome = run_both(data, kind="elf", input=b"\x01")
        assert isinstance(outcome.error, UnsupportedInstructionError)


# --------------------------------------------------------------------------------------
# The output files
# --------------------------------------------------------------------------------------

def test_v0_output_layout(cc):
    data = link_objects([cc("prog")], version="v0")
    elf = ELFFile(io.BytesIO(data))
    assert elf["e_type"] == "ET_DYN" and elf["e_machine"] == "EM_BPF"
    assert elf["e_flags"] == 0
    names = [s.name for s in elf.iter_sections()]
    assert names == ["", ".text", ".rodata", ".dynamic", ".dynsym", ".dynstr", ".rel.dyn",
                     ".symtab", ".strtab", ".shstrtab"]
    for section in elf.iter_sections():
        if section["sh_flags"] & 2:  # SHF_ALLOC: what reject_broken_elfs looks at
            assert section["sh_addr"] == section["sh_offset"], section.name
    dynamic = {tag.entry.d_tag: tag.entry.d_val for tag in elf.get_section_by_name(
        ".dynamic").iter_tags()}
    assert dynamic["DT_RELENT"] == 16
    assert dynamic["DT_REL"] == elf.get_section_by_name(".rel.dyn")["sh_addr"]
    dynsym = {s.name for s in elf.get_section_by_name(".dynsym").iter_symbols()}
    assert {"entrypoint", "sol_log_", "sol_log_64_"} <= dynsym
    relocs = list(elf.get_section_by_name(".rel.dyn").iter_relocations())
    assert {r["r_info_type"] for r in relocs} == {8, 10}  # RELATIVE and 64_32
    exe = load_elf(data, Config(reject_broken_elfs=True, optimize_rodata=False),
                   syscalls=solana_syscalls())
    text = elf.get_section_by_name(".text")
    assert exe.text_vaddr == MM_PROGRAM_START + text["sh_addr"]
    assert exe.entry_pc == (elf["e_entry"] - text["sh_addr"]) // 8


def test_v3_output_layout(cc):
    data = link_objects([cc("prog")], version="v3")
    elf = ELFFile(io.BytesIO(data))
    assert elf["e_machine"] == "EM_BPF" and elf["e_flags"] == 3
    segments = [(s["p_type"], s["p_flags"], s["p_vaddr"]) for s in elf.iter_segments()]
    assert segments == [("PT_LOAD", 4, 0), ("PT_LOAD", 1, 1 << 32)]
    assert elf["e_entry"] >= 1 << 32
    exe = load_elf(data)
    assert exe.ro_vm_addr == 0 and len(exe.ro_data) % 8 == 0
    assert exe.ro_data[:8] == bytes(8)  # nothing lives at NULL
    for i in range(0, len(exe.text), 8):
        if exe.text[i] == CALLX:  # clang's register moved from imm to dst for v3
            assert exe.text[i + 1] & 0xF != 0 and exe.text[i + 4:i + 8] == bytes(4)
    assert "entrypoint" in exe.labels.values() and "sum_primes" in exe.labels.values()


@pytest.mark.parametrize("version", ["v0", "v3"])
def test_output_loads_under_every_config(cc, version):
    data = link_objects([cc("prog")], version=version)
    for config in (Config(), Config(optimize_rodata=False), Config(reject_broken_elfs=True),
                   Config(enable_symbol_and_section_labels=True)):
        outcome = run_both(data, kind="elf", input=bytes([1, 6, 7, 3]), config=config)
        assert outcome.result == 42 * 1000 + 10


# --------------------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,section,symbol", [("writable_data", ".data", "counter"),
                                                 ("writable_bss", ".bss", "scratch")])
def test_writable_globals_are_rejected(cc, name, section, symbol):
    obj = cc(name)
    for attempt in (lambda: link_objects([obj]), lambda: load_elf(obj)):
        with pytest.raises(WritableSectionNotSupportedError) as info:
            attempt()
        assert info.value.section == section
        assert f"`{symbol}`" in str(info.value) and "no writable globals" in str(info.value)


def test_common_symbols_are_rejected(cc):
    # -fcommon turns an uninitialised global into a COMMON symbol instead of .bss.
    with pytest.raises(WritableSectionNotSupportedError, match="scratch|no writable"):
        link_objects([cc("writable_bss", "-fcommon")])


def test_undefined_data_is_rejected(cc):
    with pytest.raises(UndefinedSymbolError) as info:
        link_objects([cc("undefined_data")])
    assert info.value.name == "missing_table"


def test_alu32_objects_are_rejected(cc):
    obj = cc("prog", "-mcpu=v3")
    with pytest.raises(LinkError, match="-mcpu=v1"):
        link_objects([obj])
    with pytest.raises(LinkError, match="32-bit ALU"):
        load_elf(obj)
    link_objects([obj], allow_alu32=True)


def test_duplicate_and_missing_symbols(cc):
    with pytest.raises(LinkError, match="defined in"):
        link_objects([cc("multi_lib"), cc("multi_lib"), cc("multi_main")])
    with pytest.raises(LinkError, match="entrypoint"):
        link_objects([cc("multi_lib")])
    with pytest.raises(LinkError, match="not a relocatable object"):
        link_objects([link_objects([cc("prog")])])


# --------------------------------------------------------------------------------------
# Hand-built objects (no clang needed)
# --------------------------------------------------------------------------------------

def test_unsupported_relocation_types():
    b = ObjectBuilder()
    b.function("entrypoint", slot(MOV64_IMM, 0, 0, 0, 1) + slot(EXIT_OPCODE))
    b.data("word", bytes(8))
    b.reloc("rodata", 0, 3, ".text")  # R_BPF_64_ABS32
    with pytest.raises(UnsupportedRelocationError) as info:
        link_objects([b.build()])
    assert info.value.rel_type == 3
    b.relocations[-1] = ("rodata", 0, 99, ".text")
    with pytest.raises(UnsupportedRelocationError):
        link_objects([b.build()])


def test_relocation_must_sit_on_the_right_instruction():
    b = ObjectBuilder()
    b.function("entrypoint", slot(MOV64_IMM, 0, 0, 0, 1) + slot(ADD64_IMM, 0, 0, 0, 1)
               + slot(EXIT_OPCODE))
    b.reloc("text", 0, 1, ".rodata")  # R_BPF_64_64 on a mov
    with pytest.raises(UnsupportedRelocationError, match="lddw"):
        link_objects([b.build()])
    b.relocations[-1] = ("text", 8, 10, "entrypoint")  # R_BPF_64_32 on an add
    with pytest.raises(UnsupportedRelocationError, match="call"):
        link_objects([b.build()])


def test_call_to_its_own_slot():
    # `f: call f` cannot be a pc-relative -1 in v0 (the loader reads -1 as unresolved):
    # the linker emits a dynamic symbol for it instead; v3 has no such escape.
    b = ObjectBuilder()
    b.function("entrypoint", slot(CALL_IMM_OPCODE, 0, 1, 0, -1) + slot(EXIT_OPCODE))
    b.reloc("text", 0, 10, "entrypoint")
    v0 = link_objects([b.build()], version="v0")
    outcome = run_both(v0, kind="elf", budget=1000)
    assert outcome.error is not None and outcome.error.kind == "CallDepthExceeded"
    with pytest.raises(LinkError, match="own instruction"):
        link_objects([b.build()], version="v3")


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------

def test_cli_link_run_verify_disasm(cc, tmp_path, capsys):
    obj = tmp_path / "prog.o"
    obj.write_bytes(cc("prog"))
    for version in ("v0", "v3"):
        so = tmp_path / f"prog_{version}.so"
        assert main(["link", str(obj), "-o", str(so), "--sbpf-version", version]) == 0
        assert capsys.readouterr().out.startswith(f"wrote {so}: sbpf {version}")
        assert main(["run", str(so), "--input-hex", "00050704"]) == 0
        out = capsys.readouterr().out
        assert "result: 12017 (0x2ef1)" in out and "Program log: hello from C" in out
        assert main(["verify", str(so)]) == 0
        assert capsys.readouterr().out.startswith("OK: ")
        assert main(["disasm", str(so)]) == 0
        listing = capsys.readouterr().out
        assert "entrypoint:\n" in listing and "sum_primes:\n" in listing
        assert "syscall sol_log_\n" in listing and "syscall sol_log_64_\n" in listing
        assert "call sum_primes\n" in listing and "callx r" in listing
    assert main(["run", str(obj), "--input-hex", "01050708"]) == 0
    assert "result: 35077" in capsys.readouterr().out
    assert main(["verify", str(obj)]) == 0


def test_cli_link_errors_are_one_line(cc, tmp_path, capsys):
    bad = tmp_path / "bad.o"
    bad.write_bytes(cc("writable_data"))
    assert main(["link", str(bad), "-o", str(tmp_path / "x.so")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tbpf: error: WritableSectionNotSupported: ")
    assert not (tmp_path / "x.so").exists()
    assert main(["link", str(tmp_path / "missing.o"), "-o", str(tmp_path / "y.so")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("in_dst", [False, True], ids=["llvm-imm", "llvm19-dst"])
@pytest.mark.parametrize("version", ["v0", "v3"])
def test_callx_register_from_either_llvm_encoding(in_dst, version):
    # entrypoint: lddw r3, &target; callx r3; exit.  target: mov r0, 42; exit
    from tbpf.isa import LDDW_OPCODE
    b = ObjectBuilder()
    callx = slot(CALLX, 3, 0, 0, 0) if in_dst else slot(CALLX, 0, 0, 0, 3)
    b.function("entrypoint", slot(LDDW_OPCODE, 3, 0, 0, 32) + slot(0) + callx
               + slot(EXIT_OPCODE))
    b.function("target", slot(MOV64_IMM, 0, 0, 0, 42) + slot(EXIT_OPCODE))
    b.reloc("text", 0, 1, ".text")  # lddw of .text + 32 (the addend in the immediate)
    data = link_objects([b.build()], version=version)
    exe = load_elf(data)
    callx_slot = exe.text[16:24]
    reg_field = callx_slot[1] & 0xF if version == "v3" else callx_slot[4]
    assert reg_field == 3
    assert run_both(data, kind="elf").result == 42

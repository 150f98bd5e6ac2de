"""Contract modules: the wire format (round trips, strict rejection of mutations) and the
deploy-time gate (bad contracts never reach storage), with assembly and ELF contracts."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import tbpf
from tbpf.chain import Chain
from tbpf.errors import (
    ContractError, ContractTooLargeError, InvalidContractError, InvalidEntryNameError,
    InvalidFlagError, ModuleFormatError, PayloadTooLargeError, TrailingBytesError,
    TruncatedPayloadError, UnknownDiscriminatorError,
)
from tbpf.runtime import (
    MAX_CODE_SIZE, DeployContractPayload, TBPFAsmModule, TBPFModule, TosVMModule,
    decode_module, default_syscalls, encode_module,
)
from tbpf.runtime.module import MAX_ENTRY_NAME
from tbpf.versions import SBPFVersion

from tos_helpers import ALICE, DATA, INPUT, asm, probe, results, unchanged

ELF_DIR = Path(__file__).parent / "elfs"

# --------------------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=40).filter(
    lambda s: 0 < len(s.encode("utf-8")) <= MAX_ENTRY_NAME)
modules = st.one_of(
    st.builds(TosVMModule, st.binary(max_size=64)),
    st.builds(TBPFModule, st.binary(max_size=64), st.none() | names),
    st.builds(TBPFAsmModule, st.text(max_size=64), st.sampled_from(list(SBPFVersion)),
              st.none() | names),
)


@given(modules)
def test_round_trip(module) -> None:  # type: ignore[no-untyped-def]
    wire = encode_module(module)
    assert decode_module(wire) == module
    assert DeployContractPayload.decode(wire) == DeployContractPayload(module)
    assert DeployContractPayload(module).encode() == wire


def test_wire_layout_is_documented_exactly() -> None:
    assert encode_module(TosVMModule(b"ab")) == b"\x00" + struct.pack("<I", 2) + b"ab"
    assert encode_module(TBPFModule(b"\x7fELF", None)) == (
        b"\x01" + struct.pack("<I", 4) + b"\x7fELF" + b"\x00")
    assert encode_module(TBPFModule(b"E", "main")) == (
        b"\x01" + struct.pack("<I", 1) + b"E" + b"\x01" + struct.pack("<I", 4) + b"main")
    assert encode_module(TBPFAsmModule("exit", SBPFVersion.V3, None)) == (
        b"\x02\x03" + struct.pack("<I", 4) + b"exit" + b"\x00")


@given(modules, st.data())
def test_every_truncation_is_rejected(module, data) -> None:  # type: ignore[no-untyped-def]
    wire = encode_module(module)
    cut = data.draw(st.integers(0, len(wire) - 1))
    with pytest.raises(TruncatedPayloadError):
        decode_module(wire[:cut])


@given(modules, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_are_rejected(module, extra) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TrailingBytesError):
        decode_module(encode_module(module) + extra)


@given(st.integers(3, 255), st.binary(max_size=16))
def test_unknown_discriminators(tag, rest) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownDiscriminatorError) as info:
        decode_module(bytes([tag]) + rest)
    assert info.value.value == tag


@given(modules, st.data())
def test_random_mutations_decode_canonically_or_fail_typed(module, data) -> None:  # type: ignore[no-untyped-def]
    wire = bytearray(encode_module(module))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        pos = data.draw(st.integers(0, len(wire)))
        if op == "flip" and pos < len(wire):
            wire[pos] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            wire[pos:pos] = bytes([data.draw(st.integers(0, 255))])
        elif pos < len(wire):
            del wire[pos]
    try:
        decoded = decode_module(bytes(wire))
    except ModuleFormatError:
        return
    # Whatever is accepted is canonical: it re-encodes to the very same bytes.
    assert encode_module(decoded) == bytes(wire)


@given(st.binary(max_size=64))
def test_random_bytes_decode_canonically_or_fail_typed(raw) -> None:  # type: ignore[no-untyped-def]
    try:
        decoded = decode_module(raw)
    except ModuleFormatError:
        return
    assert encode_module(decoded) == raw


@pytest.mark.parametrize("wire, error", [
    (b"\x01" + struct.pack("<I", MAX_CODE_SIZE + 1), PayloadTooLargeError),
    (b"\x00" + struct.pack("<I", 2**32 - 1) + b"x", PayloadTooLargeError),
    (b"\x01" + struct.pack("<I", 0) + b"\x02", InvalidFlagError),
    (b"\x01" + struct.pack("<I", 0) + b"\x01" + struct.pack("<I", 0), InvalidEntryNameError),
    (b"\x01" + struct.pack("<I", 0) + b"\x01" + struct.pack("<I", 2) + b"\xc3\x28",
     InvalidEntryNameError),
    (b"\x01" + struct.pack("<I", 0) + b"\x01" + struct.pack("<I", MAX_ENTRY_NAME + 1),
     PayloadTooLargeError),
    (b"\x02\x09" + struct.pack("<I", 0) + b"\x00", ModuleFormatError),
    (b"\x02\x00" + struct.pack("<I", 1) + b"\xff\x00", ModuleFormatError),
    (b"", TruncatedPayloadError),
], ids=["elf-too-large", "length-u32-max", "flag-2", "empty-name", "name-not-utf8",
        "name-too-long", "unknown-version", "asm-not-utf8", "empty"])
def test_malformed_payloads(wire: bytes, error: type) -> None:
    with pytest.raises(error):
        DeployContractPayload.decode(wire)


def test_encoder_refuses_what_the_decoder_would() -> None:
    with pytest.raises(PayloadTooLargeError):
        encode_module(TBPFModule(bytes(MAX_CODE_SIZE + 1)))
    with pytest.raises(InvalidEntryNameError):
        encode_module(TBPFModule(b"", ""))
    with pytest.raises(InvalidEntryNameError):
        encode_module(TBPFModule(b"", "x" * (MAX_ENTRY_NAME + 1)))


# --------------------------------------------------------------------------------------
# Deploy-time validation
# --------------------------------------------------------------------------------------

@pytest.fixture
def chain(tmp_path):  # type: ignore[no-untyped-def]
    c = Chain.open(tmp_path / "state", synchronous="NORMAL")
    assert c.fund(ALICE, 10**6).included
    yield c
    c.close()


@pytest.mark.parametrize("source, cause", [
    ("ja 5\nexit", "JumpOutOfCode"),
    ("syscall no_such_syscall\nexit", None),
    ("bogus r0", "AssemblerError"),
    ("mov64 r10, 1\nexit", "CannotWriteR10"),
], ids=["verifier", "unknown-syscall-v0", "assembler", "write-r10"])
def test_bad_assembly_never_reaches_storage(chain: Chain, source: str, cause: str | None) -> None:
    with unchanged(chain):
        tx = chain.deploy(TBPFAsmModule(source), sender=ALICE)
    assert not tx.included and isinstance(tx.error, InvalidContractError)
    if cause is not None:
        assert tx.error.cause is not None and tx.error.cause.kind == cause


def test_v3_unknown_static_syscall_is_refused(chain: Chain) -> None:
    with unchanged(chain):
        tx = chain.deploy(TBPFAsmModule("syscall no_such_syscall\nexit", SBPFVersion.V3))
    assert isinstance(tx.error, InvalidContractError)
    assert tx.error.cause is not None and tx.error.cause.kind == "InvalidSyscall"


def test_declared_entry_point_must_exist(chain: Chain) -> None:
    with unchanged(chain):
        tx = chain.deploy(TBPFAsmModule("exit", entry_point="missing"))
    assert isinstance(tx.error, InvalidContractError)
    assert tx.error.cause is not None and tx.error.cause.kind == "UnknownEntryPoint"


@given(st.binary(min_size=0, max_size=200))
def test_garbage_elf_is_refused_with_a_typed_error(raw: bytes) -> None:
    with pytest.raises(ContractError):
        DeployContractPayload(TBPFModule(raw)).validate(default_syscalls())


def test_oversized_elf_is_refused_before_parsing() -> None:
    with pytest.raises(ContractTooLargeError):
        DeployContractPayload(TBPFModule(bytes(MAX_CODE_SIZE + 1))).validate(
            default_syscalls())


def test_garbage_elf_never_reaches_storage(chain: Chain) -> None:
    with unchanged(chain):
        tx = chain.deploy(TBPFModule(b"\x7fELF" + bytes(100)))
    assert isinstance(tx.error, InvalidContractError)
    assert tx.error.cause is not None and tx.error.cause.kind == "FailedToParse"


def test_assembly_can_be_disabled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tbpf.runtime import RuntimeConfig
    with Chain.in_memory(config=RuntimeConfig(allow_assembly=False)) as c:
        tx = c.deploy(TBPFAsmModule("exit"))
        assert not tx.included and isinstance(tx.error, ContractError)


# --------------------------------------------------------------------------------------
# ELF contracts (built by TBPF's linker from objects; compiled by clang when present)
# --------------------------------------------------------------------------------------

def _object(functions: dict[str, list[str]]) -> bytes:
    """A relocatable object: ``call NAME`` lines become syscall relocations."""
    from elfgen import ObjectBuilder, slot
    from tbpf.elf import R_BPF_64_32
    from tbpf.isa import CALL_IMM_OPCODE
    b = ObjectBuilder()
    for name, lines in functions.items():
        start = len(b.text)
        code = bytearray()
        relocs = []
        for line in lines:
            if line.startswith("call "):
                b.extern(line[5:])
                relocs.append((start + len(code), line[5:]))
                code += slot(CALL_IMM_OPCODE, 0, 1, 0, -1)
            else:
                code += tbpf.assemble(line, "v0")
        b.function(name, bytes(code))
        for offset, target in relocs:
            b.reloc("text", offset, R_BPF_64_32, target)
    return b.build()


ECHO = {
    "entrypoint": ["mov64 r6, r2", "mov64 r1, r10", "sub64 r1, 64", "mov64 r2, 64",
                   "call get_input_data", "mov64 r1, r10", "sub64 r1, 64", "mov64 r2, r0",
                   "call set_return_data", "mov64 r1, r10", "sub64 r1, 64", "mov64 r2, r6",
                   "call log", "mov64 r0, 0", "exit"],
    "answer": ["mov64 r0, 42", "exit"],
}


@pytest.mark.parametrize("version", ["v0", "v3"])
def test_elf_contract_from_the_linker(chain: Chain, engine: str, version: str) -> None:
    from tbpf.linker import link_objects
    elf = link_objects([_object(ECHO)], version=version)
    tx = chain.deploy(TBPFModule(elf))
    assert tx.included, tx.error
    contract = tx.deploy.contract_hash
    r = chain.invoke(contract, engine=engine, input=b"hello elf").invoke
    assert r.success and r.return_data == b"hello elf", r.logs
    assert "Program log: hello elf" in r.logs
    answer = chain.invoke(contract, engine=engine, entry="answer").invoke
    assert answer.exit_code == 42 and not answer.success
    # The ELF is stored compressed and addressed by its module's sha256.
    import hashlib
    import zlib
    code_hash = tx.deploy.code_hash
    raw = chain.provider._db.execute("SELECT compressed FROM code WHERE code_hash = ?",
                                     (code_hash,)).fetchone()[0]
    assert hashlib.sha256(zlib.decompress(raw)).digest() == code_hash
    assert decode_module(zlib.decompress(raw)) == TBPFModule(elf)


def test_elf_with_a_declared_entry_point(chain: Chain, engine: str) -> None:
    from tbpf.linker import link_objects
    elf = link_objects([_object(ECHO)], version="v0")
    tx = chain.deploy(TBPFModule(elf, "answer"))
    assert tx.included, tx.error
    r = chain.invoke(tx.deploy.contract_hash, engine=engine).invoke
    assert r.exit_code == 42


def test_elf_calling_an_unknown_syscall_is_refused(chain: Chain) -> None:
    from tbpf.linker import link_objects
    elf = link_objects([_object({"entrypoint": ["call not_a_tos_syscall", "exit"]})])
    with unchanged(chain):
        tx = chain.deploy(TBPFModule(elf))
    assert isinstance(tx.error, InvalidContractError)
    assert tx.error.cause is not None and tx.error.cause.kind == "UnresolvedSymbol"


@given(st.data())
def test_mutated_elf_is_accepted_or_refused_with_a_typed_error(data) -> None:  # type: ignore[no-untyped-def]
    from tbpf.linker import link_objects
    elf = bytearray(_linked_echo(link_objects))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(elf) - 1))
        elf[pos] = data.draw(st.integers(0, 255))
    try:
        DeployContractPayload(TBPFModule(bytes(elf))).validate(default_syscalls())
    except ContractError:
        pass


_ECHO_ELF: bytes | None = None


def _linked_echo(link) -> bytes:  # type: ignore[no-untyped-def]
    global _ECHO_ELF
    if _ECHO_ELF is None:
        _ECHO_ELF = link([_object(ECHO)], version="v0")
    return _ECHO_ELF


COUNTER_C = r"""
typedef unsigned long u64;
typedef unsigned char u8;
extern u64 storage_read(const u8 *key, u64 klen, u8 *val, u64 cap);
extern u64 storage_write(const u8 *key, u64 klen, const u8 *val, u64 vlen);
extern u64 set_return_data(const u8 *p, u64 len);
extern u64 emit_event(const u8 *topics, u64 n, const u8 *data, u64 len);
static const u8 KEY[] = "count";

u64 entrypoint(const u8 *input, u64 len) {
    u64 count = 0;
    storage_read(KEY, 5, (u8 *)&count, 8);
    count += len >= 8 ? *(const u64 *)input : 1;
    storage_write(KEY, 5, (const u8 *)&count, 8);
    emit_event(KEY, 0, (const u8 *)&count, 8);
    set_return_data((const u8 *)&count, 8);
    return 0;
}
"""


@pytest.mark.clang
@pytest.mark.skipif(shutil.which("clang") is None, reason="needs clang -target bpf")
@pytest.mark.parametrize("version", ["v0", "v3"])
def test_clang_compiled_contract(chain: Chain, engine: str, version: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tbpf.linker import link_objects
    src = tmp_path / "counter.c"
    src.write_text(COUNTER_C)
    obj = tmp_path / "counter.o"
    subprocess.run(["clang", "-target", "bpf", "-mcpu=v1", "-O2", "-c", str(src), "-o",
                    str(obj)], check=True, capture_output=True)
    tx = chain.deploy(TBPFModule(link_objects([obj.read_bytes()], version=version)))
    assert tx.included, tx.error
    contract = tx.deploy.contract_hash
    first = chain.invoke(contract, engine=engine, input=(5).to_bytes(8, "little")).invoke
    second = chain.invoke(contract, engine=engine, input=(7).to_bytes(8, "little")).invoke
    assert first.success and second.success, (first.logs, second.logs)
    assert int.from_bytes(second.return_data, "little") == 12
    assert chain.provider.get_storage(contract, b"count") == (12).to_bytes(8, "little")
    assert [e.data for e in chain.provider.iter_events(contract)] == [
        (5).to_bytes(8, "little"), (12).to_bytes(8, "little")]
    # The second run read 8 value bytes more than the first (the key was absent).
    assert second.gas_used == first.gas_used + 8


def test_v3_assembly_contract(chain: Chain, engine: str) -> None:
    source = probe(("tos_storage_store", [INPUT, 1, INPUT + 1, 3]),
                   ("tos_storage_load", [INPUT, 1, DATA, 8]), dump=8)
    tx = chain.deploy(TBPFAsmModule(asm(source), SBPFVersion.V3))
    assert tx.included, tx.error
    r = chain.invoke(tx.deploy.contract_hash, engine=engine, input=b"kabc").invoke
    assert r.success, r.logs
    assert results(r.return_data, 8) == (b"abc" + bytes(5), [0, 3])

"""docs/migration.md: its C example builds and behaves as the text says, on both
engines (skipped without clang)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tbpf.build import build_contract
from tbpf.chain import Chain
from tbpf.errors import ClangNotFoundError
from tbpf.runtime import TBPFModule

DOC = Path(__file__).resolve().parent.parent / "docs" / "migration.md"


@pytest.fixture(scope="module")
def counter_so(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    (source,) = re.findall(r"```c\n(.*?)```", DOC.read_text(), re.S)
    path = tmp_path_factory.mktemp("migration") / "counter.c"
    path.write_text(source)
    try:
        result = build_contract([path])
    except ClangNotFoundError as exc:
        pytest.skip(f"needs clang: {exc}")
    assert result.warnings == ""
    return result.elf


def test_migration_counter(counter_so: bytes, engine: str) -> None:
    chain = Chain.in_memory()
    contract = chain.deploy(TBPFModule(counter_so)).deploy.contract_hash
    assert chain.invoke(contract, input=(5).to_bytes(8, "little"), engine=engine).included
    get = chain.invoke(contract, entry="get", engine=engine).invoke
    assert get.success and get.return_data.hex() == "0500000000000000"  # as the doc says
    assert chain.invoke(contract, input=b"\x05", engine=engine).invoke.exit_code == 1
    assert chain.invoke(contract, input=(2**64 - 5).to_bytes(8, "little"),
                        engine=engine).invoke.exit_code == 3

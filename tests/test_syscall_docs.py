"""``docs/syscalls.md`` is generated from the registry and the cost tables and is current."""

from __future__ import annotations

from pathlib import Path

from tbpf.syscall_docs import DOC_PATH, main, render
from tbpf.tos_syscalls import TOS_ALIASES, TOS_COSTS, tos_syscalls


def test_committed_file_matches_the_registry() -> None:
    assert DOC_PATH.read_text() == render(), "run: python -m tbpf.syscall_docs"
    assert main(["--check"]) == 0


def test_every_syscall_is_listed_with_its_hash() -> None:
    text = render()
    for syscall in tos_syscalls():
        row = next(line for line in text.splitlines()
                   if line.startswith(f"| `{syscall.name}` | `0x"))
        assert f"`{syscall.key:#010x}`" in row


def test_costs_come_from_the_table(tmp_path: Path) -> None:
    text = render()
    assert "| `tos_transfer` |" in text and f"| {TOS_COSTS.transfer} |" in text
    stale = tmp_path / "syscalls.md"
    stale.write_text(text.replace(str(TOS_COSTS.transfer), "1"))
    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--output", str(stale)]) == 0 and stale.read_text() == text


def test_aliases_are_documented() -> None:
    text = render()
    for alias, target in TOS_ALIASES.items():
        assert f"| `{alias}` |" in text and f"`{target}` |" in text


def test_runtime_doc_exists() -> None:
    doc = (DOC_PATH.parent / "runtime.md").read_text()
    for heading in ("Contract model", "Wire format", "Execution", "State", "CLI"):
        assert f"## {heading}" in doc

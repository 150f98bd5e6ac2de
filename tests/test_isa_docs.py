"""``docs/isa.md`` is rendered from the opcode table and the committed file is current."""

from __future__ import annotations

from pathlib import Path

from tbpf.isa import all_specs
from tbpf.isa_docs import DOC_PATH, main, render


def test_committed_file_matches_the_table():
    assert DOC_PATH.read_text() == render(), "run: python3 -m tbpf.isa_docs"
    assert main(["--check"]) == 0


def test_every_spec_has_one_row():
    rows = [line for line in render().splitlines() if line.startswith("| `0x")]
    assert len(rows) == len(all_specs())
    for spec in all_specs():
        assert any(row.startswith(f"| `{spec.opcode:#04x}` | `{spec.mnemonic}") for row in rows), \
            spec.mnemonic


def test_check_detects_a_stale_file(tmp_path: Path):
    stale = tmp_path / "isa.md"
    stale.write_text(render().replace("`0x07`", "`0x08`"))
    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--output", str(stale)]) == 0
    assert stale.read_text() == render()
    assert main(["--check", "--output", str(tmp_path / "missing.md")]) == 1

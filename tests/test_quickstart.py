"""docs/quickstart.md works as written: its shell blocks run, in order, in one bash
session in an empty directory, with this checkout's ``tbpf`` first on ``PATH`` and a
fresh ``HOME`` (no JIT cache, no state), as a new user would run them.

Blocks preceded by ``<!-- not run by tests/test_quickstart.py -->`` (installing clang
and TBPF) are skipped. The sample output in the ``text`` blocks must match what the
commands print (lines with ``...`` are abbreviated and not compared); the exact numbers
are compared only with the clang the documentation was written with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tbpf.build import find_clang
from tbpf.errors import ClangNotFoundError
from tbpf.examples_report import REFERENCE_CLANG

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "docs" / "quickstart.md"
SKIP_MARKER = "<!-- not run by tests/test_quickstart.py -->"


def blocks(text: str) -> list[tuple[str, str, bool]]:
    """``(language, body, skipped)`` of every fenced block, in order."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```") and len(line) > 3:
            language = line[3:].strip()
            previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            body = []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            out.append((language, "\n".join(body), previous.strip() == SKIP_MARKER))
        i += 1
    return out


def test_block_parser() -> None:
    sample = f"x\n{SKIP_MARKER}\n```sh\nskip me\n```\n\n```sh\nrun\nme\n```\n```text\nout\n```\n"
    assert blocks(sample) == [("sh", "skip me", True), ("sh", "run\nme", False),
                              ("text", "out", False)]


def _clang() -> tuple[str | None, str]:
    try:
        clang = find_clang()
    except ClangNotFoundError:
        return None, ""
    version = subprocess.run([clang, "--version"], capture_output=True, text=True,
                             check=False).stdout.splitlines()
    return clang, version[0].strip() if version else ""


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    clang, version = _clang()
    if clang is None:
        pytest.skip("the quick start builds with clang, which is not installed (CI installs it)")
    all_blocks = blocks(QUICKSTART.read_text())
    script = [b for lang, b, skipped in all_blocks if lang == "sh" and not skipped]
    assert len(script) >= 4
    # The installation block is the only one skipped.
    assert sum(1 for lang, _, skipped in all_blocks if lang == "sh" and skipped) == 1

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "tbpf"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tbpf.cli "$@"\n')
    wrapper.chmod(0o755)
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TBPF_", "XDG_")) and k not in ("CLANG", "PYTHONPATH")}
    env.update(HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=str(REPO))
    proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + "\n".join(script)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    for expected in ("Program log: Hello, world!", "Program log: Hello, TOS!",
                     "Program log: greetings so far: 2", "status    failed: exit code 1"):
        assert expected in out, out
    assert proc.stderr == "", proc.stderr  # no warnings from clang, no errors
    assert (work / "greeter" / "greeter.so").is_file()
    assert (work / "greeter" / ".tbpf" / "state.db").is_file()
    if version != REFERENCE_CLANG:
        return
    for lang, body, _ in all_blocks:
        if lang != "text":
            continue
        for line in body.splitlines():
            if "..." not in line and line.strip():
                assert line in out, f"quickstart.md shows {line!r}, the commands print:\n{out}"

"""The committed example builds and their gas table are current.

* every ``examples/<name>/<name>.so`` is exactly what ``tbpf build`` makes of its
  source (with the reference clang; another clang version may emit other valid bytes,
  so the comparison is skipped, saying so, when the installed clang differs);
* builds are deterministic: the same source built in two other directories gives the
  same bytes, and no directory name ends up in the file;
* the gas table in ``examples/README.md`` is what the scenarios measure now.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tbpf.build import build_contract, find_clang
from tbpf.errors import ClangNotFoundError
from tbpf.examples_report import (
    EXAMPLES, README_PATH, REFERENCE_CLANG, example_so, example_source, render_table,
    update_readme,
)

from example_helpers import scenario


def _clang_version() -> str | None:
    try:
        clang = find_clang()
    except ClangNotFoundError:
        return None
    out = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0].strip() if out.stdout else ""


CLANG_VERSION = _clang_version()
needs_clang = pytest.mark.skipif(CLANG_VERSION is None,
                                 reason="clang is not installed (CI installs it with apt)")


@needs_clang
@pytest.mark.parametrize("name", EXAMPLES)
def test_committed_so_is_the_build_of_its_source(name: str) -> None:
    if CLANG_VERSION != REFERENCE_CLANG:
        pytest.skip(f"the committed builds come from {REFERENCE_CLANG!r}, this machine has "
                    f"{CLANG_VERSION!r}: bytes may legitimately differ")
    built = build_contract([example_source(name)])
    assert built.warnings == "", built.warnings
    assert built.elf == example_so(name).read_bytes(), (
        f"examples/{name}/{name}.so is stale: run python3 -m tbpf.examples_report --rebuild")


@needs_clang
def test_build_is_independent_of_the_directory(tmp_path: Path) -> None:
    builds = []
    for where in ("first/place", "second/deeper/place"):
        directory = tmp_path / where
        directory.mkdir(parents=True)
        source = directory / "token.c"
        shutil.copy(example_source("token"), source)
        builds.append(build_contract([source]).elf)
    assert builds[0] == builds[1]
    for fragment in (str(tmp_path), "first", "deeper", str(Path.home())):
        assert fragment.encode() not in builds[0], fragment


def test_gas_table_is_current() -> None:
    runs = [scenario(name, "interp") for name in EXAMPLES]
    current = README_PATH.read_text()
    assert update_readme(current, render_table(runs)) == current, (
        "examples/README.md is stale: run python3 -m tbpf.examples_report")


def test_every_example_is_documented_and_has_a_scenario() -> None:
    readme = README_PATH.read_text()
    for name in EXAMPLES:
        assert f"`{name}`" in readme
        assert example_source(name).is_file() and example_so(name).is_file()
        assert any(r.step.contract == name for r in scenario(name, "interp").results)

"""``tbpf build``: output paths, versions, include paths and defines, warnings on stderr,
one-line errors (no clang, compile errors, signed division, unknown syscalls, writable
globals) and the result running on both engines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tbpf.build import INSTALL_HINT, find_clang
from tbpf.chain import Chain
from tbpf.cli import main
from tbpf.errors import ClangNotFoundError
from tbpf.runtime import TBPFModule

HAVE_CLANG = True
try:
    find_clang()
except ClangNotFoundError:
    HAVE_CLANG = False
needs_clang = pytest.mark.skipif(not HAVE_CLANG, reason="clang is not installed (CI installs "
                                                        "it with apt)")

HELLO = """#include <tos/tos.h>
TOS_ENTRY(entrypoint) { TOS_LOG(GREETING); return 0; }
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_missing_clang_is_one_line_naming_apt(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CLANG", raising=False)
    source = _write(tmp_path, "hello.c", HELLO)
    assert main(["build", str(source)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install clang" in err
    assert err == f"tbpf: error: {INSTALL_HINT}\n"
    assert not source.with_suffix(".so").exists()


def test_explicit_clang_that_does_not_exist(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path, "hello.c", HELLO)
    assert main(["build", str(source), "--clang", str(tmp_path / "no-clang")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install clang" in err


def test_missing_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(tmp_path / "nope.c")]) == 2
    assert "cannot read" in capsys.readouterr().err


@needs_clang
def test_build_defines_includes_and_default_output(tmp_path: Path, engine: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    include = tmp_path / "include"
    include.mkdir()
    _write(include, "greeting.h", '#define GREETING "hello from a header"\n')
    source = _write(tmp_path, "hello.c", '#include "greeting.h"\n' + HELLO)
    assert main(["build", str(source), "-I", str(include)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {source.with_suffix('.so')}: sbpf v0, ")
    chain = Chain.in_memory()
    tx = chain.deploy(TBPFModule(source.with_suffix(".so").read_bytes()))
    result = chain.invoke(tx.deploy.contract_hash, engine=engine).invoke
    assert result.success and "Program log: hello from a header" in result.logs
    # -D wins over nothing; the header is not needed then.
    plain = _write(tmp_path, "plain.c", HELLO)
    assert main(["build", str(plain), "-D", 'GREETING="defined"', "-o",
                 str(tmp_path / "out" / "x.so")]) == 2  # the directory does not exist
    assert "cannot write" in capsys.readouterr().err
    assert main(["build", str(plain), "-D", 'GREETING="defined"', "-o",
                 str(tmp_path / "x.so"), "--sbpf-version", "v3"]) == 0
    data = (tmp_path / "x.so").read_bytes()
    assert data[48] == 3  # e_flags: v3
    tx = chain.deploy(TBPFModule(data))
    result = chain.invoke(tx.deploy.contract_hash, engine=engine).invoke
    assert result.success and "Program log: defined" in result.logs


@needs_clang
def test_warnings_pass_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path, "warn.c", "#include <tos/tos.h>\n"
                    "TOS_ENTRY(entrypoint) { u64 unused_thing = input_len; return 0; }\n")
    assert main(["build", str(source)]) == 0
    captured = capsys.readouterr()
    assert "warning: unused variable 'unused_thing'" in captured.err
    assert captured.out.startswith("wrote ")


@needs_clang
@pytest.mark.parametrize("body, message", [
    ("TOS_ENTRY(entrypoint) { return nope; }", "clang could not compile bad.c"),
    ("i64 f(i64 a, i64 b) { return a % b; }\n"
     "TOS_ENTRY(entrypoint) { return (u64)f((i64)input_len, -3); }", "tos_rem_i64"),
    ("u64 f(u64 a, u64 b) { return (u64)(((unsigned __int128)a * b) >> 64); }\n"
     "TOS_ENTRY(entrypoint) { return f(input_len, (u64)input); }", "__multi3"),
    ("typedef struct { u64 a, b; } pair;\n"
     "TOS_NOINLINE pair f(u64 x) { pair p = {x, x}; return p; }\n"
     "TOS_ENTRY(entrypoint) { return f(input_len).b; }", "pointer argument"),
    ("TOS_ENTRY(entrypoint) { double x = (double)input_len * 1.5; return (u64)x; }",
     "floating point"),
    ("extern u64 tos_lgo(const char *, u64);\n"
     "TOS_ENTRY(entrypoint) { tos_lgo(\"x\", 1); return 0; }", "tos_lgo"),
    ("static u64 calls;\n"
     "TOS_ENTRY(entrypoint) { calls += input_len; return calls; }", "calls"),
    ("TOS_ENTRY(start) { return 0; }", "entrypoint"),
], ids=["syntax", "signed-division", "int128", "struct-return", "float", "unknown-syscall",
        "writable-global", "no-entrypoint"])
def test_errors_end_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  body: str, message: str) -> None:
    source = _write(tmp_path, "bad.c", "#include <tos/tos.h>\n" + body + "\n")
    assert main(["build", str(source)]) == 2
    err = capsys.readouterr().err
    last = err.rstrip("\n").split("\n")[-1]
    assert last.startswith("tbpf: error: ") and message in last, err
    assert "Stack dump" not in err and "PLEASE submit" not in err
    assert not source.with_suffix(".so").exists()


@needs_clang
def test_entry_option(tmp_path: Path, engine: str) -> None:
    source = _write(tmp_path, "start.c", "#include <tos/tos.h>\n"
                    "TOS_ENTRY(start) { return 7; }\n")
    assert main(["build", str(source), "--entry", "start"]) == 0
    chain = Chain.in_memory()
    tx = chain.deploy(TBPFModule(source.with_suffix(".so").read_bytes()))
    assert chain.invoke(tx.deploy.contract_hash, engine=engine).invoke.exit_code == 7


@needs_clang
def test_sdk_include_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TBPF_SDK_INCLUDE", str(tmp_path / "nowhere"))
    source = _write(tmp_path, "hello.c", '#define GREETING "x"\n' + HELLO)
    assert main(["build", str(source)]) == 2
    last = capsys.readouterr().err.rstrip("\n").split("\n")[-1]
    assert "TBPF_SDK_INCLUDE" in last and "nowhere" in last
    sdk_copy = tmp_path / "sdk"
    shutil.copytree(Path(__file__).resolve().parent.parent / "sdk" / "c" / "include", sdk_copy)
    monkeypatch.setenv("TBPF_SDK_INCLUDE", str(sdk_copy))
    assert main(["build", str(source)]) == 0


@needs_clang
def test_several_sources_make_one_contract(tmp_path: Path, engine: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "lib.c", "#include <tos/tos.h>\n"
           "u64 triple(u64 x) { return 3 * x; }\n")
    main_c = _write(tmp_path, "main.c", "#include <tos/tos.h>\nu64 triple(u64 x);\n"
                    "TOS_ENTRY(entrypoint) { tos_return_u64(triple(input_len)); return 0; }\n")
    out = tmp_path / "both.so"
    assert main(["build", str(main_c), str(tmp_path / "lib.c"), "-o", str(out)]) == 0
    chain = Chain.in_memory()
    tx = chain.deploy(TBPFModule(out.read_bytes()))
    result = chain.invoke(tx.deploy.contract_hash, input=b"abcd", engine=engine).invoke
    assert result.success and result.return_data == (12).to_bytes(8, "little")


@needs_clang
def test_date_and_time_macros_are_flagged(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path, "stamp.c", "#include <tos/tos.h>\n"
                    "TOS_ENTRY(entrypoint) { TOS_LOG(__DATE__); return 0; }\n")
    assert main(["build", str(source)]) == 0
    assert "not reproducible" in capsys.readouterr().err

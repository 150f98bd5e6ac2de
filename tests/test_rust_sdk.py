"""The Rust SDK crate (``sdk/rust/tos-tbpf-sdk``): its generated syscall declarations
are current, and it type-checks on the host without network (``cargo check
--offline``; skipped, saying so, when cargo is absent). Building Rust contracts for sBPF
needs Solana's platform tools, which are not used here (see the crate's README)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tbpf import sdk_headers
from tbpf.tos_syscalls import tos_syscalls

CRATE = Path(__file__).resolve().parent.parent / "sdk" / "rust" / "tos-tbpf-sdk"


def test_generated_declarations_are_current() -> None:
    assert sdk_headers.RUST_PATH.read_text() == sdk_headers.render_rust(), (
        "sdk/rust/tos-tbpf-sdk/src/syscalls.rs is stale: run python -m tbpf.sdk_headers")
    text = sdk_headers.render_rust()
    for syscall in tos_syscalls():
        assert f"pub fn {syscall.name}(" in text, syscall.name


def test_crate_has_no_dependencies() -> None:
    manifest = (CRATE / "Cargo.toml").read_text()
    section = manifest.split("[dependencies]", 1)[1].split("\n[", 1)[0]
    assert [line for line in section.splitlines()
            if line.strip() and not line.strip().startswith("#")] == []
    assert "#![no_std]" in (CRATE / "src" / "lib.rs").read_text()
    assert "platform tools" in (CRATE / "README.md").read_text()


def _cargo_usable() -> bool:
    """cargo is on PATH *and* has a toolchain (a bare rustup proxy without a default
    toolchain is not a Rust installation)."""
    if shutil.which("cargo") is None:
        return False
    try:
        return subprocess.run(["cargo", "--version"], capture_output=True, timeout=60,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _cargo_usable(), reason="no usable cargo (not installed, or rustup "
                                                "without a default toolchain)")
def test_cargo_check_offline(tmp_path: Path) -> None:
    env = dict(os.environ, CARGO_TARGET_DIR=str(tmp_path / "target"), RUSTFLAGS="-D warnings",
               CARGO_NET_OFFLINE="true")
    start = time.monotonic()
    proc = subprocess.run(["cargo", "check", "--offline", "--lib", "--examples"], cwd=CRATE,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    print(f"cargo check took {elapsed:.1f} s")
    # No lock file or target directory left in the source tree.
    assert not (CRATE / "target").exists()

"""Rebuild ``probe.so`` from ``probe.c`` with clang and TBPF's linker (sBPF v0).

Run ``python3 tests/solana_probe/build_probe.py`` after editing ``probe.c`` and commit
both files; ``tests/test_solana.py`` checks that the committed ELF is what the source
builds to (when clang is installed).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "probe.c"
OUTPUT = HERE / "probe.so"


def build() -> bytes:
    """The probe's ELF bytes (deterministic: same source, same bytes)."""
    from tbpf.build import compile_c
    from tbpf.linker import link_objects
    obj, _warnings = compile_c(SOURCE)
    return link_objects([("probe.o", obj)], version="v0")


if __name__ == "__main__":
    OUTPUT.write_bytes(build())
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)", file=sys.stderr)

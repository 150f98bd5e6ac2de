"""Files generated from the code (docs, SDK declarations): write them, or check them.

Each generator module (``tbpf.isa_docs``, ``tbpf.syscall_docs``, ``tbpf.sdk_headers``)
renders its text and calls :func:`sync`; ``--check`` turns a stale committed file into
exit status 1, which the tests use so generated files cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["sync", "generated_file_main"]


def sync(path: Path, text: str, check: bool, command: str) -> bool:
    """Write ``text`` to ``path``, or with ``check`` report whether ``path`` is current.

    ``command`` is how to regenerate the file (named in the stale message).
    """
    if check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run {command}", file=sys.stderr)
            return False
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def generated_file_main(module: str, default_path: Path, render: Callable[[], str],
                        argv: Sequence[str] | None = None) -> int:
    """The ``main`` of a one-file generator: ``[--check] [--output PATH]``."""
    command = f"python -m {module}"
    parser = argparse.ArgumentParser(prog=command)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=default_path)
    args = parser.parse_args(argv)
    return 0 if sync(args.output, render(), args.check, command) else 1

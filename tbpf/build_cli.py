"""``tbpf build``: compile a C contract into an sBPF ``.so`` the TOS runtime accepts.

Plugged into :mod:`tbpf.cli` through :func:`add_command`; the work is done by
:func:`tbpf.build.build_contract` (clang with the flags that are correct under sBPF
semantics, the SDK include path, TBPF's linker, the deploy-time checks). clang's
warnings pass through to stderr; a missing clang or a failed compile is one
``tbpf: error: ...`` line (after clang's own diagnostics) and exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

__all__ = ["add_command", "cmd_build"]


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``build`` subcommand."""
    p = sub.add_parser(
        "build", help="compile a C contract to an sBPF .so (clang -target bpf + TBPF's linker)",
        description="Compile C sources with clang -target bpf -mcpu=v1 -O2 (the flags that "
                    "are correct under sBPF semantics) and the TOS C SDK (#include "
                    "<tos/tos.h>), link them with TBPF's linker and check the result as "
                    "the TOS runtime does at deploy time. Same source, same bytes.")
    p.add_argument("sources", nargs="+", metavar="SRC.c", help="C sources of one contract")
    p.add_argument("-o", "--output", help="the .so to write (default: the first source with "
                                          "a .so suffix)")
    p.add_argument("--sbpf-version", choices=("v0", "v3"), default="v0",
                   help="v0: dynamic relocations, the classic layout (default); v3: strict "
                        "headers, static syscalls")
    p.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                   help="add an include directory (searched before the SDK's)")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                   help="define a macro")
    p.add_argument("--entry", default="entrypoint",
                   help="the function execution starts at by default (default: entrypoint)")
    p.add_argument("--clang", help="the clang to run (default: $CLANG, then clang on PATH)")
    p.set_defaults(func=cmd_build)


def cmd_build(args: argparse.Namespace) -> int:
    """Build, write the ``.so`` and print a one-line summary."""
    from .build import build_contract
    from .cli import CommandError
    from .errors import BuildError

    sources = [Path(s) for s in args.sources]
    out = Path(args.output) if args.output else sources[0].with_suffix(".so")
    try:
        result = build_contract(sources, version=args.sbpf_version,
                                include_dirs=args.include_dirs, defines=args.defines,
                                entry=args.entry, clang=args.clang)
    except BuildError as err:
        if err.stderr:
            sys.stderr.write(err.stderr)
            sys.stderr.flush()
        raise CommandError(str(err)) from None
    if result.warnings:
        sys.stderr.write(result.warnings)
        sys.stderr.flush()
    try:
        out.write_bytes(result.elf)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(result.elf).hexdigest()
    print(f"wrote {out}: sbpf {result.version.label}, {result.instructions} instructions, "
          f"{len(result.elf)} bytes, sha256 {digest[:16]}")
    return 0

"""``tbpf link``: turn ``clang -target bpf -c`` objects into an sBPF ELF.

Plugged into :mod:`tbpf.cli` through :func:`add_command`. The linked file is loaded and
verified with TBPF's own loader before it is written, so a file that ``tbpf link``
writes is one ``tbpf run`` accepts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_command", "cmd_link"]


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``link`` subcommand."""
    p = sub.add_parser("link", help="link clang -target bpf objects (.o) into an sBPF .so",
                       description="Link relocatable BPF objects (clang -target bpf "
                                   "-mcpu=v1 -O2 -c) into an sBPF ELF that the reference "
                                   "loader accepts.")
    p.add_argument("files", nargs="+", metavar="FILE", help="relocatable objects (.o)")
    p.add_argument("-o", "--output", required=True, help="the ELF file to write")
    p.add_argument("--sbpf-version", choices=("v0", "v3"), default="v0",
                   help="v0: dynamic relocations (default); v3: strict headers, static "
                        "syscalls")
    p.add_argument("--entry", default="entrypoint",
                   help="the function execution starts at (default: entrypoint)")
    p.add_argument("--allow-alu32", action="store_true",
                   help="accept 32-bit ALU instructions (only for code written for sBPF's "
                        "sign-extending 32-bit arithmetic)")
    p.set_defaults(func=cmd_link)


def cmd_link(args: argparse.Namespace) -> int:
    """Link, check that TBPF loads and verifies the result, write it."""
    from .cli import CommandError, read_program_file
    from .config import Config
    from .elf import load_elf
    from .linker import link_objects
    from .versions import SBPFVersion

    objects = [(path, read_program_file(path)) for path in args.files]
    data = link_objects(objects, version=args.sbpf_version, entry=args.entry,
                        allow_alu32=args.allow_alu32)
    exe = load_elf(data, Config(enabled_sbpf_versions=frozenset(SBPFVersion),
                                max_elf_size=max(len(data), Config().max_elf_size)))
    insns = exe.verify()
    out = Path(args.output)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    n = sum(1 for i in insns if i is not None)
    print(f"wrote {out}: sbpf {exe.version.label}, {n} instructions, "
          f"{len(data)} bytes, entry pc {exe.entry_pc}")
    return 0

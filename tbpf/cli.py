"""The ``tbpf`` command line.

Every command turns bad input into a one-line ``tbpf: error: ...`` message and a
non-zero exit status; a program that *runs* and faults is not an error of the command
(``tbpf run`` exits 0 and reports the fault). No command ever prints a Python traceback
for bad input.

Each command is a pair ``_add_<name>(subparsers)`` / ``cmd_<name>(args) -> int``; add
new commands the same way and list them in :data:`_COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from .config import DEFAULT_BUDGET, Config
from .errors import TBPFError
from .versions import parse_version

__all__ = ["main", "kind_from_path", "read_program_file", "CommandError"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_KIND_BY_SUFFIX = {".s": "asm", ".asm": "asm", ".bin": "raw", ".so": "elf", ".o": "obj",
                   ".elf": "elf"}


class CommandError(Exception):
    """Unusable input to a command: printed as one line, exit status 2."""


def kind_from_path(path: str, explicit: str | None = None) -> str:
    """The program kind of ``path`` (``--kind`` wins over the file extension)."""
    if explicit:
        return explicit
    kind = _KIND_BY_SUFFIX.get(Path(path).suffix.lower())
    if kind is None:
        raise CommandError(f"cannot tell the kind of {path!r} from its extension; "
                           f"use --kind asm|raw|elf|obj")
    return kind


def read_program_file(path: str) -> bytes:
    """Read a file, as a :class:`CommandError` if it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


def _version_arg(value: str) -> str:
    try:
        parse_version(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _budget_arg(value: str) -> int:
    try:
        budget = int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if not 0 <= budget < 1 << 64:
        raise argparse.ArgumentTypeError("budget must be a u64")
    return budget


def _load(path: str, kind: str, version: str, config: Config | None = None):  # type: ignore[no-untyped-def]
    from .syscalls import solana_syscalls
    from .vm import load_program
    data = read_program_file(path)
    syscalls = solana_syscalls()
    if kind == "asm":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 assembly text") from None
        return load_program(text, kind="asm", version=version, config=config,
                            syscalls=syscalls), syscalls
    return load_program(data, kind=kind, version=version, config=config,
                        syscalls=syscalls), syscalls


# --- run ------------------------------------------------------------------------------

def _add_run(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run a program (.s, .bin, .so, .o)")
    p.add_argument("file")
    p.add_argument("--kind", choices=("asm", "raw", "elf", "obj"),
                   help="program kind (default: from the extension)")
    p.add_argument("--engine", choices=("interp", "jit"), default="interp")
    p.add_argument("--sbpf-version", type=_version_arg, default="v0",
                   help="version for .s/.bin programs (ELF files carry theirs)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--input", metavar="FILE", help="bytes mapped at 0x4_0000_0000")
    group.add_argument("--input-hex", metavar="HEX", help="input bytes as hex")
    p.add_argument("--budget", type=_budget_arg, default=DEFAULT_BUDGET,
                   help=f"compute units (default {DEFAULT_BUDGET})")
    p.add_argument("--heap-size", type=int, default=None, help="heap bytes (default 32768)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """``tbpf run FILE``: load, verify and run; exit 0 even if the program faulted."""
    from .vm import run_executable
    kind = kind_from_path(args.file, args.kind)
    input_data = b""
    if args.input:
        input_data = read_program_file(args.input)
    elif args.input_hex:
        try:
            input_data = bytes.fromhex(args.input_hex)
        except ValueError:
            raise CommandError("--input-hex is not valid hex") from None
    config = Config(heap_size=args.heap_size) if args.heap_size is not None else None
    exe, syscalls = _load(args.file, kind, args.sbpf_version, config)
    outcome = run_executable(exe, engine=args.engine, input=input_data, budget=args.budget,
                             syscalls=syscalls)
    if args.json:
        print(json.dumps(outcome.to_json()))
        return EXIT_OK
    for line in outcome.logs:
        print(line)
    if outcome.error is None:
        print(f"result: {outcome.result} ({outcome.result:#x})")
    else:
        print(f"error: {outcome.error.kind} at pc {outcome.error.pc}: {outcome.error.message}")
    print(f"compute units: {outcome.compute_units}")
    print(f"engine: {outcome.engine}")
    return EXIT_OK


# --- asm / disasm / verify ------------------------------------------------------------

def _add_asm(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("asm", help="assemble a .s file into raw 8-byte slots")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="output file (default: FILE with .bin)")
    p.add_argument("--sbpf-version", type=_version_arg, default="v0")
    p.set_defaults(func=cmd_asm)


def cmd_asm(args: argparse.Namespace) -> int:
    """``tbpf asm FILE``: write the assembled slots."""
    from .assembler import assemble
    try:
        text = read_program_file(args.file).decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{args.file} is not UTF-8 assembly text") from None
    code = assemble(text, args.sbpf_version)
    out = Path(args.output or Path(args.file).with_suffix(".bin"))
    try:
        out.write_bytes(code)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {len(code) // 8} instructions to {out}")
    return EXIT_OK


def _add_disasm(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("disasm", help="disassemble a program (.bin, .so, .o, .s)")
    p.add_argument("file")
    p.add_argument("--kind", choices=("asm", "raw", "elf", "obj"))
    p.add_argument("--sbpf-version", type=_version_arg, default="v0")
    p.set_defaults(func=cmd_disasm)


def cmd_disasm(args: argparse.Namespace) -> int:
    """``tbpf disasm FILE``: print assembly with function labels and syscall names."""
    from .disassembler import disassemble_executable
    kind = kind_from_path(args.file, args.kind)
    exe, syscalls = _load(args.file, kind, args.sbpf_version,
                          Config(enable_symbol_and_section_labels=True))
    sys.stdout.write(disassemble_executable(exe, _all_known_syscalls(syscalls)))
    return EXIT_OK


def _all_known_syscalls(base):  # type: ignore[no-untyped-def]
    """Solana syscalls plus the TOS ones (if the runtime is present) for naming."""
    try:
        from .tos_syscalls import tos_syscalls  # type: ignore[import-not-found]
    except ImportError:
        return base
    try:
        return base.merged(tos_syscalls())
    except ValueError:
        return base


def _add_verify(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("verify", help="load and verify a program; print OK or the error")
    p.add_argument("file")
    p.add_argument("--kind", choices=("asm", "raw", "elf", "obj"))
    p.add_argument("--sbpf-version", type=_version_arg, default="v0")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """``tbpf verify FILE``: exit 0 and print OK, or exit 1 with the error and the
    disassembled offending instruction."""
    from .disassembler import format_insn
    from .errors import VerifierError
    from .isa import decode_program
    kind = kind_from_path(args.file, args.kind)
    exe, syscalls = _load(args.file, kind, args.sbpf_version)
    try:
        insns = exe.verify()
    except VerifierError as err:
        print(f"FAILED: {err.kind}: {err}")
        if err.pc is not None:
            decoded = decode_program(exe.text, exe.version)
            pc = err.pc if err.pc < len(decoded) else len(decoded) - 1
            while pc > 0 and decoded[pc] is None:
                pc -= 1
            insn = decoded[pc] if decoded else None
            if insn is not None:
                print(f"  at pc {err.pc}: {format_insn(insn, exe.version, syscalls=syscalls)}")
        return EXIT_FAILURE
    n = sum(1 for i in insns if i is not None)
    print(f"OK: {n} instructions, sbpf {exe.version.label}, entry pc {exe.entry_pc}")
    return EXIT_OK


# --- conformance ----------------------------------------------------------------------

def _add_conformance(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("conformance", help="run conformance vectors (.jsonl files)")
    p.add_argument("target", help="a .jsonl file or a directory of them")
    p.add_argument("--engine", action="append", choices=("interp", "jit"),
                   help="engine(s) to run (default: every engine this checkout has)")
    p.add_argument("--show-failures", type=int, default=20, metavar="N",
                   help="print the first N failures (default 20)")
    p.set_defaults(func=cmd_conformance)


def cmd_conformance(args: argparse.Namespace) -> int:
    """``tbpf conformance DIR|FILE``: a pass/fail table per file and engine."""
    from rich.console import Console
    from rich.table import Table

    from .conformance import available_engines, iter_case_files, load_cases, run_case
    engines = args.engine or available_engines()
    files = list(iter_case_files(args.target))
    if not files or not all(f.exists() for f in files):
        raise CommandError(f"no .jsonl vectors at {args.target}")
    table = Table(title="conformance")
    for column in ("file", "engine", "cases", "passed", "failed", "skipped"):
        table.add_column(column, justify="left" if column in ("file", "engine") else "right")
    failures: list[str] = []
    any_failed = False
    for path in files:
        try:
            cases = load_cases(path)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        engine_independent = all(c.category != "execution" for c in cases)
        for engine in (engines[:1] if engine_independent else engines):
            passed = failed = skipped = 0
            for case in cases:
                result = run_case(case, engine)
                if result.skipped:
                    skipped += 1
                elif result.passed:
                    passed += 1
                else:
                    failed += 1
                    failures.append(f"{engine} {case.id}: {result.detail}")
            any_failed |= failed > 0
            table.add_row(path.name, engine if not engine_independent else "-",
                          str(len(cases)), str(passed), str(failed), str(skipped))
    console = Console()
    console.print(table)
    for line in failures[: args.show_failures]:
        console.print(f"[red]FAIL[/red] {line}", markup=True, highlight=False)
    return EXIT_FAILURE if any_failed else EXIT_OK


# --- main -----------------------------------------------------------------------------

_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    _add_run, _add_asm, _add_disasm, _add_verify, _add_conformance,
]


def register_command(adder: Callable[[argparse._SubParsersAction], None]) -> None:  # type: ignore[type-arg]
    """Add a command defined in another module (used by the runtime, fuzzer, SDK)."""
    if adder not in _COMMANDS:
        _COMMANDS.append(adder)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered command."""
    from . import __version__
    _load_optional_commands()
    parser = argparse.ArgumentParser(prog="tbpf", description="TBPF: an sBPF VM for TOS")
    parser.add_argument("--version", action="version", version=f"tbpf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for adder in _COMMANDS:
        adder(sub)
    return parser


_OPTIONAL_COMMAND_MODULES = ("tbpf.linker_cli", "tbpf.fuzz_cli", "tbpf.chain_cli",
                             "tbpf.build_cli", "tbpf.solana_cli")


def _load_optional_commands() -> None:
    import importlib
    import importlib.util
    for name in _OPTIONAL_COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            module = importlib.import_module(name)
            register_command(module.add_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tbpf`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"tbpf: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TBPFError as exc:
        print(f"tbpf: error: {exc.kind}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tbpf: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

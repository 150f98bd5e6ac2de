"""Conformance runner: replay the reference VM's test vectors (JSON lines) on an engine.

The schema is the one of ``shared/conformance/README.md``: each line is a case with a
``kind`` (``asm``, ``bytes``, ``elf``), a program, input memory, a budget, the expected
r0 or error kind and the exact instruction count, plus the versions it holds for.
Assembler, disassembler and verifier files use the same fields with ``bytecode``,
``disassembly`` or a ``VerifierError:<kind>`` expectation. Any ``.jsonl`` file in that
schema can be dropped into a vector directory: the category of each case comes from what
it expects (or an explicit ``category``), not from code. TBPF extensions: a syscall
``impl`` of ``"solana"`` (the core Solana syscall of that name, with its cost) or
``"syscalls": "solana"`` (all of them), and ``config.heap_size``.

Execution cases run once per version in ``holds_for_versions`` (the version they were
recorded with first), with the exact budget and again with budget 1024 (the reference
harness does both). The small test syscalls the reference registers
(``bpf_syscall_string``, ``bpf_mem_frob``, ...) are implemented here, at cost 0.

Used by ``tbpf conformance`` and by the test suite.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .arith import U64_MASK
from .config import Config
from .errors import AccessType, AssemblerError, TBPFError, VerifierError
from .executable import Executable
from .syscalls import SyscallContext, SyscallRegistry
from .versions import SBPFVersion, parse_version

__all__ = ["Case", "CaseResult", "load_cases", "iter_case_files", "run_case", "test_syscalls",
           "case_config", "available_engines"]

_SECOND_BUDGET = 1024
_CATEGORIES = ("execution", "verifier", "assembler", "disassembler")


@dataclass
class Case:
    """One vector, as read from a JSON line."""

    raw: dict[str, object]
    file: str

    @property
    def id(self) -> str:
        """The case id."""
        return str(self.raw.get("id", "?"))

    @property
    def category(self) -> str:
        """``execution``, ``verifier``, ``assembler`` or ``disassembler``.

        Decided by an explicit ``category`` field, else by what the case expects
        (``VerifierError:<kind>``, ``bytecode`` or an ``AssemblerError``, ``disassembly``),
        else by the file name, else ``execution``: a new vector file needs no code and
        no particular name.
        """
        explicit = self.raw.get("category")
        if explicit in _CATEGORIES:
            return str(explicit)
        exp = self.expected
        error = str(exp.get("error") or "")
        if error.startswith("VerifierError:") or "verifier_message" in exp:
            return "verifier"
        if "bytecode" in exp or error == "AssemblerError":
            return "assembler"
        if "disassembly" in exp:
            return "disassembler"
        name = Path(self.file).stem
        for cat in ("execution", "verifier", "disassembler", "assembler"):
            if cat in name:
                return cat
        return "execution"

    @property
    def expected(self) -> dict[str, object]:
        """The ``expected`` object."""
        return dict(self.raw.get("expected") or {})  # type: ignore[arg-type]

    @property
    def versions(self) -> list[SBPFVersion]:
        """Versions to run: the recorded one first, then the others it holds for."""
        recorded = parse_version(str(self.raw.get("sbpf_version", "V0")))
        holds = [parse_version(v) for v in self.raw.get("holds_for_versions") or []]  # type: ignore[union-attr]
        if self.category != "execution":
            return [recorded]
        ordered = ([recorded] if recorded in holds else []) + [v for v in holds if v != recorded]
        return ordered


@dataclass
class CaseResult:
    """Outcome of one case on one engine (all versions and budgets it ran)."""

    case: Case
    engine: str
    passed: bool
    skipped: bool = False
    detail: str = ""
    runs: int = 0
    failures: list[str] = field(default_factory=list)


def available_engines() -> list[str]:
    """The engines this checkout can run (``interp``, plus ``jit`` when it is importable)."""
    import importlib.util
    engines = ["interp"]
    if importlib.util.find_spec("jit.engine") is not None \
            and importlib.util.find_spec("llvmlite") is not None:
        engines.append("jit")
    return engines


def load_cases(path: str | Path) -> list[Case]:
    """Read one ``.jsonl`` file (blank lines and lines starting with ``//`` are skipped).

    Raises:
        ValueError: a line that is not a JSON object (the message names the line).
    """
    p = Path(path)
    cases = []
    for number, line in enumerate(p.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p.name}:{number}: not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{p.name}:{number}: not a JSON object")
        cases.append(Case(raw, str(p)))
    return cases


def iter_case_files(target: str | Path) -> Iterator[Path]:
    """``target`` itself, or every ``*.jsonl`` under it (sorted)."""
    p = Path(target)
    if p.is_dir():
        yield from sorted(p.rglob("*.jsonl"))
    else:
        yield p


# --------------------------------------------------------------------------------------
# The reference test syscalls (anza-xyz/sbpf test_utils), all cost-free
# --------------------------------------------------------------------------------------

def _syscall_string(ctx: SyscallContext, vm_addr: int, length: int, *_: int) -> int:
    if length == 0:
        return 0
    raw = ctx.read(vm_addr, length)
    end = raw.find(b"\0")
    text = raw[: end if end >= 0 else len(raw)]
    try:
        ctx.log("log: " + text.decode("utf-8"))
    except UnicodeDecodeError:
        ctx.log("log: Invalid UTF-8 String")
    return 0


def _syscall_u64(ctx: SyscallContext, a: int, b: int, c: int, d: int, e: int) -> int:
    ctx.log(f"dump_64: {a:#x}, {b:#x}, {c:#x}, {d:#x}, {e:#x}")
    return 0


def _mem_frob(ctx: SyscallContext, vm_addr: int, length: int, *_: int) -> int:
    if length == 0:
        return 0
    view, offset = ctx.memory.translate(AccessType.STORE, vm_addr & U64_MASK, length)
    for i in range(offset, offset + length):
        view[i] ^= 0b101010
    return 0


def _gather_bytes(ctx: SyscallContext, a: int, b: int, c: int, d: int, e: int) -> int:
    return ((a << 32) | (b << 24) | (c << 16) | (d << 8) | e) & U64_MASK


def _str_cmp(ctx: SyscallContext, a: int, b: int, *_: int) -> int:
    if a == 0 or b == 0:
        return U64_MASK
    # Like the reference, only the first byte of each string is bounds-checked; the walk
    # then stays inside the host buffer (a byte past its end reads as 0).
    va, oa = ctx.memory.translate(AccessType.LOAD, a & U64_MASK, 1)
    vb, ob = ctx.memory.translate(AccessType.LOAD, b & U64_MASK, 1)

    def at(view: memoryview, i: int) -> int:
        return view[i] if i < len(view) else 0

    x, y = at(va, oa), at(vb, ob)
    while x == y and x != 0 and y != 0:
        oa += 1
        ob += 1
        x, y = at(va, oa), at(vb, ob)
    return x - y if x >= y else y - x


_TEST_SYSCALL_IMPLS = {
    "syscalls::SyscallString": _syscall_string,
    "SyscallString": _syscall_string,
    "syscalls::SyscallU64": _syscall_u64,
    "SyscallU64": _syscall_u64,
    "syscalls::SyscallMemFrob": _mem_frob,
    "SyscallMemFrob": _mem_frob,
    "syscalls::SyscallGatherBytes": _gather_bytes,
    "SyscallGatherBytes": _gather_bytes,
    "syscalls::SyscallStrCmp": _str_cmp,
    "SyscallStrCmp": _str_cmp,
}


def test_syscalls(specs: "Iterable[dict[str, str]] | str") -> SyscallRegistry:
    """A registry with the named syscalls (``[{"name", "impl"}]``).

    ``impl`` is a reference test syscall (``syscalls::SyscallString``...) or ``solana``:
    the core Solana syscall of that name (SBPF_SPEC 11, with its costs). ``specs`` may
    also be the string ``"solana"``: every core Solana syscall.

    Raises:
        KeyError: for an implementation this runner does not know.
    """
    from .syscalls import solana_syscalls
    if specs == "solana":
        return solana_syscalls()
    registry = SyscallRegistry()
    solana = None
    for spec in specs:
        if isinstance(spec, str):
            raise KeyError(f"syscall spec {spec!r} is not an object")
        impl = spec["impl"]
        if impl == "solana":
            solana = solana or solana_syscalls()
            found = solana.by_name(spec["name"])
            if found is None:
                raise KeyError(f"no core Solana syscall named {spec['name']!r}")
            registry.register(spec["name"], found.func)
        else:
            registry.register(spec["name"], _TEST_SYSCALL_IMPLS[impl])
    return registry


test_syscalls.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def case_config(case: Case) -> Config | None:
    """The VM config a case needs, or ``None`` if it needs something TBPF does not offer."""
    cfg = dict(case.raw.get("config") or {})  # type: ignore[arg-type]
    if cfg.pop("enable_address_translation", True) is False:
        return None
    versions = cfg.pop("enabled_sbpf_versions", None)
    kwargs: dict[str, object] = {"heap_size": 0}  # the reference harness maps an empty heap
    if versions:
        lo, hi = (parse_version(v) for v in versions)
        kwargs["enabled_sbpf_versions"] = frozenset(
            v for v in SBPFVersion if lo <= v <= hi)
    for key in ("max_call_depth", "enable_stack_frame_gaps", "optimize_rodata",
                "enable_symbol_and_section_labels", "heap_size"):
        if key in cfg:
            kwargs[key] = cfg.pop(key)
    if cfg:
        return None
    return Config(**kwargs)  # type: ignore[arg-type]


def _program_bytes(case: Case) -> bytes:
    return base64.b64decode(str(case.raw["program"]))


def _load(case: Case, version: SBPFVersion, config: Config,
          syscalls: SyscallRegistry) -> Executable:
    kind = case.raw["kind"]
    from .vm import load_program
    if kind == "asm":
        return load_program(str(case.raw["program"]), kind="asm", version=version,
                            config=config, syscalls=syscalls)
    if kind == "bytes":
        return load_program(_program_bytes(case), kind="raw", version=version, config=config,
                            syscalls=syscalls)
    if kind == "elf":
        return load_program(_program_bytes(case), kind="elf", config=config, syscalls=syscalls)
    raise ValueError(f"unknown case kind {kind!r}")


def _run_execution(case: Case, engine: str, result: CaseResult) -> None:
    from .vm import run_executable
    config = case_config(case)
    if config is None or not case.versions:
        result.skipped, result.passed = True, True
        result.detail = "needs a configuration TBPF does not offer" if config is None \
            else "holds for no version"
        return
    exp = case.expected
    syscalls = test_syscalls(case.raw.get("syscalls") or [])  # type: ignore[arg-type]
    input_b64 = case.raw.get("input_memory")
    input_data = base64.b64decode(str(input_b64)) if input_b64 else b""
    writable = case.raw.get("input_writable")
    recorded = parse_version(str(case.raw.get("sbpf_version", "V0")))
    for version in case.versions:
        if case.raw["kind"] == "elf" and version != parse_version(str(case.raw["sbpf_version"])):
            continue  # an ELF file carries its version
        cfg = config
        if version not in cfg.enabled_sbpf_versions:
            cfg = cfg.with_(enabled_sbpf_versions=cfg.enabled_sbpf_versions | {version})
        try:
            exe = _load(case, version, cfg, syscalls)
        except TBPFError as err:
            result.failures.append(f"{version.label}: load failed: {err.kind}: {err}")
            continue
        budgets = [int(case.raw["instruction_budget"])]  # type: ignore[arg-type]
        if exp.get("error") != "ExceededMaxInstructions":
            budgets.append(_SECOND_BUDGET)
        for budget in budgets:
            outcome = run_executable(exe, engine=engine, input=input_data,
                                     input_writable=True if writable is None else bool(writable),
                                     budget=budget, syscalls=syscalls)
            result.runs += 1
            where = f"{version.label}/budget {budget}"
            want_err = exp.get("error")
            got_err = outcome.error.kind if outcome.error else None
            if got_err != want_err:
                result.failures.append(f"{where}: error {got_err} ({outcome.error}), "
                                       f"expected {want_err}")
                continue
            if want_err is None and outcome.result != exp.get("r0"):
                result.failures.append(f"{where}: r0 {outcome.result}, expected {exp.get('r0')}")
                continue
            if outcome.compute_units != exp.get("instruction_count"):
                result.failures.append(f"{where}: {outcome.compute_units} CUs, expected "
                                       f"{exp.get('instruction_count')}")
                continue
            # The payload was recorded for the recorded version only (the replay on other
            # versions compared the kind and the count).
            detail = case.raw.get("error_detail") if version == recorded else None
            if detail and outcome.error is not None and \
                    list(outcome.error.details()) != list(detail):  # type: ignore[arg-type]
                result.failures.append(f"{where}: error detail {list(outcome.error.details())}, "
                                       f"expected {detail}")
    result.passed = not result.failures


def _run_verifier(case: Case, result: CaseResult) -> None:
    from .verifier import verify, verify_local
    version = case.versions[0]
    want = case.expected.get("error")
    want_kind = str(want).split(":", 1)[1] if want else None
    syscalls = test_syscalls(case.raw.get("syscalls") or [])  # type: ignore[arg-type]
    try:
        if case.raw["kind"] == "asm":
            from .assembler import assemble
            text = assemble(str(case.raw["program"]), version)
        else:
            text = _program_bytes(case)
        if case.raw.get("verifier") == "LocalVerifier":
            verify_local(text, version, syscalls)
        else:
            verify(text, version)
        got = None
    except VerifierError as err:
        got = err.kind
        msg = str(case.expected.get("verifier_message") or "")
        if want_kind == got and msg and "(" in msg:
            args = msg[msg.index("(") + 1:-1]
            if args.isdigit() and err.pc is not None and int(args.split(",")[-1]) != err.pc \
                    and err.kind not in ("InvalidSyscall",):
                result.failures.append(f"pc {err.pc}, expected {msg}")
    except AssemblerError as err:
        got = f"AssemblerError: {err}"
    result.runs = 1
    if got != want_kind:
        result.failures.append(f"verifier said {got}, expected {want_kind}")
    result.passed = not result.failures


def _run_assembler(case: Case, result: CaseResult) -> None:
    from .assembler import assemble
    exp = case.expected
    result.runs = 1
    try:
        code = assemble(str(case.raw["program"]), case.versions[0])
    except AssemblerError as err:
        want = str(exp.get("error_message") or "")
        if exp.get("error") != "AssemblerError":
            result.failures.append(f"unexpected assembler error: {err}")
        elif want not in str(err):
            result.failures.append(f"message {str(err)!r} does not contain {want!r}")
    else:
        if exp.get("error"):
            result.failures.append("assembled, expected an assembler error")
        elif base64.b64encode(code).decode() != exp.get("bytecode"):
            result.failures.append(f"bytecode {code.hex()}, expected "
                                   f"{base64.b64decode(str(exp.get('bytecode'))).hex()}")
    result.passed = not result.failures


def _run_disassembler(case: Case, result: CaseResult) -> None:
    from .assembler import assemble_program
    from .disassembler import disassemble_executable
    result.runs = 1
    exe = assemble_program(str(case.raw["program"]), case.versions[0])
    text = disassemble_executable(exe)
    if text != case.expected.get("disassembly"):
        result.failures.append(f"got {text!r}, expected {case.expected.get('disassembly')!r}")
    result.passed = not result.failures


def run_case(case: Case, engine: str = "interp") -> CaseResult:
    """Run one case on ``engine`` (only execution cases depend on the engine).

    Never raises for a misbehaving program: every problem becomes a failure line.
    """
    result = CaseResult(case, engine, passed=False)
    try:
        category = case.category
        if category == "execution":
            _run_execution(case, engine, result)
        elif category == "verifier":
            _run_verifier(case, result)
        elif category == "assembler":
            _run_assembler(case, result)
        else:
            _run_disassembler(case, result)
    except (TBPFError, KeyError, ValueError, ImportError) as err:
        result.failures.append(f"{type(err).__name__}: {err}")
        result.passed = False
    result.detail = "; ".join(result.failures) or result.detail
    return result


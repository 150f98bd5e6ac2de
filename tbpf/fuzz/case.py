"""One fuzz case: a program plus everything needed to run it exactly the same way again.

A :class:`FuzzCase` is what the generators produce, what the differential runner runs on
two engines, what the minimizer shrinks, and what a reproducer file records (JSON, see
:meth:`FuzzCase.to_json`). Text programs (``smart``/``dumb`` kinds) are raw 8-byte slots
plus the pcs of their internal functions, registered like the assembler registers a
``function_<pc>`` label (key = pc), so :meth:`FuzzCase.to_asm` can write a ``.s`` file
that ``tbpf run`` assembles back to the very same text and registry.

This module owns the case record format (``tbpf-fuzz-case/1``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from ..assembler import assemble_program
from ..config import Config
from ..errors import TBPFError
from ..executable import Executable, FunctionRegistry
from ..isa import INSN_SIZE, Form, Insn, decode_program, decode_slot
from ..syscalls import SyscallRegistry
from ..versions import SBPFVersion, parse_version

__all__ = ["FuzzCase", "CASE_FORMAT", "text_to_asm"]

CASE_FORMAT = "tbpf-fuzz-case/1"
"""The ``format`` value of a case record."""


@dataclass(frozen=True)
class FuzzCase:
    """A program and its run parameters.

    Attributes:
        kind: the generator that made it: ``"smart"``, ``"dumb"`` or ``"elf"``.
        version: SBPF version of a text program (an ELF file carries its own; this is
            then only the version the mutated file claimed, informative).
        program: raw text slots (``program_kind == "raw"``) or a whole ELF/object file.
        program_kind: ``"raw"``, ``"elf"`` or ``"obj"``.
        function_pcs: slots registered as internal functions (key = pc, v0-v2 ``call``).
        input: bytes mapped at ``0x4_0000_0000``.
        input_writable: whether the program may write its input.
        budget: compute units.
        heap_size: heap bytes.
        seed: the case seed (``derive_seed(campaign seed, kind, index)``), if generated.
        registers: ``(index, value)`` presets of r0..r10 before entry (the API's
            ``registers=``; empty = the standard entry state). Only ``tbpf fuzz --replay``
            reproduces them (``tbpf run`` has no option for it).
        index: the case index inside its campaign, if generated.
        note: free text (e.g. which ELF file was mutated, and how).
    """

    kind: str
    version: SBPFVersion
    program: bytes
    program_kind: str = "raw"
    function_pcs: tuple[int, ...] = ()
    input: bytes = b""
    input_writable: bool = True
    budget: int = 10_000
    heap_size: int = 32 * 1024
    registers: tuple[tuple[int, int], ...] = ()
    seed: int | None = None
    index: int | None = None
    note: str = ""

    # --- building ---------------------------------------------------------------------
    def config(self) -> Config:
        """The VM configuration of the case."""
        return Config(heap_size=self.heap_size)

    def executable(self, syscalls: SyscallRegistry | None = None) -> Executable:
        """Load the program (not verified yet).

        Raises:
            ELFError: for an ``elf``/``obj`` program the loader rejects.
            SymbolHashCollisionError: for a text program whose registry collides.
        """
        if self.program_kind in ("elf", "obj"):
            from ..vm import load_program
            return load_program(self.program, kind=self.program_kind, config=self.config(),
                                syscalls=syscalls)
        functions = FunctionRegistry()
        for pc in self.function_pcs:
            functions.register(pc, f"function_{pc}", pc)
        return Executable.from_text_bytes(self.program, self.version, config=self.config(),
                                          syscalls=syscalls, functions=functions)

    @property
    def num_slots(self) -> int:
        """Slots of a text program."""
        return len(self.program) // INSN_SIZE

    def with_(self, **changes: Any) -> "FuzzCase":
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    # --- records ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON record (``format`` = :data:`CASE_FORMAT`)."""
        out: dict[str, Any] = {
            "format": CASE_FORMAT,
            "kind": self.kind,
            "sbpf_version": self.version.label,
            "program_kind": self.program_kind,
        }
        if self.program_kind == "raw":
            out["program_hex"] = self.program.hex()
        else:
            out["program_b64"] = base64.b64encode(self.program).decode()
        out.update({
            "function_pcs": list(self.function_pcs),
            "input_hex": self.input.hex(),
            "input_writable": self.input_writable,
            "budget": self.budget,
            "heap_size": self.heap_size,
            "registers": {str(i): v for i, v in self.registers},
            "seed": self.seed,
            "index": self.index,
            "note": self.note,
        })
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FuzzCase":
        """Read a record written by :meth:`to_json`.

        Raises:
            ValueError: not a case record, or a malformed field.
        """
        if data.get("format") != CASE_FORMAT:
            raise ValueError(f"not a {CASE_FORMAT} record (format={data.get('format')!r})")
        try:
            if "program_hex" in data:
                program = bytes.fromhex(str(data["program_hex"]))
            else:
                program = base64.b64decode(str(data["program_b64"]), validate=True)
            return cls(
                kind=str(data.get("kind", "smart")),
                version=parse_version(str(data.get("sbpf_version", "v0"))),
                program=program,
                program_kind=str(data.get("program_kind", "raw")),
                function_pcs=tuple(int(pc) for pc in data.get("function_pcs") or ()),
                input=bytes.fromhex(str(data.get("input_hex", ""))),
                input_writable=bool(data.get("input_writable", True)),
                budget=int(data.get("budget", 10_000)),
                heap_size=int(data.get("heap_size", 32 * 1024)),
                registers=tuple(sorted((int(i), int(v) & ((1 << 64) - 1)) for i, v in
                                       dict(data.get("registers") or {}).items())),
                seed=None if data.get("seed") is None else int(data["seed"]),
                index=None if data.get("index") is None else int(data["index"]),
                note=str(data.get("note", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed case record: {exc}") from None

    def run_args(self) -> list[str]:
        """The ``tbpf run`` options that reproduce this case's run parameters."""
        args = ["--budget", str(self.budget), "--heap-size", str(self.heap_size)]
        if self.program_kind == "raw":
            args[:0] = ["--sbpf-version", self.version.label]
        if self.input:
            args += ["--input-hex", self.input.hex()]
        return args

    def to_asm(self) -> str:
        """Assembly text that assembles back to exactly this text and registry.

        Raises:
            ValueError: for ELF cases (they have no assembly form).
        """
        if self.program_kind != "raw":
            raise ValueError("only text programs have an assembly form")
        return text_to_asm(self.program, self.version, self.function_pcs)


# --------------------------------------------------------------------------------------
# Assembly writer. The reference syntax has no comments and numeric jump offsets are
# raw offsets, so each slot can be written on its own; anything the syntax cannot say
# (unused fields that are not zero, odd call encodings, invalid slots) is written as a
# ``.fill 1, VALUE`` directive, which emits the exact 8 bytes.
# --------------------------------------------------------------------------------------

def _known_syscalls() -> SyscallRegistry:
    from ..syscalls import solana_syscalls
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = solana_syscalls()
    return _KNOWN


_KNOWN: SyscallRegistry | None = None


def _fill(text: bytes, pc: int) -> str:
    value = int.from_bytes(text[pc * INSN_SIZE:(pc + 1) * INSN_SIZE], "little")
    return f".fill 1, {value:#x}"


def _signed(off: int) -> str:
    return f"-{-off}" if off < 0 else f"+{off}"


def _format(insn: Insn, version: SBPFVersion, functions: set[int]) -> str | None:
    spec = insn.spec
    if spec is None:
        return None
    name, form = spec.mnemonic, spec.form
    d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
    if form is Form.LDDW:
        return f"lddw r{d}, {imm:#x}"
    if form is Form.ALU_IMM:
        return f"{name} r{d}, {imm}"
    if form is Form.ALU_REG:
        return f"{name} r{d}, r{s}"
    if form is Form.NEG:
        return f"{name} r{d}"
    if form is Form.ENDIAN:
        return f"{name}{imm} r{d}"
    if form is Form.LOAD:
        return f"{name} r{d}, [r{s}{_signed(off)}]"
    if form is Form.STORE_IMM:
        return f"{name} [r{d}{_signed(off)}], {imm}"
    if form is Form.STORE_REG:
        return f"{name} [r{d}{_signed(off)}], r{s}"
    if form is Form.JA:
        return f"{name} {off}"
    if form is Form.JUMP_IMM:
        return f"{name} r{d}, {imm}, {off}"
    if form is Form.JUMP_REG:
        return f"{name} r{d}, r{s}, {off}"
    if form is Form.CALL_IMM:
        if s == 0:
            syscall = _known_syscalls().get(imm)
            return f"syscall {syscall.name if syscall is not None else imm}"
        target = insn.pc + 1 + imm
        if spec.static_syscalls and s == 1 and target in functions:
            return f"call function_{target}"
        return None
    if form is Form.CALL_REG:
        reg = {"imm": imm, "src": s, "dst": d}[spec.callx_reg_field]
        return f"{name} r{reg}" if 0 <= reg <= 15 else None
    return name  # exit


def text_to_asm(text: bytes, version: SBPFVersion, function_pcs: tuple[int, ...] = ()) -> str:
    """Assembly for raw ``text`` whose functions are ``function_pcs`` (key = pc).

    The result is checked: it assembles to ``text`` and registers exactly the same
    function keys; slots the syntax cannot express are emitted as ``.fill``.
    """
    functions = set(function_pcs)
    decoded = decode_program(text, version)
    n_slots = len(text) // INSN_SIZE
    lines: dict[int, str] = {}
    pc = 0
    while pc < n_slots:
        insn = decoded[pc]
        line = _format(insn, version, functions) if insn is not None else None
        if insn is not None and insn.spec is not None and insn.spec.form is Form.CALL_IMM \
                and not version.static_syscalls and insn.src == 0 and insn.imm in functions:
            line = f"call function_{insn.imm}"
        if line is None or (insn is not None and insn.size_slots == 2
                            and (pc + 1 >= n_slots
                                 or decode_slot(text, pc + 1)[:4] != (0, 0, 0, 0))):
            lines[pc] = _fill(text, pc)
            pc += 1
            continue
        lines[pc] = line
        pc += insn.size_slots if insn is not None else 1
    for _attempt in range(3):
        asm = _render(lines, functions)
        bad = _mismatched_slots(asm, text, version, functions)
        if not bad:
            return asm
        for pc in bad:
            start = max(p for p in lines if p <= pc)
            if lines[start].startswith("lddw"):
                del lines[start]
                lines[start] = _fill(text, start)
                lines[start + 1] = _fill(text, start + 1)
            else:
                lines[start] = _fill(text, start)
    lines = {pc: _fill(text, pc) for pc in range(n_slots)}
    return _render(lines, functions)


def _render(lines: dict[int, str], functions: set[int]) -> str:
    out = []
    for pc in sorted(lines):
        if pc in functions and pc != 0:
            out.append(f"function_{pc}:")
        out.append(f"    {lines[pc]}")
    return "\n".join(out) + "\n"


def _mismatched_slots(asm: str, text: bytes, version: SBPFVersion,
                      functions: set[int]) -> list[int]:
    try:
        exe = assemble_program(asm, version)
    except TBPFError:
        return list(range(len(text) // INSN_SIZE))
    got = exe.text
    bad = [pc for pc in range(len(text) // INSN_SIZE)
           if got[pc * INSN_SIZE:(pc + 1) * INSN_SIZE] != text[pc * INSN_SIZE:(pc + 1) * INSN_SIZE]]
    if len(got) != len(text):
        bad = bad or [len(text) // INSN_SIZE - 1]
    registered = {pc for _key, (_name, pc) in exe.functions.items()}
    want = functions | {0}
    if not bad and registered != want and registered - want:
        bad = sorted(registered - want)
    return bad

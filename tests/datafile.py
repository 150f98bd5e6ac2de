"""Parser for uBPF-style VM test data files (STYLE.md section 9), extended for sBPF.

A data file is a sequence of sections, each introduced by a line ``-- <name>``::

    # a comment (``#`` starts a comment anywhere, in every section)
    -- asm                  assembly text (tbpf assembler syntax)
    mov32 r0, 1
    exit
    -- mem                  input region bytes, hex, whitespace ignored
    00 11 22 33
    -- result               expected r0 (decimal or 0x hex)
    0x1
    -- cu                   expected compute units
    2

Sections:

``asm`` or ``raw``
    The program, exactly one of them. ``raw`` lines are slots: either one ``0x``-prefixed
    64-bit value per line (the slot read as a little-endian u64, the uBPF convention, so
    the opcode is the lowest byte) or eight hex bytes in memory order.
``mem``
    Bytes mapped at ``0x4_0000_0000`` (r1 points there). Default: none.
``result`` or ``error``
    Exactly one of them. ``error`` is ``<Kind> pc=<n>`` (``pc=`` optional), optionally
    followed by a ``details:`` line listing the fault payload (access, address, size,
    region or frame; integers in decimal or hex).
``cu``
    Expected compute units (optional).
``version``
    ``v0`` (default) ... ``v4``.
``budget``
    Compute budget (default 200000).
``readonly``
    Present (empty) to map the input read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DataFile", "DataFileError", "parse_datafile", "load_datafile"]

_SECTIONS = {"asm", "raw", "mem", "result", "error", "cu", "version", "budget", "readonly"}


class DataFileError(ValueError):
    """A malformed data file (names the file and line)."""


@dataclass(frozen=True)
class DataFile:
    """One parsed test case.

    Attributes:
        name: file stem (used in test ids).
        kind: ``"asm"`` or ``"raw"``.
        program: assembly text, or the raw slot bytes.
        mem: input bytes.
        result: expected r0, or ``None`` if an error is expected.
        error: expected fault kind, or ``None``.
        error_pc: expected fault pc, or ``None`` if not given.
        error_details: expected ``ProgramFault.details()``, or ``None`` if not given.
        cu: expected compute units, or ``None``.
        version: SBPF version label.
        budget: compute budget.
        readonly: map the input read-only.
    """

    name: str
    kind: str
    program: str | bytes
    mem: bytes = b""
    result: int | None = None
    error: str | None = None
    error_pc: int | None = None
    error_details: tuple[object, ...] | None = None
    cu: int | None = None
    version: str = "v0"
    budget: int = 200_000
    readonly: bool = False
    sections: tuple[str, ...] = field(default=(), compare=False)


def _int(token: str, where: str) -> int:
    try:
        return int(token, 0)
    except ValueError:
        raise DataFileError(f"{where}: not an integer: {token!r}") from None


def _single_int(lines: list[tuple[int, str]], name: str, source: str) -> int:
    if len(lines) != 1 or len(lines[0][1].split()) != 1:
        raise DataFileError(f"{source}: section {name} must hold exactly one value")
    lineno, text = lines[0]
    return _int(text.strip(), f"{source}:{lineno}")


def _raw_slots(lines: list[tuple[int, str]], source: str) -> bytes:
    out = bytearray()
    for lineno, text in lines:
        tokens = text.split()
        where = f"{source}:{lineno}"
        if len(tokens) == 1 and tokens[0].lower().startswith("0x"):
            value = _int(tokens[0], where)
            if not 0 <= value < 1 << 64:
                raise DataFileError(f"{where}: slot value does not fit 64 bits")
            out += value.to_bytes(8, "little")
        elif len(tokens) == 8:
            try:
                out += bytes(int(t, 16) for t in tokens)
            except ValueError:
                raise DataFileError(f"{where}: bad hex byte in {text.strip()!r}") from None
        else:
            raise DataFileError(f"{where}: a raw slot is one 0x u64 or eight hex bytes")
    return bytes(out)


def _error(lines: list[tuple[int, str]], source: str) -> tuple[str, int | None,
                                                                tuple[object, ...] | None]:
    if not lines:
        raise DataFileError(f"{source}: empty error section")
    lineno, first = lines[0]
    tokens = first.split()
    kind = tokens[0]
    pc = None
    for token in tokens[1:]:
        if token.startswith("pc="):
            pc = _int(token[3:], f"{source}:{lineno}")
        else:
            raise DataFileError(f"{source}:{lineno}: unexpected {token!r} after the error kind")
    details = None
    for lineno, text in lines[1:]:
        if not text.startswith("details:"):
            raise DataFileError(f"{source}:{lineno}: expected 'details: ...'")
        values: list[object] = []
        for token in text[len("details:"):].split():
            try:
                values.append(int(token, 0))
            except ValueError:
                values.append(token)
        details = tuple(values)
    return kind, pc, details


def parse_datafile(text: str, name: str = "<data>") -> DataFile:
    """Parse the text of a data file.

    Raises:
        DataFileError: unknown or repeated sections, missing program or expectation,
            malformed values; the message names the line.
    """
    sections: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.split("#", 1)[0].rstrip()
        if line.startswith("--"):
            section = line[2:].strip()
            if section not in _SECTIONS:
                raise DataFileError(f"{name}:{lineno}: unknown section {section!r}")
            if section in sections:
                raise DataFileError(f"{name}:{lineno}: section {section!r} appears twice")
            sections[section] = []
            current = section
            continue
        if not line.strip():
            continue
        if current is None:
            raise DataFileError(f"{name}:{lineno}: text before the first section")
        sections[current].append((lineno, line.strip()))
    if ("asm" in sections) == ("raw" in sections):
        raise DataFileError(f"{name}: needs exactly one of '-- asm' and '-- raw'")
    if ("result" in sections) == ("error" in sections):
        raise DataFileError(f"{name}: needs exactly one of '-- result' and '-- error'")
    if "asm" in sections:
        kind, program = "asm", "\n".join(t for _, t in sections["asm"])
        if not program:
            raise DataFileError(f"{name}: empty asm section")
    else:
        kind, program = "raw", _raw_slots(sections["raw"], name)
    mem = b""
    if "mem" in sections:
        hex_text = "".join("".join(t.split()) for _, t in sections["mem"])
        try:
            mem = bytes.fromhex(hex_text)
        except ValueError:
            raise DataFileError(f"{name}: bad hex in the mem section") from None
    result = error = error_pc = error_details = None
    if "result" in sections:
        result = _single_int(sections["result"], "result", name)
    else:
        error, error_pc, error_details = _error(sections["error"], name)
    cu = _single_int(sections["cu"], "cu", name) if "cu" in sections else None
    budget = _single_int(sections["budget"], "budget", name) if "budget" in sections else 200_000
    version = "v0"
    if "version" in sections:
        lines = sections["version"]
        if len(lines) != 1 or lines[0][1] not in ("v0", "v1", "v2", "v3", "v4"):
            raise DataFileError(f"{name}: version must be one of v0..v4")
        version = lines[0][1]
    if "readonly" in sections and sections["readonly"]:
        raise DataFileError(f"{name}: the readonly section takes no value")
    return DataFile(name=name, kind=kind, program=program, mem=mem, result=result, error=error,
                    error_pc=error_pc, error_details=error_details, cu=cu, version=version,
                    budget=budget, readonly="readonly" in sections,
                    sections=tuple(sections))


def load_datafile(path: str | Path) -> DataFile:
    """Read and parse one ``.data`` file (its name is the file stem)."""
    p = Path(path)
    return parse_datafile(p.read_text(), p.stem)

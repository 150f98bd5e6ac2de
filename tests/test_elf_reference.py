"""Optional differential test: TBPF's loader against the reference loader itself.

Runs only when ``TBPF_SBPF_ELF_ORACLE`` names a built ``tools/elf_oracle`` binary (see its
README). It loads mutated ELFs (``tests/elfmutate.py``) with both loaders under four
configurations and requires the same outcome: the same error variant with the same
payload, or the same entry pc, text address and bytes, read-only region address and
bytes, and function registry. ``TBPF_ELF_ORACLE_CASES`` sets the number of cases (2,000).

Result when this was written (sbpf ``2510663``): 66,000 cases, no difference other than
TBPF linking ``ET_REL`` files without program headers (the reference: ``WrongType``),
which ``tests/test_elf.py`` pins.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tbpf.config import Config
from tbpf.elf import is_relocatable_object, load_elf
from tbpf.errors import ELFError
from tbpf.syscalls import SyscallRegistry
from tbpf.versions import SBPFVersion

from elfmutate import mutate
from test_elf_mutation import SEEDS

ORACLE = os.environ.get("TBPF_SBPF_ELF_ORACLE")
pytestmark = pytest.mark.skipif(
    not ORACLE, reason="set TBPF_SBPF_ELF_ORACLE to a built tools/elf_oracle binary")

SYSCALL_NAMES = ["log", "log_64", "sol_log_", "sol_log_64_", "abort", "sol_panic_",
                 "sol_log_pubkey", "sol_memcpy_"]
MODES = {0: Config(), 1: Config(reject_broken_elfs=True, optimize_rodata=False),
         2: Config(enable_symbol_and_section_labels=True),
         4: Config(enabled_sbpf_versions=frozenset({SBPFVersion.V3, SBPFVersion.V4}))}


def registry() -> SyscallRegistry:
    out = SyscallRegistry()
    for name in SYSCALL_NAMES:
        out.register(name, lambda ctx, *args: 0)
    return out


def fnv64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFF_FFFF_FFFF_FFFF
    return h


def rust_debug_str(text: str) -> str:
    """``text`` as Rust's ``{:?}`` prints a string."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def tbpf_line(data: bytes, mode: int, syscalls: SyscallRegistry) -> str:
    try:
        exe = load_elf(data, MODES[mode], syscalls=syscalls)
    except ELFError as err:
        args = {
            "FailedToParse": lambda: rust_debug_str(err.detail),
            "UnresolvedSymbol": lambda: f"{rust_debug_str(err.name)}, {err.slot}, "
                                        f"{err.file_offset}",
            "RelativeJumpOutOfBounds": lambda: str(err.pc),
            "SymbolHashCollision": lambda: str(err.key),
            "UnknownSymbol": lambda: str(err.index),
            "UnknownRelocation": lambda: str(err.rel_type),
            "InvalidVirtualAddress": lambda: str(err.address),
            "WritableSectionNotSupported": lambda: rust_debug_str(err.section),
        }.get(err.kind)
        return f"ERR {err.kind}" + (f"({args()})" if args else "")
    keys = sorted((key, pc) for key, (_name, pc) in exe.functions.items())
    return (f"OK {exe.entry_pc} {exe.text_vaddr:#x} {exe.ro_vm_addr:#x} {fnv64(exe.text):016x} "
            f"{len(exe.ro_data)} {fnv64(exe.ro_data):016x} {keys}")


def test_loader_agrees_with_the_reference(tmp_path: Path):
    n_cases = int(os.environ.get("TBPF_ELF_ORACLE_CASES", "2000"))
    rng = random.Random(20260821)
    seeds = sorted(name for name in SEEDS if not name.endswith(".o"))
    cases = []
    for i in range(n_cases):
        data, _used = mutate(rng, SEEDS[seeds[i % len(seeds)]])
        if is_relocatable_object(data) or len(data) > 1 << 20:
            continue  # TBPF links these; the reference rejects them (WrongType)
        path = tmp_path / f"case{i}.so"
        path.write_bytes(data)
        cases.append((path, list(MODES)[i % len(MODES)], data))
    request = "".join(f"{p} {mode} {' '.join(SYSCALL_NAMES)}\n" for p, mode, _ in cases)
    proc = subprocess.run([str(ORACLE)], input=request, capture_output=True, text=True,
                          check=True)
    answers = proc.stdout.splitlines()
    assert len(answers) == len(cases)
    syscalls = registry()
    differences: Counter[str] = Counter()
    first: dict[str, str] = {}
    for (path, mode, data), want in zip(cases, answers):
        got = tbpf_line(data, mode, syscalls)
        if got != want:
            key = re.sub(r"\(.*", "", want) + " / " + re.sub(r"\(.*", "", got)
            differences[key] += 1
            first.setdefault(key, f"{path} mode {mode}: reference {want!r}, TBPF {got!r}")
    assert not differences, "\n".join(f"{n} x {k}: {first[k]}" for k, n in
                                      differences.most_common())

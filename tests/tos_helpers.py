"""Helpers for the TOS runtime tests: assembly builders, chains, byte-identity checks.

Test contracts are sBPF v0 assembly, built from Python so that every syscall argument is
explicit: :func:`probe` emits one ``syscall`` per step with its arguments loaded by
``lddw`` (1 CU each), stores each result in its own stack slot, returns all results as
return data and exits 0. Straight-line code costs exactly one CU per instruction, so
:func:`straight_line_cost` plus the syscalls' charges is the exact gas of a run.
"""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path
from typing import Iterator, Sequence

from tbpf.chain import Chain, dev_address
from tbpf.runtime import SqliteProvider, TBPFAsmModule
from tbpf.tos_syscalls import TosCode

INPUT = 0x4_0000_0000
"""Guest address of the input region."""
STACK = 0x2_0000_0000
"""Guest address of stack frame 0 (4 KiB; results live at its top)."""
DATA = STACK + 0x400
"""Start of :func:`probe`'s output area in stack frame 0 (outputs, then results)."""
PROGRAM = 0x1_0000_0000
"""The read-only program region (a valid address that is not writable)."""
UNMAPPED = 0x10
"""An address in no region."""
ALICE = dev_address("alice")
BOB = dev_address("bob")


def asm(text: str) -> str:
    """Assembly with ``#`` comments and blank lines removed (the syntax has no comments)."""
    lines = []
    for line in text.splitlines():
        code = line.split("#", 1)[0].strip()
        if code:
            lines.append(code)
    return "\n".join(lines)


def load_args(args: Sequence[int | str]) -> list[str]:
    """Instructions putting ``args`` in r1..r5 (ints by ``lddw``, ``"rN"`` by ``mov64``)."""
    out = []
    for index, arg in enumerate(args, start=1):
        if isinstance(arg, str):
            out.append(f"mov64 r{index}, {arg}")
        else:
            out.append(f"lddw r{index}, {arg & (2**64 - 1):#x}")
    return out


def probe(*steps: tuple[str, Sequence[int | str]], dump: int = 0, exit_code: int = 0) -> str:
    """A contract making each ``(syscall, args)`` call and returning every r0 it got.

    Syscalls may write their outputs into ``DATA[0:dump]``; each result is stored as a
    u64 at ``DATA + dump + 8k``; the contract returns ``DATA[0 : dump + 8 * len(steps)]``
    as return data (:func:`results` splits it) and exits with ``exit_code``.
    """
    lines: list[str] = []
    top = STACK + 0x1000
    for k, (name, args) in enumerate(steps):
        lines += load_args(args)
        lines.append(f"syscall {name}")
        lines.append(f"stxdw [r10-{top - (DATA + dump + 8 * k)}], r0")
    size = dump + 8 * len(steps)
    if size:
        lines += load_args([DATA, size]) + ["syscall tos_set_return_data"]
    lines += [f"mov64 r0, {exit_code}", "exit"]
    return "\n".join(lines)


def results(return_data: bytes, dump: int = 0) -> tuple[bytes, list[int]]:
    """``(DATA[0:dump], [r0 of each step])`` from a :func:`probe` contract's return data."""
    values = [v for (v,) in struct.iter_unpack("<Q", return_data[dump:])]
    return return_data[:dump], values


def straight_line_cost(source: str) -> int:
    """Instructions executed by straight-line assembly (each costs 1 CU, lddw too)."""
    return sum(1 for line in asm(source).splitlines() if not line.endswith(":"))


def deploy_asm(chain: Chain, source: str, *, entry: str | None = None,
               sender: bytes = ALICE) -> bytes:
    """Deploy assembly; return the contract hash (asserting the deploy was included)."""
    result = chain.deploy(TBPFAsmModule(asm(source), entry_point=entry), sender=sender)
    assert result.included, result.error
    assert result.deploy is not None
    return result.deploy.contract_hash


def u64(value: int) -> bytes:
    """``value`` as 8 bytes little endian."""
    return (value & (2**64 - 1)).to_bytes(8, "little")


def code(value: TosCode) -> int:
    """A return code as the u64 the contract sees."""
    return int(value)


def file_state(provider: SqliteProvider) -> tuple[bytes, bytes]:
    """``(database file bytes, logical dump)`` after a WAL checkpoint."""
    provider.checkpoint()
    return Path(provider.path).read_bytes(), provider.dump()


@contextlib.contextmanager
def unchanged(chain: Chain) -> Iterator[None]:
    """Assert that the block of code leaves the state store byte-identical."""
    provider = chain.provider
    if isinstance(provider, SqliteProvider):
        before = file_state(provider)
        yield
        after = file_state(provider)
        assert after[1] == before[1], "the state dump changed"
        assert after[0] == before[0], "the database file changed"
    else:
        dump = provider.dump()
        yield
        assert provider.dump() == dump, "the state changed"

"""Render ``docs/syscalls.md`` from the syscall registry and the cost tables.

``python -m tbpf.syscall_docs`` rewrites the file; ``--check`` exits 1 if the committed
file differs from what the registry and the cost tables say now (a test runs the same
comparison). Every syscall of :func:`tbpf.tos_syscalls.tos_syscalls` must have a
:class:`~tbpf.tos_syscalls.SyscallDoc` here or in :data:`tbpf.tos_syscalls.TOS_SYSCALL_DOCS`;
:func:`render` raises ``KeyError`` naming any that lacks one.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from .docgen import generated_file_main
from .syscalls import SOLANA_COSTS, SyscallRegistry
from .tos_syscalls import (
    TOS_ALIASES, TOS_CODE_MEANINGS, TOS_COSTS, TOS_LIMITS, TOS_SYSCALL_DOCS, TOS_SYSCALL_NAMES, SyscallDoc, TosCode,
    tos_syscalls,
)

__all__ = ["SOLANA_SYSCALL_DOCS", "render", "main", "DOC_PATH"]

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "syscalls.md"
"""Where the rendered table lives in the repository."""


def _solana_docs() -> dict[str, SyscallDoc]:
    c = SOLANA_COSTS
    gas = "ComputationalBudgetExceeded"
    ptr = "AccessViolation (bad pointer)"
    mem = f"max({c.mem_op_base_cost}, n/{c.cpi_bytes_per_unit})"
    hashing = SyscallDoc(
        "", f"{c.sha256_base_cost}, then per slice max({c.mem_op_base_cost}, "
            f"{c.sha256_byte_cost}*len/2)", "0",
        f"TooManySlices (> {c.sha256_max_slices}, before charging); UnalignedPointer; "
        f"{gas}; {ptr}")
    return {
        "abort": SyscallDoc("abort()", "0", "never returns", "Abort (always)"),
        "sol_panic_": SyscallDoc("sol_panic_(file_ptr, len, line, column)", "len",
                                 "never returns",
                                 f"Panic (always); {gas}; InvalidString; {ptr}"),
        "sol_log_": SyscallDoc("sol_log_(msg_ptr, len)",
                               f"max({c.syscall_base_cost}, len)", "0",
                               f"{gas}; InvalidString; {ptr}"),
        "sol_log_64_": SyscallDoc("sol_log_64_(a, b, c, d, e)", f"{c.log_64_units}", "0",
                                  gas),
        "sol_log_pubkey": SyscallDoc("sol_log_pubkey(key32_ptr)", f"{c.log_pubkey_units}",
                                     "0", f"{gas}; {ptr}"),
        "sol_log_compute_units_": SyscallDoc("sol_log_compute_units_()",
                                             f"{c.syscall_base_cost}", "0", gas),
        "sol_log_data": SyscallDoc(
            "sol_log_data(slices_ptr, n)",
            f"{c.syscall_base_cost} + {c.syscall_base_cost}/slice + total bytes", "0",
            f"UnalignedPointer; {gas}; {ptr}"),
        "sol_memcpy_": SyscallDoc("sol_memcpy_(dst, src, n)", mem, "0",
                                  f"CopyOverlapping; {gas}; {ptr}"),
        "sol_memmove_": SyscallDoc("sol_memmove_(dst, src, n)", mem, "0", f"{gas}; {ptr}"),
        "sol_memset_": SyscallDoc("sol_memset_(dst, byte, n)", mem, "0", f"{gas}; {ptr}"),
        "sol_memcmp_": SyscallDoc("sol_memcmp_(a, b, n, result_i32_ptr)", mem,
                                  "0 (the i32 difference is written)",
                                  f"UnalignedPointer; {gas}; {ptr}"),
        "sol_sha256": SyscallDoc("sol_sha256(slices_ptr, n, out32)", hashing.cost, "0",
                                 hashing.errors),
        "sol_keccak256": SyscallDoc("sol_keccak256(slices_ptr, n, out32)", hashing.cost,
                                    "0", hashing.errors),
        "sol_remaining_compute_units": SyscallDoc(
            "sol_remaining_compute_units()", f"{c.syscall_base_cost}",
            "units left after the charge", gas),
        "sol_set_return_data": SyscallDoc(
            "sol_set_return_data(ptr, len)",
            f"{c.syscall_base_cost} + len/{c.cpi_bytes_per_unit}", "0",
            f"ReturnDataTooLarge (> {c.max_return_data}); {gas}; {ptr}"),
        "sol_get_return_data": SyscallDoc(
            "sol_get_return_data(out_ptr, len, program_id32_ptr)",
            f"{c.syscall_base_cost} + (min(len, size) + 32)/{c.cpi_bytes_per_unit}",
            "the full size of the return data", f"{gas}; {ptr}"),
        "sol_get_stack_height": SyscallDoc("sol_get_stack_height()", f"{c.syscall_base_cost}",
                                           "1", gas),
        "sol_get_clock_sysvar": SyscallDoc(
            "sol_get_clock_sysvar(out_ptr)", f"{c.sysvar_base_cost} + 40",
            "0 (slot = block height, unix_timestamp = block timestamp in the runtime)",
            f"UnalignedPointer; {gas}; {ptr}"),
        "sol_get_rent_sysvar": SyscallDoc("sol_get_rent_sysvar(out_ptr)",
                                          f"{c.sysvar_base_cost} + 24", "0",
                                          f"UnalignedPointer; {gas}; {ptr}"),
        "sol_get_epoch_schedule_sysvar": SyscallDoc(
            "sol_get_epoch_schedule_sysvar(out_ptr)", f"{c.sysvar_base_cost} + 40", "0",
            f"UnalignedPointer; {gas}; {ptr}"),
    }


SOLANA_SYSCALL_DOCS: dict[str, SyscallDoc] = _solana_docs()
"""Documentation of TBPF's core Solana syscalls, by name."""


def _doc_for(name: str) -> SyscallDoc:
    if name in TOS_SYSCALL_DOCS:
        return TOS_SYSCALL_DOCS[name]
    if name in SOLANA_SYSCALL_DOCS:
        return SOLANA_SYSCALL_DOCS[name]
    raise KeyError(f"syscall {name!r} has no documentation entry")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(registry: SyscallRegistry | None = None) -> str:
    """The Markdown text of ``docs/syscalls.md``.

    Raises:
        KeyError: a registered syscall without documentation.
    """
    registry = registry or tos_syscalls()
    alias_names = set(TOS_ALIASES)
    primary = [s for s in registry if s.name not in alias_names]
    out = [
        "# Syscalls",
        "",
        "<!-- Generated by `python -m tbpf.syscall_docs` from the syscall registry and the",
        "     cost tables; do not edit by hand (a test compares this file). -->",
        "",
        "Every syscall is called with `call imm` where `imm` is the murmur3 hash of its",
        "name (v0-v2: looked up in the registry; v3+: static syscalls). Arguments arrive in",
        "r1-r5 and the result goes to r0; r1-r9 and r10 are preserved.",
        "",
        "## Conventions",
        "",
        "* **Pointers** come with a length (`ptr, len`) or have a fixed size (`out32`: 32",
        "  bytes). Each is validated against the guest memory map with the rules of loads",
        "  and stores (one region, readable; writable for outputs) *before* any state",
        "  changes; a bad pointer aborts the contract (`SyscallError` wrapping the access",
        "  violation). Host addresses never reach the guest.",
        "* **Hashes, addresses, asset ids** are 32 bytes. The native asset is the all-zero",
        "  hash. Amounts and balances are u64.",
        "* **Gas** (1 gas = 1 compute unit) is charged *before* the work it pays for, with",
        "  saturating arithmetic. If the charge exceeds what is left, the meter drops to 0",
        "  and the contract aborts with `ComputationalBudgetExceeded`.",
        "* **Return codes** report expected outcomes the contract can handle (missing key,",
        "  short buffer, insufficient balance, failed callee...). Every error code is the",
        "  u64 encoding of a small negative number, so `(int64_t)r0 < 0` tests for an error",
        "  whatever the syscall returns on success (0, a length, a balance).",
        "* **Aborts** (`SyscallError` with the inner kind listed below) end the contract;",
        "  its state changes are rolled back: bad pointer, out of gas, over-long",
        "  arguments, reentrancy, call-depth overflow.",
        "",
        "### Return codes",
        "",
        "| code | u64 | i64 | meaning |",
        "|---|---|---|---|",
    ]
    for code in TosCode:
        value = int(code)
        signed = value - (1 << 64) if value >> 63 else value
        out.append(f"| `{code.name}` | `{value:#x}` | {signed} | "
                   f"{_cell(TOS_CODE_MEANINGS[code])} |")
    out += ["", "### TOS cost table (`tbpf.tos_syscalls.TOS_COSTS`)", "",
            "| parameter | gas |", "|---|---|"]
    out += [f"| `{f.name}` | {getattr(TOS_COSTS, f.name)} |" for f in fields(TOS_COSTS)]
    out += ["", "### TOS limits (`tbpf.tos_syscalls.TOS_LIMITS`)", "",
            "| limit | value |", "|---|---|"]
    out += [f"| `{f.name}` | {getattr(TOS_LIMITS, f.name)} |" for f in fields(TOS_LIMITS)]
    out += ["", "### Solana cost parameters (`tbpf.syscalls.SOLANA_COSTS`)", "",
            "| parameter | value |", "|---|---|"]
    out += [f"| `{f.name}` | {getattr(SOLANA_COSTS, f.name)} |" for f in fields(SOLANA_COSTS)]

    def table(title: str, names: list[str]) -> None:
        nonlocal out
        out += ["", f"## {title}", "",
                "| name | murmur3 | signature | gas | returns (r0) | aborts |",
                "|---|---|---|---|---|---|"]
        for name in names:
            syscall = registry.by_name(name)
            assert syscall is not None
            doc = _doc_for(name)
            out.append(f"| `{name}` | `{syscall.key:#010x}` | `{_cell(doc.signature)}` | "
                       f"{_cell(doc.cost)} | {_cell(doc.returns)} | {_cell(doc.errors)} |")

    tos_names = [s.name for s in primary if s.name in TOS_SYSCALL_NAMES]
    other = [s.name for s in primary if s.name not in TOS_SYSCALL_NAMES]
    table("TOS syscalls", tos_names)
    table("Core Solana syscalls", other)
    out += ["", "## Aliases", "",
            "TOS renamed its syscalls on 2026-01-10; the plain names are registered as",
            "aliases: same body, arguments, return convention and gas, their own murmur3 key.",
            "TOS kept the `tos_` prefix on its memory helpers, which alias Solana's.", "",
            "| alias | murmur3 | same as |", "|---|---|---|"]
    for alias, target in TOS_ALIASES.items():
        syscall = registry.by_name(alias)
        assert syscall is not None
        _doc_for(target)
        out.append(f"| `{alias}` | `{syscall.key:#010x}` | `{target}` |")
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``docs/syscalls.md``."""
    return generated_file_main("tbpf.syscall_docs", DOC_PATH, render, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

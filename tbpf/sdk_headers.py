"""Render the SDKs' syscall declarations from the syscall registry.

Two generated files: the C SDK's ``sdk/c/include/tos/syscalls.h`` and the Rust SDK's
``sdk/rust/tos-tbpf-sdk/src/syscalls.rs``.

The header declares every syscall of :func:`tbpf.tos_syscalls.tos_syscalls` (the
``tos_*`` syscalls, TBPF's core Solana syscalls and TOS's plain-name aliases) with a C
prototype, plus the return codes (:class:`~tbpf.tos_syscalls.TosCode`), the limits and
the gas cost table as macros. The C types of the parameters are written down here once
(:data:`C_PROTOTYPES`); their names, order and count come from the documented
signatures (:data:`~tbpf.tos_syscalls.TOS_SYSCALL_DOCS`,
:data:`~tbpf.syscall_docs.SOLANA_SYSCALL_DOCS`), and :func:`render` refuses to produce
a header when the two disagree or when a registered syscall has no prototype, so the
header cannot drift from the runtime.

The Rust declarations are derived from the same C prototypes (:data:`RUST_TYPES`).
``python -m tbpf.sdk_headers`` rewrites both files; ``--check`` exits 1 if a committed
file is stale (a test runs the same comparison).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from .docgen import sync
from .syscall_docs import SOLANA_SYSCALL_DOCS
from .tos_syscalls import (
    TOS_ALIASES, TOS_CODE_MEANINGS, TOS_COSTS, TOS_LIMITS, TOS_SYSCALL_DOCS, TOS_SYSCALL_NAMES,
    TosCode, tos_syscalls,
)

__all__ = ["CPrototype", "C_PROTOTYPES", "HEADER_PATH", "SDK_INCLUDE_DIR", "RUST_PATH",
           "RUST_TYPES", "render", "render_rust", "main", "doc_parameters"]

SDK_INCLUDE_DIR = Path(__file__).resolve().parent.parent / "sdk" / "c" / "include"
"""The C SDK's include directory in the repository (``#include <tos/tos.h>``)."""
HEADER_PATH = SDK_INCLUDE_DIR / "tos" / "syscalls.h"
"""Where the generated header lives."""
RUST_PATH = (Path(__file__).resolve().parent.parent / "sdk" / "rust" / "tos-tbpf-sdk" / "src"
             / "syscalls.rs")
"""Where the generated Rust declarations live."""


@dataclass(frozen=True, slots=True)
class CPrototype:
    """The C declaration of one syscall.

    Attributes:
        returns: the C return type (``u64`` for every syscall that returns).
        params: ``(C type, parameter name)`` pairs; names match the documented signature.
        attributes: extra attributes (``noreturn`` for ``abort``/``sol_panic_``).
    """

    returns: str
    params: tuple[tuple[str, str], ...]
    attributes: str = ""


def _p(returns: str, *params: tuple[str, str], attributes: str = "") -> CPrototype:
    return CPrototype(returns, tuple(params), attributes)


_U64 = "u64"
_OUT32 = ("u8 *", "out32")

C_PROTOTYPES: dict[str, CPrototype] = {
    # TOS syscalls
    "tos_log": _p(_U64, ("const char *", "msg_ptr"), (_U64, "msg_len")),
    "tos_get_contract_hash": _p(_U64, _OUT32),
    "tos_get_caller": _p(_U64, _OUT32),
    "tos_get_balance": _p(_U64, ("const u8 *", "account32_ptr"), ("const u8 *", "asset32_ptr")),
    "tos_transfer": _p(_U64, ("const u8 *", "dest32_ptr"), ("const u8 *", "asset32_ptr"),
                       (_U64, "amount")),
    "tos_burn": _p(_U64, ("const u8 *", "asset32_ptr"), (_U64, "amount")),
    "tos_storage_load": _p(_U64, ("const void *", "key_ptr"), (_U64, "key_len"),
                           ("void *", "val_ptr"), (_U64, "val_cap")),
    "tos_storage_store": _p(_U64, ("const void *", "key_ptr"), (_U64, "key_len"),
                            ("const void *", "val_ptr"), (_U64, "val_len")),
    "tos_storage_delete": _p(_U64, ("const void *", "key_ptr"), (_U64, "key_len")),
    "tos_get_tx_hash": _p(_U64, _OUT32),
    "tos_get_tx_source": _p(_U64, _OUT32),
    "tos_get_block_hash": _p(_U64, _OUT32),
    "tos_get_block_height": _p(_U64),
    "tos_get_block_timestamp": _p(_U64),
    "tos_asset_create": _p(_U64, ("const char *", "name_ptr"), (_U64, "name_len"),
                           (_U64, "decimals"), ("u8 *", "out_asset32_ptr")),
    "tos_asset_mint": _p(_U64, ("const u8 *", "asset32_ptr"), (_U64, "amount")),
    "tos_fire_event": _p(_U64, ("const u8 *", "topics_ptr"), (_U64, "n_topics"),
                         ("const void *", "data_ptr"), (_U64, "data_len")),
    "tos_get_input_data": _p(_U64, ("void *", "out_ptr"), (_U64, "cap")),
    "tos_set_return_data": _p(_U64, ("const void *", "ptr"), (_U64, "len")),
    "tos_get_return_data": _p(_U64, ("void *", "out_ptr"), (_U64, "cap")),
    "tos_invoke_contract": _p(_U64, ("const u8 *", "contract32_ptr"),
                              ("const void *", "input_ptr"), (_U64, "input_len"),
                              (_U64, "gas_limit"), (_U64, "deposit")),
    # Core Solana syscalls
    "abort": _p("void", attributes="__attribute__((noreturn))"),
    "sol_panic_": _p("void", ("const char *", "file_ptr"), (_U64, "len"), (_U64, "line"),
                     (_U64, "column"), attributes="__attribute__((noreturn))"),
    "sol_log_": _p(_U64, ("const char *", "msg_ptr"), (_U64, "len")),
    "sol_log_64_": _p(_U64, (_U64, "a"), (_U64, "b"), (_U64, "c"), (_U64, "d"), (_U64, "e")),
    "sol_log_pubkey": _p(_U64, ("const u8 *", "key32_ptr")),
    "sol_log_compute_units_": _p(_U64),
    "sol_log_data": _p(_U64, ("const tos_slice *", "slices_ptr"), (_U64, "n")),
    "sol_memcpy_": _p(_U64, ("void *", "dst"), ("const void *", "src"), (_U64, "n")),
    "sol_memmove_": _p(_U64, ("void *", "dst"), ("const void *", "src"), (_U64, "n")),
    "sol_memset_": _p(_U64, ("void *", "dst"), (_U64, "byte"), (_U64, "n")),
    "sol_memcmp_": _p(_U64, ("const void *", "a"), ("const void *", "b"), (_U64, "n"),
                      ("i32 *", "result_i32_ptr")),
    "sol_sha256": _p(_U64, ("const tos_slice *", "slices_ptr"), (_U64, "n"), ("u8 *", "out32")),
    "sol_keccak256": _p(_U64, ("const tos_slice *", "slices_ptr"), (_U64, "n"),
                        ("u8 *", "out32")),
    "sol_remaining_compute_units": _p(_U64),
    "sol_set_return_data": _p(_U64, ("const void *", "ptr"), (_U64, "len")),
    "sol_get_return_data": _p(_U64, ("void *", "out_ptr"), (_U64, "len"),
                              ("u8 *", "program_id32_ptr")),
    "sol_get_stack_height": _p(_U64),
    "sol_get_clock_sysvar": _p(_U64, ("void *", "out_ptr")),
    "sol_get_rent_sysvar": _p(_U64, ("void *", "out_ptr")),
    "sol_get_epoch_schedule_sysvar": _p(_U64, ("void *", "out_ptr")),
}
"""C prototype of every primary (non-alias) syscall; aliases reuse their target's."""

_SIGNATURE = re.compile(r"^(\w+)\((.*)\)$")


def doc_parameters(signature: str) -> tuple[str, tuple[str, ...]]:
    """``(name, parameter names)`` of a documented signature such as ``f(a, b)``.

    >>> doc_parameters("tos_burn(asset32_ptr, amount)")
    ('tos_burn', ('asset32_ptr', 'amount'))
    >>> doc_parameters("tos_get_block_height()")
    ('tos_get_block_height', ())
    >>> doc_parameters("not a signature")
    Traceback (most recent call last):
    ValueError: not a documented signature: 'not a signature'
    """
    match = _SIGNATURE.match(signature.strip())
    if match is None:
        raise ValueError(f"not a documented signature: {signature!r}")
    inner = match.group(2).strip()
    return match.group(1), tuple(p.strip() for p in inner.split(",")) if inner else ()


def _documented(name: str) -> str:
    doc = TOS_SYSCALL_DOCS.get(name) or SOLANA_SYSCALL_DOCS.get(name)
    if doc is None:
        raise KeyError(f"syscall {name!r} has no documentation entry")
    return doc.signature


def _check_prototypes() -> list[str]:
    """Names of the primary syscalls, checked against the registry and the docs.

    Raises:
        ValueError: a registered syscall without a prototype (or the reverse), or a
            prototype whose parameters differ from the documented signature.
    """
    registry = tos_syscalls()
    aliases = set(TOS_ALIASES)
    primary = [s.name for s in registry if s.name not in aliases]
    missing = sorted(set(primary) - set(C_PROTOTYPES))
    extra = sorted(set(C_PROTOTYPES) - set(primary))
    if missing or extra:
        raise ValueError(f"C prototypes out of date: missing {missing}, unknown {extra}")
    for name in primary:
        doc_name, doc_params = doc_parameters(_documented(name))
        proto_params = tuple(p for _, p in C_PROTOTYPES[name].params)
        if doc_name != name or doc_params != proto_params:
            raise ValueError(f"{name}: C prototype parameters {proto_params} differ from the "
                             f"documented signature {_documented(name)!r}")
    return primary


def _declaration(name: str, proto: CPrototype) -> str:
    params = ", ".join(f"{t}{'' if t.endswith('*') else ' '}{p}" for t, p in proto.params)
    attrs = f" {proto.attributes}" if proto.attributes else ""
    return f"extern {proto.returns} {name}({params or 'void'}){attrs};"


def _comment_lines(text: str, width: int = 88) -> list[str]:
    words = text.split()
    lines: list[str] = []
    line = " *"
    for word in words:
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = " *"
        line += " " + word
    lines.append(line)
    return lines


def _doc_comment(name: str) -> list[str]:
    doc = TOS_SYSCALL_DOCS.get(name) or SOLANA_SYSCALL_DOCS[name]
    text = f"{doc.signature}. Gas: {doc.cost}. Returns: {doc.returns}. Aborts: {doc.errors}."
    return ["/*", *_comment_lines(text.replace("`", "")), " */"]


def render() -> str:
    """The text of ``syscalls.h``.

    Raises:
        ValueError: the prototypes disagree with the registry or the documentation.
    """
    primary = _check_prototypes()
    out = [
        "/* TOS contract SDK for C: every syscall of the TOS runtime.",
        " *",
        " * GENERATED by `python -m tbpf.sdk_headers` from tbpf.tos_syscalls (registry, cost",
        " * table, limits, return codes); do not edit by hand. A test regenerates it and",
        " * compares. Reference: docs/syscalls.md.",
        " *",
        " * A call to an extern function that no object defines becomes a syscall: the",
        " * linker (`tbpf build`, `tbpf link`) keys it by murmur3(name). Every argument and",
        " * result is a u64 in r1-r5/r0. Error codes are small negative numbers read as",
        " * u64: test them with tos_is_error(rc).",
        " *",
        " * TOS's plain names (log, storage_read, transfer, ...) are declared only when",
        " * TOS_PLAIN_NAMES is defined before this header is included, so that contracts",
        " * may use those names for their own functions.",
        " */",
        "#ifndef TOS_SYSCALLS_H",
        "#define TOS_SYSCALLS_H",
        "",
        '#include "types.h"',
        "",
        "/* ---- Return codes (r0 of the TOS syscalls) ---- */",
    ]
    for code in TosCode:
        value = int(code)
        out.append(f"/* {TOS_CODE_MEANINGS[code].replace('`', '')} */")
        out.append(f"#define TOS_{code.name} ((u64){value:#x}ull)")
    out += ["", "/* True if a syscall result is an error code (a negative number as i64). */",
            "static inline bool tos_is_error(u64 rc) { return (i64)rc < 0; }", "",
            "/* ---- Limits (exceeding one aborts the contract) ---- */"]
    out += [f"#define TOS_LIMIT_{f.name.upper()} {getattr(TOS_LIMITS, f.name)}ull"
            for f in fields(TOS_LIMITS)]
    out += ["", "/* ---- Gas cost table (1 gas = 1 compute unit) ---- */"]
    out += [f"#define TOS_GAS_{f.name.upper()} {getattr(TOS_COSTS, f.name)}ull"
            for f in fields(TOS_COSTS)]
    out += ["", "/* ---- TOS syscalls ---- */", ""]
    for name in primary:
        if name in TOS_SYSCALL_NAMES:
            out += [*_doc_comment(name), _declaration(name, C_PROTOTYPES[name]), ""]
    out += ["/* ---- Core Solana syscalls ---- */", ""]
    for name in primary:
        if name not in TOS_SYSCALL_NAMES:
            out += [*_doc_comment(name), _declaration(name, C_PROTOTYPES[name]), ""]
    prefixed = {a: t for a, t in TOS_ALIASES.items() if a.startswith("tos_")}
    plain = {a: t for a, t in TOS_ALIASES.items() if not a.startswith("tos_")}
    out += ["/* ---- TOS's memory helpers (aliases of the Solana ones; a syscall costs at",
            " * least 10 gas: for a few bytes the inline tos_mem_* helpers are cheaper) ---- */"]
    for alias, target in prefixed.items():
        out.append(f"/* same as {target} */")
        out.append(_declaration(alias, C_PROTOTYPES[target]))
    out += ["", "/* ---- TOS's plain names (2026-01-10 rename), opt-in ---- */",
            "#ifdef TOS_PLAIN_NAMES"]
    for alias, target in plain.items():
        out.append(f"/* same as {target} */")
        out.append(_declaration(alias, C_PROTOTYPES[target]))
    out += ["#endif /* TOS_PLAIN_NAMES */", "", "#endif /* TOS_SYSCALLS_H */", ""]
    return "\n".join(out)


RUST_TYPES: dict[str, str] = {
    "u64": "u64",
    "u8 *": "*mut u8",
    "const u8 *": "*const u8",
    "const char *": "*const u8",
    "void *": "*mut u8",
    "const void *": "*const u8",
    "i32 *": "*mut i32",
    "const tos_slice *": "*const Slice",
}
"""The Rust type of each C parameter type of :data:`C_PROTOTYPES`."""


def _rust_declaration(name: str, proto: CPrototype) -> str:
    params = ", ".join(f"{p}: {RUST_TYPES[t]}" for t, p in proto.params)
    returns = " -> !" if "noreturn" in proto.attributes else f" -> {RUST_TYPES[proto.returns]}"
    return f"    pub fn {name}({params}){returns};"


def _rust_doc(name: str, indent: str = "    ") -> list[str]:
    doc = TOS_SYSCALL_DOCS.get(name) or SOLANA_SYSCALL_DOCS[name]
    text = f"`{doc.signature}`. Gas: {doc.cost}. Returns: {doc.returns}. Aborts: {doc.errors}."
    return [f"{indent}///{line[2:]}" for line in _comment_lines(text, 88 - len(indent))]


def render_rust() -> str:
    """The text of the Rust SDK's ``syscalls.rs``.

    Raises:
        ValueError: the prototypes disagree with the registry or the documentation.
    """
    primary = _check_prototypes()
    out = [
        "//! Every syscall of the TOS runtime, raw (`unsafe`; the crate root has safe",
        "//! wrappers), with the return codes, limits and gas costs.",
        "//!",
        "//! GENERATED by `python -m tbpf.sdk_headers` from tbpf.tos_syscalls; do not edit",
        "//! by hand (a test regenerates it and compares). Reference: docs/syscalls.md.",
        "//! A call to an undefined extern function becomes a syscall keyed by murmur3(name).",
        "",
        "/// A (pointer, length) pair: the element of `sol_log_data`/`sol_sha256` slices.",
        "#[repr(C)]",
        "#[derive(Clone, Copy, Debug)]",
        "pub struct Slice {",
        "    /// Start of the bytes.",
        "    pub addr: *const u8,",
        "    /// Their length.",
        "    pub len: u64,",
        "}",
        "",
        "/// Return codes of the TOS syscalls (r0); errors are negative numbers as u64.",
        "pub mod code {",
    ]
    for code in TosCode:
        out.append(f"    /// {TOS_CODE_MEANINGS[code]}")
        out.append(f"    pub const {code.name}: u64 = {int(code):#x};")
    out += ["}", "", "/// Size and depth limits (exceeding one aborts the contract).", "pub mod limit {"]
    for f in fields(TOS_LIMITS):
        out.append(f"    /// `{f.name}`.")
        out.append(f"    pub const {f.name.upper()}: u64 = {getattr(TOS_LIMITS, f.name)};")
    out += ["}", "", "/// The gas cost table (1 gas = 1 compute unit).", "pub mod gas {"]
    for f in fields(TOS_COSTS):
        out.append(f"    /// `{f.name}`.")
        out.append(f"    pub const {f.name.upper()}: u64 = {getattr(TOS_COSTS, f.name)};")
    out += ["}", "", 'extern "C" {']
    for name in primary:
        out += [*_rust_doc(name), _rust_declaration(name, C_PROTOTYPES[name])]
    for alias, target in TOS_ALIASES.items():
        if alias.startswith("tos_"):
            out += [f"    /// Same as `{target}` (TOS's name).",
                    _rust_declaration(alias, C_PROTOTYPES[target])]
    out += ["}", "",
            "/// TOS's plain names (2026-01-10 rename): the same syscalls under other keys.",
            "pub mod plain {",
            "    #[allow(unused_imports)]",
            "    use super::Slice;",
            "",
            '    extern "C" {']
    for alias, target in TOS_ALIASES.items():
        if not alias.startswith("tos_"):
            out += [f"        /// Same as `{target}`.",
                    "    " + _rust_declaration(alias, C_PROTOTYPES[target])]
    out += ["    }", "}", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the C header and the Rust declarations."""
    parser = argparse.ArgumentParser(prog="python -m tbpf.sdk_headers")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument("--output", type=Path, default=HEADER_PATH, help="the C header")
    parser.add_argument("--rust-output", type=Path, default=RUST_PATH,
                        help="the Rust declarations")
    args = parser.parse_args(argv)
    ok = sync(args.output, render(), args.check, "python -m tbpf.sdk_headers")
    ok = sync(args.rust_output, render_rust(), args.check, "python -m tbpf.sdk_headers") and ok
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

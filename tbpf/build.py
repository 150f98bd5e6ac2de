"""Building TOS contracts from C: Debian's ``clang -target bpf``, then TBPF's linker.

This module owns the compiler invocation that makes clang's output correct under sBPF
semantics, and the checks around it (``tbpf build`` is its command line,
:mod:`tbpf.build_cli`):

* **flags** (:data:`BUILD_FLAGS`): ``-target bpf -mcpu=v1`` (never ``v3``/alu32: eBPF
  zero-extends 32-bit ALU results, sBPF sign-extends them; the linker refuses any 32-bit
  ALU instruction anyway), ``-O2``, ``-ffreestanding -fno-builtin`` (no libc; loops
  are not turned into ``memcpy`` calls), ``-fno-stack-protector``; plus the SDK's
  include directory (:data:`SDK_INCLUDE_DIR`, ``#include <tos/tos.h>``);
* **determinism**: the same source gives the same bytes wherever it is built. clang
  runs in the source's directory on the file's base name, directory prefixes are mapped
  away (``-ffile-prefix-map``: ``__FILE__`` is relative), no debug information is
  produced, and the linker writes neither paths nor timestamps;
* **clang's limits**, turned into one-line messages: no clang at all
  (:class:`~tbpf.errors.ClangNotFoundError`, naming ``apt-get install clang``), signed
  division (clang's BPF backend crashes with "Unsupport signed division"; the message
  names the function and the SDK helpers ``tos_div_i64``/``tos_rem_i64``);
* **the deploy gate**: the linked file is loaded with the TOS runtime's deploy-time
  checks (:func:`tbpf.runtime.module.load_module`: strict loader, every syscall known to
  the TOS registry, verifier), so a file ``tbpf build`` writes is one the chain accepts.

clang's warnings are returned to the caller (the CLI prints them to stderr).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import BuildError, ClangNotFoundError, ContractError, ELFError
from .linker import CLANG_FLAGS, ENTRY_SYMBOL, link_objects
from .versions import SBPFVersion, parse_version

__all__ = ["BUILD_FLAGS", "SDK_INCLUDE_DIR", "INSTALL_HINT", "BuildResult", "find_clang",
           "compile_c", "build_contract", "sdk_include_dir"]

BUILD_FLAGS: tuple[str, ...] = tuple(f for f in CLANG_FLAGS if f != "-c") + (
    "-Wall", "-Wdate-time", "-fno-crash-diagnostics", "-g0")
"""clang flags of every build (``-c`` and the files are added per source).

The first ones are :data:`tbpf.linker.CLANG_FLAGS` (the flags ``docs/elf.md``
documents); ``-Wall`` shows the usual warnings, ``-Wdate-time`` flags ``__DATE__`` and
``__TIME__`` (they would make builds irreproducible), ``-fno-crash-diagnostics`` keeps a
backend crash from leaving reproducer files in ``/tmp``, ``-g0`` keeps paths out of the
object."""

SDK_INCLUDE_DIR = Path(__file__).resolve().parent.parent / "sdk" / "c" / "include"
"""The C SDK's headers in this checkout (``TBPF_SDK_INCLUDE`` overrides it)."""

INSTALL_HINT = ("clang is not installed: install it with `apt-get install clang` "
                "(Debian/Ubuntu; any clang >= 14 with the BPF target works), or name one "
                "with --clang PATH or $CLANG")
"""The message when no clang is found."""

_CLANG_NAMES = ("clang",) + tuple(f"clang-{v}" for v in range(20, 13, -1))
_SIGNED_DIVISION = re.compile(r"Unsupport signed division")
_IN_FUNCTION = re.compile(r"In function: (\S+)")
_LIBCALL = re.compile(r"A call to built-in function '(__\w+)' is not supported")
_FLOAT_ROUTINE = re.compile(r"float|fix|[sdtx]f\d?$")  # __floatundidf, __muldf3, __ltsf2...
_WIDE_ROUTINE = re.compile(r"ti\d?$")


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A built contract.

    Attributes:
        elf: the sBPF ELF file's bytes.
        version: its sBPF version.
        instructions: instructions in its text (lddw counts once).
        entry_pc: the slot execution starts at.
        warnings: what clang printed on stderr (warnings), in source order.
    """

    elf: bytes
    version: SBPFVersion
    instructions: int
    entry_pc: int
    warnings: str


def sdk_include_dir() -> Path | None:
    """The SDK include directory (``$TBPF_SDK_INCLUDE`` or the checkout's), if present."""
    env = os.environ.get("TBPF_SDK_INCLUDE")
    path = Path(env) if env else SDK_INCLUDE_DIR
    return path if (path / "tos" / "tos.h").is_file() else None


def find_clang(explicit: str | None = None) -> str:
    """The clang executable to use: ``explicit``, ``$CLANG``, then ``clang``/``clang-N``
    on ``PATH``.

    Raises:
        ClangNotFoundError: none found (the message says how to install it).
    """
    for candidate in (explicit, os.environ.get("CLANG")):
        if candidate:
            found = shutil.which(candidate)
            if found is None:
                raise ClangNotFoundError(f"{candidate} is not an executable. {INSTALL_HINT}")
            return found
    for name in _CLANG_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise ClangNotFoundError(INSTALL_HINT)


def _explain_failure(source: Path, stderr: str) -> str:
    if _SIGNED_DIVISION.search(stderr):
        where = _IN_FUNCTION.search(stderr)
        function = f" in function `{where.group(1)}`" if where else ""
        return (f"{source.name}{function}: signed division or remainder (/ or % on signed "
                f"integers) is not supported by clang's BPF backend; use tos_div_i64() / "
                f"tos_rem_i64() from <tos/math.h>, or unsigned operands")
    libcall = _LIBCALL.search(stderr)
    if libcall:
        routine = libcall.group(1)
        if _FLOAT_ROUTINE.search(routine):
            return (f"clang could not compile {source.name}: floating point needs "
                    f"`{routine}`, a library routine sBPF programs do not have (contracts are "
                    f"integer-only, which also keeps them deterministic); use integers, e.g. "
                    f"fixed point with tos_mul_div() from <tos/math.h>")
        if _WIDE_ROUTINE.search(routine):
            return (f"clang could not compile {source.name}: 128-bit arithmetic (__int128, "
                    f"or an overflow check clang rewrote into one) needs `{routine}`, a "
                    f"library routine sBPF programs do not have; use tos_mul_wide(), "
                    f"tos_div_wide(), tos_mul_div() or tos_mul_u64() from <tos/math.h>")
        return (f"clang could not compile {source.name}: the code needs `{routine}`, a "
                f"compiler runtime routine sBPF programs do not have")
    if any(m in stderr for m in ("only small returns supported",
                                 "unable to allocate function return",
                                 "VarArgs or StructRet are not supported")):
        return (f"clang could not compile {source.name}: a function returns a value larger "
                f"than 8 bytes (a struct, __int128) or takes variable arguments, which the "
                f"BPF calling convention cannot do; return results through a pointer "
                f"argument")
    if re.search(r"'tos/\w+\.h' file not found", stderr):
        return (f"clang could not compile {source.name}: the TOS C SDK's headers were not "
                f"found (looked in {os.environ.get('TBPF_SDK_INCLUDE') or SDK_INCLUDE_DIR}); "
                f"point TBPF_SDK_INCLUDE at the directory that holds tos/tos.h")
    return f"clang could not compile {source.name}"


def _strip_backend_crash(stderr: str) -> str:
    """clang's output up to a backend crash's stack dump (which helps nobody here)."""
    cut = stderr.find("PLEASE submit a bug report")
    if cut < 0:
        return stderr
    head = stderr[:cut]
    return head[:head.rfind("\n") + 1] if "\n" in head else ""


def compile_c(source: str | Path, *, clang: str | None = None,
              include_dirs: Sequence[str | Path] = (), defines: Sequence[str] = (),
              extra_flags: Sequence[str] = ()) -> tuple[bytes, str]:
    """Compile one C file to a relocatable BPF object.

    Returns:
        ``(object bytes, clang's stderr)`` (warnings, if any).

    Raises:
        ClangNotFoundError: no clang.
        BuildError: the source is unreadable or clang failed (``stderr`` holds its
            diagnostics).
    """
    src = Path(source).resolve()
    if not src.is_file():
        raise BuildError(f"cannot read {source}: no such file")
    exe = find_clang(clang)
    cmd = [exe, *BUILD_FLAGS]
    # Map directory prefixes away so __FILE__ and any stray path are relative.
    prefix_maps = [(src.parent, ".")]
    sdk = sdk_include_dir()
    if sdk is not None:
        prefix_maps.append((sdk.resolve(), "tos-sdk"))
    for directory in include_dirs:
        prefix_maps.append((Path(directory).resolve(), "include"))
    for path, alias in prefix_maps:
        cmd.append(f"-ffile-prefix-map={path}={alias}")
    cmd += [f"-D{d}" for d in defines]
    # The caller's include directories come first, so a project may shadow SDK headers.
    cmd += [f"-I{Path(d).resolve()}" for d in include_dirs]
    if sdk is not None:
        cmd.append(f"-I{sdk}")
    cmd += list(extra_flags)
    with tempfile.TemporaryDirectory(prefix="tbpf-build-") as tmp:
        obj = Path(tmp) / (src.stem + ".o")
        cmd += ["-c", src.name, "-o", str(obj)]
        try:
            proc = subprocess.run(cmd, cwd=src.parent, capture_output=True, text=True,
                                  errors="replace", check=False)
        except OSError as exc:
            raise ClangNotFoundError(f"cannot run {exe}: {exc.strerror or exc}. "
                                     f"{INSTALL_HINT}") from None
        if proc.returncode != 0:
            raise BuildError(_explain_failure(src, proc.stderr),
                             stderr=_strip_backend_crash(proc.stderr))
        return obj.read_bytes(), proc.stderr


def build_contract(sources: Sequence[str | Path], *,
                   version: str | SBPFVersion = SBPFVersion.V0,
                   include_dirs: Sequence[str | Path] = (), defines: Sequence[str] = (),
                   entry: str = ENTRY_SYMBOL, clang: str | None = None) -> BuildResult:
    """Compile C sources, link them and check the result as the TOS runtime would at
    deploy time.

    Args:
        sources: the ``.c`` files (one contract).
        version: ``v0`` (dynamic relocations, the classic layout) or ``v3`` (strict).
        include_dirs: extra ``-I`` directories (searched before the SDK's).
        defines: ``NAME`` or ``NAME=VALUE`` macros.
        entry: the function execution starts at by default.
        clang: the clang executable (default: :func:`find_clang`).

    Raises:
        ClangNotFoundError, BuildError: see :func:`compile_c`; also a link or deploy
            check failure (the message names the loader/verifier error).
    """
    v = parse_version(version)
    if v not in (SBPFVersion.V0, SBPFVersion.V3):
        raise BuildError(f"tbpf build targets v0 or v3, not {v.label}")
    if not sources:
        raise BuildError("nothing to build")
    objects: list[tuple[str, bytes]] = []
    warnings: list[str] = []
    for source in sources:
        obj, stderr = compile_c(source, clang=clang, include_dirs=include_dirs,
                                defines=defines)
        objects.append((Path(source).name, obj))
        if stderr:
            warnings.append(stderr)
    try:
        elf = link_objects(objects, version=v, entry=entry)
    except ELFError as err:
        raise BuildError(f"link failed: {err.kind}: {err}") from err
    from .runtime.execute import RuntimeConfig, default_syscalls
    from .runtime.module import TBPFModule, load_module
    try:
        exe = load_module(TBPFModule(elf), default_syscalls(), config=RuntimeConfig().vm_config)
    except ContractError as err:
        raise BuildError(f"the TOS runtime would refuse this contract: {err}") from err
    insns = exe.verify()
    count = sum(1 for i in insns if i is not None)
    return BuildResult(elf, exe.version, count, exe.entry_pc, "".join(warnings))

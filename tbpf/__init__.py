"""TBPF: a Solana-compatible sBPF virtual machine for the TOS blockchain.

Public API (stable)::

    tbpf.assemble(text, version="v0") -> bytes
    tbpf.disassemble(data, version="v0") -> str
    tbpf.run(program, *, kind="asm", engine="interp", version="v0", input=b"",
             input_writable=True, budget=200_000, registers=None, syscalls=None) -> Outcome
    tbpf.load_elf(data, config=...) -> Executable

The core package imports only the standard library, numpy and pyelftools; the engines
(``interp``, ``jit``) are loaded on first use.
"""

from __future__ import annotations

from .assembler import assemble, assemble_program
from .config import Config, DEFAULT_BUDGET
from .disassembler import disassemble
from .errors import (
    AssemblerError, ContractError, ELFError, ElfError, InternalError, JITError, ProgramFault,
    SyscallError, TBPFError, VerifierError,
)
from .executable import Executable, FunctionRegistry
from .hashing import murmur3_32, symbol_hash
from .memory import MemoryMap
from .syscalls import SyscallContext, SyscallRegistry, solana_syscalls
from .verifier import verify
from .versions import SBPFVersion
from .vm import ENGINES, Outcome, VmState, load_program, run, run_executable

__version__ = "0.1.0"

__all__ = [
    "assemble", "assemble_program", "disassemble", "run", "run_executable", "load_program",
    "load_elf", "verify", "Config", "DEFAULT_BUDGET", "Executable", "FunctionRegistry",
    "MemoryMap", "Outcome", "VmState", "SBPFVersion", "SyscallContext", "SyscallRegistry",
    "solana_syscalls", "murmur3_32", "symbol_hash", "ENGINES", "TBPFError", "AssemblerError",
    "ELFError", "ElfError", "VerifierError", "ProgramFault", "SyscallError", "ContractError",
    "JITError", "InternalError", "__version__",
]


def load_elf(data: bytes, config: Config | None = None, *,
             syscalls: SyscallRegistry | None = None) -> Executable:
    """Load an sBPF ELF (``.so``) or a relocatable ``clang -target bpf`` object (``.o``).

    Raises:
        ELFError: a subclass whose ``kind`` names the reference loader error.
    """
    from .elf import load_elf as _load_elf
    return _load_elf(data, config=config, syscalls=syscalls)

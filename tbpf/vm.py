"""Running programs: VM state, the engine protocol, memory setup and :func:`run`.

Engines live above the core (``interp/``, ``jit/``) and are looked up by name lazily,
so ``tbpf`` stays importable without LLVM. Both engines implement :class:`Engine` on the
same :class:`VmState`, which is also how the JIT hands a run over to the interpreter.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from .arith import U64_MASK
from .config import DEFAULT_BUDGET, Config
from .errors import ProgramFault
from .executable import Executable
from .isa import NUM_REGISTERS, R1, R10
from .memory import (
    MM_HEAP_START, MM_INPUT_START, MM_PROGRAM_START, MM_STACK_START, MemoryMap, Region,
)
from .syscalls import SyscallContext, SyscallRegistry, solana_syscalls
from .versions import SBPFVersion, parse_version

__all__ = ["VmState", "Outcome", "Engine", "get_engine", "ENGINES", "build_memory",
           "initial_state", "run_executable", "run", "load_program"]

ENGINES = ("interp", "jit")
"""Names accepted by ``engine=``."""

_ENGINE_CLASSES = {"interp": ("interp.interpreter", "Interpreter"),
                   "jit": ("jit.engine", "JitEngine")}
_ENGINE_INSTANCES: dict[str, "Engine"] = {}


@dataclass
class VmState:
    """Architectural state of a run, shared by both engines.

    Attributes:
        registers: r0..r10 as unsigned 64-bit ints.
        pc: slot index of the next instruction.
        frames: saved ``(r6, r7, r8, r9, r10, return_pc)`` of each active internal call.
        remaining: compute units left on the host meter (``prev - due``).
    """

    registers: list[int]
    pc: int
    frames: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    remaining: int = 0


class Engine(Protocol):
    """An execution engine."""

    name: str

    def execute(self, exe: Executable, memory: MemoryMap, state: VmState,
                ctx: SyscallContext, syscalls: SyscallRegistry) -> int:
        """Run from ``state``; return r0, or raise a :class:`ProgramFault`. ``state`` and
        ``ctx.remaining`` reflect the end of the run in both cases."""
        ...


def get_engine(name: "str | Engine") -> "Engine":
    """The engine called ``name`` (``"interp"`` or ``"jit"``), created once per process.

    Raises:
        ValueError: for an unknown name.
    """
    if not isinstance(name, str):
        return name
    engine = _ENGINE_INSTANCES.get(name)
    if engine is None:
        if name not in _ENGINE_CLASSES:
            raise ValueError(f"unknown engine {name!r} (expected one of {', '.join(ENGINES)})")
        module, cls = _ENGINE_CLASSES[name]
        engine = getattr(importlib.import_module(module), cls)()
        _ENGINE_INSTANCES[name] = engine
    return engine


@dataclass
class Outcome:
    """The result of one run.

    Attributes:
        result: r0 as unsigned 64-bit, or ``None`` if the program faulted.
        error: ``None`` or the :class:`ProgramFault` (with ``.kind`` and ``.pc``).
        compute_units: units consumed (instructions plus syscall costs; the whole budget
            after ``ExceededMaxInstructions``), as SBPF_SPEC 5.2 reports it.
        registers: final r0..r10.
        engine: the engine that ran it.
        memory: the run's memory map (final stack, heap and input bytes).
        logs: log lines written by syscalls.
        return_data: ``(program_id, bytes)`` set by the program.
        syscall_log: ``(name, args, result)`` of every syscall made.
    """

    result: int | None
    error: ProgramFault | None
    compute_units: int
    registers: tuple[int, ...]
    engine: str = "interp"
    memory: MemoryMap | None = None
    logs: list[str] = field(default_factory=list)
    return_data: tuple[bytes, bytes] = (bytes(32), b"")
    syscall_log: list[tuple[str, tuple[int, ...], object]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the program exited normally."""
        return self.error is None

    def to_json(self) -> dict[str, object]:
        """The object ``tbpf run --json`` prints."""
        return {
            "engine": self.engine,
            "result": self.result,
            "error": None if self.error is None else self.error.to_json(),
            "compute_units": self.compute_units,
            "registers": list(self.registers),
        }


def build_memory(exe: Executable, input_data: bytes | bytearray | memoryview = b"", *,
                 input_writable: bool = True, heap_size: int | None = None) -> MemoryMap:
    """The memory map of one run: read-only data, stack, heap and input (SBPF_SPEC 4.1)."""
    config = exe.config
    version = exe.version
    ro_name = "rodata" if exe.ro_vm_addr < MM_PROGRAM_START else "program"
    regions = [Region.from_bytes(ro_name, exe.ro_vm_addr, exe.ro_data, False)]
    gap = config.stack_frame_size if config.stack_gaps(version) else 0
    regions.append(Region.zeroed("stack", MM_STACK_START, config.stack_size, True, gap))
    heap = config.heap_size if heap_size is None else heap_size
    regions.append(Region.zeroed("heap", MM_HEAP_START, heap, True))
    regions.append(Region.from_bytes("input", MM_INPUT_START, input_data, input_writable))
    return MemoryMap(regions, stack_frame_size=config.stack_frame_size,
                     max_call_depth=config.max_call_depth,
                     fixed_frames=not version.manual_stack_frame_bump)


def initial_state(exe: Executable, budget: int,
                  registers: Sequence[int] | dict[int, int] | None = None) -> VmState:
    """Registers at entry (SBPF_SPEC 3.1): all 0 except r1 = input, r10 = frame pointer.

    ``registers`` presets r0..r10 (a sequence of up to 11 values, or ``{index: value}``).
    """
    regs = [0] * NUM_REGISTERS
    regs[R1] = MM_INPUT_START
    regs[R10] = exe.config.initial_frame_pointer(exe.version)
    if registers is not None:
        items = registers.items() if isinstance(registers, dict) else enumerate(registers)
        for index, value in items:
            if not 0 <= index < NUM_REGISTERS:
                raise ValueError(f"register index {index} out of range (r0..r10)")
            regs[index] = int(value) & U64_MASK
    if budget < 0:
        raise ValueError("budget must be non-negative")
    return VmState(registers=regs, pc=exe.entry_pc, frames=[], remaining=budget)


def run_executable(exe: Executable, *, engine: "str | Engine" = "interp",
                   input: bytes | bytearray | memoryview = b"",  # noqa: A002 - public API name
                   input_writable: bool = True, budget: int = DEFAULT_BUDGET,
                   registers: Sequence[int] | dict[int, int] | None = None,
                   syscalls: SyscallRegistry | None = None, heap_size: int | None = None,
                   host: object | None = None, memory: MemoryMap | None = None) -> Outcome:
    """Verify (once) and run a loaded program.

    Raises:
        VerifierError: the program does not verify (nothing ran).
        ValueError: bad arguments (unknown engine, negative budget).
    """
    exe.verify()
    eng = get_engine(engine)
    syscalls = solana_syscalls() if syscalls is None else syscalls
    memory = memory or build_memory(exe, input, input_writable=input_writable,
                                    heap_size=heap_size)
    state = initial_state(exe, budget, registers)
    ctx = SyscallContext(memory=memory, remaining=budget, host=host)
    result: int | None
    error: ProgramFault | None = None
    try:
        result = eng.execute(exe, memory, state, ctx, syscalls)
    except ProgramFault as fault:
        result, error = None, fault
    return Outcome(result=result, error=error,
                   compute_units=max(0, budget - state.remaining),
                   registers=tuple(state.registers), engine=eng.name, memory=memory,
                   logs=ctx.logs, return_data=ctx.return_data, syscall_log=ctx.call_log)


def load_program(program: "bytes | str | Executable", *, kind: str = "asm",
                 version: "str | int | SBPFVersion" = "v0", config: Config | None = None,
                 syscalls: SyscallRegistry | None = None) -> Executable:
    """Turn ``program`` into an :class:`Executable` according to ``kind``.

    ``kind`` is ``"asm"`` (assembly text), ``"raw"`` (8-byte slots), ``"elf"`` (an sBPF
    ``.so``) or ``"obj"`` (a relocatable ``.o`` from ``clang -target bpf``; linked in
    memory). For ``"elf"``/``"obj"`` the version comes from the file.

    Raises:
        AssemblerError, ELFError, ValueError.
    """
    if isinstance(program, Executable):
        return program
    v = parse_version(version)
    cfg = config or Config()
    if kind == "asm":
        from .assembler import assemble_program
        text = program.decode() if isinstance(program, (bytes, bytearray)) else str(program)
        return assemble_program(text, v, config=cfg, syscalls=syscalls)
    if kind == "raw":
        data = program.encode() if isinstance(program, str) else bytes(program)
        return Executable.from_text_bytes(data, v, config=cfg, syscalls=syscalls)
    if kind in ("elf", "obj"):
        from .elf import load_elf
        data = program.encode() if isinstance(program, str) else bytes(program)
        return load_elf(data, config=cfg, syscalls=syscalls)
    raise ValueError(f"unknown program kind {kind!r} (expected asm, raw, elf or obj)")


def run(program: "bytes | str | Executable", *, kind: str = "asm",
        engine: "str | Engine" = "interp", version: "str | int | SBPFVersion" = "v0",
        input: bytes | bytearray | memoryview = b"",  # noqa: A002 - public API name
        input_writable: bool = True, budget: int = DEFAULT_BUDGET,
        registers: Sequence[int] | dict[int, int] | None = None,
        syscalls: SyscallRegistry | None = None, config: Config | None = None) -> Outcome:
    """Load, verify and run a program; the public entry point of TBPF.

    Args:
        program: assembly text, raw slots, ELF bytes or an :class:`Executable`.
        kind: ``"asm"``, ``"raw"``, ``"elf"`` or ``"obj"`` (ignored for an Executable).
        engine: ``"interp"`` or ``"jit"``.
        version: SBPF version for ``asm``/``raw`` (ELF files carry their own).
        input: bytes mapped at ``0x4_0000_0000`` (r1 points there).
        input_writable: whether the program may write its input.
        budget: compute units available (any u64).
        registers: preset r0..r10 before entry.
        syscalls: the syscall registry (default: TBPF's core Solana syscalls).
        config: loader/VM configuration.

    Returns:
        an :class:`Outcome`; a guest fault is ``outcome.error``, never an exception.

    Raises:
        AssemblerError, ELFError, VerifierError: the program is unusable (nothing ran).
    """
    syscalls = solana_syscalls() if syscalls is None else syscalls
    exe = load_program(program, kind=kind, version=version, config=config, syscalls=syscalls)
    return run_executable(exe, engine=engine, input=input, input_writable=input_writable,
                          budget=budget, registers=registers, syscalls=syscalls)

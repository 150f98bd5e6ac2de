"""Planted bugs: engines that wrap a real engine and perturb exactly one observable.

The harness is tested with these (a harness that cannot see a planted difference is
broken: the reference VM once had a differential check that compared nothing for years).
They are also selectable from the command line, ``tbpf fuzz --engine-b planted:FIELD``,
to see a finding, its minimized reproducer and its replay end to end.

Fields (see :mod:`tbpf.fuzz.compare`): ``result``, ``registers``, ``compute_units``,
``memory.stack``, ``memory.heap``, ``memory.input``, ``syscall_log``, ``logs``,
``return_data`` (perturbed after any run); ``error.kind``, ``error.pc``,
``error.details`` (perturbed when the run faults); ``exception`` (raises a typed
``JITError``); ``crash`` (raises an untyped ``RuntimeError``); and the failures of
:data:`PLANTED_FAILURES` (``hang``, ``stall``, ``die``) for the watchdog's tests.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable

from ..errors import (
    AccessViolationError, DivideByZeroError, DivideOverflowError, ExecutionOverrunError,
    JITError, ProgramFault, StackAccessViolationError, SyscallError,
)
from ..executable import Executable
from ..syscalls import SyscallContext, SyscallRegistry
from ..vm import VmState, get_engine

__all__ = ["PlantedEngine", "PLANTABLE", "PLANTED_FAILURES"]

PLANTABLE = ("result", "registers", "compute_units", "memory.stack", "memory.heap",
             "memory.input", "syscall_log", "logs", "return_data", "error.kind", "error.pc",
             "error.details", "exception", "crash")
"""Fields a planted bug can perturb (``crash``: an untyped exception)."""

PLANTED_FAILURES = ("hang", "stall", "die")
"""Worse than a wrong answer, for the watchdog's tests: ``hang`` loops in Python (the
worker's timer catches it), ``stall`` blocks the timer's signal and sleeps (only the
parent's watchdog catches it, as it would a hang in native code), ``die`` ends the worker
process abruptly (as a segfault in compiled code would)."""


class PlantedEngine:
    """Runs ``inner`` and then perturbs ``field`` (only when ``when(exe)`` holds).

    Args:
        field: one of :data:`PLANTABLE`.
        inner: the engine that really runs the program (default the interpreter).
        when: restricts the bug to some programs (default: every program).

    Raises:
        ValueError: an unknown field.
    """

    def __init__(self, field: str, inner: str = "interp",
                 when: Callable[[Executable], bool] | None = None) -> None:
        if field not in PLANTABLE + PLANTED_FAILURES:
            raise ValueError(f"cannot plant a bug in {field!r} (one of "
                             f"{', '.join(PLANTABLE + PLANTED_FAILURES)})")
        self.field = field
        self.inner = inner
        self.when = when
        self.name = f"planted:{field}"

    def execute(self, exe: Executable, memory: Any, state: VmState, ctx: SyscallContext,
                syscalls: SyscallRegistry) -> int:
        """Run ``exe`` on the inner engine, then plant the bug."""
        engine = get_engine(self.inner)
        if self.when is not None and not self.when(exe):
            return engine.execute(exe, memory, state, ctx, syscalls)
        f = self.field
        if f == "exception":
            raise JITError("planted: the candidate engine refused this program")
        if f == "crash":
            raise RuntimeError("planted: an untyped exception inside the candidate engine")
        if f == "hang":
            while True:
                time.sleep(0.01)
        if f == "stall":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(3600)
        if f == "die":
            os._exit(70)
        try:
            r0 = engine.execute(exe, memory, state, ctx, syscalls)
        except ProgramFault as fault:
            self._perturb_state(memory, state, ctx)
            raise self._perturb_fault(fault) from None
        self._perturb_state(memory, state, ctx)
        return r0 ^ 1 if f == "result" else r0

    def _perturb_state(self, memory: Any, state: VmState, ctx: SyscallContext) -> None:
        f = self.field
        if f == "registers":
            state.registers[7] ^= 1 << 40
        elif f == "compute_units":
            state.remaining = state.remaining - 1 if state.remaining else 1
        elif f.startswith("memory."):
            region = memory.region(f.split(".", 1)[1])
            if region is not None and region.length:
                region.data[region.length // 2] ^= 0x5A
        elif f == "syscall_log":
            ctx.call_log.append(("planted", (0, 0, 0, 0, 0), 0))
        elif f == "logs":
            ctx.logs.append("Program log: planted")
        elif f == "return_data":
            ctx.return_data = (ctx.return_data[0], ctx.return_data[1] + b"!")

    def _perturb_fault(self, fault: ProgramFault) -> ProgramFault:
        f = self.field
        if f == "error.kind":
            if fault.details() == ():
                other: ProgramFault = DivideOverflowError(pc=fault.pc) \
                    if not isinstance(fault, DivideOverflowError) else DivideByZeroError(pc=fault.pc)
                return other
            return ExecutionOverrunError(pc=fault.pc)
        if f == "error.pc":
            fault.pc = (fault.pc or 0) + 1
        elif f == "error.details":
            if isinstance(fault, (AccessViolationError, StackAccessViolationError)):
                fault.vm_addr ^= 1
            elif isinstance(fault, SyscallError):
                fault.detail += " (planted)"
        return fault

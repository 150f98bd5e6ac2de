"""Hypothesis strategies over the fuzz generators (for the test suite).

The generators ask a :class:`~tbpf.fuzz.chooser.Chooser` for integers; here every
choice is a Hypothesis draw, so a failing example shrinks by shrinking the choices that
built it (fewer templates, smaller immediates, earlier alternatives), not by mutating
bytes. Importing this module needs ``hypothesis`` (a test dependency).
"""

from __future__ import annotations

from typing import Any, Callable

from hypothesis import strategies as st

from ..versions import SBPFVersion
from .case import FuzzCase
from .chooser import Chooser
from .dumb import generate_dumb
from .smart import SmartOptions, generate_smart

__all__ = ["DrawChooser", "smart_cases", "dumb_cases", "elf_cases"]


class DrawChooser(Chooser):
    """A :class:`Chooser` whose choices are Hypothesis draws."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def bytes(self, n: int) -> bytes:  # noqa: A003
        return bytes(self.draw(st.binary(min_size=n, max_size=n)))


def smart_cases(version: SBPFVersion | None = None,
                options: SmartOptions | None = None) -> st.SearchStrategy[FuzzCase]:
    """Valid programs (see :func:`tbpf.fuzz.smart.generate_smart`)."""
    opts = options or SmartOptions(min_insns=12, max_insns=40)

    @st.composite
    def build(draw: Callable[[Any], Any]) -> FuzzCase:
        return generate_smart(DrawChooser(draw), version, opts)

    return build()


def dumb_cases(version: SBPFVersion | None = None,
               max_slots: int = 16) -> st.SearchStrategy[FuzzCase]:
    """Random-byte programs (see :func:`tbpf.fuzz.dumb.generate_dumb`)."""

    @st.composite
    def build(draw: Callable[[Any], Any]) -> FuzzCase:
        return generate_dumb(DrawChooser(draw), version, max_slots=max_slots)

    return build()


def elf_cases(seeds: list[Any]) -> st.SearchStrategy[FuzzCase]:
    """Mutated ELF files (see :func:`tbpf.fuzz.elfmut.mutate_elf`)."""
    from .elfmut import mutate_elf

    @st.composite
    def build(draw: Callable[[Any], Any]) -> FuzzCase:
        return mutate_elf(DrawChooser(draw), seeds)

    return build()

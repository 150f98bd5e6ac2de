"""Sources of choices for the program generators (seeded PRNG or Hypothesis draws).

Every generator in :mod:`tbpf.fuzz` takes a :class:`Chooser` and asks it for integers
only (no floats: probabilities are given as ``numerator/denominator``). Two sources:

* :class:`RandomChooser` wraps ``random.Random(seed)``: the same seed gives the same
  choices on every machine and every run (Python's Mersenne Twister and its integer
  seeding are stable), so the same seed gives the same program bytes.
* ``tbpf.fuzz.strategies`` wraps Hypothesis' ``draw`` so that Hypothesis can shrink a
  failing program by shrinking the choices that built it.

This module owns nothing else.
"""

from __future__ import annotations

import hashlib
import random
from typing import Sequence, TypeVar

__all__ = ["Chooser", "RandomChooser", "derive_seed"]

T = TypeVar("T")


def derive_seed(*parts: object) -> int:
    """A 64-bit seed derived from ``parts`` (stable across processes and machines).

    Used to give case ``i`` of a campaign with seed ``S`` its own seed
    ``derive_seed(S, kind, i)``, so any case can be regenerated alone.

    >>> derive_seed(1, "smart", 0) == derive_seed(1, "smart", 0)
    True
    """
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


class Chooser:
    """Integer choices; subclasses implement :meth:`integer`."""

    def integer(self, lo: int, hi: int) -> int:
        """A uniformly chosen integer in ``[lo, hi]`` (both inclusive)."""
        raise NotImplementedError

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``; ``n`` must be positive."""
        return self.integer(0, n - 1)

    def choice(self, seq: Sequence[T]) -> T:
        """One element of a non-empty sequence."""
        return seq[self.below(len(seq))]

    def chance(self, num: int, den: int) -> bool:
        """True with probability ``num/den``."""
        return self.below(den) < num

    def weighted(self, pairs: Sequence[tuple[T, int]]) -> T:
        """One of the values, chosen with the given integer weights."""
        total = sum(w for _, w in pairs)
        pick = self.below(total)
        for value, weight in pairs:
            if pick < weight:
                return value
            pick -= weight
        return pairs[-1][0]

    def bytes(self, n: int) -> bytes:  # noqa: A003 - the natural name
        """``n`` random bytes."""
        return bytes(self.integer(0, 255) for _ in range(n))


class RandomChooser(Chooser):
    """Choices from ``random.Random(seed)``: reproducible for a given seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)

    def bytes(self, n: int) -> bytes:  # noqa: A003
        return self._rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""

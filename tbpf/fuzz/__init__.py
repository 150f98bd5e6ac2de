"""Differential fuzzing of TBPF's engines (``tbpf fuzz``; see ``docs/fuzzing.md``).

* :mod:`tbpf.fuzz.chooser` - seeded sources of choices (same seed, same bytes);
* :mod:`tbpf.fuzz.smart`, :mod:`tbpf.fuzz.dumb`, :mod:`tbpf.fuzz.elfmut` - the three
  generators (valid programs from the opcode table, random bytes, mutated ELF files);
* :mod:`tbpf.fuzz.case` - :class:`FuzzCase`, its JSON record and its ``.s`` form;
* :mod:`tbpf.fuzz.compare` - the differential runner and the comparator over every
  observable field;
* :mod:`tbpf.fuzz.minimize` - delta debugging of failing cases;
* :mod:`tbpf.fuzz.campaign` - campaigns, worker processes, watchdog, reproducer files;
* :mod:`tbpf.fuzz.strategies` - Hypothesis strategies over the same generators (tests).

Nothing here imports an engine at module level: engines are resolved by name at run time.
"""

from __future__ import annotations

from .case import FuzzCase
from .chooser import Chooser, RandomChooser, derive_seed
from .compare import CaseReport, Difference, Observation, compare, run_differential
from .dumb import generate_dumb
from .smart import SmartOptions, generate_smart

__all__ = ["FuzzCase", "Chooser", "RandomChooser", "derive_seed", "CaseReport", "Difference",
           "Observation", "compare", "run_differential", "generate_dumb", "generate_smart",
           "SmartOptions"]

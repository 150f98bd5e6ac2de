"""Shared test fixtures: every behavioural test runs on both engines.

``engine`` parametrizes a test over ``interp`` and ``jit``; :func:`run_both` (in
``tests/vmtest.py``) runs one program on every engine and asserts that they agree on
everything observable before returning the interpreter's outcome.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def available_engines() -> list[str]:
    """The engines present in this checkout (the JIT needs llvmlite)."""
    engines = ["interp"]
    if importlib.util.find_spec("jit.engine") is not None \
            and importlib.util.find_spec("llvmlite") is not None:
        engines.append("jit")
    return engines


ENGINES = available_engines()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False,
                     help="run long campaigns (fuzzing, big programs)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="long campaign: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn."""
    return str(request.param)

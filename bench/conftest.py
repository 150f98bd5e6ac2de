"""Benchmark helpers: print guest instructions per second after the timing table."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per benchmark that recorded ``insns_per_sec`` in its extra_info."""
    session = terminalreporter._session  # noqa: SLF001 - pytest-benchmark keeps it there
    bench_session = getattr(session.config, "_benchmarksession", None)
    if bench_session is None:
        return
    _contract_summary(terminalreporter, bench_session)
    rows = [(b.fullname.split("::")[-1], b.extra_info) for b in bench_session.benchmarks
            if "insns_per_sec" in b.extra_info]
    if not rows:
        return
    terminalreporter.section("guest instructions per second (instructions / median)")
    for name, info in rows:
        terminalreporter.write_line(
            f"{name:55s} {info['insns_per_sec'] / 1e6:7.2f} M/s "
            f"({info['instructions']} instructions)")


def _contract_summary(terminalreporter: pytest.TerminalReporter, bench_session: object) -> None:
    """One line per benchmark that recorded ``invocations_per_sec`` (bench_contracts.py)."""
    rows = [(b.fullname.split("::")[-1], b.extra_info)
            for b in bench_session.benchmarks  # type: ignore[attr-defined]
            if "invocations_per_sec" in b.extra_info]
    if not rows:
        return
    terminalreporter.section("contract invocations per second (invocations / median round)")
    for name, info in rows:
        terminalreporter.write_line(
            f"{name:55s} {info['invocations_per_sec']:9.0f} /s "
            f"({info['gas_per_invocation']} gas per invocation)")

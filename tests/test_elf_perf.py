"""Load time of large programs (recorded, never asserted: machines differ).

The numbers are printed (``pytest -s``) and attached as junit properties. The largest
test ELF is ``solana/counter.so`` (51 KB); the synthetic program is a ~600 KB v0 ELF
with about 43,000 instructions and 6,800 dynamic relocations, made by TBPF's linker
from a synthetic object (also timed: linked in memory, then loaded).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tbpf.config import Config
from tbpf.elf import load_elf
from tbpf.linker import link_objects
from tbpf.vm import run_executable

from elfgen import synthetic_object

ELFS = Path(__file__).parent / "elfs"
BIG = Config(max_elf_size=4 << 20)


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def report(record_property, name: str, size: int, load_s: float, verify_s: float) -> None:
    record_property(f"{name}_bytes", size)
    record_property(f"{name}_load_ms", round(load_s * 1000, 2))
    record_property(f"{name}_load_and_verify_ms", round(verify_s * 1000, 2))
    print(f"\n{name}: {size} bytes, load {load_s * 1000:.1f} ms, "
          f"load+verify {verify_s * 1000:.1f} ms")


def test_largest_shared_program_load_time(record_property):
    path = max(ELFS.rglob("*.so"), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    load_s, exe = timed(lambda: load_elf(data))
    verify_s, _ = timed(lambda: load_elf(data).verify(), repeat=1)
    report(record_property, path.name, len(data), load_s, verify_s)
    assert exe.num_slots > 1000


@pytest.fixture(scope="module")
def synthetic() -> dict[str, bytes]:
    obj = synthetic_object(3300).build()
    return {"o": obj, "v0": link_objects([obj], version="v0", max_output_size=4 << 20),
            "v3": link_objects([obj], version="v3", max_output_size=4 << 20)}


@pytest.mark.parametrize("form", ["v0", "v3", "o"])
def test_synthetic_600kb_load_time(synthetic, form, record_property):
    data = synthetic[form]
    assert len(data) > 480_000
    load_s, exe = timed(lambda: load_elf(data, BIG))
    verify_s, _ = timed(lambda: load_elf(data, BIG).verify(), repeat=1)
    report(record_property, f"synthetic_{form}", len(data), load_s, verify_s)
    assert exe.num_slots > 40_000
    outcome = run_executable(exe, input=b"")
    assert outcome.result == 1 and outcome.logs == ["Program log: 0x0, 0x0, 0x0, 0x0, 0x0"]

"""JIT benchmarks: C kernels compiled to sBPF and natively, side by side in one run.

Run: ``python3 -m pytest bench/bench_jit.py --benchmark-only`` (needs clang and gcc).

For each kernel (loop sum, iterative Fibonacci, insertion sort, FNV-1a, recursive
Fibonacci) the same C source is compiled once with ``clang -target bpf -O2 -mcpu=v1``
(linked by TBPF) and once with ``gcc -O2`` (the physical-limit reference). Measured:

* native time, optimized-tier JIT time and fast-tier JIT time on the same input;
* interpreter time on a smaller input, compared per compute unit (ns/CU) with the JIT;
* compile time per 1,000 instructions for each tier, on real Solana programs;
* cached load time (object image from the disk cache into a fresh engine);
* Python → JIT call overhead (the bare native call and a whole ``run_executable``).

At the end of the session a summary with the ratios (all from this one run) is printed
and written to ``bench/results/jit_summary.json``. Numbers are medians; these are
shared machines, so compare ratios rather than absolute times.
"""

from __future__ import annotations

import ctypes
import json
import math
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import tbpf
from tbpf.syscalls import solana_syscalls
from tbpf.vm import build_memory, run_executable

jit_engine = pytest.importorskip("jit.engine")
from jit.engine import JitConfig, JitEngine, _region_table  # noqa: E402

HERE = Path(__file__).parent
KERNEL_DIR = HERE / "kernels"
RESULTS = HERE / "results"
PROGRAMS = HERE.parent.parent / "shared" / "programs" / "solana"

U64 = 8


def _u64s(*values: int) -> bytes:
    return b"".join((v & (2**64 - 1)).to_bytes(U64, "little") for v in values)


def _sort_input(n: int) -> bytes:
    rng = np.random.default_rng(7)
    return _u64s(n) + rng.integers(0, 2**63, size=n, dtype=np.uint64).tobytes()


def _fnv_input(n: int, rounds: int) -> bytes:
    return _u64s(n, rounds) + bytes((i * 37 + 11) & 0xFF for i in range(n))


# kernel -> (input for native/JIT, input for the interpreter)
KERNELS: dict[str, tuple[bytes, bytes]] = {
    "loop_sum": (_u64s(20_000_000), _u64s(100_000)),
    "fib_iter": (_u64s(30_000_000), _u64s(100_000)),
    "insertion_sort": (_sort_input(3_000), _sort_input(200)),
    "fnv1a": (_fnv_input(65_536, 200), _fnv_input(65_536, 1)),
    "fib_rec": (_u64s(30), _u64s(17)),
}

SUMMARY: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Compile every kernel to sBPF (.o) and natively (one shared library)."""
    if shutil.which("clang") is None or shutil.which("gcc") is None:
        pytest.skip("needs clang (sBPF) and gcc (native reference)")
    out = tmp_path_factory.mktemp("kernels")
    objects: dict[str, bytes] = {}
    for name in KERNELS:
        obj = out / f"{name}.o"
        subprocess.run(["clang", "-target", "bpf", "-O2", "-mcpu=v1", "-c",
                        str(KERNEL_DIR / f"{name}.c"), "-o", str(obj)], check=True)
        objects[name] = obj.read_bytes()
    lib_path = out / "libkernels.so"
    sources = []
    for name in KERNELS:
        src = out / f"native_{name}.c"
        src.write_text(f"#define KERNEL_NAME {name}\n" + (KERNEL_DIR / f"{name}.c").read_text())
        sources.append(str(src))
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", f"-I{KERNEL_DIR}", "-o", str(lib_path),
                    *sources], check=True)
    lib = ctypes.CDLL(str(lib_path))
    for name in KERNELS:
        getattr(lib, name).restype = ctypes.c_uint64
        getattr(lib, name).argtypes = [ctypes.c_char_p]
    return {"objects": objects, "lib": lib}


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, JitEngine]:
    cache = tmp_path_factory.mktemp("jit-cache")
    return {"optimized": JitEngine(JitConfig(tier="optimized", cache_dir=cache)),
            "fast": JitEngine(JitConfig(tier="fast", cache_dir=None))}


def _record(kernel: str, field: str, value: float) -> None:
    SUMMARY.setdefault(kernel, {})[field] = value


def _median(benchmark) -> float:  # type: ignore[no-untyped-def]
    return float(benchmark.stats.stats.median)


def _min(benchmark) -> float:  # type: ignore[no-untyped-def]
    return float(benchmark.stats.stats.min)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_native(benchmark, built, kernel):
    benchmark.group = f"kernel:{kernel}"
    func = getattr(built["lib"], kernel)
    data = KERNELS[kernel][0]
    result = benchmark.pedantic(lambda: func(ctypes.create_string_buffer(data, len(data))),
                                rounds=7, iterations=1, warmup_rounds=1)
    _record(kernel, "native_s", _median(benchmark))
    _record(kernel, "native_min_s", _min(benchmark))
    _record(kernel, "native_result", result)


@pytest.mark.parametrize("tier", ["optimized", "fast"])
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_jit(benchmark, built, engines, kernel, tier):
    benchmark.group = f"kernel:{kernel}"
    engine = engines[tier]
    exe = tbpf.load_elf(built["objects"][kernel])
    syscalls = solana_syscalls()
    engine.compile(exe, syscalls, tier=tier)
    data = KERNELS[kernel][0]

    def run():  # type: ignore[no-untyped-def]
        return run_executable(exe, engine=engine, input=data, budget=2**62, syscalls=syscalls)

    outcome = benchmark.pedantic(run, rounds=7 if tier == "optimized" else 3, iterations=1,
                                 warmup_rounds=1)
    assert outcome.error is None
    if "native_result" in SUMMARY.get(kernel, {}):
        assert outcome.result == SUMMARY[kernel]["native_result"]
    _record(kernel, f"jit_{tier}_s", _median(benchmark))
    _record(kernel, f"jit_{tier}_min_s", _min(benchmark))
    _record(kernel, "jit_cu", outcome.compute_units)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_interpreter(benchmark, built, kernel):
    benchmark.group = f"kernel:{kernel}"
    exe = tbpf.load_elf(built["objects"][kernel])
    data = KERNELS[kernel][1]
    outcome = benchmark.pedantic(
        lambda: run_executable(exe, engine="interp", input=data, budget=2**62),
        rounds=3, iterations=1)
    assert outcome.error is None
    _record(kernel, "interp_s", _median(benchmark))
    _record(kernel, "interp_cu", outcome.compute_units)


def _solana_programs() -> list[Path]:
    return sorted(PROGRAMS.glob("*.so")) if PROGRAMS.exists() else []


@pytest.mark.parametrize("tier", ["fast", "optimized"])
def test_compile_time_per_1000_instructions(benchmark, tier):
    programs = _solana_programs()
    if not programs:
        pytest.skip("no real programs found")
    benchmark.group = "compile"
    exes = [tbpf.load_elf(p.read_bytes()) for p in programs]
    for exe in exes:
        exe.verify()
    insns = sum(sum(1 for i in exe.verify() if i is not None) for exe in exes)

    def compile_all() -> None:
        engine = JitEngine(JitConfig(tier=tier, cache_dir=None))
        for exe in exes:
            engine.compile(exe, tier=tier)

    benchmark.pedantic(compile_all, rounds=3 if tier == "fast" else 1, iterations=1)
    _record("compile", f"{tier}_ms_per_1k", _median(benchmark) * 1000 / (insns / 1000))
    _record("compile", "instructions", insns)


def test_cached_load(benchmark, tmp_path):
    programs = _solana_programs()
    if not programs:
        pytest.skip("no real programs found")
    benchmark.group = "cache"
    exe = tbpf.load_elf(programs[0].read_bytes())
    exe.verify()
    JitEngine(JitConfig(tier="optimized", cache_dir=tmp_path)).compile(exe)
    syscalls = solana_syscalls()
    times = []

    def load() -> None:
        engine = JitEngine(JitConfig(tier="optimized", cache_dir=tmp_path))
        t0 = time.perf_counter()
        program = engine.program(exe, syscalls)
        times.append(time.perf_counter() - t0)
        assert program.stats.cache_hit.get(2) is True

    benchmark.pedantic(load, rounds=20, iterations=1)
    _record("cache", "cached_load_ms", statistics.median(times) * 1000)


def test_call_overhead(benchmark, engines):
    benchmark.group = "call"
    exe = tbpf.load_program("mov64 r0, 1\nexit")
    engine = engines["optimized"]
    syscalls = solana_syscalls()
    program = engine.compile(exe, syscalls, tier="optimized")
    memory = build_memory(exe)
    words = np.zeros(program.ctx_words, dtype=np.uint64)
    table = _region_table(memory)
    ctx, regions = words.ctypes.data, table.ctypes.data
    function = program.code.function

    def call() -> int:
        words[12] = 100
        return function(ctx, regions)

    assert benchmark(call) == 0
    _record("call", "native_call_us", _median(benchmark) * 1e6)
    t0 = time.perf_counter()
    for _ in range(2000):
        run_executable(exe, engine=engine, budget=100, syscalls=syscalls)
    _record("call", "run_executable_us", (time.perf_counter() - t0) / 2000 * 1e6)


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


@pytest.fixture(scope="session", autouse=True)
def summary():  # type: ignore[no-untyped-def]
    yield
    if not SUMMARY:
        return
    lines = ["", "JIT benchmark summary (medians, ratios from this run)",
             f"{'kernel':16} {'native ms':>10} {'jit O2 ms':>10} {'O2/native':>9} "
             f"{'jit O0 ms':>10} {'interp ns/CU':>12} {'jit ns/CU':>10} {'jit/interp':>10}"]
    vs_native, vs_interp, vs_native_min = [], [], []
    for kernel in KERNELS:
        row = SUMMARY.get(kernel, {})
        try:
            ratio = row["jit_optimized_s"] / row["native_s"]
            jit_ns = row["jit_optimized_s"] / row["jit_cu"] * 1e9
            interp_ns = row["interp_s"] / row["interp_cu"] * 1e9
        except KeyError:
            continue
        vs_native.append(ratio)
        vs_native_min.append(row["jit_optimized_min_s"] / row["native_min_s"])
        vs_interp.append(interp_ns / jit_ns)
        row.update(jit_vs_native=ratio, speedup_vs_interp=interp_ns / jit_ns)
        lines.append(f"{kernel:16} {row['native_s'] * 1e3:10.2f} {row['jit_optimized_s'] * 1e3:10.2f} "
                     f"{ratio:9.2f} {row.get('jit_fast_s', float('nan')) * 1e3:10.2f} "
                     f"{interp_ns:12.1f} {jit_ns:10.3f} {interp_ns / jit_ns:10.0f}")
    SUMMARY["geomean"] = {"jit_vs_native": _geomean(vs_native),
                          "jit_vs_native_min": _geomean(vs_native_min),
                          "speedup_vs_interp": _geomean(vs_interp)}
    lines.append(f"geomean: optimized JIT = {SUMMARY['geomean']['jit_vs_native']:.2f}x native "
                 f"time (medians; {SUMMARY['geomean']['jit_vs_native_min']:.2f}x on the "
                 f"fastest of each), {SUMMARY['geomean']['speedup_vs_interp']:.0f}x the "
                 f"interpreter")
    for group in ("compile", "cache", "call"):
        if group in SUMMARY:
            lines.append(f"{group}: " + ", ".join(f"{k}={v:.3f}" for k, v in SUMMARY[group].items()))
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "jit_summary.json").write_text(json.dumps(SUMMARY, indent=2, sort_keys=True))

"""JIT-specific behaviour: adversarial programs, exact metering at hand-over, tiers,
the disk cache (including corruption), the in-process cache, bounded memory, dumps."""

from __future__ import annotations

import os

import pytest

import tbpf
from tbpf.errors import SyscallError
from tbpf.isa import all_specs
from tbpf.syscalls import SyscallRegistry, solana_syscalls
from tbpf.vm import load_program, run_executable

from vmtest import run_both

jit_engine = pytest.importorskip("jit.engine")
from jit import abi  # noqa: E402
from jit.engine import DiskCache, JitConfig, JitEngine  # noqa: E402
from jit.lowering import LoweringOptions, lower, lowered_forms  # noqa: E402
from interp.interpreter import handled_forms  # noqa: E402


# --- adversarial programs: the right typed fault, the process survives -----------------

ADVERSARIAL = [
    ("div64 by zero register", "v0", "mov64 r0, 7\nmov64 r1, 0\ndiv64 r0, r1\nexit",
     "DivideByZero", 2),
    ("mod32 by zero register", "v0", "mov64 r0, 7\nmov64 r1, 0\nmod32 r0, r1\nexit",
     "DivideByZero", 2),
    ("sdiv64 INT_MIN / -1", "v2",
     "mov64 r0, 1\nlsh64 r0, 63\nmov64 r1, -1\nsdiv64 r0, r1\nexit", "DivideOverflow", 3),
    ("srem32 INT_MIN / -1 imm", "v2",
     "mov32 r0, 1\nlsh32 r0, 31\nsrem32 r0, -1\nexit", "DivideOverflow", 2),
    ("sdiv32 by zero register", "v2", "mov64 r0, 7\nmov64 r1, 0\nsdiv32 r0, r1\nexit",
     "DivideByZero", 2),
    ("load far out of range", "v0", "lddw r1, 0x500000000\nldxb r0, [r1]\nexit",
     "AccessViolation", 2),
    ("load from the v0 stack gap", "v0", "ldxdw r0, [r10+8]\nexit", "StackAccessViolation", 0),
    ("store below the stack", "v0",
     "lddw r1, 0x1ffffffff\nstb [r1], 1\nexit", "StackAccessViolation", 2),
    ("store into read-only program", "v0",
     "lddw r1, 0x100000000\nstb [r1], 1\nexit", "AccessViolation", 2),
    ("store into read-only input", "v0", "stb [r1], 1\nexit", "AccessViolation", 0),
    ("store past the heap", "v0",
     "lddw r1, 0x300008000\nstb [r1-1], 1\nstb [r1], 1\nexit", "AccessViolation", 3),
    ("call depth 65", "v0", "function_f:\ncall function_f\nexit", "CallDepthExceeded", 0),
    ("callx into rodata (below text)", "v0", "mov64 r1, 8\ncallx r1\nexit",
     "CallOutsideTextSegment", 1),
    ("callx into the second slot of lddw", "v0",
     "lddw r1, 0x100000008\ncallx r1\nexit", "UnsupportedInstruction", 1),
    ("callx past the end", "v3", "lddw r1, 0x100000100\ncallx r1\nexit",
     "CallOutsideTextSegment", 2),
    ("infinite loop", "v0", "loop:\nadd64 r0, 1\nja loop", "ExceededMaxInstructions", None),
    ("return past the end", "v0", "ja +1\nexit\ncall -2", "ExecutionOverrun", 3),
    ("unresolved call", "v0", "syscall 77\nexit", "UnsupportedInstruction", 0),
    ("call to a registered pc outside the text", "v0", "call 77\nexit",
     "CallOutsideTextSegment", 0),
    ("static call to an unknown syscall", "v3", "syscall 77\nexit", "UnsupportedInstruction", 0),
    ("call into the second slot of lddw", "v3", "ja +2\nlddw r0, 1\ncall -2\nexit",
     "UnsupportedInstruction", 2),
]


@pytest.mark.parametrize("name,version,src,kind,pc", ADVERSARIAL, ids=[a[0] for a in ADVERSARIAL])
def test_adversarial_program_faults_identically(name, version, src, kind, pc):
    out = run_both(src, version=version, input=bytes(16), budget=5000,
                   input_writable=False)
    assert out.error is not None and out.error.kind == kind, (name, out.error)
    if pc is not None:
        assert out.error.pc == pc


def test_shifts_past_the_width_are_masked():
    src = """
        mov64 r0, 1
        mov64 r1, 65
        lsh64 r0, r1
        mov32 r2, 1
        mov32 r3, 33
        lsh32 r2, r3
        add64 r0, r2
        mov64 r4, -1
        mov64 r5, 127
        rsh64 r4, r5
        add64 r0, r4
        exit"""
    # 1 << (65 & 63) = 2; 1 << (33 & 31) = 2; -1 >> (127 & 63) = 1
    assert run_both(src).result == 2 + 2 + 1


def test_python_exception_in_a_syscall_is_a_syscall_error():
    registry = solana_syscalls()

    def broken(ctx, *args):
        raise ZeroDivisionError("host bug")

    registry.register("broken", broken)
    out = run_both("mov64 r1, 5\nsyscall broken\nexit", syscalls=registry)
    assert isinstance(out.error, SyscallError)
    assert out.error.inner_kind == "HostError" and out.error.pc == 1


def test_syscall_budget_shortage_drains_the_meter():
    # sol_log_64_ costs 100; with 50 left the syscall fails and consumes everything.
    out = run_both("syscall sol_log_64_\nexit", budget=50)
    assert out.error.kind == "SyscallError" and out.error.inner_kind == "ComputationalBudgetExceeded"
    assert out.compute_units == 50


@pytest.mark.parametrize("budget", range(1, 14))
def test_budget_exhausted_inside_a_block_is_exact(budget):
    # One long block with stores: the JIT hands the unpayable block to the interpreter,
    # so pc, compute units, registers and memory all match at every budget.
    src = "\n".join(f"stb [r10-{i + 1}], {i}\nadd64 r0, {i}" for i in range(6)) + "\nexit"
    out = run_both(src, budget=budget)
    if budget >= 13:
        assert out.error is None
    else:
        assert out.error.kind == "ExceededMaxInstructions" and out.error.pc == budget
        assert out.compute_units == budget


# A loop whose body is two blocks: the header checks the budget for both (the second has
# one predecessor), with a store in each block and an early exit from the header.
CHAINED_LOOP = """
    mov64 r1, 6
loop:
    stxb [r10-1], r1
    jeq r1, 2, done
    stxb [r10-2], r1
    add64 r0, r1
    add64 r1, -1
    jne r1, 0, loop
done:
    exit
"""


def test_a_block_with_one_predecessor_is_checked_by_it():
    exe = load_program(CHAINED_LOOP, kind="asm", version="v0")
    ir = lower(exe, exe.verify(), solana_syscalls()).ir
    checks = {}  # block label -> the budget its check demands
    label = None
    for line in ir.splitlines():
        if line.startswith("pc_"):
            label = line[:-1]
        elif "icmp uge" in line and label is not None:
            checks[label] = int(line.rsplit(", ", 1)[1])
    # The header (pc 1) demands its own 2 CUs plus the 4 of the body (pc 3), which only
    # pays; the loop exit (pc 7) has two predecessors and checks for itself.
    assert checks == {"pc_0": 1, "pc_1": 6, "pc_7": 1}


@pytest.mark.parametrize("budget", range(1, 24))
def test_budget_exhausted_inside_a_covered_block_is_exact(budget):
    # Every budget ends the run somewhere in the header or the covered body: the hand-over
    # at the header must leave pc, compute units, registers and both stores exact.
    out = run_both(CHAINED_LOOP, budget=budget)
    if out.error is None:
        assert out.result == 6 + 5 + 4 + 3
    else:
        assert out.error.kind == "ExceededMaxInstructions" and out.compute_units == budget


def test_fault_in_the_middle_of_a_block_refunds_the_rest():
    src = "mov64 r0, 1\nmov64 r1, 0\ndiv64 r0, r1\nmov64 r0, 2\nmov64 r0, 3\nexit"
    out = run_both(src)
    assert out.error.kind == "DivideByZero" and out.compute_units == 3


def test_untrusted_frame_pointer_is_checked():
    # A caller may preset r10 anywhere; the JIT must not skip checks on [r10 + const].
    out = run_both("stdw [r10-8], 1\nldxdw r0, [r10-8]\nexit",
                   registers={10: 0x4_0000_0008}, input=bytes(16))
    assert out.result == 1
    # r10 - 8 lands in the gap after frame 0 of the v0 stack.
    out = run_both("stdw [r10-8], 1\nexit", registers={10: 0x2_0000_1010})
    assert out.error is not None and out.error.kind == "StackAccessViolation"


def test_every_table_entry_has_both_an_interpreter_handler_and_a_lowering():
    forms = {(s.form, s.op) for s in all_specs()}
    assert forms <= handled_forms()
    assert forms <= lowered_forms()


def test_lowered_ir_for_one_instruction():
    exe = load_program("add64 r1, -8\nexit", kind="asm")
    ir = lower(exe, exe.verify(), SyscallRegistry()).ir
    assert "define i64 @tbpf_entry(ptr noalias %ctx, ptr noalias nocapture readonly %regions)" in ir
    assert "add i64 %t" in ir and ", -8" in ir
    assert "nsw" not in ir and "nuw" not in ir and "exact" not in ir
    assert "icmp uge i64" in ir  # the block's meter check


# --- tiers and caches -----------------------------------------------------------------

def _engine(tmp_path, **kwargs) -> JitEngine:
    return JitEngine(JitConfig(cache_dir=tmp_path / "cache", **kwargs))


LOOP = """
    mov64 r0, 0
    mov64 r1, 1000
loop:
    add64 r0, r1
    sub64 r1, 1
    jne r1, 0, loop
    exit
"""


def test_auto_tier_up_swaps_in_the_optimized_code(tmp_path):
    engine = _engine(tmp_path, tier="auto", tier_up_runs=2)
    exe = load_program(LOOP)
    expected = run_executable(exe, engine="interp", budget=10**6)
    first = run_executable(exe, engine=engine, budget=10**6)
    program = engine.program(exe, solana_syscalls(), LoweringOptions())
    assert program.tier == 0
    run_executable(exe, engine=engine, budget=10**6)
    assert program.wait_optimized(60)
    third = run_executable(exe, engine=engine, budget=10**6)
    for out in (first, third):
        assert (out.result, out.compute_units) == (expected.result, expected.compute_units)


def test_disk_cache_hit_in_a_fresh_engine(tmp_path):
    exe = load_program(LOOP)
    engine1 = _engine(tmp_path, tier="optimized")
    prog1 = engine1.compile(exe)
    assert prog1.stats.cache_hit.get(2) is False
    engine2 = _engine(tmp_path, tier="optimized")
    prog2 = engine2.compile(load_program(LOOP))
    assert prog2.stats.cache_hit.get(2) is True and prog2.tier == 2
    assert run_executable(exe, engine=engine2, budget=10**6).result == 500500


def test_corrupt_cache_entry_is_detected_and_recompiled(tmp_path):
    exe = load_program(LOOP)
    _engine(tmp_path, tier="optimized").compile(exe)
    files = list((tmp_path / "cache").rglob("*.obj"))
    assert files
    for path in files:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    engine = _engine(tmp_path, tier="optimized")
    program = engine.compile(load_program(LOOP))
    assert engine.disk_cache.corrupt >= 1
    assert program.stats.cache_hit.get(2) is False
    assert run_executable(exe, engine=engine, budget=10**6).result == 500500


def test_cache_rejects_truncated_and_foreign_files(tmp_path):
    cache = DiskCache(tmp_path)
    cache.put("k1", b"object-bytes")
    assert cache.get("k1") == b"object-bytes"
    path = next(tmp_path.rglob("*.obj"))
    path.write_bytes(path.read_bytes()[:20])
    assert cache.get("k1") is None and not path.exists()
    cache.put("k2", b"x")
    other = cache._path("k2")
    cache._path("k3").parent.mkdir(parents=True, exist_ok=True)
    os.replace(other, cache._path("k3"))
    assert cache.get("k3") is None


def test_disk_cache_is_bounded_and_evicts_least_recently_used(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=64 * 1024)
    for i in range(40):
        cache.put(f"key{i}", bytes([i]) * 4096)
        if i == 5:
            assert cache.get("key0") is not None  # touched: recently used
    cache.prune()
    assert cache.size() <= 64 * 1024
    assert cache.evicted > 0
    assert cache.get("key39") is not None  # the newest survive
    assert cache.get("key1") is None       # the oldest untouched ones went first


def test_shared_code_for_executables_that_differ_only_in_their_entry(tmp_path):
    # What the contract runtime does for a contract's entry points.
    from dataclasses import replace
    engine = _engine(tmp_path, tier="fast")
    exe1 = load_program("entrypoint:\nmov64 r0, 1\nexit\nfunction_two:\nmov64 r0, 2\nexit")
    exe2 = replace(exe1, entry_pc=2, _digest=None)
    assert exe1.code_digest == exe2.code_digest and exe1.digest != exe2.digest
    assert run_executable(exe1, engine=engine).result == 1
    assert run_executable(exe2, engine=engine).result == 2
    p1 = engine.program(exe1, solana_syscalls(), LoweringOptions())
    assert engine.program(exe2, solana_syscalls(), LoweringOptions()) is p1
    exe3 = replace(exe1, entry_pc=1, _digest=None)  # not a function start: interpreter
    assert run_executable(exe3, engine=engine).compute_units == 1


def test_in_process_cache_links_a_program_once(tmp_path):
    engine = _engine(tmp_path, tier="fast")
    exe = load_program(LOOP)
    p1 = engine.program(exe, solana_syscalls(), LoweringOptions())
    p2 = engine.program(load_program(LOOP), solana_syscalls(), LoweringOptions())
    assert p1 is p2


def test_ir_and_asm_dumps(tmp_path):
    engine = JitEngine(JitConfig(cache_dir=None, tier="optimized",
                                 dump_ir=str(tmp_path / "ir"), dump_asm=str(tmp_path / "asm")))
    engine.compile(load_program(LOOP))
    names = {p.name for p in (tmp_path / "ir").iterdir()}
    assert any(n.endswith(".opt.ll") for n in names) and any(n.endswith(".ll") for n in names)
    assert any(p.suffix == ".s" for p in (tmp_path / "asm").iterdir())


_CHURN = """
import gc, sys
from tbpf.vm import load_program, run_executable
from jit.engine import JitEngine, JitConfig

def rss_kb():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def churn(start, count, engine):
    for i in range(start, start + count):
        exe = load_program(f"mov64 r0, {i}\\nexit")
        assert run_executable(exe, engine=engine, budget=10).result == i

warmup, count, links = (int(a) for a in sys.argv[1:4])
engine = JitEngine(JitConfig(cache_dir=None, tier="fast", max_programs=64,
                             links_per_generation=links))
churn(0, warmup, engine)
gc.collect()
before = rss_kb()
churn(warmup, count, engine)
gc.collect()
print(rss_kb() - before)
"""


def _rss_growth_kb(warmup: int, count: int, links: int) -> int:
    """RSS growth of a fresh process while it loads, runs and drops ``count`` programs
    (a subprocess, so other tests' engines and background compiles cannot interfere)."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _CHURN, str(warmup), str(count), str(links)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "TBPF_CACHE_DIR": "off"})
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


def test_loading_and_dropping_programs_keeps_memory_bounded():
    growth_kb = _rss_growth_kb(600, 1200, 200)
    # ~9 KB per link would be 10+ MB here if generations were never recycled.
    assert growth_kb < 8_000, f"RSS grew by {growth_kb} KB over 1200 programs"


@pytest.mark.slow
def test_ten_thousand_programs_keep_memory_bounded():
    growth_kb = _rss_growth_kb(1000, 10_000, 500)
    assert growth_kb < 20_000, f"RSS grew by {growth_kb} KB over 10,000 programs"


def test_context_layout_constants_are_consistent():
    assert abi.CTX_FRAMES > abi.CTX_SYSCALL_FAILED
    assert abi.ctx_words(64) == abi.CTX_FRAMES + abi.FRAME_WORDS * 64
    assert abi.FRAME_RET < abi.FRAME_WORDS and abi.FRAME_MASK < abi.FRAME_WORDS
    assert len({abi.STATUS_EXIT, abi.STATUS_BAIL, abi.STATUS_MEMORY_FAULT,
                abi.STATUS_SYSCALL_ERROR, abi.STATUS_INTERNAL}) == 5


def test_jit_run_through_the_public_api_and_cli(tmp_path, capsys):
    assert tbpf.run("mov64 r0, 42\nexit", engine="jit").result == 42
    src = tmp_path / "p.s"
    src.write_text("mov64 r0, 42\nexit\n")
    from tbpf.cli import main
    assert main(["run", str(src), "--engine", "jit", "--json"]) == 0
    assert '"engine": "jit"' in capsys.readouterr().out


# A callee that changes r6 on one path only, then stops at a join: the registers it
# reports must be r6 = 11 (caller's, path not taken) or 22, never a value from the other
# path. Exercises the optimized tier's per-site register masks (jit.regflow.site_mask);
# the callee has no exit, so only its stopping sites make r6 an argument.
ONE_PATH_WRITE = """
    mov64 r6, 11
    mov64 r1, {arg}
    call function_f
    exit
function_f:
    jeq r1, 0, join
    mov64 r6, 22
join:
    mov64 r7, 5
    ldxdw r0, [r1+0]
    ja join
"""


@pytest.mark.parametrize("arg", [0, 1])
@pytest.mark.parametrize("budget", range(1, 10))
def test_registers_changed_on_one_path_are_exact_where_the_callee_stops(arg, budget):
    out = run_both(ONE_PATH_WRITE.format(arg=arg), budget=budget)
    assert out.error is not None
    if out.error.kind == "AccessViolation":
        assert out.registers[6] == (11 if arg == 0 else 22) and out.registers[7] == 5


def test_registers_a_callee_overwrites_before_it_can_stop_are_not_passed():
    # function_f sets r0 and r6 before anything that can stop it: the caller passes
    # neither (poison), only r10 (its frame), the meter and the depth.
    src = "mov64 r6, 3\ncall function_f\nexit\nfunction_f:\nmov64 r6, 1\nmov64 r0, r6\nexit"
    exe = load_program(src, kind="asm", version="v0")
    ir = lower(exe, exe.verify(), solana_syscalls(), LoweringOptions(precise_registers=True)).ir
    call = next(line for line in ir.splitlines() if "call fastcc %Ret @f_3(" in line)
    args = [a.strip() for a in call.split("(", 1)[1].rstrip(")").split(",")][2:]
    assert [a.split()[1] for a in args[:10]] == ["poison"] * 10
    assert "poison" not in args[10]  # r10


DEEP_RECURSION = """
    mov64 r1, 60
    call function_down
    exit
function_down:
    stxdw [r10-8], r1
    mov64 r0, 0
    jeq r1, 0, done
    add64 r1, -1
    call function_down
    ldxdw r1, [r10-8]
    add64 r0, r1
done:
    exit
"""


def test_native_stack_guard_hands_over_at_every_depth():
    # Compiled guest calls are native calls: when the thread's stack runs low the JIT
    # must hand the run to the interpreter (never overflow the host stack). Sweep an
    # artificial stack limit across the whole thread stack so the guard fires before the
    # first frame, in the middle of the recursion, and never; every run must equal the
    # interpreter's.
    import threading

    from jit import engine as jit_engine_module
    from vmtest import outcome_key

    exe = load_program(DEEP_RECURSION, kind="asm", version="v0")
    expected = outcome_key(run_executable(exe, engine="interp", budget=10_000))
    assert expected["result"] == sum(range(61))
    engines = {tier: JitEngine(JitConfig(tier=tier, cache_dir=None))
               for tier in ("fast", "optimized")}
    depths: dict[str, set[int | None]] = {tier: set() for tier in engines}
    failures: list[str] = []
    stack_size = 1 << 20

    def sweep() -> None:
        low = jit_engine_module._thread_stack_low()
        for margin in range(0, stack_size + 1, 512):
            jit_engine_module._STACK.limit = low + margin
            for tier, engine in engines.items():
                before = engine.handovers
                key = outcome_key(run_executable(exe, engine=engine, budget=10_000))
                depth = engine.last_handover[1] if engine.handovers != before else None
                depths[tier].add(depth)
                if key != expected:
                    failures.append(f"{tier} at margin {margin}: {key} != {expected}")

    old = threading.stack_size(stack_size)
    try:
        thread = threading.Thread(target=sweep)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old)
    assert not failures, failures[:3]
    for tier in engines:
        # Never, before the first guest call, and at several depths inside the recursion.
        assert None in depths[tier] and 0 in depths[tier], (tier, depths[tier])
        assert len(depths[tier] - {None, 0}) >= 3, (tier, depths[tier])


def test_threads_linking_while_generations_retire():
    # Two threads compile, run and drop programs while every second link retires the
    # LLJIT generation: a generation handed to one thread must not be closed by the
    # other before the link (it is reserved first), and every run stays exact.
    import threading

    engine = JitEngine(JitConfig(cache_dir=None, tier="fast", max_programs=4,
                                 links_per_generation=2))
    errors: list[BaseException] = []

    def churn(base: int) -> None:
        try:
            for i in range(base, base + 60):
                exe = load_program(f"mov64 r0, {i}\nexit")
                assert run_executable(exe, engine=engine, budget=10).result == i
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(k * 1000,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:1]


def test_dropping_compiled_code_inside_llvmlites_lock_never_waits_for_the_jit_lock():
    # The garbage collector may finalize compiled code in any thread, even one inside
    # llvmlite's own lock; if that finalizer waited for the JIT's lock, a thread holding
    # the JIT's lock and calling into llvmlite would deadlock with it (a fuzz worker did).
    import threading

    from llvmlite.binding import ffi

    from jit.engine import _LLVM_LOCK

    engine = JitEngine(JitConfig(cache_dir=None, tier="fast"))
    exe = load_program("mov64 r0, 1\nexit")
    program = engine.program(exe, solana_syscalls())
    held = [program.code]
    engine.programs.clear()
    engine._by_identity.clear()
    del program
    finalized = threading.Event()

    def drop_inside_llvmlite_lock() -> None:
        with ffi.lib._lock:
            held.clear()  # the last reference: the finalizer runs here, now
            finalized.set()

    with _LLVM_LOCK:
        thread = threading.Thread(target=drop_inside_llvmlite_lock)
        thread.start()
        ok = finalized.wait(5)
    thread.join()
    assert ok, "the finalizer blocked on the JIT lock while holding llvmlite's"
    # The unload happens at the next link, under the lock; the engine keeps working.
    assert run_executable(load_program("mov64 r0, 2\nexit"), engine=engine).result == 2

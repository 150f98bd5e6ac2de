"""The C SDK: the generated syscall header matches the runtime, every declared syscall
links and is accepted at deploy time, and the helpers (checked and 128-bit arithmetic,
signed division, formatting, the input reader) compute what Python computes, on both
engines.

The helper programs are compiled once per process with ``tbpf build`` (skipped, saying
why, without clang); each entry point processes a batch of cases per invocation.
"""

from __future__ import annotations

import math
import random
import struct

import pytest

from tbpf import sdk_headers
from tbpf.build import build_contract
from tbpf.chain import Chain, dev_address
from tbpf.errors import ClangNotFoundError
from tbpf.runtime import TBPFModule
from tbpf.runtime.params import encode_params
from tbpf.tos_syscalls import TOS_ALIASES, TOS_COSTS, TOS_LIMITS, TosCode, tos_syscalls

ALICE = dev_address("alice")
M64 = (1 << 64) - 1


# --------------------------------------------------------------------------------------
# The generated header
# --------------------------------------------------------------------------------------

def test_header_is_current() -> None:
    assert sdk_headers.HEADER_PATH.read_text() == sdk_headers.render(), (
        "sdk/c/include/tos/syscalls.h is stale: run python -m tbpf.sdk_headers")
    assert sdk_headers.main(["--check"]) == 0


def test_header_declares_every_syscall_code_limit_and_cost() -> None:
    text = sdk_headers.render()
    for syscall in tos_syscalls():
        assert f" {syscall.name}(" in text, syscall.name
    for code in TosCode:
        assert f"#define TOS_{code.name} ((u64){int(code):#x}ull)" in text
    assert f"#define TOS_LIMIT_MAX_KEY_SIZE {TOS_LIMITS.max_key_size}ull" in text
    assert f"#define TOS_GAS_TRANSFER {TOS_COSTS.transfer}ull" in text
    # The plain names are opt-in (a contract may call its own function `transfer`).
    plain = text.index("#ifdef TOS_PLAIN_NAMES")
    for alias in TOS_ALIASES:
        position = text.index(f" {alias}(")
        assert (position > plain) == (not alias.startswith("tos_")), alias


def test_prototype_drift_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    protos = dict(sdk_headers.C_PROTOTYPES)
    renamed = sdk_headers.CPrototype("u64", (("const u8 *", "asset"), ("u64", "amount")))
    monkeypatch.setattr(sdk_headers, "C_PROTOTYPES", {**protos, "tos_burn": renamed})
    with pytest.raises(ValueError, match="tos_burn"):
        sdk_headers.render()
    missing = {k: v for k, v in protos.items() if k != "tos_log"}
    monkeypatch.setattr(sdk_headers, "C_PROTOTYPES", missing)
    with pytest.raises(ValueError, match="tos_log"):
        sdk_headers.render()


def test_stale_header_is_detected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stale = tmp_path / "syscalls.h"
    stale.write_text(sdk_headers.render().replace("TOS_GAS_TRANSFER 5000", "TOS_GAS_TRANSFER 1"))
    assert sdk_headers.main(["--check", "--output", str(stale)]) == 1
    assert sdk_headers.main(["--output", str(stale)]) == 0
    assert sdk_headers.main(["--check", "--output", str(stale)]) == 0


# --------------------------------------------------------------------------------------
# Compiled helpers
# --------------------------------------------------------------------------------------

def _build(tmp_path_factory: pytest.TempPathFactory, name: str, source: str) -> bytes:
    path = tmp_path_factory.mktemp("sdk") / f"{name}.c"
    path.write_text(source)
    try:
        result = build_contract([path])
    except ClangNotFoundError as exc:
        pytest.skip(f"needs clang (CI installs it): {exc}")
    assert result.warnings == "", result.warnings
    return result.elf


def _all_syscalls_source() -> str:
    # One branch per syscall: abort and sol_panic_ do not return, so calls after them
    # in one block would be dropped.
    lines = ["#define TOS_PLAIN_NAMES", "#include <tos/tos.h>", "",
             "TOS_ENTRY(entrypoint) {"]
    for k, syscall in enumerate(tos_syscalls()):
        target = TOS_ALIASES.get(syscall.name, syscall.name)
        proto = sdk_headers.C_PROTOTYPES[target]
        args = ", ".join("0" for _ in proto.params)
        lines.append(f"    if (input_len == {k}) {syscall.name}({args});")
    lines += ["    return 1;", "}", ""]
    return "\n".join(lines)


def test_every_declared_syscall_links_and_deploys(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    elf = _build(tmp_path_factory, "all_syscalls", _all_syscalls_source())
    # Deploy-time checks (every relocation names a syscall the TOS registry has) passed
    # in build_contract; the names are in the dynamic string table, none is missing.
    for syscall in tos_syscalls():
        assert syscall.name.encode() + b"\0" in elf, syscall.name
    chain = Chain.in_memory()
    tx = chain.deploy(TBPFModule(elf))
    assert tx.included, tx.error


HELPERS_C = r"""
#include <tos/tos.h>

/* Each entry point reads n cases from the input and writes its results to the heap,
 * then returns them as return data. */
#define OUT TOS_HEAP_START

static u8 *put(u8 *p, u64 v) { tos_store_u64le(p, v); return p + 8; }

TOS_ENTRY(entrypoint) { return 0; }

static void done(u8 *end) { tos_set_return_data(OUT, (u64)(end - OUT)); }

TOS_ENTRY(checked) {              /* (a, b) -> add ok, add, sub ok, sub, mul ok, mul */
    tos_input in; tos_input_init(&in, input, input_len);
    u8 *p = OUT;
    while (tos_input_remaining(&in) >= 16) {
        u64 a = tos_read_u64(&in), b = tos_read_u64(&in), r = 0xAAAA;
        bool ok = tos_add_u64(a, b, &r); p = put(p, ok); p = put(p, r); r = 0xAAAA;
        ok = tos_sub_u64(a, b, &r); p = put(p, ok); p = put(p, r); r = 0xAAAA;
        ok = tos_mul_u64(a, b, &r); p = put(p, ok); p = put(p, r);
    }
    done(p);
    return 0;
}

TOS_ENTRY(wide) {                 /* (a, b, c) -> lo, hi, mul_div ok, q, isqrt(a*b) */
    tos_input in; tos_input_init(&in, input, input_len);
    u8 *p = OUT;
    while (tos_input_remaining(&in) >= 24) {
        u64 a = tos_read_u64(&in), b = tos_read_u64(&in), c = tos_read_u64(&in);
        tos_u128 x; tos_mul_wide(a, b, &x);
        p = put(p, x.lo); p = put(p, x.hi);
        u64 q = 0xAAAA;
        bool ok = tos_mul_div(a, b, c, &q);
        p = put(p, ok); p = put(p, q);
        p = put(p, tos_isqrt_wide(&x));
    }
    done(p);
    return 0;
}

TOS_ENTRY(divide) {               /* (hi, lo, d) -> ok, q, r */
    tos_input in; tos_input_init(&in, input, input_len);
    u8 *p = OUT;
    while (tos_input_remaining(&in) >= 24) {
        tos_u128 n;
        n.hi = tos_read_u64(&in); n.lo = tos_read_u64(&in);
        u64 d = tos_read_u64(&in), q = 0xAAAA, r = 0xBBBB;
        bool ok = tos_div_wide(&n, d, &q, &r);
        p = put(p, ok); p = put(p, q); p = put(p, r);
    }
    done(p);
    return 0;
}

TOS_ENTRY(signed_div) {           /* (a, b) -> a / b, a % b (C semantics) */
    tos_input in; tos_input_init(&in, input, input_len);
    u8 *p = OUT;
    while (tos_input_remaining(&in) >= 16) {
        i64 a = tos_read_i64(&in), b = tos_read_i64(&in);
        p = put(p, (u64)tos_div_i64(a, b)); p = put(p, (u64)tos_rem_i64(a, b));
    }
    done(p);
    return 0;
}

TOS_ENTRY(format) {               /* (u, i, 4 bytes) -> "u|i|hex|" */
    tos_input in; tos_input_init(&in, input, input_len);
    u8 *p = OUT;
    while (tos_input_remaining(&in) >= 20) {
        u64 u = tos_read_u64(&in);
        i64 i = tos_read_i64(&in);
        const u8 *h = tos_read_raw(&in, 4);
        p += tos_fmt_u64((char *)p, u); *p++ = '|';
        p += tos_fmt_i64((char *)p, i); *p++ = '|';
        p += tos_fmt_hex((char *)p, h, 4); *p++ = '|';
    }
    done(p);
    return 0;
}

TOS_ENTRY(logs) {                 /* (u, i, hash) -> three log lines */
    tos_input in; tos_input_init(&in, input, input_len);
    u64 u = tos_read_u64(&in);
    i64 i = tos_read_i64(&in);
    const u8 *h = tos_read_hash(&in);
    if (!tos_input_finish(&in)) return TOS_EXIT_BAD_INPUT;
    tos_log_u64("unsigned", u);
    tos_log_i64("signed", i);
    tos_log_hash("a label longer than sixty-four characters is cut to sixty-four chars!!", h);
    tos_log_str("plain");
    return 0;
}

TOS_ENTRY(parse) {                /* u8 u16 u32 u64 bool hash bytes -> echoed, finish */
    tos_input in; tos_input_init(&in, input, input_len);
    u8 *p = OUT;
    p = put(p, tos_read_u8(&in));
    p = put(p, tos_read_u16(&in));
    p = put(p, tos_read_u32(&in));
    p = put(p, tos_read_u64(&in));
    p = put(p, tos_read_bool(&in));
    const u8 *h = tos_read_hash(&in);
    u64 n;
    const u8 *b = tos_read_bytes(&in, &n);
    p = put(p, h != NULL); p = put(p, b != NULL); p = put(p, n);
    p = put(p, tos_input_finish(&in));
    if (h) { tos_mem_copy(p, h, 32); p += 32; }
    if (b) { tos_mem_copy(p, b, n); p += n; }
    done(p);
    return 0;
}

TOS_ENTRY(fetch) {                /* tos_input_fetch: the same bytes as r1/r2 */
    u8 buf[64];
    tos_input in;
    if (!tos_input_fetch(&in, buf, sizeof(buf))) return TOS_EXIT_BAD_INPUT;
    if (in.len != input_len || !tos_mem_eq(buf, input, input_len)) return 99;
    return 0;
}

TOS_ENTRY(memory) {               /* mem_cmp / hash helpers / storage u64 / topic */
    u8 a[32], b[32];
    tos_mem_set(a, 7, 32); tos_hash_copy(b, a);
    if (!tos_hash_eq(a, b) || tos_hash_is_zero(a)) return 1;
    b[31] = 9;
    if (tos_mem_cmp(a, b, 32) >= 0 || tos_mem_cmp(b, a, 32) <= 0) return 2;
    if (!tos_hash_is_zero(TOS_NATIVE_ASSET)) return 3;
    if (tos_strlen("four") != 4) return 4;
    tos_storage_delete("k", 1);           /* an earlier run (other engine) committed */
    u64 v = 1;
    if (tos_storage_get_u64("k", 1, &v) || v != 0) return 5;
    tos_storage_put_u64("k", 1, 0x0102030405060708ull);
    if (!tos_storage_get_u64("k", 1, &v) || v != 0x0102030405060708ull) return 6;
    tos_storage_store("h", 1, a, 5);
    if (tos_storage_get_hash("h", 1, b)) return 7;        /* 5 bytes: not a hash */
    u8 t[32];
    tos_topic(t, "a topic name longer than thirty-two bytes");
    tos_set_return_data(t, 32);
    return 0;
}
"""


@pytest.fixture(scope="module")
def helpers(tmp_path_factory):  # type: ignore[no-untyped-def]
    elf = _build(tmp_path_factory, "helpers", HELPERS_C)
    chain = Chain.in_memory()
    tx = chain.deploy(TBPFModule(elf), sender=ALICE)
    assert tx.included, tx.error
    yield chain, tx.deploy.contract_hash
    chain.close()


def _call(helpers, engine: str, entry: str, data: bytes) -> bytes:  # type: ignore[no-untyped-def]
    chain, contract = helpers
    result = chain.invoke(contract, entry=entry, input=data, gas_limit=1_400_000,
                          sender=ALICE, engine=engine).invoke
    assert result.success, result.logs
    return result.return_data


def _batched(helpers, engine: str, entry: str, cases: list[tuple[int, ...]],  # type: ignore[no-untyped-def]
             out_u64s: int) -> list[int]:
    """Run ``cases`` through ``entry`` in as few invocations as the 1 KiB return-data
    limit allows; the u64 results of all of them, in order."""
    per_call = 1024 // (8 * out_u64s)
    got: list[int] = []
    for start in range(0, len(cases), per_call):
        chunk = cases[start:start + per_call]
        got += _u64s(_call(helpers, engine, entry, b"".join(_pack(*c) for c in chunk)))
    return got


def _u64s(data: bytes) -> list[int]:
    return [v for (v,) in struct.iter_unpack("<Q", data)]


def _pack(*values: int) -> bytes:
    return b"".join(struct.pack("<Q", v & M64) for v in values)


EDGES = [0, 1, 2, 3, 7, 10, 255, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 2,
         M64, 0xDEADBEEF_CAFEBABE]


def _cases(n: int, arity: int, seed: int) -> list[tuple[int, ...]]:
    rng = random.Random(seed)
    out = [tuple(rng.choice(EDGES) for _ in range(arity)) for _ in range(n // 2)]
    out += [tuple(rng.getrandbits(rng.choice((8, 32, 63, 64))) for _ in range(arity))
            for _ in range(n - len(out))]
    return out


def test_checked_arithmetic(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    cases = _cases(20, 2, seed=1) + [(M64, 1), (M64, 0), (0, 1), (2**32, 2**32), (2**32, 2**31)]
    got = _batched(helpers, engine, "checked", cases, 6)
    for k, (a, b) in enumerate(cases):
        add = (1, a + b) if a + b <= M64 else (0, 0xAAAA)
        sub = (1, a - b) if b <= a else (0, 0xAAAA)
        mul = (1, a * b) if a * b <= M64 else (0, 0xAAAA)
        assert tuple(got[6 * k:6 * k + 6]) == add + sub + mul, (a, b)


def test_wide_multiply_mul_div_and_square_root(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    cases = _cases(24, 3, seed=2) + [(M64, M64, 1), (M64, M64, M64), (5, 7, 0), (2**40, 2**40, 3)]
    got = _batched(helpers, engine, "wide", cases, 5)
    for k, (a, b, c) in enumerate(cases):
        lo, hi, ok, q, root = got[5 * k:5 * k + 5]
        assert (hi << 64) | lo == a * b
        fits = c != 0 and a * b // c <= M64
        assert (ok, q) == ((1, a * b // c) if fits else (0, 0xAAAA)), (a, b, c)
        assert root == math.isqrt(a * b), (a, b)


def test_wide_division(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    cases = [(0, 100, 7), (0, 5, 0), (1, 0, 1), (1, 0, 2), (M64 - 1, M64, M64), (5, 5, 5)]
    for _ in range(30):
        d = rng.getrandbits(rng.choice((16, 40, 64))) or 1
        cases.append((rng.randrange(d), rng.getrandbits(64), d))
    got = _batched(helpers, engine, "divide", cases, 3)
    for k, (hi, lo, d) in enumerate(cases):
        n = (hi << 64) | lo
        expect = (1, n // d, n % d) if d and n // d <= M64 else (0, 0xAAAA, 0xBBBB)
        assert tuple(got[3 * k:3 * k + 3]) == expect, (hi, lo, d)


def _c_div(a: int, b: int) -> tuple[int, int]:
    q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    return q, a - q * b


def test_signed_division_truncates_toward_zero(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(4)
    cases = [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, -3), (-(2**63), 1), (-(2**63), -1),
             (2**63 - 1, -1), (-1, 2**63 - 1)]
    cases += [(rng.randint(-(2**63), 2**63 - 1), rng.choice((-1, 1)) * rng.randint(1, 2**40))
              for _ in range(20)]
    got = _batched(helpers, engine, "signed_div", cases, 2)
    for k, (a, b) in enumerate(cases):
        q, r = _c_div(a, b)
        assert (got[2 * k], got[2 * k + 1]) == (q & M64, r & M64), (a, b)


def test_formatting(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    cases = [(0, 0, b"\x00\x01\xab\xff"), (M64, -(2**63), b"abcd"), (10, -1, b"\x10\x20\x30\x40"),
             (1234567890, 2**63 - 1, b"\xde\xad\xbe\xef")]
    data = b"".join(_pack(u, i) + h for u, i, h in cases)
    text = _call(helpers, engine, "format", data).decode()
    assert text == "".join(f"{u}|{i}|{h.hex()}|" for u, i, h in cases)


def test_log_helpers(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    chain, contract = helpers
    h = bytes(range(32))
    result = chain.invoke(contract, entry="logs", input=_pack(42, -42) + h, sender=ALICE,
                          engine=engine).invoke
    assert result.success
    label = "a label longer than sixty-four characters is cut to sixty-four chars!!"[:64]
    assert result.logs[1:5] == ["Program log: unsigned: 42", "Program log: signed: -42",
                                f"Program log: {label}: {h.hex()}", "Program log: plain"]


def test_input_reader(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    h = bytes(range(100, 132))
    good = encode_params(["u8:200", "u16:65535", "u32:4000000000", f"u64:{M64}", "bool:true",
                          f"hash:{h.hex()}", "bytes:cafe"])
    out = _call(helpers, engine, "parse", good)
    assert _u64s(out[:72]) == [200, 65535, 4_000_000_000, M64, 1, 1, 1, 2, 1]
    assert out[72:] == h + b"\xca\xfe"
    # Trailing byte: every value read, but finish() refuses.
    assert _u64s(_call(helpers, engine, "parse", good + b"\0")[:72])[8] == 0
    # Cut short inside the byte string: the string read fails and so does finish().
    cut = _u64s(_call(helpers, engine, "parse", good[:-1])[:72])
    assert cut[5:9] == [1, 0, 0, 0]
    # Cut short early: later reads return 0 and never read past the end.
    assert _u64s(_call(helpers, engine, "parse", b"\x05\x01")[:72]) == [5, 0, 0, 0, 0, 0, 0,
                                                                      0, 0]
    # A bool must be 0 or 1.
    bad_bool = encode_params(["u8:0", "u16:0", "u32:0", "u64:0", "u8:2",
                              f"hash:{h.hex()}", "bytes:"])
    assert _u64s(_call(helpers, engine, "parse", bad_bool)[:72])[8] == 0


def test_input_fetch_and_memory_helpers(helpers, engine: str) -> None:  # type: ignore[no-untyped-def]
    _call(helpers, engine, "fetch", b"same bytes both ways")
    chain, contract = helpers
    too_long = chain.invoke(contract, entry="fetch", input=bytes(65), sender=ALICE,
                            engine=engine).invoke
    assert too_long.exit_code == 1
    assert _call(helpers, engine, "memory", b"") == b"a topic name longer than thirty-t"[:32]


def test_signed_division_in_c_is_explained(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tbpf.errors import BuildError
    source = tmp_path / "sdiv.c"
    source.write_text("#include <tos/tos.h>\n"
                      "i64 ratio(i64 a, i64 b) { return a / b; }\n"
                      "TOS_ENTRY(entrypoint) { return (u64)ratio((i64)input_len, -2); }\n")
    try:
        with pytest.raises(BuildError) as info:
            build_contract([source])
    except ClangNotFoundError as exc:
        pytest.skip(f"needs clang: {exc}")
    assert "tos_div_i64" in str(info.value) and "`ratio`" in str(info.value)
    assert "Stack dump" not in info.value.stderr

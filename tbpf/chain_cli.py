"""``tbpf chain ...``: a local TOS chain on a state directory, from the command line.

Subcommands: ``deploy FILE``, ``invoke CONTRACT``, ``storage CONTRACT``, ``events``,
``fund ACCOUNT AMOUNT``, ``balance ACCOUNT``, ``info``. Each takes ``--state-dir``
(default ``./.tbpf/``) and ``--json``. Exit status: 0 when the transaction was included
(or the query answered), 1 when the transaction failed or was refused (its result is
still printed), 2 for unusable input.

``deploy`` accepts sBPF assembly (``.s``/``.asm``: stored as an assembly module, so the
CLI works without clang) and ELF files (``.so``/``.elf``). Contracts are named by their
64-hex-digit hash or by a unique prefix of at least 8 digits; accounts by 64 hex digits
or by a development name (``alice`` = ``sha256("tbpf-dev-account:alice")``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .cli import CommandError, read_program_file
from .errors import TBPFError
from .versions import parse_version

__all__ = ["add_command", "cmd_chain"]

EXIT_OK = 0
EXIT_FAILED = 1
DEFAULT_STATE_DIR = ".tbpf"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR,
                        help=f"state directory (default ./{DEFAULT_STATE_DIR}/)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tbpf chain`` and its subcommands to the ``tbpf`` parser."""
    p = sub.add_parser("chain", help="deploy and invoke contracts on a local chain")
    chain_sub = p.add_subparsers(dest="chain_command", metavar="SUBCOMMAND")
    chain_sub.required = True

    d = chain_sub.add_parser("deploy", help="deploy a contract (.s, .asm, .so, .elf)")
    d.add_argument("file")
    d.add_argument("--kind", choices=("asm", "elf"), help="default: from the extension")
    d.add_argument("--sbpf-version", default="v0", help="version of an assembly contract")
    d.add_argument("--entry", help="default entry point name of the contract")
    d.add_argument("--sender", default="default", help="deployer (hex or dev name)")
    _common(d)

    i = chain_sub.add_parser("invoke", help="invoke a contract")
    i.add_argument("contract", help="contract hash (or a unique prefix of 8+ hex digits)")
    i.add_argument("--entry", default="entrypoint", help="entry point (default entrypoint)")
    i.add_argument("--param", action="append", default=[], metavar="TYPE:VALUE",
                   help="a parameter (u8..u64, i8..i64, bool, hash, addr, hex, bytes, str); "
                        "repeatable, concatenated in order")
    i.add_argument("--input-hex", default="", help="raw input bytes, before the params")
    i.add_argument("--gas", type=_int_arg, default=None, help="gas limit (default 200000)")
    i.add_argument("--engine", choices=("interp", "jit"), default="interp")
    i.add_argument("--deposit", action="append", default=[], metavar="AMOUNT[:ASSET]",
                   help="move AMOUNT of ASSET (hex id; default native) to the contract "
                        "before it runs; repeatable")
    i.add_argument("--sender", default="default", help="sender (hex or dev name)")
    _common(i)

    s = chain_sub.add_parser("storage", help="list a contract's storage")
    s.add_argument("contract")
    _common(s)

    e = chain_sub.add_parser("events", help="list committed events")
    e.add_argument("--contract", help="only this contract's events")
    _common(e)

    f = chain_sub.add_parser("fund", help="development faucet: create native coins")
    f.add_argument("account", help="hex address or dev name")
    f.add_argument("amount", type=_int_arg)
    _common(f)

    b = chain_sub.add_parser("balance", help="an account's balances")
    b.add_argument("account", help="hex address, dev name or contract hash")
    _common(b)

    n = chain_sub.add_parser("info", help="head block and deployed contracts")
    _common(n)

    p.set_defaults(func=cmd_chain)


def _int_arg(value: str) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if not 0 <= number < 1 << 64:
        raise argparse.ArgumentTypeError("must be a u64")
    return number


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .chain import Chain
    return Chain.open(Path(args.state_dir))


def _account(text: str) -> bytes:
    from .runtime.params import parse_address
    try:
        return parse_address(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _contract(chain: Any, text: str) -> bytes:
    text = text.lower().removeprefix("0x")
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise CommandError(f"not a contract hash: {text!r}") from None
    if len(text) < 8 or any(c not in "0123456789abcdef" for c in text):
        raise CommandError(f"not a contract hash or a prefix of 8+ hex digits: {text!r}")
    hits = [r.contract_hash for r in chain.provider.iter_contracts()
            if r.contract_hash.hex().startswith(text)]
    if len(hits) != 1:
        raise CommandError(f"{len(hits)} contracts match {text!r}")
    return hits[0]


def _print(args: argparse.Namespace, obj: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(obj, indent=2, sort_keys=True))
    else:
        for line in lines:
            print(line)


def _tx_lines(result: Any) -> list[str]:
    lines = [f"tx {result.tx_hash.hex()} ({result.kind}) "
             + (f"included in block {result.height}" if result.included else "NOT included")]
    if result.error is not None:
        lines.append(f"refused: {result.error.kind}: {result.error}")
    if result.deploy is not None:
        d = result.deploy
        lines += [f"contract  {d.contract_hash.hex()}", f"code hash {d.code_hash.hex()}",
                  f"kind      {d.kind.name} ({d.code_size} bytes)"]
    if result.invoke is not None:
        r = result.invoke
        status = ("success" if r.success else f"failed: exit code {r.exit_code}"
                  if r.error is None else f"failed: {r.error.kind}: {r.error}")
        lines += [f"status    {status}",
                  f"gas       {r.gas_used} used of {r.gas_limit} (refund {r.refund})"]
        if r.return_data:
            lines.append(f"return    {r.return_data.hex()}")
        lines += ["logs:"] + [f"  {line}" for line in r.logs]
        for e in r.events:
            lines.append(f"event     topics=[{', '.join(t.hex() for t in e.topics)}] "
                         f"data={e.data.hex()}")
    return lines


def _deploy(args: argparse.Namespace) -> int:
    from .runtime.module import TBPFAsmModule, TBPFModule
    data = read_program_file(args.file)
    kind = args.kind
    if kind is None:
        suffix = Path(args.file).suffix.lower()
        kind = {".s": "asm", ".asm": "asm", ".so": "elf", ".elf": "elf"}.get(suffix)
        if kind is None:
            raise CommandError(f"cannot tell the kind of {args.file!r}; use --kind asm|elf")
    module: Any
    if kind == "asm":
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"{args.file} is not UTF-8 assembly text") from None
        try:
            version = parse_version(args.sbpf_version)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        module = TBPFAsmModule(source, version, args.entry)
    else:
        module = TBPFModule(data, args.entry)
    with _open(args) as chain:
        result = chain.deploy(module, sender=_account(args.sender))
    _print(args, result.to_json(), _tx_lines(result))
    return EXIT_OK if result.included else EXIT_FAILED


def _invoke(args: argparse.Namespace) -> int:
    from .runtime.params import encode_params
    from .tos_syscalls import NATIVE_ASSET
    try:
        data = bytes.fromhex(args.input_hex) + encode_params(args.param)
    except ValueError as exc:
        raise CommandError(f"bad parameter: {exc}") from None
    deposits = []
    for spec in args.deposit:
        amount_text, _, asset_text = spec.partition(":")
        try:
            amount = int(amount_text, 0)
            asset = bytes.fromhex(asset_text) if asset_text else NATIVE_ASSET
        except ValueError:
            raise CommandError(f"bad deposit {spec!r} (AMOUNT[:ASSET_HEX])") from None
        if len(asset) != 32 or not 0 <= amount < 1 << 64:
            raise CommandError(f"bad deposit {spec!r}: a u64 amount and a 32-byte asset id")
        deposits.append((asset, amount))
    with _open(args) as chain:
        result = chain.invoke(_contract(chain, args.contract), entry=args.entry, input=data,
                              gas_limit=args.gas, deposits=deposits,
                              sender=_account(args.sender), engine=args.engine)
    _print(args, result.to_json(), _tx_lines(result))
    return EXIT_OK if result.included else EXIT_FAILED


def _printable(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    return f"  {text!r}" if text.isprintable() else ""


def _storage(args: argparse.Namespace) -> int:
    with _open(args) as chain:
        contract = _contract(chain, args.contract)
        if chain.provider.get_contract(contract) is None:
            raise CommandError(f"no contract {contract.hex()}")
        items = list(chain.provider.iter_storage(contract))
    obj = {"contract": contract.hex(),
           "storage": [{"key": k.hex(), "value": v.hex()} for k, v in items]}
    lines = [f"{len(items)} keys in {contract.hex()}"]
    lines += [f"{k.hex()}{_printable(k)} = {v.hex()}{_printable(v)}" for k, v in items]
    _print(args, obj, lines)
    return EXIT_OK


def _events(args: argparse.Namespace) -> int:
    with _open(args) as chain:
        contract = _contract(chain, args.contract) if args.contract else None
        events = list(chain.provider.iter_events(contract))
    lines = [f"block {e.height} tx {e.tx_index} #{e.index} {e.contract.hex()} "
             f"topics=[{', '.join(t.hex() for t in e.topics)}] data={e.data.hex()}"
             for e in events] or ["no events"]
    _print(args, {"events": [e.to_json() for e in events]}, lines)
    return EXIT_OK


def _fund(args: argparse.Namespace) -> int:
    with _open(args) as chain:
        result = chain.fund(_account(args.account), args.amount)
    _print(args, result.to_json(), _tx_lines(result))
    return EXIT_OK if result.included else EXIT_FAILED


def _balance(args: argparse.Namespace) -> int:
    with _open(args) as chain:
        account = _account(args.account)
        balances = list(chain.provider.iter_balances(account))
    obj = {"account": account.hex(),
           "balances": [{"asset": a.hex(), "amount": n} for a, n in balances]}
    lines = [f"account {account.hex()}"]
    lines += [f"{'native' if a == bytes(32) else a.hex()}: {n}" for a, n in balances]
    _print(args, obj, lines or ["no balances"])
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    with _open(args) as chain:
        head = chain.head
        contracts = list(chain.provider.iter_contracts())
    obj = {"height": head.height if head else 0,
           "head": head.hash.hex() if head else None,
           "contracts": [{"contract": r.contract_hash.hex(), "code_hash": r.code_hash.hex(),
                          "kind": r.kind, "height": r.height} for r in contracts]}
    lines = [f"height {obj['height']}" + (f" head {obj['head']}" if head else "")]
    lines += [f"contract {r.contract_hash.hex()} (block {r.height})" for r in contracts]
    _print(args, obj, lines)
    return EXIT_OK


_HANDLERS = {"deploy": _deploy, "invoke": _invoke, "storage": _storage, "events": _events,
             "fund": _fund, "balance": _balance, "info": _info}


def cmd_chain(args: argparse.Namespace) -> int:
    """Dispatch ``tbpf chain SUBCOMMAND``.

    Raises:
        CommandError: unusable input (printed by ``tbpf.cli.main``).
    """
    try:
        return _HANDLERS[args.chain_command](args)
    except TBPFError as err:
        if getattr(args, "json", False):
            print(json.dumps({"error": err.to_json()}, indent=2, sort_keys=True))
            return EXIT_FAILED
        raise

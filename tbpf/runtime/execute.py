"""Deploying and invoking contracts: the runtime, its call frames, gas and results.

:class:`Runtime` executes one transaction's worth of work on an
:class:`~tbpf.runtime.state.Overlay` (the chain owns the overlays and the commit):

* ``deploy`` validates the module (loader, verifier, link check; TosVM through its
  executor), stores the serialized module under its sha256 and records the contract
  under the deploy transaction's hash;
* ``invoke`` credits deposits, runs the entry point with the parameters in the input
  region (``r1 = 0x4_0000_0000``, ``r2 = length``; also readable with
  ``tos_get_input_data``) under a gas limit (1 CU = 1 gas), and merges the invocation's
  write-set into the transaction only if the contract exited with 0.

Each running contract is a :class:`CallFrame`, the ``ctx.host`` of its syscalls
(:class:`~tbpf.tos_syscalls.TosHost`). ``tos_invoke_contract`` opens a child frame on a
child overlay with a share of the caller's gas, charges the caller what the callee used,
and drops the callee's writes if it fails. Reentrancy (a contract already on the stack)
and call-depth overflow abort the *calling* contract.

Loaded programs are cached by code hash in :class:`ExecutableCache`; the same
:class:`~tbpf.executable.Executable` object is reused for a contract (and entry point),
so both engines' caches (the interpreter's machines, the JIT's compiled code keyed by
``Executable.digest``) hit across invocations.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Protocol, Sequence

from ..config import Config
from ..errors import (
    ContractError, InsufficientFundsError, InternalError, InvalidTransactionError,
    ProgramFault, StateError, SyscallError, TBPFError, TosVMDeployDisabledError,
    TosVMNotConfiguredError, UnknownContractError,
)
from ..executable import ENTRYPOINT_NAME, Executable
from ..memory import MM_INPUT_START
from ..syscalls import SyscallContext, SyscallRegistry
from ..tos_syscalls import NATIVE_ASSET, TOS_LIMITS, TosCode, tos_syscalls
from .module import (
    ContractModule, DeployContractPayload, ModuleKind, TBPFAsmModule,
    TBPFModule, TosVMModule, decode_module, encode_module, load_module, resolve_entry,
)
from .state import AssetRecord, ContractRecord, Overlay, PendingEvent, asset_id_for

__all__ = [
    "RuntimeConfig", "Runtime", "TxEnv", "CallFrame", "InvokeResult", "DeployResult",
    "TosVMExecutor", "TosVMRequest", "TosVMOutcome", "UnconfiguredTosVM", "ExecutableCache",
    "DEFAULT_GAS", "MAX_GAS", "default_syscalls", "code_hash_of",
]

DEFAULT_GAS = 200_000
"""Gas limit of an invoke that names none (TOS/Solana default compute budget)."""
MAX_GAS = 1_400_000
"""Largest gas limit a transaction may ask for (Solana's per-transaction cap)."""


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Runtime policy.

    Attributes:
        default_gas: gas limit when an invoke names none.
        max_gas: the largest gas limit accepted.
        max_invoke_depth: frames on the contract call stack (transaction's call = 1).
        tosvm_deploy_cutoff_height: from this block height on, new TosVM modules are
            rejected (``None``: never).
        allow_assembly: accept :class:`~tbpf.runtime.module.TBPFAsmModule` deploys.
        vm_config: loader/VM configuration of sBPF contracts.
        max_input_size: largest invoke parameter blob.
    """

    default_gas: int = DEFAULT_GAS
    max_gas: int = MAX_GAS
    max_invoke_depth: int = TOS_LIMITS.max_invoke_depth
    tosvm_deploy_cutoff_height: int | None = None
    allow_assembly: bool = True
    vm_config: Config = field(default_factory=Config)
    max_input_size: int = TOS_LIMITS.max_input_size

    def __post_init__(self) -> None:
        if not 0 < self.default_gas <= self.max_gas:
            raise ValueError("need 0 < default_gas <= max_gas")
        if self.max_invoke_depth < 1:
            raise ValueError("max_invoke_depth must be at least 1")


@dataclass(frozen=True, slots=True)
class TxEnv:
    """The chain context of one transaction (all of it derived from block data).

    Attributes:
        tx_hash: the transaction's hash.
        source: the address that sent it.
        block_height: the height of the block being built.
        block_hash: hash of the latest committed block (its parent).
        block_timestamp: seconds, derived from the height.
    """

    tx_hash: bytes
    source: bytes
    block_height: int
    block_hash: bytes
    block_timestamp: int


# --------------------------------------------------------------------------------------
# TosVM dispatch
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TosVMRequest:
    """One TosVM invocation.

    Attributes:
        bytecode: the module's bytecode.
        entry: the entry point name.
        input: the parameters.
        gas_limit: gas available.
        host: the call frame (state access with the same overlay semantics as sBPF).
    """

    bytecode: bytes
    entry: str
    input: bytes
    gas_limit: int
    host: "CallFrame"


@dataclass(frozen=True, slots=True)
class TosVMOutcome:
    """What a TosVM run reports.

    Attributes:
        exit_code: 0 = success; ``None`` = the module faulted (``error`` says why).
        gas_used: at most the request's limit.
        logs: log lines.
        return_data: bytes returned to the caller.
        error: the fault's description.
    """

    exit_code: int | None
    gas_used: int
    logs: tuple[str, ...] = ()
    return_data: bytes = b""
    error: str | None = None


class TosVMExecutor(Protocol):
    """Runs TosVM modules (TOS's earlier VM), plugged into :class:`Runtime`."""

    def validate(self, bytecode: bytes) -> None:
        """Deploy-time check; raise a :class:`~tbpf.errors.ContractError` to refuse."""
        ...

    def execute(self, request: TosVMRequest) -> TosVMOutcome:
        """Run one invocation."""
        ...


class UnconfiguredTosVM:
    """The default executor: every TosVM deploy or invoke is refused."""

    def validate(self, bytecode: bytes) -> None:
        """Raises :class:`~tbpf.errors.TosVMNotConfiguredError`."""
        raise TosVMNotConfiguredError()

    def execute(self, request: TosVMRequest) -> TosVMOutcome:
        """Raises :class:`~tbpf.errors.TosVMNotConfiguredError`."""
        raise TosVMNotConfiguredError()


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------

@dataclass
class InvokeResult:
    """The outcome of one contract invocation.

    Attributes:
        contract: the invoked contract.
        entry: the entry point run.
        exit_code: r0, or ``None`` if the contract faulted.
        error: the fault (``None`` if it exited).
        gas_limit: gas available.
        gas_used: gas consumed (the whole limit after running out).
        logs: log lines, nested invocations included, in order.
        events: events fired (empty unless the invocation succeeded).
        return_data: bytes set with ``tos_set_return_data``/``sol_set_return_data``.
    """

    contract: bytes
    entry: str
    exit_code: int | None
    error: ProgramFault | None
    gas_limit: int
    gas_used: int
    logs: list[str] = field(default_factory=list)
    events: list[PendingEvent] = field(default_factory=list)
    return_data: bytes = b""

    @property
    def success(self) -> bool:
        """True if the contract exited with 0 (its changes commit)."""
        return self.error is None and self.exit_code == 0

    @property
    def refund(self) -> int:
        """Gas not used: ``gas_limit - gas_used``."""
        return self.gas_limit - self.gas_used

    def to_json(self) -> dict[str, object]:
        """The object ``tbpf chain invoke --json`` prints."""
        return {
            "contract": self.contract.hex(), "entry": self.entry, "success": self.success,
            "exit_code": self.exit_code,
            "error": None if self.error is None else self.error.to_json(),
            "gas_limit": self.gas_limit, "gas_used": self.gas_used, "refund": self.refund,
            "logs": list(self.logs), "return_data": self.return_data.hex(),
            "events": [{"contract": e.contract.hex(), "topics": [t.hex() for t in e.topics],
                        "data": e.data.hex()} for e in self.events],
        }


@dataclass(frozen=True, slots=True)
class DeployResult:
    """A successful deploy.

    Attributes:
        contract_hash: the new contract's address.
        code_hash: sha256 of its serialized module.
        kind: the module kind.
        code_size: bytes of the serialized module.
    """

    contract_hash: bytes
    code_hash: bytes
    kind: ModuleKind
    code_size: int

    def to_json(self) -> dict[str, object]:
        """The object ``tbpf chain deploy --json`` prints."""
        return {"contract": self.contract_hash.hex(), "code_hash": self.code_hash.hex(),
                "kind": self.kind.name, "code_size": self.code_size}


# --------------------------------------------------------------------------------------
# Executable cache
# --------------------------------------------------------------------------------------

def code_hash_of(module_bytes: bytes) -> bytes:
    """The key code is stored under: sha256 of the serialized module."""
    return hashlib.sha256(module_bytes).digest()


class ExecutableCache:
    """Loaded, verified programs by ``(code hash, entry name)``, least recently used out.

    The entry name ``""`` holds a module's base program (its own entry); other names hold
    a copy that starts at that function. The key holds the registry's identity too: a
    program is only valid with the syscall registry it was loaded (and link-checked)
    against.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[bytes, str, int], Executable] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, code_hash: bytes, entry: str, registry: SyscallRegistry) -> Executable | None:
        """The cached program, or ``None``."""
        key = (code_hash, entry, id(registry))
        with self._lock:
            exe = self._items.get(key)
            if exe is not None:
                self._items.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return exe

    def put(self, code_hash: bytes, entry: str, registry: SyscallRegistry,
            exe: Executable) -> Executable:
        """Insert (or keep the existing) program and return the cached object."""
        key = (code_hash, entry, id(registry))
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                return old
            self._items[key] = exe
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return exe

    def __len__(self) -> int:
        return len(self._items)


_SHARED_CACHE = ExecutableCache()
_DEFAULT_SYSCALLS: SyscallRegistry | None = None
_DEFAULT_LOCK = threading.Lock()


def default_syscalls() -> SyscallRegistry:
    """The process-wide TOS registry (one object, so engine caches keyed by it hit)."""
    global _DEFAULT_SYSCALLS
    with _DEFAULT_LOCK:
        if _DEFAULT_SYSCALLS is None:
            _DEFAULT_SYSCALLS = tos_syscalls()
        return _DEFAULT_SYSCALLS


# --------------------------------------------------------------------------------------
# Call frames (the TosHost of the syscalls)
# --------------------------------------------------------------------------------------

_BASE = ""  # cache slot of a module's base program (before entry selection)


class CallFrame:
    """One running contract: its overlay, identity, input and call stack.

    Implements :class:`~tbpf.tos_syscalls.TosHost` for the syscalls.
    """

    def __init__(self, runtime: "Runtime", state: Overlay, env: TxEnv, contract: bytes,
                 caller: bytes, input_data: bytes, stack: tuple[bytes, ...],
                 engine: str) -> None:
        self.runtime = runtime
        self.state = state
        self.env = env
        self.contract_hash = contract
        self.caller = caller
        self.input_data = input_data
        self.stack = stack
        self.engine = engine
        self.callee_return_data = b""

    # --- environment ----------------------------------------------------------------
    @property
    def tx_hash(self) -> bytes:
        """The transaction's hash."""
        return self.env.tx_hash

    @property
    def tx_source(self) -> bytes:
        """The transaction's sender."""
        return self.env.source

    @property
    def block_hash(self) -> bytes:
        """Hash of the latest committed block."""
        return self.env.block_hash

    @property
    def block_height(self) -> int:
        """Height of the block being built."""
        return self.env.block_height

    @property
    def block_timestamp(self) -> int:
        """The block's timestamp (seconds, height-derived)."""
        return self.env.block_timestamp

    def clock_sysvar(self) -> bytes:
        """``sol_get_clock_sysvar``'s 40 bytes: slot = height, unix time = timestamp."""
        ts = self.env.block_timestamp
        return (self.env.block_height.to_bytes(8, "little") + ts.to_bytes(8, "little")
                + bytes(16) + ts.to_bytes(8, "little"))

    # --- state ----------------------------------------------------------------------
    def storage_get(self, key: bytes) -> bytes | None:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        return self.state.get_storage(self.contract_hash, key)

    def storage_put(self, key: bytes, value: bytes) -> None:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        self.state.set_storage(self.contract_hash, key, value)

    def storage_remove(self, key: bytes) -> bool:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        if self.state.get_storage(self.contract_hash, key) is None:
            return False
        self.state.set_storage(self.contract_hash, key, None)
        return True

    def balance_of(self, account: bytes, asset: bytes) -> int:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        return self.state.get_balance(account, asset)

    def move_funds(self, source: bytes, dest: bytes, asset: bytes, amount: int) -> TosCode:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        return self.state.move(source, dest, asset, amount)

    def burn_funds(self, account: bytes, asset: bytes, amount: int) -> TosCode:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        return self.state.burn(account, asset, amount)

    def create_asset(self, owner: bytes, name: bytes, decimals: int) -> tuple[TosCode, bytes]:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        asset = asset_id_for(owner, name)
        if self.state.get_asset(asset) is not None:
            return TosCode.ASSET_EXISTS, asset
        self.state.put_asset(AssetRecord(asset, owner, name, decimals, 0))
        return TosCode.OK, asset

    def mint_asset(self, owner: bytes, asset: bytes, amount: int) -> TosCode:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        record = self.state.get_asset(asset) if asset != NATIVE_ASSET else None
        if record is None:
            return TosCode.NOT_ASSET_OWNER if asset == NATIVE_ASSET else TosCode.UNKNOWN_ASSET
        if record.owner != owner:
            return TosCode.NOT_ASSET_OWNER
        if record.supply + amount > (1 << 64) - 1:
            return TosCode.BALANCE_OVERFLOW
        code = self.state.credit(owner, asset, amount)
        if code == TosCode.OK:
            self.state.put_asset(replace(record, supply=record.supply + amount))
        return code

    def emit_event(self, topics: Sequence[bytes], data: bytes) -> None:
        """See :class:`~tbpf.tos_syscalls.TosHost`."""
        self.state.add_event(self.contract_hash, topics, data)

    # --- cross-contract calls -------------------------------------------------------
    def invoke(self, ctx: SyscallContext, contract: bytes, input_data: bytes, gas_limit: int,
               deposit: int) -> int:
        """``tos_invoke_contract`` after its base charge (see the module docstring).

        Raises:
            SyscallError: ``InvokeDepthExceeded`` or ``Reentrancy`` (abort the caller).
        """
        rt = self.runtime
        if len(self.stack) >= rt.config.max_invoke_depth:
            raise SyscallError("InvokeDepthExceeded",
                               f"{len(self.stack) + 1} frames, at most "
                               f"{rt.config.max_invoke_depth}")
        if contract in self.stack:
            raise SyscallError("Reentrancy", f"contract {contract.hex()} is already running")
        record = self.state.get_contract(contract)
        if record is None:
            self.callee_return_data = b""
            return TosCode.UNKNOWN_CONTRACT
        limit = ctx.remaining if gas_limit == 0 else min(gas_limit, ctx.remaining)
        child = self.state.child()
        if deposit:
            code = child.move(self.contract_hash, contract, NATIVE_ASSET, deposit)
            if code != TosCode.OK:
                self.callee_return_data = b""
                return code
        try:
            result = rt._execute(child, self.env, record, ENTRYPOINT_NAME, input_data, limit,
                                 caller=self.contract_hash, stack=self.stack + (contract,),
                                 engine=self.engine)
        except ContractError as err:
            # The callee cannot run here (e.g. a TosVM module without an executor): the
            # caller sees a failed call, not a broken transaction.
            ctx.log(f"Program {contract.hex()} failed: {err.kind}: {err}")
            self.callee_return_data = b""
            return TosCode.CALLEE_FAULTED
        # The callee's limit never exceeds what the caller had, so this cannot fail.
        ctx.consume(result.gas_used)
        ctx.logs.extend(result.logs)
        if result.success:
            child.merge()
            self.callee_return_data = result.return_data
            return TosCode.OK
        self.callee_return_data = b""
        return TosCode.CALLEE_FAILED if result.error is None else TosCode.CALLEE_FAULTED


# --------------------------------------------------------------------------------------
# The runtime
# --------------------------------------------------------------------------------------

class Runtime:
    """Deploys and invokes contracts on overlays (the chain commits them).

    Args:
        config: runtime policy.
        tosvm: the TosVM executor (default: refuses every TosVM module).
        syscalls: the syscall registry (default: the shared :func:`default_syscalls`).
        cache: the executable cache (default: the process-wide one).
    """

    def __init__(self, config: RuntimeConfig | None = None, *,
                 tosvm: TosVMExecutor | None = None, syscalls: SyscallRegistry | None = None,
                 cache: ExecutableCache | None = None) -> None:
        self.config = config or RuntimeConfig()
        self.tosvm: TosVMExecutor = tosvm or UnconfiguredTosVM()
        self.syscalls = syscalls or default_syscalls()
        self.cache = cache or _SHARED_CACHE

    # --- deploy ---------------------------------------------------------------------
    def deploy(self, state: Overlay, env: TxEnv,
               payload: DeployContractPayload | ContractModule) -> DeployResult:
        """Validate and store a contract under ``env.tx_hash`` (in ``state``).

        Raises:
            ContractError: a subclass saying why the contract was refused (nothing is
                written to ``state`` then).
        """
        module = payload.module if isinstance(payload, DeployContractPayload) else payload
        kind = module.kind
        exe: Executable | None = None
        if isinstance(module, TosVMModule):
            cutoff = self.config.tosvm_deploy_cutoff_height
            if cutoff is not None and env.block_height >= cutoff:
                raise TosVMDeployDisabledError(env.block_height, cutoff)
        exe = DeployContractPayload(module).validate(
            self.syscalls, config=self.config.vm_config,
            allow_assembly=self.config.allow_assembly)
        if isinstance(module, TosVMModule):
            self.tosvm.validate(bytes(module.bytecode))
        module_bytes = encode_module(module)
        code_hash = code_hash_of(module_bytes)
        contract = env.tx_hash
        if state.get_contract(contract) is not None:
            raise ContractError(f"contract {contract.hex()} already exists")
        state.put_code(code_hash, module_bytes)
        state.put_contract(ContractRecord(contract, code_hash, int(kind), env.source,
                                          env.block_height))
        if exe is not None:
            self.cache.put(code_hash, _BASE, self.syscalls, exe)
        return DeployResult(contract, code_hash, kind, len(module_bytes))

    # --- invoke ---------------------------------------------------------------------
    def check_gas(self, gas_limit: int | None) -> int:
        """The effective gas limit.

        Raises:
            InvalidTransactionError: not in ``1..max_gas``.
        """
        gas = self.config.default_gas if gas_limit is None else gas_limit
        if not 0 < gas <= self.config.max_gas:
            raise InvalidTransactionError(f"gas limit {gas} is not in 1..{self.config.max_gas}")
        return gas

    def invoke(self, state: Overlay, env: TxEnv, contract: bytes, *,
               entry: str = ENTRYPOINT_NAME, input: bytes = b"",  # noqa: A002
               gas_limit: int | None = None,
               deposits: Sequence[tuple[bytes, int]] = (),
               engine: str = "interp") -> InvokeResult:
        """Run ``entry`` of ``contract``; its changes reach ``state`` only on success.

        Deposits move from ``env.source`` to the contract before execution (and move back
        with everything else if it fails).

        Raises:
            InvalidTransactionError: bad gas limit or input size.
            InsufficientFundsError: the sender cannot pay a deposit.
            UnknownContractError, UnknownEntryPointError, TosVMNotConfiguredError.
        """
        gas = self.check_gas(gas_limit)
        if len(input) > self.config.max_input_size:
            raise InvalidTransactionError(f"input of {len(input)} bytes (at most "
                                          f"{self.config.max_input_size})")
        record = state.get_contract(contract)
        if record is None:
            raise UnknownContractError(contract)
        tx = state.child()
        for asset, amount in deposits:
            if len(asset) != 32 or not 0 <= amount < 1 << 64:
                raise InvalidTransactionError("a deposit needs a 32-byte asset id and a u64")
            code = tx.move(env.source, contract, asset, amount)
            if code != TosCode.OK:
                raise InsufficientFundsError(
                    f"deposit of {amount} {'native' if asset == NATIVE_ASSET else asset.hex()}"
                    f" failed: {code.name}")
        result = self._execute(tx, env, record, entry, bytes(input), gas,
                               caller=env.source, stack=(contract,), engine=engine)
        if result.success:
            tx.merge()
        return result

    def _module(self, state: Overlay, record: ContractRecord) -> ContractModule:
        raw = state.get_code(record.code_hash)
        if raw is None:
            raise StateError(f"code {record.code_hash.hex()} of contract "
                             f"{record.contract_hash.hex()} is missing")
        return decode_module(raw)

    def executable(self, state: Overlay, record: ContractRecord, entry: str) -> Executable:
        """The cached program of ``record`` starting at ``entry``.

        Raises:
            UnknownEntryPointError, ContractError.
        """
        hit = self.cache.get(record.code_hash, entry, self.syscalls)
        if hit is not None:
            return hit
        module = self._module(state, record)
        if not isinstance(module, (TBPFModule, TBPFAsmModule)):
            raise InternalError("executable() on a TosVM contract")
        base = self.cache.get(record.code_hash, _BASE, self.syscalls)
        if base is None:
            base = self.cache.put(record.code_hash, _BASE, self.syscalls,
                                  load_module(module, self.syscalls,
                                              config=self.config.vm_config))
        name = entry
        if entry == ENTRYPOINT_NAME and module.entry_point is not None:
            name = module.entry_point
        pc = resolve_entry(base, name)
        if pc == base.entry_pc:
            exe = base
        else:
            # Same text and verification, another start slot (its own digest for the JIT).
            exe = replace(base, entry_pc=pc, _digest=None)
        return self.cache.put(record.code_hash, entry, self.syscalls, exe)

    def _execute(self, state: Overlay, env: TxEnv, record: ContractRecord, entry: str,
                 input_data: bytes, gas: int, *, caller: bytes, stack: tuple[bytes, ...],
                 engine: str) -> InvokeResult:
        contract = record.contract_hash
        frame = CallFrame(self, state, env, contract, caller, input_data, stack, engine)
        depth = len(stack)
        head = f"Program {contract.hex()} invoke [{depth}]"
        if record.kind == ModuleKind.TOSVM:
            module = self._module(state, record)
            assert isinstance(module, TosVMModule)
            out = self.tosvm.execute(TosVMRequest(bytes(module.bytecode), entry, input_data,
                                                  gas, frame))
            used = min(max(out.gas_used, 0), gas)
            fault = None if out.exit_code is not None else SyscallError(
                "TosVMFault", out.error or "the TosVM module faulted")
            result = InvokeResult(contract, entry, out.exit_code, fault, gas, used,
                                  [head, *out.logs], [], out.return_data)
        else:
            exe = self._executable_cached(state, record, entry)
            from ..vm import run_executable
            outcome = run_executable(exe, engine=engine, input=input_data, budget=gas,
                                     registers={1: MM_INPUT_START, 2: len(input_data)},
                                     syscalls=self.syscalls, host=frame)
            result = InvokeResult(contract, entry, outcome.result, outcome.error, gas,
                                  outcome.compute_units, [head, *outcome.logs], [],
                                  outcome.return_data[1])
        result.logs.append(f"Program {contract.hex()} consumed {result.gas_used} of {gas} "
                           f"compute units")
        if result.success:
            result.logs.append(f"Program {contract.hex()} success")
            result.events = list(state.events)
        else:
            reason = (f"exit code {result.exit_code}" if result.error is None
                      else f"{result.error.kind}: {result.error}")
            result.logs.append(f"Program {contract.hex()} failed: {reason}")
            result.return_data = b""
        return result

    def _executable_cached(self, state: Overlay, record: ContractRecord,
                           entry: str) -> Executable:
        try:
            return self.executable(state, record, entry)
        except ContractError:
            raise
        except TBPFError as err:  # pragma: no cover - load_module wraps these already
            raise ContractError(f"contract {record.contract_hash.hex()} cannot be loaded: "
                                f"{err}") from err

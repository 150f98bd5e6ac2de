"""The TOS contract runtime: modules, deploy/invoke, gas, events and atomic state.

Layout (each module's docstring says what it owns):

* :mod:`tbpf.runtime.module` -- :data:`ContractModule`, its wire format, deploy checks;
* :mod:`tbpf.runtime.state` -- records, the :class:`ContractProvider` interface, write-set
  overlays, the in-memory provider;
* :mod:`tbpf.runtime.sqlite` -- the default SQLite provider;
* :mod:`tbpf.runtime.execute` -- :class:`Runtime`, call frames, results;
* :mod:`tbpf.runtime.params` -- the ``--param`` encoding of the CLI.

The local chain that produces blocks is :mod:`tbpf.chain`. Nothing here imports an engine
at module level: ``run_executable`` loads the requested engine on first use.
"""

from __future__ import annotations

from .execute import (
    DEFAULT_GAS, MAX_GAS, CallFrame, DeployResult, ExecutableCache, InvokeResult, Runtime,
    RuntimeConfig, TosVMExecutor, TosVMOutcome, TosVMRequest, TxEnv, UnconfiguredTosVM,
    default_syscalls,
)
from .module import (
    MAX_CODE_SIZE, ContractModule, DeployContractPayload, ModuleKind, TBPFAsmModule,
    TBPFModule, TosVMModule, decode_module, encode_module, load_module, resolve_entry,
)
from .sqlite import SqliteProvider
from .state import (
    AssetRecord, BlockHeader, ContractProvider, ContractRecord, EventRecord, MemoryProvider,
    Overlay, PendingEvent, Receipt, StateView, WriteSet,
)

__all__ = [
    "DEFAULT_GAS", "MAX_GAS", "CallFrame", "DeployResult", "ExecutableCache", "InvokeResult",
    "Runtime", "RuntimeConfig", "TosVMExecutor", "TosVMOutcome", "TosVMRequest", "TxEnv",
    "UnconfiguredTosVM", "default_syscalls", "MAX_CODE_SIZE", "ContractModule",
    "DeployContractPayload", "ModuleKind", "TBPFAsmModule", "TBPFModule", "TosVMModule",
    "decode_module", "encode_module", "load_module", "resolve_entry", "SqliteProvider",
    "AssetRecord", "BlockHeader", "ContractProvider", "ContractRecord", "EventRecord",
    "MemoryProvider", "Overlay", "PendingEvent", "Receipt", "StateView", "WriteSet",
]

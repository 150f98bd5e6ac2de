"""The native <-> Python contract of the JIT: context layout, status codes, callbacks.

Compiled code has the signature ``i64 tbpf_entry(ptr ctx, ptr noalias readonly regions)``.

``ctx`` is an array of little-endian u64 words owned by the Python side for one run:

======  =====================  =========================================================
word    name                   meaning
======  =====================  =========================================================
0..10   ``regs``               r0..r10, in and out
11      ``pc``                 in: the entry pc; out: the fault pc, or where to resume
12      ``remaining``          compute units left (``prev - due``), in and out
13      ``depth``              call depth, in and out
14      ``fault_addr``         memory fault: the guest address; callx: the target address
15      ``fault_size``         memory fault: the access size in bytes
16      ``fault_access``       memory fault: 0 load, 1 store
17      ``syscall_fn``         address of the syscall callback (see :data:`SYSCALL_CFUNC`)
18      ``run_id``             identifies the Python run for the callback
19      ``syscall_failed``     set to 1 by the callback when the syscall raised
20      ``stack_limit``        lowest native stack address compiled code may use; a guest
                               function entered below it hands the run to the interpreter
21      ``regmask``            out: which of ``regs`` the stopping function wrote (bit r)
22      ``status``             out: the status, where guest functions leave it for the
                               entry (they return only r0-r5 and the meter, and a meter
                               of ``2**64 - 1`` for "stopped, see ``status``")
23..31  reserved
32..    ``frames``             ``max_call_depth`` records of 13 words, written only when a
                               run stops below a call: r0..r10 at the call, the return
                               pc, and a mask of which registers are the caller's own
                               (the rest equal the values one frame further up)
======  =====================  =========================================================

``regions`` is a read-only table of :data:`NUM_REGION_SLOTS` rows of
:data:`REGION_WORDS` words, indexed by ``(vm_addr >> 32) & 7``. Each row holds the
region's ``vm_start`` and ``host_addr``, its real load and store lengths and gap size
(for the out-of-line slow path), and eight precomputed *limits*: for an access of
``size`` bytes, ``vm_addr - vm_start < limit`` (unsigned) is the whole fast-path check,
with ``limit = max(0, len - size + 1)`` (0 for a store into a read-only region and for
the gapped v0 stack, whose accesses take the slow path). Rows without a region have
limits 0. An address whose upper bits exceed the 3-bit index can never pass, because
``vm_addr - vm_start`` is then at least ``2**35``. The table is never written while
compiled code runs and no guest address maps onto it, which is what makes the
``noalias readonly`` promise true.

The return value is a status: :data:`STATUS_EXIT` (r0 is in ``regs[0]``), a
:class:`tbpf.errors.FaultCode`, or one of the JIT-specific statuses below.
"""

from __future__ import annotations

import ctypes

__all__ = [
    "CTX_REGS", "CTX_PC", "CTX_REMAINING", "CTX_DEPTH", "CTX_FAULT_ADDR", "CTX_FAULT_SIZE",
    "CTX_FAULT_ACCESS", "CTX_SYSCALL_FN", "CTX_RUN_ID", "CTX_SYSCALL_FAILED",
    "CTX_STACK_LIMIT", "CTX_REGMASK", "CTX_STATUS", "CTX_FRAMES", "FRAME_RET", "FRAME_MASK",
    "FRAME_WORDS", "NUM_REGION_SLOTS", "REGION_WORDS", "REGION_START", "REGION_LOAD_LEN",
    "REGION_STORE_LEN", "REGION_HOST", "REGION_GAP", "REGION_LIMITS", "limit_word",
    "STATUS_EXIT", "STATUS_BAIL", "STATUS_MEMORY_FAULT", "STATUS_SYSCALL_ERROR",
    "STATUS_INTERNAL", "SYSCALL_CFUNC", "ENTRY_CFUNC", "ctx_words", "ABI_VERSION",
]

ABI_VERSION = 7
"""Bumped whenever the layout or the lowering changes meaning (part of cache keys)."""

CTX_REGS = 0
CTX_PC = 11
CTX_REMAINING = 12
CTX_DEPTH = 13
CTX_FAULT_ADDR = 14
CTX_FAULT_SIZE = 15
CTX_FAULT_ACCESS = 16
CTX_SYSCALL_FN = 17
CTX_RUN_ID = 18
CTX_SYSCALL_FAILED = 19
CTX_STACK_LIMIT = 20
CTX_REGMASK = 21
CTX_STATUS = 22
CTX_FRAMES = 32
FRAME_WORDS = 13
FRAME_RET = 11
FRAME_MASK = 12

NUM_REGION_SLOTS = 8
REGION_WORDS = 16
REGION_START = 0
REGION_HOST = 1
REGION_LOAD_LEN = 2
REGION_STORE_LEN = 3
REGION_GAP = 4
REGION_LIMITS = 8
"""Words 8..11: load limits for sizes 1, 2, 4, 8; words 12..15: store limits."""
_SIZE_INDEX = {1: 0, 2: 1, 4: 2, 8: 3}


def limit_word(size: int, store: bool) -> int:
    """The row word holding the fast-path limit for an access of ``size`` bytes."""
    return REGION_LIMITS + (4 if store else 0) + _SIZE_INDEX[size]


STATUS_EXIT = 0
STATUS_BAIL = 100
"""The rest of the run belongs to the interpreter: resume at ``ctx.pc`` from ``ctx``'s
state (the remaining budget cannot pay for the next block, or a ``callx`` landed on a
slot that is not a compiled entry)."""
STATUS_MEMORY_FAULT = 101
"""A load or store failed; ``fault_addr/size/access`` say which (the Python side builds
the exact error of SBPF_SPEC 4.4 from them)."""
STATUS_SYSCALL_ERROR = 102
"""A syscall failed; the Python side holds the exception."""
STATUS_INTERNAL = 103
"""An impossible path was taken (a TBPF bug)."""

SYSCALL_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64,
                                 ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                                 ctypes.c_uint64, ctypes.c_uint64)
"""``u64 callback(ctx, syscall_index, r1, r2, r3, r4, r5)``: returns r0. Releases the
GIL around the native caller, so compiled code runs beside Python threads."""

ENTRY_CFUNC = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)
"""``i64 tbpf_entry(ctx, regions)``."""


def ctx_words(max_call_depth: int) -> int:
    """Number of u64 words in the context of a VM with ``max_call_depth`` frames."""
    return CTX_FRAMES + FRAME_WORDS * max_call_depth

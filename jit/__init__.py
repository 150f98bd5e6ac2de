"""The LLVM JIT engine of TBPF (``engine="jit"``): lowering, compilation, caching."""

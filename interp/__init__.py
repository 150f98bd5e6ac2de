"""The reference interpreter engine of TBPF (``engine="interp"``)."""

from .interpreter import Interpreter

__all__ = ["Interpreter"]

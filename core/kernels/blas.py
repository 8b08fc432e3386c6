"""The big matmuls of a word model's output side (core.kernels.wide), through numpy's OpenBLAS when it is there.

Measured on this 2-core AMD EPYC (torch 2.13's MKL, numpy 2.4's OpenBLAS 0.3.31, one thread, loaded machine): for
(256 x 290) @ (290 x 16,383), MKL took 135-317 ms and OpenBLAS 73-139 ms; for the weights' gradient (290 x 256) @
(256 x 16,383), 151-315 against 79-97 ms; the input's gradient was even. MKL also slows down by up to 2x when the
row length (the vocabulary) is not a multiple of 16, which OpenBLAS does not. So the kernel hands these three
products to OpenBLAS, with its thread count set to the run's through OpenBLAS's own C function (found in the
library numpy loaded); where numpy, that library or that function is missing, torch.mm does them.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Gemm", "openblas"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")
_lib: Any = None  # numpy's OpenBLAS (ctypes), its thread setter, and the threads last set
_setter: Any = None
_threads = 0


def openblas() -> Any:
    """numpy's OpenBLAS thread setter (a ctypes function), or None where there is none to be found."""
    global _lib, _setter
    if _lib is None:
        _lib = False
        try:
            import numpy  # noqa: F401  (loads its OpenBLAS)

            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f if "openblas" in line and "numpy" in line})
            for path in paths:
                lib = ctypes.CDLL(path)
                for name in _SETTERS:
                    if hasattr(lib, name):
                        _lib, _setter = lib, getattr(lib, name)
                        _setter.argtypes = [ctypes.c_int]
                        break
                if _setter is not None:
                    break
        except (ImportError, OSError):
            _setter = None
    return _setter


class Gemm:
    """Products out = a @ b of fixed tensors, prepared once and run many times: numpy's matmul (OpenBLAS) on views
    of the tensors' memory when `library` is "openblas" and it can be had, else torch.mm. `name` says which."""

    def __init__(self, library: str = "openblas") -> None:
        self.name = "openblas" if library == "openblas" and openblas() is not None else "torch"

    def product(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> Callable[[], Any]:
        """A call that computes out = a @ b (2-d float32 tensors; a and b may be transposed views)."""
        if self.name == "torch":
            return lambda: torch.mm(a, b, out=out)
        import numpy as np

        an, bn, on = a.numpy(), b.numpy(), out.numpy()  # views of the same memory, made once
        return lambda: np.matmul(an, bn, out=on)

    def set_threads(self, n: int) -> None:
        """Threads for the products from now on (OpenBLAS's own pool; torch's is the Trainer's to set)."""
        global _threads
        if self.name == "openblas" and n != _threads:
            openblas()(n)
            _threads = n

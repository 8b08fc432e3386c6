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

__all__ = ["Gemm", "library_threads", "openblas", "set_library_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads")
_GETTERS = tuple(name.replace("_set_", "_get_") for name in _SETTERS)
_found: dict[str, tuple[Any, Any]] = {}  # owner ("numpy", "scipy") -> its OpenBLAS's thread setter and getter
_threads = 0  # numpy's OpenBLAS threads as last set by Gemm


def _functions(owner: str) -> tuple[Any, Any]:
    """The thread setter and getter (ctypes functions) of the OpenBLAS that `owner` (numpy or scipy: each wheel
    bundles its own, in numpy.libs or scipy.libs) has loaded into this process, or (None, None)."""
    if owner not in _found:
        _found[owner] = (None, None)
        try:
            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f if "openblas" in line and f"{owner}." in line})
            for path in paths:
                lib = ctypes.CDLL(path)
                pair = [next((getattr(lib, n) for n in names if hasattr(lib, n)), None) for names in (_SETTERS,
                                                                                                       _GETTERS)]
                if pair[0] is not None and pair[1] is not None:
                    pair[0].argtypes, pair[1].restype = [ctypes.c_int], ctypes.c_int
                    _found[owner] = (pair[0], pair[1])
                    break
        except OSError:
            pass
    return _found[owner]


def openblas() -> Any:
    """numpy's OpenBLAS thread setter (a ctypes function), or None where there is none to be found."""
    try:
        import numpy  # noqa: F401  (loads its OpenBLAS)
    except ImportError:
        return None
    return _functions("numpy")[0]


def set_library_threads(owner: str, n: int) -> int | None:
    """Set the threads of the OpenBLAS `owner` has loaded (OPENBLAS_NUM_THREADS is read only when a library loads,
    so it does nothing to one loaded before it was set), and return the count it then reports (None: not found)."""
    setter, getter = _functions(owner)
    if setter is None:
        return None
    setter(n)
    return int(getter())


def library_threads(owner: str) -> int | None:
    """The threads the OpenBLAS `owner` has loaded says it uses now, or None where it is not found."""
    getter = _functions(owner)[1]
    return None if getter is None else int(getter())


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

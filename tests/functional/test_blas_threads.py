"""The compiled kernel's BLAS (scipy's OpenBLAS, which numba's np.dot calls) runs on one thread whatever was
imported first. OPENBLAS_NUM_THREADS, which jitsteps used to set, is read only when a library loads, so where
scipy was already imported (a notebook) it did nothing and the tiny matmuls ran on every core's thread."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import ROOT

from core.kernels.jit import available

CHECK = """
import sys
if sys.argv[1] == "scipy-first":
    import scipy.linalg  # noqa: F401
import torch
from core.config import MLPConfig, TrainConfig
from core.kernels import make_kernel
from core.kernels.blas import library_threads
from core.model import MLP
kernel = make_kernel(MLP(MLPConfig(vocab_size=27)), TrainConfig())
print(kernel.name, library_threads("scipy"))
"""


@pytest.mark.skipif(not available(), reason="numba and scipy are not installed")
@pytest.mark.parametrize("order", ["scipy-first", "torch-first"])
def test_scipy_blas_is_one_thread_whatever_loaded_first(order):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}  # its default: one per core
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", CHECK, order], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["numba", "1"]

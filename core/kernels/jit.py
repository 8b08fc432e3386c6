"""The lecture's layout compiled with numba: many steps per call, no torch dispatch at all.

core.kernels.lecture's kernels spend most of their time dispatching small torch calls on tiny tensors (19
a step for FusedSGD). Here a whole chunk of steps is one call into machine code (core.kernels.jitsteps)
that works in place on the parameters' own memory (numpy views of the torch tensors): gathers, bias adds,
tanh, softmax and the scatter-add are plain loops, the matmuls go to scipy's BLAS through numba's np.dot.
JitSGD is FusedSGD's plain SGD step; JitGeneral is FusedGeneral's (AdamW or SGD with weight decay, dropout,
clipping; no batch norm). An ensemble's members (core.kernels.members) run on them too.

Optional: it needs the `fast` extra (numba and scipy). Without it, or with MLP_TUI_KERNEL=torch in the
environment, make_kernel falls back to FusedSGD and FusedGeneral, which CI tests too. The numbers agree
with the torch kernels to float32 rounding (~1e-6 after thousands of steps), not bit for bit: tanh here
is a rational approximation (see jitsteps.tanh) and sums run in another order.
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Any

import torch

from core.config import TrainConfig
from core.kernels.base import Kernel, Lrs, Rows, stack_masks, stack_rows
from core.kernels.lecture import FusedGeneral
from core.model import MLP

__all__ = ["JitGeneral", "JitSGD", "available", "cache_note", "failure", "guard_cache", "make", "why_not"]

_compiled: Any = None  # (step, tanh, numpy) once core.kernels.jitsteps is imported
_why_not = ""  # why numba is not used, for `mlp-tui bench`
_cache_notes: list[str] = []  # cache folders refused (guard_cache), for the curious


def available() -> bool:
    """True when numba and scipy import here and MLP_TUI_KERNEL does not ask for the torch kernels."""
    global _why_not
    if os.environ.get("MLP_TUI_KERNEL", "").strip().lower() == "torch":
        _why_not = "MLP_TUI_KERNEL=torch"
        return False
    try:
        _build()
    except ImportError as e:
        _why_not = f"not installed ({e.name or e}); pip install 'mlp-tui[fast]'"
        return False
    except Exception as e:  # a broken install (numba against the wrong numpy, ...) must not stop training
        _why_not = f"numba failed to load: {type(e).__name__}: {e}"
        return False
    return True


def make(model: MLP, config: TrainConfig) -> JitSGD | JitGeneral | None:
    """The compiled kernel for the lecture's layout without batch norm: JitSGD for plain SGD, JitGeneral
    for the rest; None (why_not() says why) when numba is missing, switched off or fails to compile."""
    global _why_not
    if model.config.batchnorm or not model.config.lecture_layout or not available():
        return None
    def build() -> JitSGD | JitGeneral:
        return JitSGD(model, config.batch_size) if config.fast_path else JitGeneral(model, config)

    try:
        try:
            kernel = build()
        except Exception:  # a damaged numba cache (a bad index) fails every load: drop it, compile afresh
            for step in (_compiled[0], _compiled[3]):
                cache = getattr(step, "_cache", None)
                if cache is not None:
                    cache.flush()
            kernel = build()
        _why_not = ""
        return kernel
    except Exception as e:  # noqa: BLE001  the torch kernel takes over
        _why_not = f"the compiled step failed: {type(e).__name__}: {str(e)[:200]}"
        return None


def why_not() -> str:
    return _why_not


def failure() -> str:
    """why_not() when the compiled step is installed and wanted but broke (it failed to load or compile):
    worth a line to the user, who would otherwise only see a slower run. Empty otherwise."""
    return _why_not if _why_not.startswith(("numba failed", "the compiled step failed")) else ""


def _build() -> Any:
    """(the SGD step, the tanh it uses, numpy, the general step): imports numba and scipy the first time."""
    global _compiled
    if _compiled is None:
        try:
            import core.kernels.jitsteps as jitsteps
        except RuntimeError as e:  # numba found nowhere to cache (a read-only install, no writable home)
            if "cannot cache" not in str(e):
                raise
            import numba

            numba_config: Any = numba.config  # its settings are made at run time: a checker sees none
            numba_config.CACHE_DIR = private_cache_dir() or ""
            import core.kernels.jitsteps as jitsteps
        for step in (jitsteps.steps, jitsteps.general_steps):
            note = guard_cache(step)
            if note:
                _cache_notes.append(note)
        _compiled = (jitsteps.steps, jitsteps.tanh, jitsteps.np, jitsteps.general_steps)
    return _compiled


def cache_note() -> str:
    """Why a cache folder of numba's was passed over (guard_cache), or empty."""
    return "; ".join(_cache_notes)


def not_files(folder: str, prefix: str) -> list[str]:
    """The entries of `folder` named `prefix`* that are not regular files (links followed). numba opens its
    index and data files with a plain open(): a FIFO there blocks it for ever (and a stop signal with it), a
    device reads without end."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.startswith(prefix))
    except FileNotFoundError:
        return []
    except OSError:
        return [folder]
    bad = []
    for name in names:
        try:
            regular = stat.S_ISREG(os.stat(os.path.join(folder, name)).st_mode)
        except FileNotFoundError:
            regular = True  # a dangling link: numba finds no file there, compiles and writes a new one
        except OSError:
            regular = False  # a loop of links, a folder it cannot search
        if not regular:
            bad.append(name)
    return bad


def private_cache_dir() -> str | None:
    """A cache folder of this user's own in the temp folder: made private, refused if someone else owns it or
    may write to it (numba loads pickles from it)."""
    path = os.path.join(tempfile.gettempdir(), f"mlp-tui-numba-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    mine = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022
    return path if mine else None


def guard_cache(dispatcher: Any) -> str:
    """Check a `cache=True` numba function's cache folder before numba reads it; if it holds something that is
    not a file, cache in private_cache_dir() instead (checked too), else not at all. A note saying so, or ''."""
    from numba.core import caching

    cache: Any = getattr(dispatcher, "_cache", None)
    files = getattr(cache, "_cache_file", None)
    if cache is None or files is None:
        return ""
    prefix = files._index_name[: -len(".nbi")]
    bad = not_files(cache.cache_path, prefix)
    if not bad:
        return ""
    note = f"numba's cache folder {cache.cache_path} holds {', '.join(bad)}, not files"
    import numba

    numba_config: Any = numba.config
    numba_config.CACHE_DIR = private_cache_dir() or ""
    if numba_config.CACHE_DIR:
        dispatcher.enable_caching()  # a new cache, in CACHE_DIR
        moved = dispatcher._cache
        if not not_files(moved.cache_path, prefix):
            return f"{note}; caching in {moved.cache_path} instead"
    dispatcher._cache = caching.NullCache()
    return f"{note}; compiling afresh, without a cache"


def _check(xs: torch.Tensor, ys: torch.Tensor, logp: torch.Tensor, B: int, BT: int,
           masks: torch.Tensor | None = None, H: int = 0) -> None:
    """The compiled code has no bounds checks: every shape and dtype is checked here, once per chunk."""
    n = len(xs)
    want: list[tuple[str, torch.Tensor, tuple[int, ...], torch.dtype]] = [
        ("inputs", xs, (n, BT), torch.long), ("targets", ys, (n, B), torch.long), ("logp", logp, (n, B), torch.float32)]
    if masks is not None:
        want.append(("dropout masks", masks, (n, B, H), torch.float32))
    for what, t, shape, dtype in want:
        if tuple(t.shape) != shape or t.dtype != dtype:
            raise ValueError(f"{what}: expected {dtype} of shape {shape}, got {t.dtype} of shape {tuple(t.shape)}")
    if not logp.is_contiguous():
        raise ValueError("logp must be contiguous: the compiled step writes it in place")


class StepRates:
    """A chunk's learning rates as the compiled steps read them: float32, one per step, in a buffer that grows to
    the longest chunk seen (no allocation per chunk once it has)."""

    def __init__(self, np: Any) -> None:
        self._np = np
        self._buffer = np.empty(0, np.float32)

    def fill(self, lrs: Lrs, n: int) -> Any:
        """The n steps' rates (one rate for all, or one per step), in the buffer."""
        if len(self._buffer) < n:
            self._buffer = self._np.empty(n, self._np.float32)
        out = self._buffer[:n]
        out[:] = lrs
        return out


class JitSGD(Kernel):
    """FusedSGD's plain SGD step, compiled.

    Stacked: the Trainer hands over the chunk's (n, B*block_size) inputs and (n, B) flat targets as
    two tensors instead of tuples of rows; tuples (the lr finder's) are stacked here.
    """

    stacked = True
    name = "numba"

    def __init__(self, model: MLP, batch_size: int):
        steps, _, np, _ = _build()
        cfg = model.config
        B, T, E, H, V = batch_size, cfg.block_size, cfg.n_embd, cfg.n_hidden, cfg.vocab_size
        self.B, self.V, self.BT = B, V, B * T  # BT: the character indices of one step
        self.row_offset = torch.arange(B) * V  # flat index of each row's first logit, as FusedSGD
        self._offset = self.row_offset.numpy()
        # numpy views sharing the parameters' memory: updates land in the model itself
        self.params = [p.detach().numpy() for p in (model.C, model.W1, model.b1, model.W2, model.b2)]
        f = np.float32
        self.buffers = [np.empty((B, T * E), f), np.empty((B, H), f), np.empty((B, V), f), np.empty((B, V), f),
                        np.empty((B, H), f), np.empty((B, T * E), f), np.empty((T * E, H), f), np.empty((H, V), f)]
        self._steps = steps
        self._lrs = StepRates(np)
        self.run(torch.empty(0, B * T, dtype=torch.long), torch.empty(0, B, dtype=torch.long),
                 torch.empty(0, B), 0.0)  # compile now (or load numba's cache), not inside the first timed chunk

    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """Steps over xs (n, B*block_size) and flat targets ys (n, B) (or tuples of rows); log p(target) into logp."""
        self.no_masks(masks)
        xs, ys = stack_rows(xs), stack_rows(ys)
        _check(xs, ys, logp, self.B, self.BT)
        n = len(xs)
        lr_arr = self._lrs.fill(lrs, n)
        X = xs.contiguous().numpy()
        Y = ys.numpy() - self._offset  # (n, B) targets
        out = logp.numpy()
        self._steps(*self.params, X, Y, lr_arr, out, *self.buffers)


class JitGeneral(FusedGeneral):
    """FusedGeneral (AdamW or SGD with weight decay, dropout, clipping) with its steps compiled.

    It keeps FusedGeneral's torch buffers for gradients and AdamW's moments, so state_dict, checkpoints
    and a switch to or from the torch kernel carry the optimiser over; the compiled step works on numpy
    views of them. Reads self.cfg at every call: the Trainer changes it live.
    """

    stacked = True
    name = "numba"

    def __init__(self, model: MLP, config: TrainConfig):
        if model.config.batchnorm:
            raise ValueError("the compiled general step has no batch norm")
        super().__init__(model, config)
        self.BT = config.batch_size * model.config.block_size  # the character indices of one step
        _, _, np, self._general = _build()
        view = [t.numpy() for t in self.params]
        self._arrays = (view + [t.numpy() for t in self.grads] + [t.numpy() for t in self.exp_avg]
                        + [t.numpy() for t in self.exp_avg_sq])  # C, W1, b1, W2, b2 for each of the four
        B, H, TE, V = config.batch_size, model.config.n_hidden, self.embv.shape[1], self.V
        f = np.float32
        self._work = [np.empty((B, TE), f), np.empty((B, H), f), np.empty((B, H), f), np.empty((B, V), f),
                      np.empty((B, V), f), np.empty((B, H), f), np.empty((B, TE), f)]
        self._no_masks = np.empty((0, B, H), f)
        self._hyper = np.empty(5, np.float64)
        self._lrs = StepRates(np)
        self.run(torch.empty(0, B * model.config.block_size, dtype=torch.long), torch.empty(0, B, dtype=torch.long),
                 torch.empty(0, B), 0.0)  # compile (or load numba's cache) now, not in the first timed chunk

    def run(self, xs: Rows, ys: Rows, logp: torch.Tensor, lrs: Lrs, masks: Rows | None = None) -> None:
        """As FusedGeneral.run; xs (n, B*block_size), ys (n, B) flat targets and masks (n, B, H) may come
        stacked (the Trainer) or as tuples of rows (stacked here)."""
        xs, ys, masks = stack_rows(xs), stack_rows(ys), stack_masks(masks)
        _check(xs, ys, logp, self.B, self.BT, masks, self.hd.shape[1])
        n = len(xs)
        lr_arr = self._lrs.fill(lrs, n)
        cfg = self.cfg
        self._hyper[:] = (1.0 if cfg.optimizer == "adamw" else 0.0, cfg.weight_decay, cfg.beta1, cfg.beta2,
                          cfg.grad_clip)
        m = self._no_masks if masks is None else masks.contiguous().numpy()
        self._general(*self._arrays, xs.contiguous().numpy(), ys.numpy() - self.row_offset.numpy(), lr_arr, m,
                      logp.numpy(), self.adam_step.view(1).numpy(), self._hyper, *self._work)

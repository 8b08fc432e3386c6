"""Run directories: every training run, in the app or on the command line, kept as it goes.

A run directory holds:
  run.json       what the run is (dataset, configs, parameters, created) and where it got to
                 (step, best dev loss, status, updated), rewritten atomically at each checkpoint;
  model.pt       the latest checkpoint (atomic: temp file + rename, so a kill leaves the previous one);
  losses.f32     log10 of every step's training loss, little-endian float32, appended;
  evals.jsonl    one line per evaluation: step, seconds of training, split losses;
  samples.jsonl  one line per batch of sampled names.
The append-only files are flushed about once a second and the checkpoint is written every few
seconds, so a crash or a kill loses at most the last few seconds. Pure Python apart from the
checkpoint, so listing runs and reading their curves needs no torch.
"""

from __future__ import annotations

import array
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.atomic import write_atomic
from core.errors import MLPTuiError

RUN_FILE = "run.json"
CHECKPOINT = "model.pt"
LOSSES = "losses.f32"
EVALS = "evals.jsonl"
SAMPLES = "samples.jsonl"
FORMAT = "mlp-tui-run"
VERSION = 1
FLUSH_EVERY = 1.0  # seconds between flushes of the append-only files
CHECKPOINT_EVERY = 5.0  # seconds between checkpoints
ENV_RUNS_DIR = "MLP_TUI_RUNS_DIR"


class RunError(MLPTuiError):
    """A run directory that cannot be read or written; the message names it and the problem."""


def default_runs_dir() -> Path:
    """$MLP_TUI_RUNS_DIR, else the user's data directory (platformdirs), e.g. ~/.local/share/mlp-tui/runs."""
    env = os.environ.get(ENV_RUNS_DIR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("mlp-tui", appauthor=False) / "runs"


def new_run_dir(root: str | os.PathLike[str], stem: str) -> Path:
    """A fresh folder root/<stem>-<date-time>[-n] (created), never one that exists."""
    root = Path(root).expanduser()
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise RunError(f"{root}: cannot create a run folder there ({e.strerror or e})") from None
    raise RunError(f"{root}: too many runs named {base}")


def _atomic_json(path: Path, obj: Any) -> None:
    write_atomic(path, lambda f: f.write(json.dumps(json_safe(obj), indent=2) + "\n"), binary=False)


def json_safe(obj: Any) -> Any:
    """NaN and infinity become null, so every file stays valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


class RunWriter:
    """Writes one run directory while a Trainer trains; call its methods from the training loop."""

    def __init__(self, path: str | os.PathLike[str], trainer: Any, origin: str = "cli", resume: bool = False):
        from core.checkpoint import dataset_ref

        self.path = Path(path).expanduser()
        self.trainer = trainer
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            info = read_info(self.path) if resume else None
            self.info = info or {
                "format": FORMAT,
                "version": VERSION,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "origin": origin,
                "dataset": dataset_ref(trainer.data.source),
                "words": len(trainer.data.words),
                "vocab_size": len(trainer.data.vocab),
                "params": trainer.model.num_params(),
                "model": trainer.model_config.to_dict(),
                "train": trainer.config.to_dict(),
            }
            self.info.update(status="running", step=trainer.step)
            _atomic_json(self.path / RUN_FILE, self.info)
            if resume:
                self._truncate_to(trainer.step)
            self._losses = open(self.path / LOSSES, "ab")
            self._evals = open(self.path / EVALS, "a", encoding="utf-8")
            self._samples = open(self.path / SAMPLES, "a", encoding="utf-8")
        except OSError as e:
            for name in ("_losses", "_evals", "_samples"):
                if hasattr(self, name):
                    getattr(self, name).close()
            raise RunError(f"{self.path}: cannot write the run there ({e.strerror or e})") from None
        self.last_flush = self.last_checkpoint = time.monotonic()
        self.saved_step = trainer.step if resume else -1
        self.closed = False

    def _truncate_to(self, steps: int) -> None:
        """A resumed run continues from its checkpoint: drop the losses, evaluations and samples logged
        after it (training that a kill threw away), so the files tell one timeline."""
        f = self.path / LOSSES
        if f.exists() and f.stat().st_size > 4 * steps:
            with open(f, "r+b") as fh:
                fh.truncate(4 * steps)
        for name in (EVALS, SAMPLES):
            rows = read_jsonl(self.path / name)
            kept = [r for r in rows if isinstance(r.get("step"), int) and r["step"] <= steps]
            if (self.path / name).exists():
                text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
                write_atomic(self.path / name, lambda fh, text=text: fh.write(text), binary=False)

    def _write(self, f: IO[Any], data: Any) -> None:
        try:
            f.write(data)
        except OSError as e:  # a full disk, a quota, a vanished folder: the caller stops saving, training goes on
            raise RunError(f"{self.path}: cannot save the run ({e.strerror or e})") from None

    # ---- as training goes ----
    def log_losses(self, log10_losses: Any) -> None:
        """Append a chunk's per-step log10 losses (a tensor or a list)."""
        values = log10_losses.tolist() if hasattr(log10_losses, "tolist") else list(log10_losses)
        if values:
            a = array.array("f", values)
            if sys.byteorder != "little":
                a.byteswap()
            self._write(self._losses, a.tobytes())

    def log_eval(self, step: int, losses: dict[str, float], seconds: float) -> None:
        self._write(self._evals, json.dumps(json_safe({"step": step, "seconds": round(seconds, 3), **losses})) + "\n")

    def log_samples(self, step: int, names: list[tuple[str, bool]]) -> None:
        line = json.dumps({"step": step, "names": [n for n, _ in names]}, ensure_ascii=False) + "\n"
        self._write(self._samples, line)

    def tick(self, force: bool = False) -> None:
        """Flush about once a second; checkpoint every few seconds (both if `force`)."""
        now = time.monotonic()
        if force or now - self.last_flush >= FLUSH_EVERY:
            self.flush()
        if force or now - self.last_checkpoint >= CHECKPOINT_EVERY:
            self.checkpoint()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        try:
            for f in (self._losses, self._evals, self._samples):
                f.flush()
        except OSError as e:
            raise RunError(f"{self.path}: cannot save the run ({e.strerror or e})") from None

    def checkpoint(self, status: str | None = None) -> Path:
        """Save the model and update run.json; the previous checkpoint stays until the new one is whole."""
        from core.checkpoint import save_checkpoint

        tr = self.trainer
        self.flush()
        try:
            save_checkpoint(tr, self.path / CHECKPOINT)
            self.info.update(
                step=tr.step,
                best_dev_loss=tr.best_dev,
                best_dev_step=tr.best_dev_step,
                last_loss=tr.snapshot().last_loss,
                seconds=round(tr.elapsed, 2),
                status=status or getattr(tr, "_state", None) or "running",
                wall=round(tr.wall, 2),
                updated=time.strftime("%Y-%m-%dT%H:%M:%S"),
                train=tr.config.to_dict(),
            )
            _atomic_json(self.path / RUN_FILE, self.info)
        except OSError as e:
            raise RunError(f"{self.path}: cannot save the run ({e.strerror or e})") from None
        self.last_checkpoint = time.monotonic()
        self.saved_step = tr.step
        return self.path / CHECKPOINT

    @property
    def unsaved(self) -> bool:
        return self.saved_step != self.trainer.step

    def abandon(self) -> None:
        """Stop writing without a last checkpoint (the disk refused the last write): close the files."""
        self.closed = True
        for f in (self._losses, self._evals, self._samples):
            try:
                f.close()
            except OSError:
                pass

    def close(self, status: str = "stopped") -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.checkpoint(status)
        finally:
            self.abandon()


# ---- reading runs (no torch) ----
def read_info(path: str | os.PathLike[str]) -> dict:
    """run.json of a run directory; RunError if it is missing or damaged."""
    path = Path(path).expanduser()
    f = path / RUN_FILE
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    try:
        info = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: not an mlp-tui run (no {RUN_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise RunError(f"{path}: damaged run ({RUN_FILE} is not readable JSON)") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise RunError(f"{path}: not an mlp-tui run ({RUN_FILE} is of another kind)")
    if info.get("version") != VERSION:
        raise RunError(f"{path}: run format version {info.get('version')!r}; this mlp-tui reads version {VERSION}")
    return info


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file as given, or a run directory's model.pt."""
    p = Path(path).expanduser()
    if p.is_dir() and (p / RUN_FILE).exists():
        if not (p / CHECKPOINT).exists():
            raise RunError(f"{p}: the run has no checkpoint yet ({CHECKPOINT})")
        return p / CHECKPOINT
    return p


def read_losses(path: str | os.PathLike[str], max_steps: int | None = None) -> array.array:
    """Every step's log10 training loss (a float array); a torn last value from a kill is dropped."""
    f = Path(path).expanduser() / LOSSES
    try:
        data = f.read_bytes()
    except FileNotFoundError:
        return array.array("f")
    except OSError as e:
        raise RunError(f"{path}: cannot read {LOSSES} ({e.strerror or e})") from None
    a = array.array("f")
    a.frombytes(data[: len(data) // 4 * 4])
    if sys.byteorder != "little":
        a.byteswap()
    if max_steps is not None:
        del a[max_steps:]
    return a


def downsample(values: array.array | list[float], width: int, start: int = 0) -> tuple[list[float], list[float]]:
    """(steps, mean of each bucket) for about `width` buckets of values[start:]; steps are 1-based."""
    n = len(values)
    if n <= start or width < 1:
        return [], []
    span = n - start
    size = max(1, math.ceil(span / width))
    steps, means = [], []
    for i in range(start, n, size):
        part = values[i : i + size]
        total = sum(part)  # a C loop over the slice; the per-value filter only when something is off
        if not math.isfinite(total):
            part = [v for v in part if math.isfinite(v)]
            total = sum(part)
        if part:
            steps.append(i + (min(size, n - i) + 1) / 2)
            means.append(total / len(part))
    return steps, means


def read_jsonl(path: Path) -> list[dict]:
    """The whole lines of a JSON-lines file; a torn last line (a kill mid-write) is skipped."""
    out = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


@dataclass(frozen=True)
class RunSummary:
    path: Path
    dataset: str
    arch: str  # e.g. "block 3 · emb 10 · hidden 200"
    params: int
    step: int
    best_dev: float
    created: str
    status: str
    error: str = ""  # why the run could not be read, if it could not


def summarize(path: Path) -> RunSummary:
    try:
        info = read_info(path)
    except RunError as e:
        return RunSummary(path, "?", "?", 0, 0, math.nan, "", "damaged", str(e))
    try:
        m = info.get("model") or {}
        arch = f"block {m.get('block_size', '?')} · emb {m.get('n_embd', '?')} · hidden {m.get('n_hidden', '?')}"
        if m.get("batchnorm"):
            arch += " · bn"
        best = info.get("best_dev_loss")
        return RunSummary(
            path=path,
            dataset=Path(str(info.get("dataset", "?"))).name,
            arch=arch,
            params=int(info.get("params") or 0),
            step=int(info.get("step") or 0),
            best_dev=float(best) if isinstance(best, (int, float)) else math.nan,
            created=str(info.get("created", "")),
            status=str(info.get("status", "")),
        )
    except (AttributeError, TypeError, ValueError):
        return RunSummary(path, "?", "?", 0, 0, math.nan, "", "damaged", f"{path}: damaged run ({RUN_FILE} fields)")


def list_runs(root: str | os.PathLike[str] | None = None) -> list[RunSummary]:
    """Every run directory directly under root, newest first; damaged ones are listed with the reason."""
    root = Path(root).expanduser() if root is not None else default_runs_dir()
    try:
        if not root.is_dir():
            return []
        runs = [summarize(p) for p in root.iterdir() if p.is_dir() and (p / RUN_FILE).exists()]
    except OSError as e:
        raise RunError(f"{root}: cannot list the runs ({e.strerror or e})") from None
    return sorted(runs, key=lambda r: (r.created, r.path.name), reverse=True)


def export_csv(path: str | os.PathLike[str], out: Any) -> int:
    """Write step, log10 loss, loss and the split losses at evaluation steps as CSV to a text stream."""
    path = Path(path).expanduser()
    read_info(path)
    losses = read_losses(path)
    evals = {int(e["step"]): e for e in read_jsonl(path / EVALS) if isinstance(e.get("step"), int)}
    out.write("step,log10_loss,loss,train_eval,dev_eval,test_eval\n")
    for i, v in enumerate(losses, start=1):
        e = evals.get(i, {})
        cells = [str(i), f"{v:.6g}", f"{10 ** v:.6g}"]
        for split in ("train", "dev", "test"):
            x = e.get(split)
            cells.append("" if x is None else f"{x:.6g}")
        out.write(",".join(cells) + "\n")
    return len(losses)

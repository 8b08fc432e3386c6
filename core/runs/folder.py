"""Run directories: every training run, in the app or on the command line, kept as it goes.

A run directory holds:
  run.json       what the run is (dataset, dedupe, data, configs, parameters, created; a sweep's trial also
                 its study and trial number) and where it got to (step, best dev loss, status, updated),
                 rewritten atomically at each checkpoint; its status is one of core.status.RUN_FOLDER.
                 "data" (format, tokens, min_count, lower: core.tokens.TextOptions) came with words on running
                 text (issue 22), in run.json and model.pt alike; a run without it is a word list of characters
                 (lines + chars), as every run made before. "chars_per_token" (split -> mean characters per
                 token of running text, core.measures.chars_per_token; {} for a word list) came with issue 23:
                 overlays of runs of different token kinds turn losses into bits per character with it;
                 "fingerprint" (line count, SHA-256 of the splits as read) too: a resume on changed data is
                 refused, a run without it goes on unchecked;
  model.pt       the latest checkpoint (atomic: temp file + rename, so a kill leaves the previous one), in
                 core.runs.checkpoint's format: version 1 for a single model; an ensemble's (members > 1) is
                 version 2, which stores W1 and its AdamW moments as the members' blocks (members, block_size,
                 n_embd/members, n_hidden/members), not the merged W1 with its zero blocks (`--preset best`:
                 7.8 MB, against 29 MB as version 1); ensembles written as version 1 still load. It also keeps
                 patience's count and which weights it holds ("session": {"stale", "kept": last or best});
  best.pt        keep_best only: the weights of the best dev loss (core.runs.kept: weights and batch-norm statistics,
                 an ensemble's W1 as members' blocks), with their step and dev loss; written (atomically, before
                 model.pt) by a checkpoint only when the best changed since the last one, so that a continued run
                 keeps them at its end as the unstopped run would;
  last.pt        while model.pt holds the best weights keep_best put back at the end: the last ones, which a continued
                 run goes on from; removed by the next checkpoint of the last weights (runs without it continue too);
  tokenizer.json a BPE run's tokenizer (core.bpe, the library's JSON); model.pt holds the same ("tokenizer"), the
                 copy read back and checked against the vocabulary; its "data" also has "bpe_vocab" (issue 23);
  losses.f32     log10 of every step's training loss, little-endian float32, appended;
  evals.jsonl    one line per evaluation: step, seconds of training, split losses; a continued run keeps one line
                 at the step it goes on from (the first there, of the weights it goes on from);
  samples.jsonl  one line per batch of sampled names;
  metrics.json   `mlp-tui train` only: its summary at the end, with the same "status" (files written
                 before the rename say "state"; read_metrics reads both, as "status");
  lock           held (flock) by the process training the run, with its pid (core.runs.lock).
The append-only files are flushed about once a second and the checkpoint is written every few
seconds, so a crash or a kill loses at most the last few seconds. A folder is made when the run
trains its first step, and a run that never trained one is not kept. Temp files (.name.*.tmp) are
what an interrupted atomic write leaves; readers ignore them and a writer that resumes removes them.

Everything read back is untrusted: each file is read only if it is a regular file of sane size, and
its fields are checked into typed values; a bad run.json makes the run "damaged: reason" in lists,
a bad line of evals.jsonl or samples.jsonl is skipped. This module is pure Python (the checkpoint is
core.runs.checkpoint's, the writing side core.runs.writer's), so listing runs and reading their curves
needs no torch.
"""

from __future__ import annotations

import array
import json
import math
import os
import re
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from core.errors import ConfigError, MLPTuiError
from core.runs.files import FileRefused, PathError, has_unsafe, read_regular, safe_text, user_path
from core.runs.lock import LOCK
from core.status import RUN_FOLDER

RUN_FILE = "run.json"
CHECKPOINT = "model.pt"
LOSSES = "losses.f32"
EVALS = "evals.jsonl"
SAMPLES = "samples.jsonl"
METRICS = "metrics.json"
BEST, LAST = "best.pt", "last.pt"  # keep_best's weights beside model.pt (core.runs.kept)
TOKENIZER = "tokenizer.json"  # a bpe run's tokenizer (core.bpe)
RUN_FILES = (RUN_FILE, CHECKPOINT, LOSSES, EVALS, SAMPLES, METRICS, BEST, LAST, LOCK, TOKENIZER)
FORMAT = "mlp-tui-run"
VERSION = 1
FLUSH_EVERY = 1.0  # seconds between flushes of the append-only files
CHECKPOINT_EVERY = 5.0  # seconds between checkpoints
ENV_RUNS_DIR = "MLP_TUI_RUNS_DIR"
MAX_STEP = 2**62
# Sizes far above what a real run writes (a 10-hour run: ~4 MB of losses per million steps, a few MB
# of lines); beyond them a file is not ours, and reading it whole could exhaust memory.
MAX_INFO_BYTES = 1 << 20
MAX_JSONL_BYTES = 64 << 20
MAX_LOSSES_BYTES = 1 << 30  # 268M steps: about 7 hours at 10,000 steps/s


class RunError(MLPTuiError):
    """A run directory that cannot be read or written; the message names it and the problem."""


def default_runs_dir() -> Path:
    """$MLP_TUI_RUNS_DIR, else the user's data directory (platformdirs), e.g. ~/.local/share/mlp-tui/runs."""
    env = os.environ.get(ENV_RUNS_DIR)
    if env:
        try:
            return user_path(env)
        except PathError as e:
            raise PathError(f"${ENV_RUNS_DIR}={e}") from None
    from platformdirs import user_data_path

    return user_data_path("mlp-tui", appauthor=False) / "runs"


def new_run_dir(root: str | os.PathLike[str], stem: str) -> Path:
    """A fresh folder root/<stem>-<date-time>[-n] (created), never one that exists."""
    root = user_path(root)
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise RunError(f"{safe_text(root)}: cannot create a run folder there ({e.strerror or e})") from None
    raise RunError(f"{safe_text(root)}: too many runs named {base}")


def json_safe(obj: Any) -> Any:
    """NaN and infinity become null, so every file stays valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj



def is_plain_file(path: Path) -> bool:
    """A regular file that is not a symlink (what a run's own files must be)."""
    return path.is_file() and not path.is_symlink()


def locked_message(path: Path, pid: int | None) -> str:
    who = f"pid {pid}" if pid else "another process"
    return f"{safe_text(path)}: being trained by another mlp-tui, {who}"


# ---- reading runs (no torch) ----
def _read_file(path: Path, limit: int, run: Path) -> bytes:
    try:
        return read_regular(path, limit)
    except FileRefused as e:
        raise RunError(f"{safe_text(run)}: damaged run ({path.name} {e})") from None
    except IsADirectoryError:
        raise RunError(f"{safe_text(run)}: damaged run ({path.name} is a folder)") from None


def _int(v: Any, lo: int = 0, hi: int = MAX_STEP) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError
    return v


def _loss(v: Any) -> float | None:
    """A loss as stored: a finite number, or null for none (NaN and inf are written as null)."""
    if v is None:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or abs(v) > 1e9:
        raise ValueError
    return float(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError
    return v


def _status(v: Any) -> str:
    if v not in RUN_FOLDER:
        raise ValueError
    return v


def _text(v: Any, limit: int = 4096) -> str:
    if not isinstance(v, str) or len(v) > limit or has_unsafe(v):
        raise ValueError
    return v


def _data_options(v: Any) -> dict:
    """run.json's "data": format, tokens, min_count, lower (and bpe's bpe_vocab), each valid for its setting (older
    runs have none)."""
    from core import settings
    from core.tokens import DATA_SETTINGS

    if not isinstance(v, dict) or set(v) - set(DATA_SETTINGS):
        raise ValueError
    if any(settings.BY_NAME[k].check(x) for k, x in v.items()):
        raise ValueError
    return v


def _fingerprint(v: Any) -> dict:
    """run.json's "fingerprint": the data's line count and the SHA-256 of its splits (core.data's fingerprint)."""
    if not isinstance(v, dict) or set(v) != {"lines", "sha256"} or not re.fullmatch(r"[0-9a-f]{64}",
                                                                                    _text(v["sha256"])):
        raise ValueError
    return {"lines": _int(v["lines"]), "sha256": v["sha256"]}


# run.json: field -> (check, required). Each check returns the typed value or raises ValueError.
_INFO_FIELDS: dict[str, tuple[Any, bool]] = {
    "created": (lambda v: _text(v, 64), True),
    "updated": (lambda v: _text(v, 64), False),
    "origin": (lambda v: _text(v, 32), False),
    "dataset": (_text, True),
    "dedupe": (_bool, False),
    "data": (lambda v: _data_options(v), False),
    "fingerprint": (_fingerprint, False),
    "words": (lambda v: _int(v), False),
    "vocab_size": (lambda v: _int(v, 1, 1 << 21), False),
    "params": (lambda v: _int(v), False),
    "status": (_status, True),
    "step": (lambda v: _int(v), True),
    "best_dev_loss": (_loss, False),
    "best_dev_step": (lambda v: _int(v, -1), False),
    "last_loss": (_loss, False),
    "seconds": (_loss, False),
    "wall": (_loss, False),
    "pid": (lambda v: _int(v, 0, 1 << 31), False),
    "study": (lambda v: _text(v, 200), False),  # a sweep's trial: its study's name and trial number
    "trial": (lambda v: _int(v, 0, 1 << 40), False),
}


def _check_configs(info: dict) -> None:
    from core.config import MLPConfig, TrainConfig

    for key, cls in (("model", MLPConfig), ("train", TrainConfig)):
        d = info.get(key)
        if not isinstance(d, dict):
            raise RunError(f"no {key} settings")
        names = {f.name for f in fields(cls)}
        try:
            cls(**{k: v for k, v in d.items() if k in names}).validate()
        except (TypeError, ConfigError) as e:
            raise RunError(f"{key} settings: {safe_text(e, 120)}") from None


def read_info(path: str | os.PathLike[str]) -> dict:
    """run.json of a run directory, each field checked; RunError naming the field if one is bad."""
    path = user_path(path)
    where = safe_text(path)
    if not path.is_dir():
        raise RunError(f"{where}: no such run directory")
    try:
        raw = _read_file(path / RUN_FILE, MAX_INFO_BYTES, path)
    except FileNotFoundError:
        raise RunError(f"{where}: not an mlp-tui run (no {RUN_FILE})") from None
    except OSError as e:
        raise RunError(f"{where}: cannot read {RUN_FILE} ({e.strerror or e})") from None
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: JSON errors, 5,000-digit integers
        raise RunError(f"{where}: damaged run ({RUN_FILE} is not readable JSON)") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise RunError(f"{where}: not an mlp-tui run ({RUN_FILE} is of another kind)")
    if info.get("version") != VERSION:
        raise RunError(f"{where}: run format version {safe_text(repr(info.get('version')), 20)}; "
                       f"this mlp-tui reads version {VERSION}")
    for key, (check, required) in _INFO_FIELDS.items():
        if key not in info:
            if required:
                raise RunError(f"{where}: damaged run ({RUN_FILE} has no {key})")
            continue
        try:
            info[key] = check(info[key])
        except (ValueError, TypeError):
            raise RunError(f"{where}: damaged run ({RUN_FILE}: {key} is {safe_text(repr(info[key]), 40)})") from None
    try:
        _check_configs(info)
    except RunError as e:
        raise RunError(f"{where}: damaged run ({RUN_FILE}: {e})") from None
    return info


def read_metrics(path: str | os.PathLike[str]) -> dict:
    """metrics.json of a run of `mlp-tui train` (what its last line reported). Files written before the key
    was renamed say "state" where run.json says "status": both are read, as "status"."""
    path = user_path(path)
    try:
        metrics = json.loads(_read_file(path / METRICS, MAX_JSONL_BYTES, path).decode("utf-8"))
    except FileNotFoundError:
        raise RunError(f"{safe_text(path)}: no {METRICS} (only `mlp-tui train` writes one)") from None
    except OSError as e:
        raise RunError(f"{safe_text(path)}: cannot read {METRICS} ({e.strerror or e})") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RunError(f"{safe_text(path)}: damaged run ({METRICS} is not readable JSON)") from None
    if not isinstance(metrics, dict):
        raise RunError(f"{safe_text(path)}: damaged run ({METRICS} is not an object)")
    if "status" not in metrics and "state" in metrics:
        metrics["status"] = metrics.pop("state")
    return metrics


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file as given, or a run directory's model.pt."""
    p = user_path(path)
    if p.is_dir() and (p / RUN_FILE).exists():
        if not (p / CHECKPOINT).exists():
            raise RunError(f"{safe_text(p)}: the run has no checkpoint yet ({CHECKPOINT})")
        return p / CHECKPOINT
    return p


def decode_losses(data: bytes) -> array.array:
    """The values of (a block of) losses.f32: little-endian float32; a torn last value from a kill is dropped."""
    a = array.array("f")
    a.frombytes(data[: len(data) // 4 * 4])
    if sys.byteorder != "little":
        a.byteswap()
    return a


def read_losses(path: str | os.PathLike[str], max_steps: int | None = None) -> array.array:
    """Every step's log10 training loss (a float array); a torn last value from a kill is dropped."""
    path = user_path(path)
    try:
        data = _read_file(path / LOSSES, MAX_LOSSES_BYTES, path)
    except FileNotFoundError:
        return array.array("f")
    except OSError as e:
        raise RunError(f"{safe_text(path)}: cannot read {LOSSES} ({e.strerror or e})") from None
    a = decode_losses(data)
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
    """The whole lines of a JSON-lines file that are objects; a torn last line (a kill mid-write) is skipped."""
    out: list[dict] = []
    try:
        text = _read_file(path, MAX_JSONL_BYTES, path.parent).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return out
    except OSError as e:
        raise RunError(f"{safe_text(path)}: cannot be read ({e.strerror or e})") from None
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # a torn line, or a number Python will not parse
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def read_evals(run: Path) -> list[dict]:
    """evals.jsonl as {step, seconds, train?, dev?, test?} rows with checked types; bad lines are skipped."""
    out = []
    for r in read_jsonl(Path(run) / EVALS):
        try:
            row: dict[str, Any] = {"step": _int(r.get("step")), "seconds": _loss(r.get("seconds")) or 0.0}
            for s in ("train", "dev", "test"):
                if s in r:
                    row[s] = _loss(r[s])
        except (ValueError, TypeError):
            continue
        out.append(row)
    return out


def read_samples(run: Path) -> list[dict]:
    """samples.jsonl as {step, names} rows; names with control characters (not ours) are skipped."""
    out = []
    for r in read_jsonl(Path(run) / SAMPLES):
        try:
            names = r.get("names")
            if not isinstance(names, list) or len(names) > 10_000:
                raise ValueError
            out.append({"step": _int(r.get("step")), "names": [_text(n, 200) for n in names]})
        except (ValueError, TypeError):
            continue
    return out

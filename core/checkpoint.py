"""Checkpoints: one file with everything needed to rebuild and continue a run (nanoGPT style)."""

from __future__ import annotations

import math
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from core.atomic import write_atomic
from core.data import BUILTIN, Dataset, Vocab
from core.errors import CheckpointError, ConfigError
from core.model import MLP, MLPConfig
from core.train import TrainConfig, Trainer

FORMAT = "mlp-tui-checkpoint"
VERSION = 1


def dataset_ref(source: str) -> str:
    """A built-in name as it is, a file as an absolute path, so the checkpoint works from any folder."""
    return source if source in BUILTIN else str(Path(source).expanduser().resolve())


def save_checkpoint(trainer: Trainer, path: str | os.PathLike[str]) -> Path:
    """Write atomically: a temp file in the same folder, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "format": FORMAT,
        "version": VERSION,
        "model": trainer.model.state_dict(),
        "optimizer": {"name": trainer.config.optimizer, "lr_override": trainer.lr_override,
                      "rng": trainer.rng_state(), "state": trainer.optimizer_state()},
        "model_config": trainer.model_config.to_dict(),
        "train_config": trainer.config.to_dict(),
        "step": trainer.step,
        "wall": trainer.wall,  # the clock of a time budget (--minutes) and of the schedule stretched over it
        "elapsed": trainer.elapsed,
        "best_dev_loss": trainer.best_dev,
        "best_dev_step": trainer.best_dev_step,
        "vocab": list(trainer.data.vocab.itos),
        "dataset": dataset_ref(trainer.data.source),
        "split_seed": trainer.data.seed,
    }
    return write_atomic(path, lambda f: torch.save(ckpt, f))


@dataclass
class Checkpoint:
    model: MLP
    model_config: MLPConfig
    train_config: TrainConfig
    vocab: Vocab
    step: int
    best_dev_loss: float
    best_dev_step: int
    dataset: str
    split_seed: int
    optimizer: dict[str, Any]
    wall: float = 0.0
    elapsed: float = 0.0


def _config(cls: type, d: Any, path: Path) -> Any:
    if not isinstance(d, dict):
        raise CheckpointError(f"{path}: damaged checkpoint (no {cls.__name__})")
    names = {f.name for f in fields(cls)}
    try:
        cfg = cls(**{k: v for k, v in d.items() if k in names})
        cfg.validate()
    except (TypeError, ConfigError) as e:
        raise CheckpointError(f"{path}: damaged checkpoint ({e})") from None
    return cfg


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load and check a checkpoint; any problem is a CheckpointError with a one-line message."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give the checkpoint file (e.g. {path / 'model.pt'})")
    if not path.is_file():
        raise CheckpointError(f"{path}: is not a regular file (a device or a pipe?); give a checkpoint file")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        with warnings.catch_warnings():  # torch warns on some foreign files: the error below says it all
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:  # a readable file that torch cannot parse: cut short, most likely
        raise CheckpointError(f"{path}: not a readable checkpoint (the file is truncated or damaged)") from None
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        what = "truncated or damaged" if "zip" in str(e).lower() or isinstance(e, EOFError) else "damaged"
        raise CheckpointError(f"{path}: not a readable checkpoint (the file is {what} or of another kind)") from None
    except Exception:  # torch raises many types for damaged files; none should be a traceback
        raise CheckpointError(f"{path}: not a readable checkpoint (the file is damaged or of another kind)") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an mlp-tui checkpoint")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {ckpt.get('version')!r}; this mlp-tui reads version {VERSION}"
        )
    mcfg = _config(MLPConfig, ckpt.get("model_config"), path)
    tcfg = _config(TrainConfig, ckpt.get("train_config"), path)
    itos = ckpt.get("vocab")
    if not isinstance(itos, list) or len(itos) != mcfg.vocab_size:
        raise CheckpointError(f"{path}: damaged checkpoint (vocabulary does not match the model)")
    model = MLP(mcfg)
    try:
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: damaged checkpoint (weights: {first[:120]})") from None
    return Checkpoint(
        model=model,
        model_config=mcfg,
        train_config=tcfg,
        vocab=Vocab(tuple(itos)),
        step=int(ckpt.get("step", 0)),
        best_dev_loss=float(ckpt.get("best_dev_loss", float("inf"))),
        best_dev_step=int(ckpt.get("best_dev_step", -1)),
        dataset=str(ckpt.get("dataset", "")),
        split_seed=int(ckpt.get("split_seed", 42)),
        optimizer=dict(ckpt.get("optimizer") or {}),
        wall=_seconds(ckpt.get("wall")),
        elapsed=_seconds(ckpt.get("elapsed")),
    )


def _seconds(x: Any) -> float:
    """A stored duration; older checkpoints have none (0)."""
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 else 0.0


def resume_trainer(ckpt: Checkpoint, data: Dataset) -> Trainer:
    """A Trainer that continues a checkpointed run on `data` (which must have the same vocabulary)."""
    if tuple(data.vocab.itos) != tuple(ckpt.vocab.itos):
        raise CheckpointError(
            f"the checkpoint's vocabulary ({len(ckpt.vocab)} characters) differs from {data.source}'s "
            f"({len(data.vocab)}); it was trained on {ckpt.dataset}"
        )
    if data.block_size != ckpt.model_config.block_size:
        raise CheckpointError(
            f"the checkpoint has block size {ckpt.model_config.block_size}, the data {data.block_size}"
        )
    trainer = Trainer(data, ckpt.model_config, ckpt.train_config, model=ckpt.model)
    trainer.step = ckpt.step
    trainer.wall, trainer.elapsed = ckpt.wall, ckpt.elapsed
    trainer.best_dev, trainer.best_dev_step = ckpt.best_dev_loss, ckpt.best_dev_step
    trainer.lr_override = ckpt.optimizer.get("lr_override")
    rng = ckpt.optimizer.get("rng")
    if isinstance(rng, dict) and isinstance(rng.get("gen"), torch.Tensor):
        trainer.set_rng_state(rng)
    state = ckpt.optimizer.get("state")
    if state:
        try:
            trainer.load_optimizer_state(state)
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            raise CheckpointError(f"damaged checkpoint (optimizer state: {str(e)[:100]})") from None
    return trainer

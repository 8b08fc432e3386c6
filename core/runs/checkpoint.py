"""Checkpoints: one file with everything needed to rebuild and continue a run (nanoGPT style)."""

from __future__ import annotations

import math
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from core.data import BUILTIN, SPLIT_SEED, Dataset, Vocab
from core.engine.train import TrainConfig, Trainer
from core.errors import CheckpointError, ConfigError
from core.model import MLP, MLPConfig, dense_w1, member_w1
from core.runs.atomic import write_atomic
from core.runs.files import has_unsafe, safe_text
from core.runs.vocabcheck import checked_vocab
from core.sizes import format_size
from core.tokens import DATA_SETTINGS, TextOptions

FORMAT = "mlp-tui-checkpoint"
# 2: an ensemble's W1 and its AdamW moments hold the members' blocks (K, block_size, n_embd/K, n_hidden/K), not the
# merged W1 with its zero blocks between members. Only ensembles are written as 2, so any mlp-tui reads the others.
VERSION = 2
READS = (1, 2)  # version 1: every model dense, ensembles included (still read)
# 200M parameters (config.MAX_PARAMS) are 800 MB, and AdamW keeps two more copies: 4 GiB is beyond any of ours.
MAX_CHECKPOINT_BYTES = 4 << 30


def dataset_ref(source: str) -> str:
    """A built-in name as it is, a file as an absolute path, so the checkpoint works from any folder."""
    return source if source in BUILTIN else str(Path(source).expanduser().resolve())


def save_checkpoint(trainer: Trainer, path: str | os.PathLike[str], dedupe: bool | None = None) -> Path:
    """Write atomically: a temp file in the same folder, then rename over the target."""
    if dedupe is None:
        dedupe = getattr(trainer.data, "dedupe", False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights, state = trainer.model.state_dict(), trainer.optimizer_state()
    members = trainer.model_config.members > 1
    if members:
        weights, state = members_only(trainer.model, weights, state)
    ckpt = {
        "format": FORMAT,
        "version": VERSION if members else 1,
        "model": weights,
        "optimizer": {"name": trainer.config.optimizer, "lr_override": trainer.lr_override,
                      "rng": trainer.rng_state(), "state": state},
        "model_config": trainer.model_config.to_dict(),
        "train_config": trainer.config.to_dict(),
        "step": trainer.step,
        "wall": trainer.wall,  # the clock of a time budget (--minutes) and of the schedule stretched over it
        "elapsed": trainer.elapsed,
        "best_dev_loss": trainer.best_dev,
        "best_dev_step": trainer.best_dev_step,
        # patience's count, and which weights "model" holds: "best" after keep_best's ending (the last: RUN/last.pt)
        "session": {"stale": trainer.stale, "kept": "last" if trainer.last_state is None else "best"},
        "vocab": list(trainer.data.vocab.itos),
        "dataset": dataset_ref(trainer.data.source),
        "split_seed": trainer.data.seed,
        "dedupe": bool(dedupe),  # the split is by distinct word: eval, sample --mark and resume redo it so
        "data": trainer.data.options.to_dict(),  # format, tokens, min_count, lower: none in older checkpoints
    }
    if trainer.data.vocab.bpe is not None:  # bpe: the tokenizer learned on the training split (core.bpe), as JSON
        ckpt["tokenizer"] = trainer.data.vocab.bpe.spec
    return write_atomic(path, lambda f: torch.save(ckpt, f))


def _w1_index(model: MLP) -> int:
    """W1's place in the model's parameters, and so in the optimizer state's lists of moments."""
    return [name for name, _ in model.named_parameters()].index("W1")


def members_only(model: MLP, weights: dict, state: dict) -> tuple[dict, dict]:
    """An ensemble's weights and AdamW state as version 2 keeps them: W1 and its moments as the members' blocks
    (new tensors, 1/K of the merged ones; torch.save would write a view's whole storage)."""
    K, T = model.config.members, model.config.block_size
    weights = {**weights, "W1": member_w1(weights["W1"], K, T)}
    if state:
        i = _w1_index(model)
        state = {**state, **{key: [member_w1(t, K, T) if j == i else t for j, t in enumerate(state[key])]
                             for key in ("exp_avg", "exp_avg_sq")}}
    return weights, state


def _dense_members(ckpt: dict, model: MLP, damaged: Callable[[str], CheckpointError]) -> None:
    """Version 2's ensemble: its members' blocks of W1 (and of its moments) checked, then merged back in place."""
    mc = model.config
    K, T, E, H = mc.members, mc.block_size, mc.n_embd // mc.members, mc.n_hidden // mc.members
    blocks = {"W1": torch.empty(K, T, E, H, device="meta")}  # (K, T, E, H): only its shape is read
    weights = ckpt.get("model")
    if isinstance(weights, dict):
        check_tensors({"W1": weights.get("W1")}, blocks, "weights", damaged)
        ckpt["model"] = {**weights, "W1": dense_w1(weights["W1"])}
    optimizer = ckpt.get("optimizer")
    state = optimizer.get("state") if isinstance(optimizer, dict) else None
    if not isinstance(state, dict) or not state:
        return
    i = _w1_index(model)
    for key in ("exp_avg", "exp_avg_sq"):
        got = state.get(key)
        if isinstance(got, list) and len(got) > i:
            check_tensors({"W1": got[i]}, blocks, f"optimizer {key}", damaged)
            state[key] = [dense_w1(t) if j == i else t for j, t in enumerate(got)]


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
    dedupe: bool = False
    options: TextOptions = field(default_factory=TextOptions)  # an older checkpoint's: lines of characters
    session: dict[str, Any] = field(default_factory=dict)  # patience's count, the weights kept (core.runs.kept)


def _config(cls: type, d: Any, path: Path) -> Any:
    if not isinstance(d, dict):
        raise CheckpointError(f"{safe_text(path)}: damaged checkpoint (no {cls.__name__})")
    names = {f.name for f in fields(cls)}
    try:
        cfg = cls(**{k: v for k, v in d.items() if k in names})
        cfg.validate()
    except (TypeError, ConfigError) as e:
        raise CheckpointError(f"{safe_text(path)}: damaged checkpoint ({safe_text(e, 160)})") from None
    return cfg


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load and check a checkpoint; any problem is a CheckpointError with a one-line message."""
    path = Path(path)
    where = safe_text(path)
    ckpt = _read(path, where)

    def damaged(what: str) -> CheckpointError:
        return CheckpointError(f"{where}: damaged checkpoint ({what})")

    mcfg = _config(MLPConfig, ckpt.get("model_config"), path)
    tcfg = _config(TrainConfig, ckpt.get("train_config"), path)
    options = _options(ckpt, damaged)
    vocab = checked_vocab(ckpt.get("vocab"), ckpt.get("tokenizer"), mcfg.vocab_size, damaged, options)
    model = MLP(mcfg)
    if ckpt["version"] >= 2 and mcfg.members > 1:
        _dense_members(ckpt, model, damaged)
    check_tensors(ckpt.get("model"), model.state_dict(), "weights", damaged)
    model.load_state_dict(ckpt["model"])
    if model.config.members > 1:  # an ensemble's layout (core.kernels.members): what its members imply must hold
        problem = _members_problem(model)
        if problem:
            raise damaged(problem)
    optimizer = ckpt.get("optimizer")
    if not isinstance(optimizer, dict):
        optimizer = {}
    if optimizer.get("state"):
        _check_optimizer_state(optimizer["state"], model, damaged)
    try:
        step = _count(ckpt.get("step", 0), 0)
        best_step = _count(ckpt.get("best_dev_step", -1), -1)
        split_seed = _count(ckpt.get("split_seed", SPLIT_SEED), 0, 2**63 - 1)
    except ValueError as e:
        raise damaged(str(e)) from None
    best = ckpt.get("best_dev_loss", math.inf)
    if not isinstance(best, (int, float)) or isinstance(best, bool) or math.isnan(best) or best < 0:
        raise damaged(f"best_dev_loss is {safe_text(repr(best), 30)}")
    dataset = ckpt.get("dataset", "")
    if not isinstance(dataset, str) or has_unsafe(dataset) or len(dataset) > 4096:
        raise damaged("the dataset's name has control characters or is not text")
    dedupe = ckpt.get("dedupe", False)
    if not isinstance(dedupe, bool):
        raise damaged("dedupe is not true or false")
    return Checkpoint(
        model=model,
        model_config=mcfg,
        train_config=tcfg,
        vocab=vocab,
        step=step,
        best_dev_loss=float(best),
        best_dev_step=best_step,
        dataset=dataset,
        split_seed=split_seed,
        optimizer=dict(optimizer),
        wall=_seconds(ckpt.get("wall")),
        elapsed=_seconds(ckpt.get("elapsed")),
        dedupe=dedupe,
        options=options,
        session=ckpt["session"] if isinstance(ckpt.get("session"), dict) else {},  # core.runs.kept checks it
    )


def _options(ckpt: dict, damaged: Callable[[str], CheckpointError]) -> TextOptions:
    """format, tokens, min_count, lower (and bpe_vocab), each checked by the registry; absent (older checkpoints): the
    defaults."""
    from core import settings

    given = ckpt.get("data", {})
    if not isinstance(given, dict) or set(given) - set(DATA_SETTINGS):
        raise damaged("the data settings are not format, tokens, min_count, lower and bpe_vocab")
    values = {k: given[k] for k in DATA_SETTINGS if k in given}
    for name, value in values.items():
        reason = settings.BY_NAME[name].check(value)
        if reason:
            raise damaged(f"{name} {reason}")
    return TextOptions.from_values(values)


def _read(path: Path, where: str) -> dict:
    """The checkpoint file as torch reads it (weights only: no code runs), if it is ours and of this version."""
    if not path.exists():
        raise CheckpointError(f"{where}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{where}: is a directory; give the checkpoint file (e.g. {where}/model.pt)")
    if not path.is_file():
        raise CheckpointError(f"{where}: is not a regular file (a device or a pipe?); give a checkpoint file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise CheckpointError(f"{where}: cannot be read ({e.strerror or e})") from None
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{where}: is {format_size(size, unit='GiB')}, larger than any mlp-tui checkpoint "
                              f"can be")
    try:
        with warnings.catch_warnings():  # torch warns on some foreign files: the error below says it all
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:  # a readable file that torch cannot parse: cut short, most likely
        raise CheckpointError(f"{where}: not a readable checkpoint (the file is truncated or damaged)") from None
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        what = "truncated or damaged" if "zip" in str(e).lower() or isinstance(e, EOFError) else "damaged"
        raise CheckpointError(f"{where}: not a readable checkpoint (the file is {what} or of another kind)") from None
    except Exception:  # torch raises many types for damaged files; none should be a traceback
        raise CheckpointError(f"{where}: not a readable checkpoint (the file is damaged or of another kind)") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not an mlp-tui checkpoint")
    version = ckpt.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in READS:
        raise CheckpointError(f"{where}: checkpoint format version {safe_text(repr(version), 20)}; "
                              f"this mlp-tui reads versions {' and '.join(map(str, READS))}")
    return ckpt


def _check_optimizer_state(state: Any, model: MLP, damaged: Callable[[str], CheckpointError]) -> None:
    """AdamW's moments, as core.engine.train keeps them: a step count, and one finite tensor of each parameter's
    shape per moment (an ensemble's b2 moments per member), the second ones never negative."""
    params = list(model.parameters())
    step_t = state.get("step") if isinstance(state, dict) else None
    if not isinstance(step_t, torch.Tensor) or step_t.numel() != 1 or not step_t.is_floating_point() \
            or not bool(torch.isfinite(step_t).all()) or float(step_t) < 0:
        raise damaged("optimizer state: the step count is not a count")
    for key in ("exp_avg", "exp_avg_sq"):
        got = state.get(key)
        if not isinstance(got, list) or len(got) != len(params):
            raise damaged(f"optimizer state: {key}")
        check_tensors(dict(enumerate(got)), {i: p.detach() for i, p in enumerate(params)}, f"optimizer {key}",
                       damaged)
    own = state.get("member_b2")
    if own is not None:  # core.kernels.members: each member's moments of its b2, (members, vocab) each
        if model.config.members == 1:
            raise damaged("optimizer state: member_b2 on a model without members")
        b2 = model.get_buffer("member_b2")
        if not isinstance(own, dict):
            raise damaged("optimizer state: member_b2 is not a table of moments")
        check_tensors({k: own.get(k) for k in ("exp_avg", "exp_avg_sq")}, {"exp_avg": b2, "exp_avg_sq": b2},
                       "optimizer member_b2", damaged)
        if bool((own["exp_avg_sq"] < 0).any()):
            raise damaged("optimizer state: member_b2's exp_avg_sq holds negative values")
    if any(bool((t < 0).any()) for t in state["exp_avg_sq"]):
        raise damaged("optimizer state: exp_avg_sq holds negative values (a mean of squares cannot)")


def _count(v: Any, lo: int, hi: int = 2**62) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError(f"a step or seed is {safe_text(repr(v), 30)}")
    return v


def _members_problem(model: MLP) -> str:
    """Why these weights are not an ensemble of their settings' members, or "": W1's blocks between members
    must be zero (they are never trained) and b2 the mean of the members' own."""
    K, T = model.config.members, model.config.block_size
    E, H = model.config.n_embd // K, model.config.n_hidden // K
    W1 = model.get_parameter("W1").detach().view(T, K, E, K, H).permute(1, 3, 0, 2, 4)  # (member in, out, T, E, H)
    if bool(W1[~torch.eye(K, dtype=torch.bool)].any()):
        return "weights: W1 joins one member's embeddings to another's hidden units (an ensemble's are zero)"
    if not torch.allclose(model.get_parameter("b2").detach(), model.get_buffer("member_b2").mean(0), rtol=1e-5,
                          atol=1e-6):
        return "weights: b2 is not the mean of the members' own (member_b2)"
    return ""


def check_tensors(got: Any, want: dict, what: str, damaged: Any) -> None:
    """Every expected tensor present, of the expected shape and a float type, and finite; named if not."""
    if not isinstance(got, dict):
        raise damaged(f"no {what}")
    missing = [str(k) for k in want if k not in got]
    if missing:
        raise damaged(f"{what}: no {', '.join(missing[:3])}")
    extra = [safe_text(k, 40) for k in got if k not in want]
    if extra:
        raise damaged(f"{what}: unexpected {', '.join(extra[:3])}")
    for k, ref in want.items():
        t = got[k]
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise damaged(f"{what}: {k} is not a float tensor")
        if t.layout != torch.strided or t.device.type != "cpu":  # sparse or meta tensors: not ours
            raise damaged(f"{what}: {k} is not a dense CPU tensor")
        if t.shape != ref.shape:
            shape = "x".join(map(str, t.shape)) or "scalar"
            need = "x".join(map(str, ref.shape)) or "scalar"
            raise damaged(f"{what}: {k} has shape {shape}, the model's settings need {need}")
        if not bool(torch.isfinite(t).all()):
            raise damaged(f"{what}: {k} holds NaN or infinite values")


def _seconds(x: Any) -> float:
    """A stored duration; older checkpoints have none (0)."""
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 else 0.0


def resume_trainer(ckpt: Checkpoint, data: Dataset) -> Trainer:
    """A Trainer that continues a checkpointed run on `data` (which must have the same vocabulary)."""
    if tuple(data.vocab.itos) != tuple(ckpt.vocab.itos):
        have, got = tuple(ckpt.vocab.itos), tuple(data.vocab.itos)
        how = f"{len(got)}"
        if len(got) == len(have):  # same size: name the first token that differs, or the message reads "18 ... (18)"
            i = next(i for i, (a, b) in enumerate(zip(have, got)) if a != b)
            how += (f" too, but token {i} is {safe_text(repr(got[i]), 30)}, not {safe_text(repr(have[i]), 30)}: "
                    "the file has changed")
        raise CheckpointError(
            f"the checkpoint's vocabulary ({len(have)} tokens) differs from {safe_text(data.source)}'s "
            f"({how}); it was trained on {safe_text(ckpt.dataset)}"
        )
    if data.block_size != ckpt.model_config.block_size:
        raise CheckpointError(
            f"the checkpoint has block size {ckpt.model_config.block_size}, the data {data.block_size}"
        )
    trainer = Trainer(data, ckpt.model_config, ckpt.train_config, model=ckpt.model)
    trainer.step = ckpt.step
    trainer.wall, trainer.elapsed = ckpt.wall, ckpt.elapsed
    trainer.best_dev, trainer.best_dev_step = ckpt.best_dev_loss, ckpt.best_dev_step
    lr = ckpt.optimizer.get("lr_override")
    if lr is not None and not (isinstance(lr, float) and math.isfinite(lr) and lr > 0):
        raise CheckpointError(f"damaged checkpoint (the learning rate set by hand is {safe_text(repr(lr), 30)})")
    trainer.lr_override = lr
    rng = ckpt.optimizer.get("rng")
    if isinstance(rng, dict) and isinstance(rng.get("gen"), torch.Tensor):
        try:
            if not isinstance(rng.get("pos", 0), int) or rng.get("pos", 0) < 0:
                raise ValueError("batch generator state: a position that is not a count")
            trainer.set_rng_state(rng)
        except (RuntimeError, TypeError, ValueError) as e:
            raise CheckpointError(f"damaged checkpoint ({safe_text(e, 120)})") from None
    state = ckpt.optimizer.get("state")
    if state:
        try:
            trainer.load_optimizer_state(state)
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            raise CheckpointError(f"damaged checkpoint (optimizer state: {str(e)[:100]})") from None
    return trainer

"""The runs folder as a list (what `mlp-tui runs` and the runs view show), and a run's losses as CSV.

The run format and its validated readers are in core/runs/folder.py; this module only reads through them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.measures import perplexity
from core.runs.files import FileRefused, open_regular, safe_text, user_path
from core.runs.folder import (
    CHECKPOINT,
    LOSSES,
    RUN_FILE,
    RunError,
    decode_losses,
    default_runs_dir,
    read_evals,
    read_info,
    read_metrics,
)
from core.runs.lock import holder
from core.status import Status
from core.tokens import TextOptions

NO_CHECKPOINT = "interrupted before its first checkpoint"  # the reason a list gives for a run without weights


def never_saved(info: dict[str, Any], path: Path) -> bool:
    """Whether a run's process ended before its first checkpoint (a kill -9 in its first seconds): run.json still
    says it was going on, and there is no model.pt. Only for a run that no process holds now (core.runs.lock)."""
    return info["status"] in (Status.RUNNING, Status.PAUSED, Status.IDLE) and not os.path.lexists(path / CHECKPOINT)


@dataclass(frozen=True)
class RunSummary:
    path: Path
    dataset: str
    arch: str  # e.g. "block 3 · emb 10 · hidden 200", "block 8 · emb 24 · hier 128 · bn", "... hidden 5x100 · direct"
    params: int
    step: int
    best_dev: float
    created: str
    status: str  # as run.json says, except "interrupted" for a "running" run whose process is gone
    error: str = ""  # why the run could not be read, if it could not
    pid: int | None = None  # the process training it now (0: unknown pid), None if nobody is
    study: str = ""  # a sweep's trial: its study and trial number
    trial: int = -1
    reason: str = ""  # more than the status says: NO_CHECKPOINT for a run killed before its first checkpoint
    bpc: float = math.nan  # running text: the best dev loss in bits per character, where metrics.json tells

    @property
    def perplexity(self) -> float:
        """The best dev loss as a perplexity per token (nan if there is none)."""
        return perplexity(self.best_dev) if math.isfinite(self.best_dev) else math.nan

    @property
    def live(self) -> bool:
        return self.pid is not None

    @property
    def status_text(self) -> str:
        """The status as a list shows it: with its reason, if it has one."""
        return self.reason or self.status


def perplexity_text(value: float) -> str:
    """A perplexity for a list: 7.06, 271.1, 12,345 (and "-" for none, "inf" for overflow)."""
    if math.isnan(value):
        return "-"
    if math.isinf(value) or value >= 1e9:
        return "inf" if math.isinf(value) else f"{value:.2g}"
    return f"{value:.2f}" if value < 100 else (f"{value:.1f}" if value < 10_000 else f"{value:,.0f}")


def best_dev_bpc(path: Path, best: float) -> float:
    """The best dev loss of a run of running text in bits per character: the dev split's bits per nat (its tokens
    over its characters, over ln 2) is the ratio of metrics.json's dev bpc to its dev loss, the same split at
    another step. nan where there is no metrics.json (a run of the app, one still training) or it lacks them."""
    try:
        m = read_metrics(path)
    except RunError:
        return math.nan
    measures = m.get("measures")
    dev = measures.get("dev") if isinstance(measures, dict) else None
    bpc, loss = (dev.get("bpc"), m.get("dev_loss")) if isinstance(dev, dict) else (None, None)
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
             for v in (bpc, loss, best))
    return best * bpc / loss if ok else math.nan  # type: ignore[operator]


def summarize(path: Path) -> RunSummary:
    pid = holder(path)
    try:
        info = read_info(path)
    except RunError as e:
        return RunSummary(path, "?", "?", 0, 0, math.nan, "", "damaged", str(e), pid)
    m = info["model"]
    layers = m.get("layers", 1)
    width = f"{layers}x{m.get('n_hidden', '?')}" if isinstance(layers, int) and layers > 1 else m.get("n_hidden", "?")
    arch = f"block {m.get('block_size', '?')} · emb {m.get('n_embd', '?')} · "
    arch += f"hier {m.get('n_hidden', '?')}" if m.get("arch") == "hier" else f"hidden {width}"
    if m.get("batchnorm"):
        arch += " · bn"
    if m.get("bn_out"):
        arch += " · bn logits"
    if m.get("direct"):
        arch += " · direct"
    members = m.get("members", 1)
    if isinstance(members, int) and not isinstance(members, bool) and members > 1:
        arch += f" · {members} members"
    if info.get("dedupe"):
        arch += " · dedupe"
    options = TextOptions.from_values(info.get("data") or {})
    if not options.plain:  # words or running text: "text · words ≥4"
        arch += " · " + options.label()
    best = info.get("best_dev_loss")
    status = info["status"]
    reason = NO_CHECKPOINT if pid is None and never_saved(info, path) else ""
    if pid is None and status in (Status.RUNNING, Status.PAUSED, Status.IDLE):
        status = Status.INTERRUPTED  # its process is gone (killed, or the machine went down): never "running"
    return RunSummary(
        path=path,
        dataset=Path(info["dataset"]).name,
        arch=arch,
        params=info.get("params", 0),
        step=info["step"],
        best_dev=best if best is not None else math.nan,
        created=info["created"],
        status=status,
        pid=pid,
        study=info.get("study", ""),
        trial=info.get("trial", -1),
        reason=reason,
        bpc=best_dev_bpc(path, best) if (info.get("data") or {}).get("format") == "text" and best is not None
        else math.nan,
    )


def list_runs(root: str | os.PathLike[str] | None = None) -> list[RunSummary]:
    """Every run directory directly under root, newest first; damaged ones are listed with the reason."""
    root = user_path(root) if root is not None else default_runs_dir()
    try:
        if not root.is_dir():
            return []
        runs = [summarize(p) for p in root.iterdir()
                if not p.name.startswith(".") and p.is_dir() and (p / RUN_FILE).exists()]
    except OSError as e:
        raise RunError(f"{safe_text(root)}: cannot list the runs ({e.strerror or e})") from None
    return sorted(runs, key=lambda r: (r.created, r.path.name), reverse=True)


def _pow10(v: float) -> float:
    return 10**v if v < 300 else math.inf  # a hostile losses.f32 can hold 3e38; 10 ** 3e38 overflows


def iter_losses(path: str | os.PathLike[str], block: int = 1 << 16) -> Any:
    """The log10 losses in blocks of `block` values, read as they are needed (a long run's file is large)."""
    try:
        fd, _ = open_regular(user_path(path) / LOSSES)
    except FileNotFoundError:
        return
    except FileRefused:
        raise RunError(f"{safe_text(path)}: damaged run ({LOSSES} is not a regular file)") from None
    except OSError as e:
        raise RunError(f"{safe_text(path)}: cannot read {LOSSES} ({e.strerror or e})") from None
    with open(fd, "rb", buffering=0) as fh:
        while True:
            data = fh.read(4 * block)
            if len(data) < 4:
                return
            yield decode_losses(data)


def export_csv(path: str | os.PathLike[str], out: Any) -> int:
    """Write step, log10 loss, loss and the split losses at evaluation steps as CSV to a text stream.

    Streams the loss file in blocks, so memory stays flat whatever the length of the run."""
    path = user_path(path)
    read_info(path)
    evals = {e["step"]: e for e in read_evals(path)}
    out.write("step,log10_loss,loss,train_eval,dev_eval,test_eval\n")
    i = 0
    for block in iter_losses(path):
        rows = []
        for v in block:
            i += 1
            e = evals.get(i)
            cells = [str(i), f"{v:.6g}", f"{_pow10(v):.6g}"]
            for split in ("train", "dev", "test"):
                x = e.get(split) if e else None
                cells.append("" if x is None else f"{x:.6g}")
            rows.append(",".join(cells))
        out.write("\n".join(rows) + "\n")
    return i

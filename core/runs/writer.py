"""The writing side of a run directory (the format is described in core.runs.folder): RunWriter.

One writer per run, holding the run's lock while it trains; it makes the folder at the first trained
step, appends the losses, evaluations and samples, checkpoints every few seconds, and on a full disk
raises RunError so that the caller stops saving, not training.
"""

from __future__ import annotations

import array
import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import IO, Any

from core.measures import chars_per_token
from core.runs.atomic import write_atomic
from core.runs.files import safe_text, user_path
from core.runs.folder import (
    CHECKPOINT,
    CHECKPOINT_EVERY,
    EVALS,
    FLUSH_EVERY,
    FORMAT,
    LOSSES,
    METRICS,
    RUN_FILE,
    RUN_FILES,
    SAMPLES,
    TOKENIZER,
    VERSION,
    RunError,
    default_runs_dir,
    is_plain_file,
    json_safe,
    locked_message,
    new_run_dir,
    read_evals,
    read_info,
    read_samples,
)
from core.runs.kept import KeptFiles
from core.runs.lock import RunLock, RunLocked
from core.status import RUN_FOLDER, Status


def clocks(trainer: Any) -> dict[str, float]:
    """A run's two clocks, as run.json and metrics.json both write them: "seconds" of training (the steps' own
    time, which evals.jsonl and the app's status line count too) and "wall", the wall seconds spent training
    (pauses and evaluations between chunks excluded). One source, so the two files never disagree."""
    return {"seconds": round(trainer.elapsed, 3), "wall": round(trainer.wall, 3)}  # ms: a short run is not 0


class RunWriter:
    """Writes one run directory while a Trainer trains; call its methods from the training loop.

    A new run's folder is made at the first write that has a trained step behind it (or at `open()`),
    in `root` as <stem>-<date-time> unless `path` is given; until then evaluations and samples wait in
    memory, so a model that never trains leaves nothing behind. A resumed run is locked at once; so is a `fresh`
    one, a run killed before its first checkpoint that starts again in its folder, whose files are rewritten.
    """

    def __init__(self, path: str | os.PathLike[str] | None, trainer: Any, origin: str = "cli",
                 resume: bool = False, root: str | os.PathLike[str] | None = None, stem: str = "run",
                 dedupe: bool = False, tags: dict[str, Any] | None = None, fresh: bool = False):
        self.path = user_path(path) if path is not None else None
        self.root, self.stem = root, stem
        self.trainer = trainer
        self.origin = origin
        self.resume = resume or fresh
        self.fresh = fresh
        self.dedupe = dedupe
        self.tags = dict(tags or {})  # extra run.json fields: a sweep's {"study": name, "trial": number}
        self.opened = False
        self.closed = False
        self.removed = False  # close() took away a run that never trained a step
        self._made_dir = False
        self._lock: RunLock | None = None
        self._had: set[str] = set(RUN_FILES)  # files there before we opened the folder: never ours to remove
        self._pending: list[tuple[str, str]] = []  # (file, line) written before the folder existed
        self.saved_step = trainer.step if resume and not fresh else -1
        self.last_flush = self.last_checkpoint = time.monotonic()
        self.status: Any = None  # () -> the run's status for run.json (a Session's); else the trainer's
        self.kept = KeptFiles(trainer)  # best.pt and last.pt, beside model.pt
        self._evaluated_at = -1  # a continued run's step, if evals.jsonl has its evaluation there already
        if self.resume:
            self.open()

    @property
    def folder(self) -> Path:
        """The run's folder, once it has one (open() makes it at the first trained step)."""
        if self.path is None:
            raise RunError("this run has no folder yet")
        return self.path

    def open(self) -> Path:
        """Make (or, resuming, take over) the folder: lock it, write run.json, open the append files."""
        if self.opened:
            return self.folder
        if self.closed:
            raise RunError("this run is closed")
        if self.path is None:
            self.path = new_run_dir(self.root or default_runs_dir(), self.stem)
            self._made_dir = True
        try:
            self._take_folder(self.path)
        except (OSError, RunError) as e:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            if not self.resume:  # a full disk at the start: no empty folder left behind
                self._remove_own_files()
            if isinstance(e, RunError):
                raise
            raise RunError(f"{safe_text(self.path)}: cannot write the run there ({e.strerror or e})") from None
        self.opened = True
        for name, line in self._pending:
            self._write(self._evals if name == EVALS else self._samples, line)
        self._pending.clear()
        return self.path

    def _take_folder(self, path: Path) -> None:
        """Lock the folder, write its run.json (marked running) and open its append files; a resumed run's
        files are cut back to its checkpoint first."""
        from core.runs.appendfile import open_append

        tr = self.trainer
        if not path.exists():
            path.mkdir(parents=True)
            self._made_dir = True
        self._had = {n for n in RUN_FILES if os.path.lexists(path / n)}  # not ours to remove
        try:
            self._lock = RunLock(path)
        except RunLocked as e:
            raise RunError(locked_message(path, e.pid)) from None
        self.info = (read_info(path) if self.resume and not self.fresh else None) or self._new_info()
        self.info.update(status=Status.RUNNING, step=tr.step, pid=os.getpid(), chars_per_token=chars_per_token(tr.data))
        _atomic_json(path / RUN_FILE, self.info)  # (a run older than chars_per_token gets it when it goes on)
        if self.resume:
            self._truncate_to(-1 if self.fresh else tr.step)  # fresh: nothing of the earlier start is kept
            self._remove_temp_files()
        if tr.data.vocab.bpe is not None:  # its tokenizer, to read (model.pt holds the same: the one read back)
            write_atomic(path / TOKENIZER, partial(_write_all, text=tr.data.vocab.bpe.spec), binary=False)
        files: list[IO[Any]] = []
        try:
            for name, text in ((LOSSES, False), (EVALS, True), (SAMPLES, True)):
                files.append(open_append(path / name, text=text))
        except BaseException:
            for f in files:
                f.close()
            raise
        self._losses, self._evals, self._samples = files

    def _new_info(self) -> dict[str, Any]:
        """run.json of a new run: what it is (its progress is added at each checkpoint)."""
        from core.runs.checkpoint import dataset_ref

        tr = self.trainer
        return {
            "format": FORMAT, "version": VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "origin": self.origin,
            "dataset": dataset_ref(tr.data.source),
            "dedupe": self.dedupe,
            "data": tr.data.options.to_dict(),  # format, tokens, min_count, lower (older runs: lines of characters)
            "chars_per_token": chars_per_token(tr.data),  # split -> mean characters per token of running text ({})
            "fingerprint": tr.data.fingerprint(),  # the data's lines and hash: a resume on other data is refused
            "words": len(tr.data.words),
            "vocab_size": len(tr.data.vocab),
            "params": tr.model.num_params(),
            "model": tr.model_config.to_dict(),
            "train": tr.config.to_dict(),
            **self.tags,
        }

    def _remove_temp_files(self) -> None:
        """Temp files of atomic writes that a kill interrupted; the lock says nobody is writing them now."""
        for f in self.folder.iterdir():
            if f.name.startswith(".") and f.name.endswith(".tmp") and f.is_file():
                f.unlink(missing_ok=True)

    def _truncate_to(self, steps: int) -> None:
        """A resumed run continues from its checkpoint: drop the losses, evaluations and samples logged
        after it (training that a kill threw away), so the files tell one timeline; -1 keeps nothing."""
        f, keep = self.folder / LOSSES, 4 * max(0, steps)
        if is_plain_file(f) and f.stat().st_size > keep:
            with open(f, "r+b") as fh:
                fh.truncate(keep)
        if steps < 0 and is_plain_file(self.folder / METRICS):
            (self.folder / METRICS).unlink()
        for name, read in ((EVALS, read_evals), (SAMPLES, read_samples)):
            path = self.folder / name
            if is_plain_file(path):
                kept = [r for r in read(self.folder) if r["step"] <= steps]
                if name == EVALS and kept and kept[-1]["step"] == steps:  # one line there: the first, of the weights
                    kept = [r for r in kept if r["step"] < steps] + [next(r for r in kept if r["step"] == steps)]
                    self._evaluated_at = steps  # it goes on from (the end's others: keep_best's, or repeats)
                text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
                write_atomic(path, partial(_write_all, text=text), binary=False)

    def _write(self, f: IO[Any], data: Any) -> None:
        try:
            f.write(data)
        except OSError as e:  # a full disk, a quota, a vanished folder: the caller stops saving, training goes on
            raise RunError(f"{safe_text(self.path)}: cannot save the run ({e.strerror or e})") from None

    def _ready(self) -> bool:
        """Open the folder once there is something trained to keep; False while there is not."""
        if not self.opened:
            if self.trainer.step == 0 and not self.resume:
                return False
            self.open()
        return True

    # ---- as training goes ----
    def log_losses(self, log10_losses: Any) -> None:
        """Append a chunk's per-step log10 losses (a tensor or a list)."""
        values = log10_losses.tolist() if hasattr(log10_losses, "tolist") else list(log10_losses)
        if values:
            if not self.opened:
                self.open()
            a = array.array("f", values)
            if sys.byteorder != "little":
                a.byteswap()
            self._write(self._losses, a.tobytes())

    def _log_line(self, name: str, line: str) -> None:
        if self._ready():
            self._write(self._evals if name == EVALS else self._samples, line)
        else:
            self._pending.append((name, line))

    def log_eval(self, step: int, losses: dict[str, float], seconds: float) -> None:
        if step == self._evaluated_at:  # a continued run's first evaluation: its line is there from before the stop
            self._evaluated_at = -1
            return
        self._log_line(EVALS, json.dumps(json_safe({"step": step, "seconds": round(seconds, 3), **losses})) + "\n")

    def log_samples(self, step: int, names: list[tuple[str, bool]]) -> None:
        self._log_line(SAMPLES, json.dumps({"step": step, "names": [n for n, _ in names]}, ensure_ascii=False) + "\n")

    def tick(self, force: bool = False) -> None:
        """Flush about once a second; checkpoint every few seconds (both if `force`)."""
        if not self._ready():
            return
        now = time.monotonic()
        if force or now - self.last_flush >= FLUSH_EVERY:
            self.flush()
        if force or now - self.last_checkpoint >= CHECKPOINT_EVERY:
            self.checkpoint()

    def flush(self) -> None:
        if not self.opened:
            return
        self.last_flush = time.monotonic()
        try:
            for f in (self._losses, self._evals, self._samples):
                f.flush()
        except OSError as e:
            raise RunError(f"{safe_text(self.path)}: cannot save the run ({e.strerror or e})") from None

    def checkpoint(self, status: str | None = None) -> Path:
        """Save the model and update run.json; the previous checkpoint stays until the new one is whole."""
        from core.runs.checkpoint import save_checkpoint

        tr = self.trainer
        self.open()
        self.flush()
        try:
            self.kept.save(tr, self.folder, partial(save_checkpoint, tr, self.folder / CHECKPOINT, dedupe=self.dedupe))
        except OSError as e:
            raise RunError(f"{safe_text(self.path)}: cannot save the run ({e.strerror or e})") from None
        self._update_info(status or (self.status() if self.status else tr.snapshot().status))
        self.last_checkpoint = time.monotonic()
        self.saved_step = tr.step
        return self.folder / CHECKPOINT

    def _update_info(self, status: str, **extra: Any) -> None:
        tr = self.trainer
        self.info.update(
            step=tr.step,
            best_dev_loss=tr.best_dev,
            best_dev_step=tr.best_dev_step,
            last_loss=tr.snapshot().last_loss,
            **clocks(tr),
            status=status if status in RUN_FOLDER else Status.RUNNING,
            updated=time.strftime("%Y-%m-%dT%H:%M:%S"),
            train=tr.config.to_dict(),
            **extra,
        )
        path = self.folder / RUN_FILE
        try:
            _atomic_json(path, self.info)
        except OSError as e:
            try:
                _rewrite_in_place(path, self.info)
            except OSError:
                raise RunError(f"{safe_text(self.path)}: cannot save the run ({e.strerror or e})") from None

    def mark(self, status: str, **extra: Any) -> bool:
        """Record a final status (and notes, such as where the weights went) without a checkpoint; False if
        even that cannot be written."""
        if not self.opened:
            return False
        try:
            self._update_info(status, **extra)
            return True
        except RunError:
            return False

    @property
    def unsaved(self) -> bool:
        return self.saved_step != self.trainer.step and (self.opened or self.trainer.step > 0)

    def abandon(self) -> None:
        """Stop writing without a last checkpoint (the disk refused the last write): close the files."""
        self.closed = True
        if self.opened:
            for f in (self._losses, self._evals, self._samples):
                try:
                    f.close()
                except OSError:
                    pass
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close(self, status: str = Status.STOPPED) -> None:
        """A last checkpoint, marked `status`; a new run that never trained a step is taken away instead
        (unless it diverged at once: that is worth keeping, with the weights it started from)."""
        if self.closed:
            return
        if self.trainer.step == 0 and not self.resume and status != Status.DIVERGED:
            self._remove()
            return
        try:
            self.checkpoint(status)
        finally:
            self.abandon()

    def _remove(self) -> None:
        self.abandon()
        self.removed = True
        if not self.opened or self.path is None:
            return
        self._remove_own_files()

    def _remove_own_files(self) -> None:
        """The files this writer made (never ones that were there before), and the folder if it made that."""
        if self.path is None:
            return
        for name in RUN_FILES:
            if name not in self._had:
                try:
                    (self.path / name).unlink(missing_ok=True)
                except OSError:
                    pass
        if self._made_dir:
            try:
                self.path.rmdir()
            except OSError:
                pass  # something else is in it: leave it


def _atomic_json(path: Path, obj: Any) -> None:
    text = json.dumps(json_safe(obj), indent=2) + "\n"
    write_atomic(path, lambda f: _write_all(f, text), binary=False)


def _rewrite_in_place(path: Path, obj: Any) -> None:
    """Overwrite a small file in its own blocks: on a full disk the atomic way has no room for a temp file,
    but a run.json that keeps saying "running" would be a lie."""
    text = (json.dumps(json_safe(obj), indent=2) + "\n").encode()
    with open(path, "r+b") as f:
        f.write(text)
        f.truncate(len(text))
        f.flush()
        os.fsync(f.fileno())


def _write_all(f: IO[Any], text: str) -> None:
    f.write(text)

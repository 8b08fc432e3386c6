"""The Session: the one training driver, for the app's training process and for `mlp-tui train` alike.

It owns a Trainer (the synchronous engine: chunks of steps) and the run directory's writer, and holds
the policy that used to differ between the two front ends:
- evaluation: dev and test in full every EVAL_INTERVAL seconds of training (longer for a model whose
  evaluation would take more than EVAL_SHARE of the training time), the train split in full
  when that fits in EVAL_BUDGET of the training time, else on a fixed sample (scheduled evaluations);
  at the start dev and test in full and train on the sample, so that training starts at once (the `best`
  ensemble's full train split took ~5 s), the full pass coming when the budget allows, and a costly model's
  splits on smaller samples (FIRST_SPLIT_WORK: `best`'s dev and test took 2.7 s), in full from the next
  scheduled evaluation; all three in full at a pause, on request and at the end (unscheduled); an
  ensemble evaluates on its members' cores;
- samples every SAMPLE_INTERVAL seconds (fixed seed, so you watch the same draws improve);
- saving: the writer flushes every second and checkpoints every few seconds; a full disk stops the
  saving, never the training;
- patience: stop after `patience` scheduled evaluations without a better dev loss (the extra ones at a
  pause or on request do not count), and keep_best: at the end, the weights of the best dev loss;
- divergence: the Trainer rolls the chunk back and the session pauses with its message.
What happens is told through `emit(event)`, with the events of core.link.protocol (Evaluated, Samples,
Diverged, Done, RunFolder, Error): the training process forwards them to the UI, the command line
draws its progress bar from them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from core.engine.policy import (
    EVAL_BUDGET,
    EVAL_INTERVAL,
    EVAL_MAX_INTERVAL,
    EVAL_SHARE,
    FIRST_SPLIT_WORK,
    LARGE_SAMPLE_MIN,
    LARGE_SPLIT_WORK,
    SAMPLE_INTERVAL,
    TRAIN_SAMPLE_ROWS,
)
from core.link import protocol as P
from core.status import FINAL, LIVE, SESSION, Status

SAMPLE_SEED = 1234  # the same draws every time, so you watch the same names improve


class Session:
    """Drive one Trainer: step_for(seconds) while running; pause(), resume(), apply(changes), finish()."""

    def __init__(self, trainer: Any, writer: Any = None, emit: Callable[[Any], None] | None = None,
                 n_samples: int = 8, temperature: float = 1.0) -> None:
        self.trainer = trainer
        self.writer = writer
        self.emit = emit or (lambda event: None)
        self.n_samples = n_samples
        self.temperature = temperature
        self.status = Status.DONE if trainer.finished else Status.PAUSED
        self.message = ""
        self.eval_time = 0.0  # seconds spent on scheduled evaluations
        # seconds for a full pass over the train split, re-measured each time; until one, estimated from the sample's
        self.train_full_cost: float | None = None
        self.last_eval_at = trainer.elapsed  # training seconds at the last scheduled evaluation
        self.eval_cost = 0.0  # seconds the last scheduled evaluation took
        self.last_sample = 0.0
        self.prompt: list[int] = []  # token ids the samples continue (the app's prompt field), [] for none
        self.kept = "last"  # which weights the end of the run left in the model: "last" or "best"
        self.final_losses: dict[str, float] = {}  # all splits of the last weights, at the end
        self.kept_losses: dict[str, float] = {}  # ... and of the weights kept (the best ones with keep_best)
        d = trainer.data
        self._train_sample = (d.X["train"][:TRAIN_SAMPLE_ROWS], d.Y["train"][:TRAIN_SAMPLE_ROWS])
        self.large = {s: len(d.Y[s]) * len(d.vocab) > LARGE_SPLIT_WORK for s in d.Y}  # see core.engine.policy
        rows = large_sample_rows(len(d.vocab))
        self._samples = {s: _spread(d.X[s], d.Y[s], rows) for s in ("dev", "test") if self.large[s]}
        if self.large["train"] or not d.options.plain:  # running text in order: the first rows are one book
            self._train_sample = _spread(d.X["train"], d.Y["train"], rows if self.large["train"] else
                                         TRAIN_SAMPLE_ROWS)
        # the first evaluation's samples of a costly model's splits (core.engine.policy: FIRST_SPLIT_WORK)
        self._first = first_samples(trainer.model_config, {s: (d.X[s], d.Y[s]) for s in ("dev", "test")
                                                           if not self.large[s]} | {"train": self._train_sample})
        self._train_words: set[str] | None = None
        self.on_full: Callable[[], None] | None = None  # called after each full evaluation (the app's mixture)
        if writer is not None:
            writer.status = lambda: self.status  # run.json says what the session is doing

    # ---- status ----
    @property
    def running(self) -> bool:
        return self.status == Status.RUNNING

    @property
    def stale(self) -> int:
        """Scheduled evaluations since the dev loss last improved: the Trainer's, so a checkpoint keeps it and
        patience stops a continued run where it would have stopped the unstopped one."""
        return int(self.trainer.stale)

    @stale.setter
    def stale(self, n: int) -> None:
        self.trainer.stale = n

    def snapshot(self) -> Any:
        """The trainer's snapshot with the session's status and message (what a UI draws)."""
        snap = self.trainer.publish()
        return replace(snap, status=self.status, message=self.message)

    def resume(self) -> bool:
        """Train (again); False if the run is already at its end (raise steps or minutes to go on)."""
        if self.running:
            return True
        if self.trainer.finished:
            self.status = Status.DONE
            return False
        self.status, self.message = Status.RUNNING, ""
        if self.kept == "best" and self.trainer.restore_last():  # keep_best's ending undone: on from the last steps
            self.kept = "last"
        return True

    def pause(self) -> None:
        """Stop training; all three splits are evaluated in full and the run is saved."""
        if not self.running:
            return
        self.status = Status.PAUSED
        self.evaluate(full=True)
        self.save(force=True)

    def apply(self, changes: dict[str, Any]) -> None:
        """Change live settings of the running model (core.settings: live); ConfigError if one cannot."""
        self.trainer.update_config(**changes)
        if self.status == Status.DONE and not self.trainer.finished:
            self.status = Status.PAUSED  # more steps or minutes: it can go on

    # ---- training ----
    def step(self, until: int | None = None) -> bool:
        """One chunk of steps (not past step `until`) and whatever the policy says is due after it; False once
        it is not running."""
        if not self.running:
            return False
        tr = self.trainer
        ok = tr.train_chunk(until)
        if not ok:
            self.status = Status.DIVERGED
            self.message = tr.message
            self.emit(P.Diverged(self.message, tr.step))
            self.save(force=True)
            return False
        self._logged(lambda w: w.log_losses(tr.last_chunk))
        self._logged(lambda w: w.tick())
        if tr.finished:
            self._done("")
            return False
        if tr.elapsed - self.last_eval_at >= self.eval_interval:
            best = tr.best_dev
            self.evaluate(full=False, scheduled=True)
            self.stale = 0 if tr.best_dev < best else self.stale + 1
            patience = tr.config.patience
            if patience and self.stale >= patience:
                self._done(f"stopped early: no better dev loss in {patience} evaluations")
                return False
        if time.monotonic() - self.last_sample >= SAMPLE_INTERVAL:
            self.sample()
        return True

    @property
    def eval_interval(self) -> float:
        """Training seconds between scheduled evaluations: EVAL_INTERVAL, stretched for a big model (the
        `best` preset's dev + test + train sample take ~0.65 s, which every 2 s cost a third of its run)."""
        stretched = min(EVAL_MAX_INTERVAL, self.eval_cost / EVAL_SHARE) if EVAL_SHARE > 0 else 0.0
        return max(EVAL_INTERVAL, stretched)

    def step_for(self, seconds: float) -> None:
        """Train for about `seconds` of wall time (at least one chunk), or until it stops."""
        end = time.monotonic() + seconds
        while self.step() and time.monotonic() < end:
            pass

    def _done(self, message: str) -> None:
        """The run reached its end (its length, or patience): the best weights if asked, all splits, saved."""
        self.status, self.message = Status.DONE, message
        self._wrap_up()
        self.sample()
        self.save(force=True)
        self.emit(P.Done(self.trainer.step, message, self.kept))

    def _wrap_up(self) -> None:
        """All splits of the last weights; then, with keep_best, the best dev loss's weights put back. Where the
        best is kept by a sample's measure, the last weights are measured by it too, so they can be the best."""
        tr = self.trainer
        if self._samples and (not tr.evals or tr.evals[-1][0] != tr.step):
            self.evaluate(full=False, scheduled=True)
        self.final_losses = self.kept_losses = self.evaluate(full=True)
        if tr.config.keep_best and tr.best_dev_step not in (-1, tr.step) and tr.restore_best():
            self.kept = "best"
            self.kept_losses = self.evaluate(full=True)

    def finish(self, status: str = Status.STOPPED) -> None:
        """End the run from outside (the end of `mlp-tui train`, Ctrl+C, a signal): wrap up and save it."""
        if self.status in LIVE:
            self.status = Status(status) if status in SESSION else Status.STOPPED
            self._wrap_up()
        elif self.status == Status.DIVERGED or not self.final_losses:
            self.final_losses = self.kept_losses = self.evaluate(full=True)
        self.close(status)

    # ---- the policy's parts ----
    def first_evaluation(self) -> dict[str, float]:
        """The losses before the first step (of a new model, or a run continued), cheap so that training starts at
        once: train on its sample, the full pass later within the budget (core.engine.policy: EVAL_BUDGET); large
        dev and test splits (words of running text) on their samples, as scheduled evaluations read them (their
        full pass took minutes at |V| in the thousands); a costly model's splits on smaller fixed samples, dev and
        test in full from the next scheduled evaluation (FIRST_SPLIT_WORK: the `best` ensemble's took 2.7 s)."""
        return self.evaluate(full=False, first=True)

    def evaluate(self, full: bool, scheduled: bool = False, first: bool = False) -> dict[str, float]:
        """dev and test in full (large ones on their samples when scheduled or `first`, a costly model's on its
        first samples when `first`); train in full if `full` or the budget allows, else on the fixed sample.

        Scheduled evaluations count against the budget and the time budget of --minutes (they spend
        wall time); the ones at start, pause, end and on request cost no training time."""
        tr = self.trainer
        t0, cpu0 = time.perf_counter(), time.process_time()
        sampled = scheduled or first
        read = {s: self._held_rows(s, sampled, first) for s in ("dev", "test")}
        losses = {s: self._loss(*rows) for s, (rows, _) in read.items()}
        held = max((how for _, how in read.values()), key=("full", "first", "sample").index)  # dev*, test*: either
        cost = self.train_full_cost
        budget_ok = cost is not None and self.eval_time + cost <= EVAL_BUDGET * max(tr.elapsed, 1e-9)
        t1 = time.perf_counter()
        if (full or budget_ok) and not self.large["train"] and not first:
            losses["train"] = self._loss(tr.data.X["train"], tr.data.Y["train"])
            self.train_full_cost = time.perf_counter() - t1
            coverage = "full"
        else:
            rows = self._first.get("train", self._train_sample) if first else self._train_sample
            losses["train"] = self._loss(*rows)
            if cost is None:  # not timed yet: the sample's time, scaled to the split
                self.train_full_cost = (time.perf_counter() - t1) * len(tr.data.Y["train"]) / len(rows[1])
            coverage = "sample"
        # the best is of the scheduled measure: a large dev split's sample, else all of it
        tr.record_eval(losses, best=(sampled or not self.large["dev"]) and read["dev"][1] != "first")
        self._logged(lambda w: w.log_eval(tr.step, losses, tr.elapsed))
        if scheduled:
            spent = time.perf_counter() - t0
            self.eval_time += spent
            # CPU time, not wall: a stall (swap, Ctrl+Z, a suspended laptop) must not space out the next ones;
            # the full train pass has a budget of its own
            full_pass = (self.train_full_cost or 0.0) if coverage == "full" else 0.0
            self.eval_cost = max(0.0, time.process_time() - cpu0 - full_pass)
            tr.wall += spent
            self.last_eval_at = tr.elapsed
        self.emit(P.Evaluated(tr.step, losses, coverage, tr.best_dev, tr.best_dev_step, held))
        if full and self.on_full is not None:
            self.on_full()
        return losses

    def _held_rows(self, split: str, sampled: bool, first: bool) -> tuple[tuple[Any, Any], str]:
        """The rows of dev or test an evaluation reads, and what they are: "full", "sample" (a large split's,
        when `sampled`) or "first" (a costly model's first evaluation)."""
        d = self.trainer.data
        if sampled and split in self._samples:
            return self._samples[split], "sample"
        if first and split in self._first:
            return self._first[split], "first"
        return (d.X[split], d.Y[split]), "full"

    def _loss(self, X: Any, Y: Any) -> float:
        """The model's mean loss on these rows, on the cores it trains on (the same to the bit on any number)."""
        from core.model import split_loss

        return split_loss(self.trainer.model, X, Y, threads=self.trainer.threads)

    def train_words(self) -> set[str]:
        if self._train_words is None:
            self._train_words = self.trainer.data.train_set
        return self._train_words

    def sample(self) -> list[tuple[str, bool]]:
        import torch

        from core.probes.sample import max_tokens, sample

        tr = self.trainer
        self.last_sample = time.monotonic()
        g = torch.Generator().manual_seed(SAMPLE_SEED)
        try:  # names as the lecture's; lines of running text up to a pane's cap, continuing the prompt if any
            names = sample(tr.model, tr.data.vocab, self.n_samples, g, self.temperature,
                           max_len=max_tokens(tr.data.options, pane=True), train_words=self.train_words(),
                           prompt=self.prompt or None, running=tr.data.options.text)
        except ValueError as e:  # SampleError: non-finite outputs; the trainer's rollback should prevent them
            self.emit(P.Error(f"cannot sample: {e}"))
            return []
        pairs = [(s.text, s.in_train) for s in names]
        self._logged(lambda w: w.log_samples(tr.step, pairs))
        cut = tuple(i for i, s in enumerate(names) if s.truncated)
        self.emit(P.Samples(tr.step, pairs, tr.data.vocab.decode(self.prompt), cut))
        return pairs

    def save(self, force: bool = False) -> None:
        self._logged(lambda w: w.tick(force))

    def checkpoint(self) -> Any:
        """Save now; the checkpoint's path, or None if the run is not being saved (RunError if it fails)."""
        if self.writer is None:
            return None
        return self.writer.checkpoint(self.status)

    def _logged(self, write: Callable[[Any], None]) -> None:
        """write(writer) if the run is being saved; a failure (a full disk) stops saving, not training."""
        from core.runs.folder import RunError

        if self.writer is None:
            return
        was_open = self.writer.opened
        try:
            write(self.writer)
        except RunError as e:
            w, self.writer = self.writer, None
            w.mark(Status.UNSAVED)  # run.json tells the truth if it still can (written in place on a full disk)
            w.abandon()
            self.emit(P.RunFolder(None))
            self.emit(P.Error(f"{e}; this run is no longer being saved"))
            return
        if not was_open and self.writer.opened:
            self.emit(P.RunFolder(str(self.writer.path), self.writer.saved_step))

    def close(self, status: str = Status.STOPPED) -> None:
        """Finish the run directory: a last checkpoint, marked done or diverged if it was, else `status`."""
        from core.runs.folder import RunError

        w, self.writer = self.writer, None
        if w is None:
            return
        try:
            w.close(self.status if self.status in FINAL else status)
        except RunError as e:
            self.emit(P.Error(str(e)))


def large_sample_rows(vocab_size: int) -> int:
    """Rows of a large split's fixed sample: LARGE_SPLIT_WORK over the vocabulary (a scheduled evaluation of
    three samples then costs what three splits of names do), at least LARGE_SAMPLE_MIN, at most TRAIN_SAMPLE_ROWS."""
    return max(LARGE_SAMPLE_MIN, min(TRAIN_SAMPLE_ROWS, LARGE_SPLIT_WORK // 5 // max(1, vocab_size)))


def first_samples(config: Any, splits: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    """The fixed samples a model's first evaluation reads instead of these splits: each split that costs more than
    FIRST_SPLIT_WORK multiply-adds (core.engine.policy), cut to that much, spread over it."""
    from core.model import row_macs

    rows = max(1, FIRST_SPLIT_WORK // row_macs(config))
    return {s: _spread(X, Y, rows) for s, (X, Y) in splits.items() if len(Y) > rows}


def _spread(X: Any, Y: Any, rows: int) -> tuple[Any, Any]:
    """A fixed sample of `rows` rows spread evenly over a split (all of it if smaller)."""
    import torch

    n = len(Y)
    if n <= rows:
        return X, Y
    ix = torch.linspace(0, n - 1, rows).long()  # (rows,)
    return X[ix], Y[ix]

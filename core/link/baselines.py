"""The n-gram baselines the split pane shows beside the MLP, computed in the training process once per dataset:
add-k counts at the model's context for characters (core.probes.ngram), interpolated modified Kneser-Ney of the
matching order for words of running text (core.probes.knbaseline), and for words the paper's mixture of the two at
every full evaluation (pause, end, on request, a load): never at the scheduled ones, as it needs the MLP's
probability of every dev and test token, one more pass over both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.link import protocol as P


class Baselines:
    """The latest dataset's baselines, kept while the dataset is (a reset on the same data builds nothing)."""

    def __init__(self, send: Callable[[Any], None], mtime: Callable[[str], float]) -> None:
        self.send = send
        self.mtime = mtime  # a dataset's modification time: an edited file is another dataset
        self._counts: Any = None  # core.probes.ngram.CountModel of _counts_key's data
        self._counts_key: tuple | None = None
        self._kn: Any = None  # core.probes.knbaseline.Baseline of _kn_key's data
        self._kn_key: tuple | None = None
        self._session: Any = None

    def show(self, data: Any, session: Any) -> None:
        """Send the baseline of `data` (built if it is new); for words, mix at the session's full evaluations."""
        from core.probes import knbaseline

        if knbaseline.applies(data):
            self.kneser_ney(data, session)
        else:
            self.counts(data)

    def counts(self, data: Any) -> None:
        """The add-k n-gram at this context, once per dataset and block size (~0.1-0.2 s on names)."""
        from core.probes.ngram import count_model

        key = (data.source, data.block_size, data.dedupe, len(data.words), data.options)
        if self._counts_key != key:
            try:
                self._counts = count_model(data)
            except (MemoryError, RuntimeError) as e:  # a huge vocabulary at a long context
                self.send(P.Error(f"no counting baseline: {e}"))
                return
            self._counts_key = key
        c = self._counts
        self.send(P.Counts(c.order, c.k, c.losses, c.unseen_dev, c.used, c.table))

    def kneser_ney(self, data: Any, session: Any) -> None:
        """Kneser-Ney at the model's context, once per dataset and order (kjv's 774K train tokens: about a second)."""
        from core.probes import knbaseline

        order = knbaseline.matching_order(data.block_size)
        key = (data.source, data.options, order, self.mtime(data.source), len(data.words))
        if self._kn_key != key:
            self._kn, self._kn_key = None, None
            try:
                self._kn = knbaseline.build_baseline(data, order)
            except (MemoryError, ValueError) as e:
                self.send(P.Error(f"no Kneser-Ney baseline: {e or 'not enough memory'}"))
                return
            self._kn_key = key
        b = self._kn
        self.send(P.KneserNey(b.order, data.options.tokens, b.losses, b.measures, b.seconds, b.nbytes,
                              data.options.lower))
        self._session = session
        session.on_full = self.mixture

    def mixture(self) -> None:
        """The paper's mixture of the session's current weights and Kneser-Ney, w fitted on dev."""
        from core.probes import knbaseline
        from core.probes.tokenprobs import token_probs

        se = self._session
        tr = None if se is None else se.trainer
        if self._kn is None or tr is None or tr.step == 0 or not len(tr.data.Y["dev"]):
            return  # at step 0 the MLP is a uniform guess: nothing to mix
        d = tr.data
        p = {s: token_probs(tr.model, d.X[s], d.Y[s]) for s in knbaseline.HELD if s in self._kn.probs}
        m = knbaseline.mix(self._kn, p, d)
        self.send(P.Mixed(tr.step, m.weight, m.perplexity, m.mlp, m.ngram, m.bpc))

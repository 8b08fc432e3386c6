"""What the app's views ask the training process for, computed from the current model: the embedding map,
the health report, the lr finder's sweep, a name's score, the dataset's statistics, a token's nearest
neighbours and the tokenizer at work, each as the event of core.link.protocol that carries it. The pump
(core.link.pump) decides when; this module says what."""

from __future__ import annotations

import time
from typing import Any

from core.link import protocol as P

HEALTH_ROWS = 512  # fixed training rows the health view measures on


def view_event(view: str, tr: Any) -> Any:
    """The update of an open live view ("embeddings" or "health") of Trainer `tr`; None for another view."""
    from core.probes.ensemble import members_health
    from core.probes.inspection import embedding_map, health

    if view == "embeddings":
        return P.Embeddings(tr.step, embedding_map(tr.model, tr.data.vocab, tr.data.Y["train"]))
    if view == "health":
        X, Y = tr.data.X["train"][:HEALTH_ROWS], tr.data.Y["train"][:HEALTH_ROWS]
        adam = tr.optimizer_state() or None  # AdamW's moments: the update it would take
        measure = members_health if tr.model_config.members > 1 else health  # an ensemble: its members, not W1's
        h = measure(tr.model, X, Y, tr.lr, tr.step, adam=adam, betas=(tr.config.beta1, tr.config.beta2))
        return P.HealthReport(tr.config.optimizer, h)
    return None


def lr_found(tr: Any, fresh: bool = True) -> P.LRFound:
    """The sweep from a freshly initialised model of the same architecture (the lecture's experiment),
    or from a copy of the current weights."""
    import torch

    from core.model import MLP
    from core.probes.inspection import lr_find

    t0 = time.perf_counter()
    model = MLP(tr.model_config, torch.Generator().manual_seed(tr.config.seed)) if fresh else tr.model
    res = lr_find(model, tr.data, batch_size=tr.config.batch_size, seed=tr.step)
    return P.LRFound(tr.step, time.perf_counter() - t0, tr.config.optimizer, fresh, res)


def scored(session: Any, text: str, temperature: float) -> P.Scored:
    """`text` scored by the session's model, with its completions at `temperature` (the samples' fixed seed)."""
    import torch

    from core.engine.session import SAMPLE_SEED
    from core.probes.inspection import ScoreError, score
    from core.probes.sample import MAX_NAME_LEN, sample

    tr = session.trainer
    if tr.data.options.text:
        return scored_line(session, text, temperature)
    if len(text) > P.MAX_SCORE_CHARS:  # a paste of a page: the UI caps it too
        return P.Scored(text, error=f"at most {P.MAX_SCORE_CHARS} characters can be scored")
    try:
        s = score(tr.model, tr.data.vocab, text)
    except ScoreError as e:
        return P.Scored(text, error=str(e))
    words = session.train_words()
    g = torch.Generator().manual_seed(SAMPLE_SEED)
    more = sample(tr.model, tr.data.vocab, 8, g, temperature, max_len=MAX_NAME_LEN, train_words=words, prefix=text)
    return P.Scored(text, step=tr.step, nll=s.nll, mean_nll=s.mean_nll,
                    positions=[(p.context, p.char, p.prob, p.alternatives) for p in s.positions],
                    completions=[(x.text, x.in_train) for x in more], in_train=text in words)


def scored_line(session: Any, text: str, temperature: float) -> P.Scored:
    """A sentence of running text scored token by token (core.probes.linescore), with three lines the model goes on
    with after it (the samples' seed, a pane's length cap)."""
    import torch

    from core.engine.session import SAMPLE_SEED
    from core.probes.inspection import ScoreError
    from core.probes.linescore import score_line
    from core.probes.sample import max_tokens, sample

    tr = session.trainer
    if len(text) > P.MAX_SENTENCE_CHARS:
        return P.Scored(text, error=f"at most {P.MAX_SENTENCE_CHARS} characters can be scored")
    try:
        s = score_line(tr.model, tr.data.vocab, text, tr.data.options.lower)
    except ScoreError as e:
        return P.Scored(text, error=str(e))
    g = torch.Generator().manual_seed(SAMPLE_SEED)
    more = sample(tr.model, tr.data.vocab, 3, g, temperature, max_len=max_tokens(tr.data.options, pane=True),
                  prompt=s.ids, running=True)
    return P.Scored(text, step=tr.step, nll=s.nll, mean_nll=s.nll / len(s.positions), kind="text", line=s.line,
                    positions=[(p.token, p.prob, p.alternatives, p.unk) for p in s.positions],
                    completions=[(x.text, False) for x in more], in_train=s.line in session.train_words(),
                    perplexity=s.perplexity, bpc=s.bpc, chars=s.chars, unknown=s.unknown)


def prompt_set(session: Any, text: str) -> P.PromptSet:
    """Make `text` the prompt the session's samples continue (core.tokens.encode_prompt: the model's own rule,
    unknown words as <unk>), or clear it (empty text, or a refusal); what was made of it, for the app to show."""
    from core.tokens import encode_prompt

    data = session.trainer.data
    session.prompt = []
    if not text.strip():
        return P.PromptSet(text)
    if data.options.plain:
        return P.PromptSet(text, error="a prompt is for running text (--format text); names start from nothing")
    try:
        prompt = encode_prompt(text, data.vocab, data.options.lower)
    except ValueError as e:
        return P.PromptSet(text, error=str(e))
    session.prompt = prompt.ids
    return P.PromptSet(text, data.vocab.decode(prompt.ids), prompt.note())


def dataset_stats(data: Any) -> P.DatasetStats:
    """The dataset view's statistics of the loaded data."""
    from core.probes.inspection import dataset_stats as stats

    return P.DatasetStats(stats(data))


def neighbours(tr: Any, tokens: tuple[str, ...], k: int) -> P.Neighbours:
    """The neighbours view's answer from Trainer `tr` (None: no model yet): the k tokens nearest one token, or
    nearest a - b + c for three, by cosine of the rows of C (an ensemble's: its members' tables side by side,
    as `mlp-tui neighbours` compares them). A token the vocabulary lacks is a one-line error, not a failure."""
    from core.probes.neighbours import analogy, nearest
    from core.tokens import find_token

    tokens = tuple(str(t) for t in tokens)
    if tr is None:
        return P.Neighbours(tokens, error="there is no model yet")
    itos = tr.data.vocab.itos
    if len(tokens) not in (1, 3):
        return P.Neighbours(tokens, tr.step, vocab_size=len(itos), error="give one token, or three for a - b + c")
    ids = []
    for t in tokens:  # a BPE model's word: its one token after a space, or a token as shown (find_token)
        try:
            i = find_token(tr.data.vocab, t)
        except ValueError as e:
            return P.Neighbours(tokens, tr.step, vocab_size=len(itos), error=str(e))
        if i is None:
            return P.Neighbours(tokens, tr.step, vocab_size=len(itos),
                                error=f"{t!r} is not in the model's vocabulary ({len(itos):,} tokens)")
        ids.append(i)
    C = tr.model.C.detach().numpy()  # (V, n_embd) float32, read in place: nothing trains until this returns
    k = max(1, min(int(k), P.MAX_NEIGHBOURS))
    found = nearest(C, ids[0], k) if len(ids) == 1 else analogy(C, ids[0], ids[1], ids[2], k)
    return P.Neighbours(tokens, tr.step, [(itos[i], sim) for i, sim in found], len(itos))


def tokens_split(data: Any, ask: P.SplitTokens) -> P.TokensSplit:
    """The tokenizer view's answer from the current data (None: no model yet): the text (or a line of the training
    split) split into tokens and ids, <unk> marked, and what the tokenizer makes of the data when asked."""
    from core.probes import tokenview as tv

    text = str(ask.text)[: tv.MAX_TEXT_CHARS]
    if data is None:
        return P.TokensSplit(text, error="there is no model yet")
    try:
        line = text if text.strip() else tv.data_line(data)
        pairs = tv.token_split(data, line)
        summary = tv.tokenizer_summary(data) if ask.summary else None
    except ValueError as e:  # a BPE dataset without its tokenizer
        return P.TokensSplit(text, error=str(e))
    return P.TokensSplit(text, tv.normalised(data, line), [(t, i, tv.is_unknown(data, t, i)) for t, i in pairs],
                         summary)

"""The dataset view of running text or words: tokens, not names (core.probes.textstats computes the numbers)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from core.runs.files import safe_text
from core.tokens import BPE_MIN, SPACE_MARK
from tui.cells import pad_cells, truncate_cells


def shown_token(token: str) -> str:
    """A token as the view prints it: the newline (a character model's line end) and the space named."""
    return {"\n": "\\n", " ": "' '"}.get(token, safe_text(token))


def columns(items: list[str], width: int) -> str:
    """Items in as many columns of one width as fit `width` cells, row by row."""
    if not items:
        return ""
    col = max(cell_len(i) for i in items) + 2
    per_row = max(1, width // col)
    rows = [items[i : i + per_row] for i in range(0, len(items), per_row)]
    return "\n".join("".join(pad_cells(i, col) for i in row).rstrip() for row in rows) + "\n"


def vocabulary_line(st: dict) -> str:
    o = st["options"]
    if o["tokens"] == "words":
        words = st["vocab_size"] - 2
        times = "once" if o["min_count"] == 1 else f"{o['min_count']:,} times"
        return (f"vocabulary: {st['vocab_size']:,} tokens: </s> (a line end), <unk> and {words:,} words seen at least "
                f"{times} in train, of its {st['train_types']:,} distinct words\n")
    if o["tokens"] == "bpe":
        return (f"vocabulary: {st['vocab_size']:,} tokens: </s> (a line end), the 256 bytes and "
                f"{st['vocab_size'] - BPE_MIN:,} merges learned on train ({SPACE_MARK} marks a space)\n")
    return f"vocabulary: {st['vocab_size']} characters (the line end \\n one of them)\n"


def split_table(st: dict) -> Text:
    out = Text()
    words = st["options"]["tokens"] == "words"
    unk_head = f"{'<unk>':>7}" if words else ""
    out.append(f"split  {'lines':>8} {'tokens':>10} {unk_head} {'characters':>11}\n", style="dim")
    for s in ("train", "dev", "test"):
        tokens = st["split_tokens"].get(s, 0)
        unk = f"{st['unk'].get(s, 0) / max(1, tokens):>7.2%}" if words else ""
        out.append(f"{s:<6} {st['split_lines'].get(s, 0):>8,} {tokens:>10,} {unk} {st['chars'].get(s, 0):>11,}\n")
    out.append(f"tokens: every token and line end, one example each (block size {st['block_size']})"
               + ("; characters: what bits per character counts" if st["options"]["format"] == "text" else "")
               + "\n", style="dim")
    return out


def render_token_stats(st: dict, width: int) -> Text:
    """The statistics of a dataset of tokens, `width` cells wide."""
    width = max(40, width - 6)  # the border, padding and scroll bar
    out = Text()
    out.append(f"{safe_text(st['source'])}", style="bold")
    o = st["options"]
    what = ("running text" if o["format"] == "text" else "a word list") + f" of {o['tokens']}"
    what += (f" (min count {o['min_count']:,})" if o["tokens"] == "words" else "") + (" · lower" if o["lower"] else "")
    out.append(f"  {what} · {st['lines']:,} lines\n")
    if st.get("hint"):
        out.append(f"{safe_text(st['hint'])}\n", style="yellow")
    out.append(vocabulary_line(st), style="bold")
    if st["vocab"]:
        out.append(" ".join(shown_token(c) for c in st["vocab"]) + "\n")
    out.append("\n")
    out.append_text(split_table(st))
    out.append(f"\ntokens per line (train): mean {st['mean_tokens']:.1f}, median {st['median_tokens']:g}, longest "
               f"{st['longest_tokens']:,}\n", style="dim")
    longest = truncate_cells(safe_text(st["longest"]), width - 11)
    out.append(f"  longest: {longest}\n", style="dim")
    bins = st["length_bins"]
    most = max((n for _, _, n in bins), default=1) or 1
    label_w = max((len(f"{lo}-{hi}") for lo, hi, _ in bins), default=3)
    bar_w = max(10, min(50, width - label_w - 12))
    for lo, hi, n in bins:
        out.append(f"{f'{lo}-{hi}' if hi > lo else str(lo):>{label_w}} {n:>7,} ")
        out.append("█" * max(1 if n else 0, round(n / most * bar_w)) + "\n", style="cyan")
    kind = {"words": "words", "bpe": "tokens"}.get(st["options"]["tokens"], "characters")
    out.append(f"\nmost frequent {kind} (share of train's tokens)\n", style="dim")
    out.append(columns([f"{shown_token(t)} {share:.1%}" for t, share in st["common"]], width))
    return out

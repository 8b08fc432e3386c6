"""The dataset view: what the loaded file holds, so odd data shows before it trains into odd names."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.runs.files import safe_text
from tui.views import ViewScreen


def render_stats(st: dict, width: int) -> Text:
    if st.get("kind") == "tokens":  # running text or words: core.probes.textstats
        from tui.views.dataset_tokens import render_token_stats

        return render_token_stats(st, width)
    out = Text()
    out.append(f"{safe_text(st['source'])}\n", style="bold")
    if st.get("hint"):
        out.append(f"{safe_text(st['hint'])}\n", style="yellow")
    out.append(f"{st['words']:,} words ({st['unique_words']:,} different), {st['total_chars']:,} characters, "
               f"mean length {st['mean_length']:.2f}, longest {st['longest'][:40]!r} ({len(st['longest'])})\n")
    dup, lines = st.get("duplicate_lines", 0), st.get("lines", st["words"])
    if st.get("dedupe"):
        out.append(f"split by distinct word (--dedupe): {dup:,} duplicate lines of {lines:,} dropped\n")
    else:
        out.append(f"{dup:,} of {lines:,} lines repeat an earlier one; split by line, as the lecture does "
                   f"(--dedupe splits by distinct word)\n")
    out.append(f"dev words also in train: {st.get('dev_in_train', 0):,} of {st.get('dev_words', 0):,}\n",
               style="yellow" if st.get("dev_in_train") else "")
    vocab = st["vocab"]
    out.append(f"vocabulary: {len(vocab)} characters  ", style="bold")
    out.append(" ".join(repr(c)[1:-1] if c.isprintable() and c != " " else repr(c) for c in vocab) + "\n")
    sw, ex = st["split_words"], st["examples"]
    out.append(f"\nsplit   words      examples (block size {st['block_size']})\n", style="dim")
    for s in ("train", "dev", "test"):
        out.append(f"{s:<6} {sw.get(s, 0):>7,}  {ex.get(s, 0):>11,}\n")
    out.append("\nword lengths\n", style="dim")
    lengths = st["lengths"]
    top = max((c for _, c in lengths), default=1)
    bar_w = max(10, min(50, width - 20))
    shown = lengths if len(lengths) <= 25 else lengths[:24]
    for n, c in shown:
        out.append(f"{n:>4} {c:>7,} ")
        out.append("█" * max(1 if c else 0, round(c / top * bar_w)) + "\n", style="cyan")
    if len(lengths) > 25:
        rest = sum(c for _, c in lengths[24:])
        out.append(f"{lengths[24][0]:>3}+ {rest:>7,}\n", style="dim")
    out.append("\nmost common characters\n", style="dim")
    out.append("  ".join(f"{c!r} {n / max(1, st['total_chars']):.1%}" for c, n in st["common"]) + "\n")
    return out


class DatasetView(ViewScreen):
    view_id = "dataset"
    TITLE = "Dataset"
    HINT = "the loaded data · esc: back"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="dataset-scroll"):
            yield Static("[dim]reading the data…[/]", id="dataset-out")

    def show(self, **st) -> None:
        self.stats = st
        self.query_one("#dataset-out", Static).update(render_stats(st, self.size.width))

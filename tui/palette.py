"""Command palette entries, one per app action."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = (
    ("Pause / resume training", "toggle_pause", "space"),
    ("Reset: fresh model with the controls' values", "reset", "r"),
    ("Sample names now", "sample_now", "s"),
    ("Evaluate all splits now", "evaluate_now", "e"),
    ("Plot: toggle smoothing", "toggle_smoothing", "m"),
    ("Plot: all steps / last 20,000 steps", "toggle_window", "w"),
    ("View: embedding map", "view('embeddings')", "v"),
    ("View: learning-rate finder", "view('lr_find')", "f"),
    ("View: score a name, complete a prefix", "view('score')", "n"),
    ("View: network health (saturation, gradients, updates)", "view('health')", "h"),
    ("View: runs (continue one, compare loss curves)", "view('runs')", "o"),
    ("View: dataset (words, vocabulary, lengths)", "view('dataset')", "d"),
    ("View: sweeps (studies, leaderboard, importances; apply the best)", "view('sweeps')", "t"),
    ("View: the lecture's exercises, ticked from your runs", "view('exercises')", "x"),
    ("Save the run now", "save", "ctrl+s"),
    ("Screenshot: an SVG of the screen, into the run folder", "screenshot", "g"),
    ("Help", "help", "?"),
    ("Quit", "quit", "q"),
)


class MLPCommands(Provider):
    async def discover(self) -> Hits:
        for title, action, key in ACTIONS:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, key in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=f"key: {key}")

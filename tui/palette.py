"""The command palette's entries: one per app action that has a palette title in tui/keys.py."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.keys import palette_entries


class MLPCommands(Provider):
    async def discover(self) -> Hits:
        for k in palette_entries():
            yield DiscoveryHit(k.palette, partial(self.app.run_action, k.action), help=f"key: {k.label}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for k in palette_entries():
            score = matcher.match(k.palette)
            if score > 0:
                yield Hit(score, matcher.highlight(k.palette), partial(self.app.run_action, k.action),
                          help=f"key: {k.label}")

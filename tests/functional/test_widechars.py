"""Wide (CJK, emoji) and zero-width characters in the embedding canvas on a real screen: no row wraps.
"""

from __future__ import annotations

from panetext import rows
from textual.app import App, ComposeResult

from tui.views.embeddings import EmbeddingCanvas, grid_text


class CanvasApp(App):
    CSS = "EmbeddingCanvas { width: 30; height: 8; }"

    def compose(self) -> ComposeResult:
        yield EmbeddingCanvas()


async def test_canvas_on_screen_does_not_wrap() -> None:
    chars = ".a漢😀\u0301字e🐍"
    points = [(-1.0, -1.0), (0.0, 1.0), (1.0, 0.5), (2.0, 0.2), (-0.5, 0.3), (2.0, -1.0), (0.5, -0.5), (2.0, 1.0)]
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = app.query_one(EmbeddingCanvas)
        canvas.set_points(chars, points)
        await pilot.pause()
        region = canvas.content_region
        assert (region.width, region.height) == (30, 8)
        strips = app.screen._compositor.render_strips()
        shown = [strip.crop(region.x, region.right).text for strip in strips[region.y : region.bottom]]
        assert shown == rows(grid_text(chars, points, 30, 8))  # row for row: nothing wrapped onto the next

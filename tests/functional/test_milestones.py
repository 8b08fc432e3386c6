"""The course's dev-loss milestones on the plot (core/milestones.py, tui/panes/plot.py): drawn on the built-in
names and on no other data, inside the curves' y range only, toggled by b, and listed in the help."""
from __future__ import annotations

import math

import pytest
from apphelpers import Harness, running, text_of, until

from core.milestones import MILESTONES, milestones_for
from tui.panes.plot import LossPlot


def test_milestones_belong_to_the_builtin_names_alone(tmp_path) -> None:
    from core.data import resolve_dataset

    assert milestones_for("names") == MILESTONES
    assert milestones_for(str(resolve_dataset("names"))) == MILESTONES  # the same file, by its path
    assert milestones_for("surnames") == ()
    copy = tmp_path / "names.txt"  # another file of the same name is other data
    copy.write_text("emma\n")
    assert milestones_for(str(copy)) == ()
    assert [m.dev for m in MILESTONES] == [2.17, 2.10, 1.99, 1.92]


def show_curve(plot: LossPlot, lo: float, hi: float) -> None:
    """A falling curve from loss hi to loss lo (the plot's values are log10), drawn now."""
    n = 200
    vals = [math.log10(hi + (lo - hi) * i / (n - 1)) for i in range(n)]
    plot.set_curve(list(range(n)), vals)
    plot.set_dev([])
    plot.redraw()


def guide_values(plot: LossPlot) -> list[str]:
    return [label.split()[0] for _, label in plot.guides]


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_the_milestones_are_drawn_for_names_inside_the_curves_range(harness: Harness, size) -> None:
    app = harness.app(data="names", hidden=16)
    async with app.run_test(size=size) as pilot:
        await running(pilot, harness)
        plot = app.query_one(LossPlot)
        assert plot.milestones == MILESTONES
        await pilot.press("space")  # paused: no frame replaces the curve below
        await until(pilot, lambda: app.status == "paused", what="paused")
        show_curve(plot, 2.05, 2.40)  # 2.17 and 2.10 inside; 1.99 and 1.92 below: not drawn, no wider range
        assert guide_values(plot) and set(" ".join(guide_values(plot)).split()) <= {"2.17", "2.10"}
        labels = " · ".join(label for _, label in plot.guides)
        assert "2.17 MLP" in labels and "2.10 init" in labels and "1.99" not in labels and "1.92" not in labels
        lo, hi = math.log10(2.05), math.log10(2.40)
        assert all(lo <= y <= hi for y, _ in plot.guides)

        def on_screen() -> bool:  # legible on screen, at both sizes
            if "2.17" not in " ".join(guide_values(plot)):  # a frame sent as training paused replaced the curve
                show_curve(plot, 2.05, 2.40)
            return "2.17 MLP" in text_of(app, "#plot")

        await until(pilot, on_screen, what="the milestones' labels on screen")

        show_curve(plot, 1.90, 3.0)  # all four inside; at 160x48 each has its own line
        assert "1.92 transformer" in " · ".join(label for _, label in plot.guides)
        if size == (160, 48):
            assert guide_values(plot) == ["2.17", "2.10", "1.99", "1.92"]

        show_curve(plot, 2.20, 2.60)  # above every milestone: none drawn
        assert plot.guides == []

        await pilot.press("b")
        show_curve(plot, 2.05, 2.40)
        assert plot.guides == [] and not plot.show_milestones
        await pilot.press("b")
        show_curve(plot, 2.05, 2.40)
        assert guide_values(plot)


@pytest.mark.slow
async def test_no_milestones_on_surnames(harness: Harness) -> None:
    app = harness.app(data="surnames", hidden=16)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await running(pilot, harness)
        plot = app.query_one(LossPlot)
        assert plot.milestones == ()
        await pilot.press("space")
        await until(pilot, lambda: app.status == "paused", what="paused")
        show_curve(plot, 1.5, 3.0)  # the milestones' values well inside the curve's range: still none
        assert plot.guides == []
        await pilot.press("b")  # says why, and changes nothing
        show_curve(plot, 1.5, 3.0)
        assert plot.guides == [] and plot.show_milestones


def test_the_help_and_the_palette_list_b() -> None:
    import io

    from rich.console import Console

    from tui.keys import KEYS
    from tui.screens import help_content

    console = Console(width=400, record=True, file=io.StringIO())
    console.print(help_content())

    (key,) = [k for k in KEYS if k.key == "b"]
    assert key.action == "toggle_milestones" and key.palette
    line = next(line for line in console.export_text().splitlines() if line.split()[:1] == ["b"])
    assert "2.17" in line and "1.92" in line

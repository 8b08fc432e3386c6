"""The cores a model trains on: the budget decided once for the app (tui.hosting), then core.kernels.threads' one
rule: capped by an ensemble's members, one for a small single model."""
from __future__ import annotations

import os

from core.config import MLPConfig
from core.kernels import threads
from tui.hosting import core_budget, served


def test_an_ensemble_gets_a_core_per_member_up_to_the_budget_and_one_model_one(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 8)
    four = MLPConfig(n_embd=8, n_hidden=256, members=4)
    assert [threads.training_threads(four, 32, b) for b in (1, 2, 3, 4, 8)] == [1, 2, 3, 4, 4]
    assert threads.training_threads(MLPConfig(), 32, 8) == 1 and threads.training_threads(four, 32, 0) == 1


def test_a_served_app_keeps_to_one_core_and_a_lone_one_may_use_them_all(monkeypatch):
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert not served() and core_budget() == (os.cpu_count() or 1)
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert served() and core_budget() == 1


def test_the_ui_draws_less_often_only_when_training_holds_every_core(monkeypatch):
    """A lone app's ensemble trains a member on each core, and the UI's drawing then takes its time from them."""
    from tui import hosting

    monkeypatch.setattr(hosting.os, "cpu_count", lambda: 2)
    assert hosting.holds_every_core(2) and hosting.holds_every_core(4)
    assert not hosting.holds_every_core(1)  # one model, or a served app: the UI has a core of its own

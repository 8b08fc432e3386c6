"""The cores a model trains on: decided once for the app (tui.hosting), capped by its members (core.engine.policy)."""
from __future__ import annotations

import os

from core.engine.policy import training_cores
from tui.hosting import core_budget, served


def test_an_ensemble_gets_a_core_per_member_up_to_the_budget_and_one_model_one():
    assert [training_cores(4, b) for b in (1, 2, 3, 4, 8)] == [1, 2, 3, 4, 4]
    assert training_cores(1, 8) == 1 and training_cores(3, 0) == 1


def test_a_served_app_keeps_to_one_core_and_a_lone_one_may_use_them_all(monkeypatch):
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert not served() and core_budget() == (os.cpu_count() or 1)
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert served() and core_budget() == 1

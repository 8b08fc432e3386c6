"""Recipes: which wins when a recipe file, its preset and flags disagree (parsing only; the round trip through
`mlp-tui recipe` and --config is in tests/functional/test_recipe.py)."""

from __future__ import annotations

from core import settings
from tui.cli import build_parsers, resolve_settings


def _settings_of(argv: list[str]) -> dict:
    return resolve_settings(build_parsers()["train"].parse_args(argv))


def test_flags_win_over_the_file_which_wins_over_its_preset(tmp_path, words_file):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'preset = "single"\ndata = "{words_file.name}"\n[model]\nemb_dim = 7\nhidden = 40\n')
    (tmp_path / words_file.name).write_text(words_file.read_text())
    v = _settings_of(["--config", str(recipe), "--n-hidden", "33"])
    assert v["n_embd"] == 7 and v["n_hidden"] == 33  # the file's alias emb_dim; the flag over the file
    assert v["optimizer"] == "adamw" and v["block_size"] == settings.PRESETS["single"]["block_size"]  # its preset
    assert v["data"] == str(tmp_path / words_file.name)  # relative to the recipe, not to the working folder


def test_steps_or_minutes_off_on_the_command_line_beat_a_recipes_time_budget(tmp_path):
    recipe = tmp_path / "timed.toml"
    recipe.write_text("minutes = 0.5\nsteps = 1000000\n")
    assert _settings_of(["--config", str(recipe)])["minutes"] == 0.5
    v = _settings_of(["--config", str(recipe), "--steps", "20"])
    assert v["minutes"] is None and v["steps"] == 20  # the README's `--config FILE --steps N`
    v = _settings_of(["--config", str(recipe), "--minutes", "off"])
    assert v["minutes"] is None and v["steps"] == 1_000_000
    assert _settings_of(["--preset", "best", "--minutes", "off"])["minutes"] is None

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


def test_odd_toml_is_one_line_in_the_files_own_spelling(tmp_path):
    """A table where one value belongs (`n_hidden = {}` was ignored, `lr = {a = 1}` blamed a key "a"), an array of
    tables, values shown as TOML writes them (true, a date) rather than Python's repr, preset named once."""
    import pytest
    from conftest import assert_one_line

    from core.errors import ConfigError
    from core.recipe import read_recipe

    cases = {
        "n_hidden = {}\n": ("n_hidden: is a table ({}), but n_hidden takes one value: write n_hidden = 200",),
        "lr = {a = 1}\n": ("lr: is a table ({a = 1}), but lr takes one value: write lr = 0.1",),
        "[lr]\nx = 2\n": ("lr: is a table ({x = 2})",),
        "[model]\nhidden = {}\n": ("[model] hidden: is a table ({}), but n_hidden takes one value",),
        "preset = {}\n": ('preset: is a table, but preset takes one name: write preset = "lecture"',),
        "[[model]]\nn_hidden = 3\n": ("model: is an array of tables ([[model]]); a group of settings is one table",),
        'preset = "fastest"\n': ('preset must be one of lecture', 'got "fastest"'),
        "steps = true\n": ("steps must be an integer, got true",),
        "lr = 1979-05-27\n": ("lr must be a number, got the date or time 1979-05-27",),
        '"" = 3\n': ('"": unknown setting',),
    }
    for text, fragments in cases.items():
        path = tmp_path / "odd.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as e:
            read_recipe(path)
        line = assert_one_line(e, "--config", "odd.toml", *fragments)
        assert "preset: preset" not in line and "True" not in line and "datetime" not in line, line


def test_a_byte_order_mark_is_no_statement(tmp_path):
    """Notepad's UTF-8 starts with EF BB BF: it used to be "Invalid statement (at line 1, column 1)"."""
    from core.recipe import read_recipe

    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[model]\nn_hidden = 64\n[optimisation]\nlr = 0.05\n')
    assert read_recipe(path) == {"n_hidden": 64, "lr": 0.05}

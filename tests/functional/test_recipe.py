"""Recipes: a run's settings as TOML (`mlp-tui recipe RUN`), read back by --config; one-line errors."""

from __future__ import annotations

import json

from conftest import assert_cli_error, run_cli
from unit.test_recipe import _settings_of


def test_a_recipe_round_trips_through_recipe_and_config(capsys, words_file, tmp_path):
    run = tmp_path / "run"
    flags = ["--data", str(words_file), "--n-hidden", "24", "--layers", "2", "--batchnorm", "--optimizer", "adamw",
             "--lr", "0.003", "--dropout", "0.1", "--schedule", "cosine", "--steps", "150", "--seed", "5"]
    code, _, err = run_cli(capsys, ["train", *flags, "--out", str(run), "--quiet"])
    assert code == 0, err
    code, text, _ = run_cli(capsys, ["recipe", str(run)])
    assert code == 0 and text.startswith("# mlp-tui recipe of run") and "[model]" in text
    recipe = tmp_path / "shared" / "recipe.toml"
    recipe.parent.mkdir()
    recipe.write_text(text)
    assert _settings_of(["--config", str(recipe)]) == _settings_of(flags)  # the same settings, every one
    code, _, err = run_cli(capsys, ["train", "--config", str(recipe), "--out", str(tmp_path / "again"), "--quiet"])
    assert code == 0, err
    m = json.loads((tmp_path / "again" / "metrics.json").read_text())["config"]
    assert m["model"]["layers"] == 2 and m["train"]["lr"] == 0.003 and m["train"]["steps"] == 150


def test_a_bad_recipe_is_one_line_naming_the_key(capsys, tmp_path):
    cases = {'wobble = 3\n': "wobble: unknown setting", '[model]\nn_hidden = "lots"\n': "n_hidden must be an integer",
             'lr = -1\n': "lr must be > 0", 'lr = [\n': "not valid TOML", 'arch = "hier"\nblock_size = 6\n':
             "power of two", 'preset = "fastest"\n': "preset must be one of", 'hidden = 3\nn_hidden = 4\n':
             "given twice", 'preset = ["best"]\n': "preset must be one of", f"lr = {10**300}\n": "lr must be <=",
             f"steps = {10**400}\n": "steps must be <=", f"lr = {10**400}\n": "lr must be <="}
    for text, fragment in cases.items():
        recipe = tmp_path / "bad.toml"
        recipe.write_text(text)
        code, _, err = run_cli(capsys, ["train", "--config", str(recipe), "--steps", "5", "--quiet"])
        assert_cli_error(code, err, fragment, "bad.toml")
    code, _, err = run_cli(capsys, ["train", "--config", str(tmp_path / "none.toml"), "--quiet"])
    assert code == 2 and "no such file" in err

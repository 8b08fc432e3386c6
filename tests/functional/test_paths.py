"""Paths on the command line: a ~ that names no home folder, an empty path, through every flag and argument that
takes one, is one line and exit status 2 (tui.subcommands.argtypes.path_arg, core.runs.files.user_path)."""

from __future__ import annotations

import pytest
from conftest import assert_cli_error, run_cli, write_words

from tui.cli import build_parsers
from tui.subcommands.argtypes import path_arg

NOBODY = "~mlp-tui-no-such-user"
PATH_METAVARS = {"PATH", "DIR", "FILE", "RUN"}


def test_every_flag_that_takes_a_path_reads_it_with_path_arg():
    seen = set()
    for name, parser in build_parsers().items():
        for action in parser._actions:
            if action.metavar in PATH_METAVARS and action.dest != "data":  # --data: a built-in name or a path
                assert action.type is path_arg, (name, action.dest)
                seen.add((name, action.dest))
    assert {("train", "out"), ("train", "config"), ("runs", "runs_dir"), ("sample", "checkpoint"),
            ("eval", "checkpoint"), ("export", "run"), ("export", "out"), ("recipe", "run"),
            ("sweep export", "out"), ("app", "runs_dir"),
            ("sweep show", "runs_dir")} <= seen


@pytest.mark.parametrize("argv", [
    ["train", "--out", f"{NOBODY}/r"], ["train", "--data", f"{NOBODY}/w.txt"],
    ["train", "--config", f"{NOBODY}/r.toml"], ["train", "--runs-dir", NOBODY], ["runs", "--runs-dir", NOBODY],
    ["sample", "--checkpoint", f"{NOBODY}/model.pt"], ["eval", "--checkpoint", NOBODY], ["export", NOBODY],
    ["export", ".", "-o", f"{NOBODY}/x.csv"], ["recipe", NOBODY], ["ngram", "--data", f"{NOBODY}/w"],
    ["sweep", "show", "s", "--runs-dir", NOBODY], ["sweep", "export", "s", "-o", NOBODY],
    ["sweep", "--study", "s", "--data", NOBODY], ["--runs-dir", NOBODY], ["--config", NOBODY],
    ["serve", "--runs-dir", NOBODY],
], ids=lambda a: " ".join(a[:2]))
def test_a_tilde_of_no_user_is_one_line_in_every_command(capsys, argv):
    code, out, err = run_cli(capsys, argv)
    assert_cli_error(code, err, NOBODY, "no user named 'mlp-tui-no-such-user'")
    assert out == ""


@pytest.mark.parametrize("argv", [["train", "--out", ""], ["runs", "--runs-dir", ""], ["export", ""], ["recipe", ""],
                                  ["sample", "--checkpoint", ""], ["train", "--config", ""]])
def test_an_empty_path_is_one_line(capsys, argv):
    code, _, err = run_cli(capsys, argv)
    assert_cli_error(code, err, "an empty path")


def test_the_runs_folder_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("MLP_TUI_RUNS_DIR", NOBODY)
    for argv in (["runs"], ["sweep", "show", "s"]):
        code, _, err = run_cli(capsys, argv)
        assert_cli_error(code, err, f"$MLP_TUI_RUNS_DIR={NOBODY}")


def test_a_recipe_whose_data_is_a_tilde_of_no_user(capsys, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'data = "{NOBODY}/w.txt"\n')
    code, _, err = run_cli(capsys, ["train", "--config", str(recipe)])
    assert_cli_error(code, err, str(recipe), "data", NOBODY, "no user named")


def test_a_folder_named_with_a_tilde_is_reached_as_dot_slash(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_words(tmp_path / "w.txt", ["emma", "ava", "mia", "zoe", "ivy"])
    code, _, err = run_cli(capsys, ["train", "--data", "w.txt", "--steps", "5", "--n-hidden", "4", "--quiet",
                                    "--out", f"./{NOBODY}/run"])
    assert code == 0, err
    assert (tmp_path / NOBODY / "run" / "model.pt").is_file()

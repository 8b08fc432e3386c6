"""core.runs.files.user_path: every path a user gives (flags, recipes, $MLP_TUI_RUNS_DIR) is read by it, so a ~ that
names no home folder, an empty path or a NUL is one line instead of pathlib's RuntimeError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import assert_one_line

from core.runs.files import PathError, user_path

NOBODY = "~mlp-tui-no-such-user"


def test_home_and_plain_paths_are_as_the_shell_has_them(tmp_path):
    assert user_path("~/x") == Path.home() / "x"
    assert user_path("~") == Path.home()
    assert user_path(tmp_path / "a") == tmp_path / "a"
    assert user_path("rel/a") == Path("rel/a")


def test_a_folder_named_with_a_tilde_is_reached_with_dot_slash(tmp_path, monkeypatch):
    """pathlib drops ./ and would then take ~name for a home folder: the path is made absolute instead."""
    monkeypatch.chdir(tmp_path)
    p = user_path(f"./{NOBODY}/runs")
    assert p == tmp_path / NOBODY / "runs" and p.expanduser() == p  # a later expanduser is harmless


@pytest.mark.parametrize(("text", "fragments"), [
    (NOBODY, (NOBODY, "no user named 'mlp-tui-no-such-user'", "give the full path")),
    (f"{NOBODY}/runs/x.txt", (f"{NOBODY}/runs/x.txt", "cannot be expanded")),
    ("", ("an empty path",)),
    ("a\x00b", ("cannot hold a NUL",)),
])
def test_paths_that_name_no_place_are_one_line(text, fragments):
    with pytest.raises(PathError) as e:
        user_path(text)
    assert_one_line(e, *fragments)


def test_no_home_folder_at_all(monkeypatch):
    import pwd

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    with pytest.raises(PathError) as e:
        user_path("~/runs")
    assert_one_line(e, "~/runs", "the home folder is not known ($HOME is not set)")


def test_the_runs_folder_from_the_environment_names_the_variable(monkeypatch):
    from core.runs.folder import default_runs_dir

    monkeypatch.setenv("MLP_TUI_RUNS_DIR", NOBODY)
    with pytest.raises(PathError) as e:
        default_runs_dir()
    assert_one_line(e, f"$MLP_TUI_RUNS_DIR={NOBODY}", "no user named")
    monkeypatch.setenv("MLP_TUI_RUNS_DIR", "~/r")
    assert default_runs_dir() == Path(os.path.expanduser("~/r"))

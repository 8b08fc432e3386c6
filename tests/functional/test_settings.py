"""The settings registry's cross-setting rules: the same on the command line and in the form."""

from __future__ import annotations

from conftest import run_cli

from core import settings


def test_rules_are_the_same_for_the_cli_and_the_form(capsys, tmp_path, words_file):
    from tui.panes.fields import BY_KEY

    (rule, message), = settings.broken_rules({"batchnorm": True, "batch_size": 1})
    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--batchnorm", "--batch-size", "1",
                                    "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and message in err
    assert rule.names[0] in BY_KEY

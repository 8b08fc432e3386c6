"""The settings registry's cross-setting rules: the same on the command line and in the form."""

from __future__ import annotations

import pytest
from conftest import assert_cli_error, run_cli
from helpers import train_argv

from core import settings


def test_rules_are_the_same_for_the_cli_and_the_form(capsys, tmp_path, words_file):
    from tui.panes.fields import BY_KEY

    (rule, message), = settings.broken_rules({"batchnorm": True, "batch_size": 1})
    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--batchnorm", "--batch-size", "1",
                                    "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and message in err
    assert rule.names[0] in BY_KEY


@pytest.mark.parametrize(("flag", "value", "fragment"), [
    ("--dropout", "0.999", "must be <= 0.9"), ("--dropout", "0.95", "must be <= 0.9"),
    ("--block-size", "300", "must be <= 256"), ("--lr", "1e300", "must be <= 1,000"),
    ("--weight-decay", "100", "must be <= 10"), ("--lr-decay", "1e9", "must be <= 100"),
])
def test_flags_and_fields_refuse_the_same_values(capsys, tmp_path, flag, value, fragment):
    from tui.panes.fields import BY_KEY, parse

    code, _, err = run_cli(capsys, train_argv("names", tmp_path / "run", flag, value))
    assert_cli_error(code, err, flag, fragment)
    key = flag[2:].replace("-", "_")
    assert parse(BY_KEY[key], value)[1] == fragment

"""The settings registry's cross-setting rules: the same on the command line and in the form."""

from __future__ import annotations

import pytest
from conftest import assert_cli_error, run_cli
from helpers import ROOT, train_argv

from core import settings
from core.config import MLPConfig, TrainConfig
from core.errors import ConfigError
from tui.panes.fields import FIELDS


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


@pytest.mark.slow
def test_mypy_passes_on_core():
    """The configs are written out so that a type checker reads them; mypy checks core/ with the settings in
    pyproject.toml (check_untyped_defs, no ignores beyond third-party imports). ~1 minute."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mypy", "core"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


# ---------------------------------------------------------------- every rule across settings, everywhere


def _candidates(s: settings.Setting) -> list:
    """A few valid values of a setting, its default first."""
    if s.value_type == "bool":
        out = [False, True]
    elif s.value_type == "choice":
        out = list(s.choices)
    elif s.value_type == "int":
        out = [v for v in (int(s.lo), int(s.lo) + 1, 2, 3, 4) if s.check(v) is None]
    elif s.value_type == "float":
        out = [v for v in (s.lo, s.hi) if s.check(float(v)) is None]
    else:
        out = []
    return [s.default, *(v for v in out if v != s.default)]


def _breaking(rule: settings.Rule) -> dict:
    """Every setting's value (defaults, but for the rule's own settings) such that this rule is the only
    one broken: found by trying a few values of each of its settings."""
    import itertools

    def tries(names: tuple[str, ...], base: dict):
        for combo in itertools.product(*(_candidates(settings.BY_NAME[n]) for n in names)):
            yield {**base, **dict(zip(names, combo))}

    for values in tries(rule.names, settings.resolve({})):
        broken = [r for r, _ in settings.broken_rules(values)]
        if rule not in broken:
            continue
        # other rules broken too (hier with the default context of 3): try their other settings
        others = tuple(dict.fromkeys(n for r in broken if r is not rule for n in r.names if n not in rule.names))
        for fixed in tries(others, values):
            if [r for r, _ in settings.broken_rules(fixed)] == [rule]:
                return fixed
    raise AssertionError(f"no values break only the rule on {rule.names}: extend _candidates")


def _flags(values: dict) -> list[str]:
    """The command line that gives these values (those that differ from the defaults)."""
    out = []
    for name, v in values.items():
        s = settings.BY_NAME[name]
        if v != s.default:
            assert s.cli, f"{name} has no flag"
            out += [s.flag] if s.value_type == "bool" else [s.flag, str(v)]
    return out


@pytest.mark.parametrize("rule", settings.RULES, ids=["-".join(r.names) for r in settings.RULES])
def test_every_rule_runs_on_the_command_line_in_the_form_and_in_the_trainer(rule, capsys, tmp_path, words_file):
    """Each cross-setting rule of the registry refuses its values in one line with exit 2 on the command line,
    marks the first setting the error names in the form, and stops `Trainer(...)` with a ConfigError that
    names the settings. (`--bn-out --batch-size 1` used to train to NaN: the Trainer ran its own copy of the
    batch-norm rule, which missed bn_out.)"""
    from core.data import Dataset
    from core.tokens import TextOptions
    from tui.panes.fields import check_form, format_value

    values = _breaking(rule)
    message = rule.check(values)
    # the Trainer, given the two configs; a rule of the data settings (--dedupe with --format text): the loader
    mcfg, tcfg = settings_configs(values)
    data_rule = all(settings.BY_NAME[n].target == "data" for n in rule.names)
    data = None if data_rule else Dataset.load(words_file, values["block_size"])
    with pytest.raises(ConfigError) as refused:
        from core.engine.train import Trainer

        if data is None:
            Dataset.load(words_file, values["block_size"], dedupe=values["dedupe"],
                         options=TextOptions.from_values(values))
        else:
            Trainer(data, mcfg, tcfg)
    assert str(refused.value) == message and refused.value.names == rule.names
    # the command line
    code, out, err = run_cli(capsys, ["train", "--data", str(words_file), *_flags(values), "--steps", "5",
                                      "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and out == "" and err.splitlines() == [f"mlp-tui: error: {message}"]
    assert not (tmp_path / "r").exists()
    # the form: the app's own validation (ControlsPane.values), given the fields' texts
    texts = {f.key: ("on" if values[f.key] else "off") if f.value_type == "bool" else format_value(values[f.key])
             for f in FIELDS}
    good, bad = check_form(texts)
    assert bad == {refused.value.names[0]: message}


def settings_configs(values: dict) -> tuple[MLPConfig, TrainConfig]:
    from core.config import configs

    return configs(values)


def test_bn_out_with_a_batch_of_one_is_refused_like_batchnorm(capsys, tmp_path, words_file):
    errors = []
    for flag in ("--batchnorm", "--bn-out"):
        code, _, err = run_cli(capsys, ["train", "--data", str(words_file), flag, "--batch-size", "1",
                                        "--steps", "50", "--out", str(tmp_path / flag), "--quiet"])
        assert code == 2 and len(err.splitlines()) == 1, (flag, err)
        errors.append(err)
    assert errors[0] == errors[1]

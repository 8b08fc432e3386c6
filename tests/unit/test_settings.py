"""The settings registry is the one source of truth: every setting's flag, field, config field, live/reset
behaviour, range, and place in metrics.json and the checkpoint agree, and the betas and gradient clipping
(added as one registry entry each) reach the optimiser."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import run_cli, small_trainer

from core import settings
from core.config import MLPConfig, TrainConfig
from core.errors import ConfigError
from core.kernels.lecture import FusedGeneral
from core.model import MLP
from core.runs.checkpoint import load_checkpoint
from tui.cli import build_parsers
from tui.panes.fields import FIELDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli_outputs(tmp_path_factory):
    """metrics.json and the checkpoint of a tiny `mlp-tui train` run with every flag left at its default."""
    from tui.cli import main

    base = tmp_path_factory.mktemp("settings")
    words = base / "w.txt"
    words.write_text("\n".join(["emma", "olivia", "ava", "mia", "noah", "liam", "lucas", "ella", "zoe", "leo"] * 3))
    out = base / "run"
    assert main(["train", "--data", str(words), "--steps", "50", "--n-hidden", "8", "--out", str(out), "--quiet"]) == 0
    return json.loads((out / "metrics.json").read_text()), load_checkpoint(out / "model.pt"), \
        torch.load(out / "model.pt", weights_only=True)


def _options(parser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


@pytest.mark.parametrize("s", settings.SETTINGS, ids=[s.name for s in settings.SETTINGS])
def test_each_setting_agrees_everywhere(s, cli_outputs, small_data):
    parsers = build_parsers()
    # the flag (and its old spellings), in the app and in `train`, or an explicit "not on the command line"
    for name in ("app", "train"):
        opts = _options(parsers[name])
        assert all(f in opts for f in s.flags) == s.cli, (s.name, name)
    # the form's field, or an explicit "CLI only"
    assert (s in FIELDS) == s.form, s.name
    # the config field, with the registry's default
    if s.target in ("model", "train"):
        cls = MLPConfig if s.target == "model" else TrainConfig
        f = {x.name: x for x in dataclasses.fields(cls)}[s.name]
        assert f.default == s.default
    # live or reset: a live train setting changes a running model; a reset one is refused there
    if s.target == "train":
        tr = small_trainer(small_data)
        value = s.default
        if s.value_type in ("int", "float") and s.default is not None:
            value = s.default + 1 if s.value_type == "int" else \
                min(s.hi, s.default + 0.01) if not s.lo_open or s.default else 1.0
        if s.name == "minutes":
            value = 2.0
        if s.live:
            tr.update_config(**{s.name: value})
            assert getattr(tr.config, s.name) == value
        else:
            with pytest.raises(ConfigError, match="can change while training"):
                tr.update_config(**{s.name: value})
    # the range: the same values pass or fail on the command line and in the form
    if s.value_type in ("int", "float"):
        step = 1 if s.value_type == "int" else max(1e-9, 1e-9 * abs(s.hi))
        for v, ok in ((s.lo, not s.lo_open), (s.hi, True), (s.hi + step, False), (s.lo - step, False)):
            text = str(int(v)) if s.value_type == "int" else repr(float(v))
            assert (s.parse(text)[1] is None) == ok, (s.name, text)
            if s.cli:
                code_ok = True
                try:
                    parsers["train"].parse_args([s.flag, text])
                except SystemExit:
                    code_ok = False
                assert code_ok == ok, (s.name, text)
            if s.target in ("model", "train") and ok:
                assert s.check(int(v) if s.value_type == "int" else float(v)) is None
    # in metrics.json and in the checkpoint, under its one name
    metrics, ckpt, raw = cli_outputs
    if s.target in ("model", "train"):
        assert s.name in metrics["config"][s.target]
        assert s.name in raw["model_config" if s.target == "model" else "train_config"]
    elif s.name == "dedupe":
        assert metrics["dedupe"] is False and raw["dedupe"] is False
    elif s.name == "data":
        assert metrics["dataset"] == raw["dataset"]


def test_old_spellings_still_work(capsys, tmp_path, words_file):
    assert settings.canonical("emb_dim") == "n_embd" and settings.canonical("--hidden") == "n_hidden"
    args = build_parsers()["train"].parse_args(["--emb-dim", "4", "--hidden", "12"])
    assert (args.n_embd, args.n_hidden) == (4, 12)
    assert settings.resolve({"emb_dim": 4})["n_embd"] == 4


def test_a_run_written_by_the_landed_code_still_loads():
    """A checkpoint and run.json from before the registry (made by the code of commit d16da98)."""
    from core.runs.folder import read_info

    fixture = ROOT / "tests" / "fixtures" / "landed-run"
    info = read_info(fixture)
    ck = load_checkpoint(fixture / "model.pt")
    assert ck.model_config.n_hidden == info["model"]["n_hidden"] and ck.step == info["step"]
    assert ck.train_config.grad_clip == 0.0  # a setting it did not know takes its default


def test_rules_are_the_same_for_the_cli_and_the_form(capsys, tmp_path, words_file):
    from tui.panes.fields import BY_KEY

    (rule, message), = settings.broken_rules({"batchnorm": True, "batch_size": 1})
    code, _, err = run_cli(capsys, ["train", "--data", str(words_file), "--batchnorm", "--batch-size", "1",
                                    "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2 and message in err
    assert rule.names[0] in BY_KEY


def test_the_readme_flag_table_is_the_registry():
    readme = (ROOT / "README.md").read_text()
    assert settings.markdown_table() in readme, "run `python -m core.settings` and paste its table into the README"


def test_presets_name_only_settings():
    for name, values in settings.PRESETS.items():
        assert set(values) <= set(settings.BY_NAME), name
        settings.validate(settings.resolve({}, name))


# ---------------------------------------------------------------- the two settings added through the registry


def test_the_betas_reach_the_fused_adamw(small_data, monkeypatch):
    """On the torch kernels (the compiled one: tests/test_jit.py, test_live_changes_reach_the_compiled_step)."""
    monkeypatch.setenv("MLP_TUI_KERNEL", "torch")
    seen: list[tuple[float, float]] = []
    real = torch._fused_adamw_

    def spy(*args, **kw):
        seen.append((kw["beta1"], kw["beta2"]))
        return real(*args, **kw)

    monkeypatch.setattr(torch, "_fused_adamw_", spy)
    tr = small_trainer(small_data, optimizer="adamw", lr=1e-2, beta1=0.8, beta2=0.95)
    tr.train_chunk()
    assert seen and set(seen) == {(0.8, 0.95)}
    tr.update_config(beta1=0.7)  # live
    seen.clear()
    tr.train_chunk()
    assert set(seen) == {(0.7, 0.95)}


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
@pytest.mark.parametrize("max_norm", [0.05, 1e6])
def test_grad_clip_matches_clip_grad_norm(small_data, optimizer, max_norm):
    """One step of the hand-written kernel with clipping against autograd + torch.nn.utils.clip_grad_norm_."""
    mcfg = MLPConfig(vocab_size=len(small_data.vocab), n_embd=4, n_hidden=16, init="kaiming")
    cfg = TrainConfig(optimizer=optimizer, lr=0.5 if optimizer == "sgd" else 1e-2, grad_clip=max_norm, batch_size=8)
    ours = MLP(mcfg, torch.Generator().manual_seed(0))
    ref = MLP(mcfg, torch.Generator().manual_seed(0))
    X, Y = small_data.X["train"][:8], small_data.Y["train"][:8]
    k = FusedGeneral(ours, cfg)
    logp = torch.empty(1, 8)
    k.run((X.reshape(-1),), (Y + k.row_offset,), logp, cfg.lr)
    _, loss = ref(X, Y)
    loss.backward()
    total = torch.nn.utils.clip_grad_norm_(ref.parameters(), max_norm)
    if optimizer == "sgd":
        with torch.no_grad():
            for p in ref.parameters():
                p -= cfg.lr * p.grad
    else:
        opt = torch.optim.AdamW(ref.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=0.0)
        opt.step()
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5)
    if max_norm < 1:
        assert float(total) > max_norm  # the case where clipping did something
    with torch.no_grad():
        fresh = F.cross_entropy(MLP(mcfg, torch.Generator().manual_seed(0))(X)[0], Y)
    assert math.isclose(float(-logp.mean()), float(fresh), rel_tol=1e-5)


def test_grad_clip_bounds_the_update_of_a_whole_run(small_data):
    a = small_trainer(small_data, lr=1.0, steps=400, grad_clip=0.01, seed=3)
    b = small_trainer(small_data, lr=1.0, steps=400, seed=3)
    w0 = [p.detach().clone() for p in a.model.parameters()]
    a.run()
    b.run()
    moved_a = sum(float((p.detach() - q).norm()) for p, q in zip(a.model.parameters(), w0))
    moved_b = sum(float((p.detach() - q).norm()) for p, q in zip(b.model.parameters(), w0))
    assert moved_a <= 400 * 1.0 * 0.01 * 1.001 and moved_a < moved_b


# A value for each live setting that changes what a running Trainer does next, from the base below
# (AdamW, so the betas matter; the step decay at step 10, so lr_decay and decay_at matter at step 16).
LIVE_BASE = {"optimizer": "adamw", "lr": 1e-2, "decay_at": 10, "steps": 100_000}
LIVE_VALUES = {"lr": 2e-2, "beta1": 0.5, "beta2": 0.9, "weight_decay": 0.1, "dropout": 0.3, "grad_clip": 0.01,
               "schedule": "cosine", "lr_decay": 0.5, "decay_at": 1000, "warmup": 1000, "steps": 50_000,
               "minutes": 2.0}


def _next_chunk(data, change: dict) -> tuple[list[torch.Tensor], int]:
    """A Trainer's weights after 16 steps, `change` applied live, and 16 more (chunks of exactly 16 steps,
    so no timing enters), with the steps it now aims for."""
    tr = small_trainer(data, **LIVE_BASE)
    tr.run(16)
    if change:
        tr.update_config(**change)
    tr.run(16)
    return [p.detach().clone() for p in tr.model.parameters()], tr.total_steps


def test_every_live_setting_changes_the_next_chunk_and_every_other_is_refused(small_data):
    """Each live setting, applied to a running Trainer, changes its next chunk's weights or its length; every
    other setting (of the model or of training) is refused by the live path."""
    assert set(LIVE_VALUES) == set(settings.live("train")), "give a new live setting a value here"
    same, steps = _next_chunk(small_data, {})
    again, _ = _next_chunk(small_data, {})
    assert all(torch.equal(a, b) for a, b in zip(same, again))  # deterministic: a difference is the change's
    for name, value in LIVE_VALUES.items():
        weights, total = _next_chunk(small_data, {name: value})
        moved = not all(torch.equal(a, b) for a, b in zip(same, weights))
        assert moved or total != steps, f"{name}={value!r} applied live changed nothing"
    tr = small_trainer(small_data)
    for s in settings.SETTINGS:
        if s.target in ("model", "train") and not s.live:
            with pytest.raises(ConfigError, match="can change while training"):
                tr.update_config(**{s.name: s.default})


# ---------------------------------------------------------------- the configs are the registry's, written out


@pytest.mark.parametrize("cls, target, extra", [(MLPConfig, "model", ["vocab_size"]), (TrainConfig, "train", [])])
def test_the_written_out_configs_are_the_registrys(cls, target, extra):
    """Names in the registry's order (the order of metrics.json's keys), defaults and types: the dataclasses
    are written out for a type checker, and this keeps them the registry's."""
    import typing

    py = {"int": int, "float": float, "bool": bool, "choice": str, "data": str}
    fields = dataclasses.fields(cls)
    assert [f.name for f in fields] == extra + [s.name for s in settings.of(target)]
    hints = typing.get_type_hints(cls)
    for s in settings.of(target):
        f = next(f for f in fields if f.name == s.name)
        assert f.default == s.default and type(f.default) is type(s.default), s.name
        assert hints[s.name] == (py[s.value_type] | None if s.optional else py[s.value_type]), s.name
    assert cls(**cls().to_dict()) == cls() and list(cls().to_dict()) == [f.name for f in fields]


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
    from tui.panes.fields import check_form, format_value

    values = _breaking(rule)
    message = rule.check(values)
    # the Trainer, given the two configs
    mcfg, tcfg = settings_configs(values)
    data = Dataset.load(words_file, values["block_size"])
    with pytest.raises(ConfigError) as refused:
        from core.engine.train import Trainer

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


def test_the_controls_read_the_errors_facts_not_their_words():
    """controls.py imports no `re`: what a ConfigError concerns is in its fields, not parsed from its text."""
    import ast

    tree = ast.parse((ROOT / "tui" / "panes" / "controls.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "re" not in imported
    big = MLPConfig(n_hidden=100_000, n_embd=4096, block_size=256)
    with pytest.raises(ConfigError) as e:
        big.validate()
    assert str(e.value).startswith("the model (") and e.value.brief.split(" parameters")[0] in str(e.value)
    assert not e.value.brief.startswith("the model")


def test_a_config_error_keeps_its_facts_across_a_process():
    import pickle

    e = pickle.loads(pickle.dumps(ConfigError("batch norm needs ...", ("bn_out", "batch_size"), brief="b")))
    assert (str(e), e.names, e.brief) == ("batch norm needs ...", ("bn_out", "batch_size"), "b")

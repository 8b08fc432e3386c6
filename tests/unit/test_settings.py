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
from conftest import small_trainer

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
def cli_outputs(trained_run):
    """metrics.json and the checkpoint of the session's tiny `mlp-tui train` run (every flag but its length and
    width left at its default)."""
    _, run = trained_run
    return json.loads((run / "metrics.json").read_text()), load_checkpoint(run / "model.pt"), \
        torch.load(run / "model.pt", weights_only=True)


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


def test_the_readme_flag_table_is_the_registry():
    readme = (ROOT / "README.md").read_text()
    assert settings.markdown_table() in readme, "run `python -m core.settings` and paste its table into the README"


def test_presets_name_only_settings():
    for name, values in settings.PRESETS.items():
        assert set(values) <= set(settings.BY_NAME), name
        settings.validate(settings.resolve({}, name))


# ---------------------------------------------------------------- the two settings added through the registry


def test_the_betas_reach_the_fused_adamw(small_data, monkeypatch):
    """On the torch kernels (the compiled one: tests/unit/test_jit.py, test_live_changes_reach_the_compiled_step)."""
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


def test_every_number_field_and_flag_agree_on_its_range():
    """For each number setting: its lowest and highest values pass both, just beyond them fails both."""
    from tui.panes.fields import BY_KEY, parse
    from tui.subcommands.options import setting_type as _setting

    for f in BY_KEY.values():
        if f.value_type not in ("int", "float"):
            continue
        lo, hi, lo_open = f.lo, f.hi, f.lo_open
        step = 1 if f.value_type == "int" else 1e-9 * max(1, abs(hi))
        for v, ok in ((lo, not lo_open), (hi, True), (hi + step, False), (lo - step, False)):
            text = str(int(v)) if f.value_type == "int" else repr(float(v))
            field_ok = parse(f, text)[1] is None
            try:
                _setting(f.key)(text)
                flag_ok = True
            except Exception:
                flag_ok = False
            assert field_ok == flag_ok == ok, (f.key, text)


def test_the_count_table_line_names_the_models_kind_of_token():
    from tui.panes.fields import count_table_line

    assert count_table_line(27, 3).startswith("count table: chars 27^4\n= [b]531,441[/]")
    assert count_table_line(5546, 4, "words").startswith("count table: words 5,546^5")
    assert count_table_line(4000, 3, "bpe").startswith("count table: BPE 4,000^4\n= [b]2.56e+14[/]")

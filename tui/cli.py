"""The `mlp-tui` command: the Textual app by default, and headless train / sample / eval / bench.

torch is imported only inside the commands, so `mlp-tui --help` and the app's first frame are quick.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

from core import settings
from tui.subcommands.argtypes import Parser as _Parser
from tui.subcommands.argtypes import fail
from tui.subcommands.argtypes import number as _number
from tui.subcommands.argtypes import thread_count as _thread_count

COMMANDS = ("train", "sample", "eval", "bench", "runs", "export", "sweep", "ngram", "recipe", "serve")
DEFAULTS = {k: v for k, v in settings.DEFAULTS.items() if settings.BY_NAME[k].cli and k != "data"}
PRESET_NAMES = tuple(settings.PRESETS)
OFF = type("Off", (), {"__repr__": lambda self: "off"})()  # an optional setting switched off by its flag


def _setting(key: str) -> Callable[[str], object]:
    """An argparse type that parses a setting exactly as the app's field does: the same range, the same words."""
    setting = settings.get(key)

    def convert(text: str) -> object:
        value, reason = setting.parse(text)
        if reason is not None:
            raise argparse.ArgumentTypeError(f"{reason}, got {text!r}")
        return OFF if value is None else value  # `--minutes off` said so: it must win over a recipe

    convert.__name__ = key
    return convert


def add_training_options(p: argparse.ArgumentParser) -> None:
    """Flags shared by the app and `mlp-tui train`: one per setting of the registry (core.settings).

    Every default is None here so that resolve_settings() can tell a flag given from one left to the
    preset: explicit flags win over --preset, which wins over the registry's defaults.
    """
    groups = {g: p.add_argument_group({"optimisation": "optimisation", "schedule": "schedule and length"}.get(g, g))
              for g in settings.GROUPS}
    for s in settings.SETTINGS:
        if not s.cli:
            continue
        g = groups[s.group]
        default = f" (default: {settings.fmt(s.default)})"
        if s.kind == "bool":
            g.add_argument(*s.flags, dest=s.name, action="store_const", const=True, default=None,
                           help=s.help + default)
        elif s.kind == "choice":
            g.add_argument(*s.flags, dest=s.name, choices=s.choices, default=None, help=s.help + default)
        elif s.kind == "data":  # checked when it is read, which names the file and the problem in full
            g.add_argument(*s.flags, dest=s.name, default=None, metavar=s.metavar, help=s.help + default)
        else:
            g.add_argument(*s.flags, dest=s.name, type=_setting(s.name), default=None, metavar=s.metavar,
                           help=s.help + default)
        if s.name == "data":
            g.add_argument("--config", type=Path, default=None, metavar="FILE",
                           help="read settings from a TOML recipe (mlp-tui recipe RUN prints one); flags given "
                                "explicitly win over it, and it wins over --preset")
            g.add_argument("--preset", choices=PRESET_NAMES, default=None,
                           help="set many flags at once: " + "; ".join(f"{k}: {v}" for k, v in
                                                                        settings.PRESET_NOTES.items())
                                + "; flags given explicitly override the preset")


def resolve_settings(args: argparse.Namespace) -> dict:
    """Flag values, then a --config recipe's, then the preset's (--preset, or the recipe's own), then the
    defaults (registry names): explicit flags win over the file, as over a preset."""
    from core.recipe import read_recipe

    given = {s.name: getattr(args, s.name, None) for s in settings.SETTINGS if s.cli}
    from_file = read_recipe(args.config) if getattr(args, "config", None) is not None else {}
    preset = getattr(args, "preset", None) or from_file.pop("preset", None)
    if getattr(args, "preset", None) is None and preset is not None:
        args.preset = preset  # the recipe's preset is shown and recorded as if it had been given
    off = {k for k, v in given.items() if v is OFF}
    if given.get("steps") is not None and given.get("minutes") is None:
        from_file.pop("minutes", None)  # --steps on the command line: a recipe's time budget yields to it
    merged = {**from_file, **{k: v for k, v in given.items() if v is not None and v is not OFF}}
    values = settings.resolve(merged, preset)
    values.update(dict.fromkeys(off))  # explicitly off, whatever the file or the preset said
    return {k: v for k, v in values.items() if settings.BY_NAME[k].cli}


def build_parsers(only: str | None = None) -> dict[str, argparse.ArgumentParser]:
    """Every command's parser; with `only`, the registry's ~35 flags go only on that command's (and the
    app's) parser, since building them all costs ~10 ms of the app's first frame."""
    fmt = argparse.ArgumentDefaultsHelpFormatter

    def options_for(name: str, p: argparse.ArgumentParser) -> None:
        if only is None or only == name:
            add_training_options(p)

    app = _Parser(
        prog="mlp-tui",
        description="Train a character-level MLP language model (Bengio et al. 2003, makemore part 2) "
                    "live in the terminal. Commands: train, sample, eval, bench (mlp-tui COMMAND --help).",
    )
    add_training_options(app)
    add_runs_dir(app)
    app.add_argument("--storage", default=None, metavar="URL", help="the sweeps view's storage (default: "
                     "sweeps.db in the runs folder; see mlp-tui sweep --help)")

    train = _Parser(prog="mlp-tui train", description="Train without the app; writes model.pt and metrics.json.")
    options_for("train", train)
    train.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="the run directory: model.pt, metrics.json, run.json, the loss history, evaluations "
                            "and samples (default: a new <dataset>-<date-time> folder in --runs-dir)")
    add_runs_dir(train)
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=_thread_count, default=None, metavar="N",
                       help="threads for training (default: 1, or one per member of an ensemble up to the cores "
                            "here; on 2 cores, 2 torch threads ran one model of --preset best at 0.6-1.1x one "
                            "thread, and the compiled step of the fast extra runs one model on one thread)")

    sample = _Parser(prog="mlp-tui sample", description="Sample words from a saved model, one per line.",
                     formatter_class=fmt)
    sample.add_argument("--checkpoint", type=Path, required=True, metavar="PATH",
                        help="a run directory or a model.pt written by mlp-tui")
    sample.add_argument("-n", type=_number(int, lambda v: 1 <= v <= MAX_SAMPLES, f"from 1 to {MAX_SAMPLES:,}"),
                        default=20, metavar="N", help="how many words (streamed in batches)")
    sample.add_argument("--temperature", type=_setting("temperature"), default=1.0, metavar="T",
                        help="below 1: safer, more common words; above 1: wilder; 0: always the likeliest "
                             "character (0 to 100)")
    sample.add_argument("--seed", type=_setting("seed"), default=None, metavar="N",
                        help="seed for reproducible samples (default: random)")
    sample.add_argument("--prefix", default="", metavar="TEXT", type=_number(str, lambda v: len(v) <= 200,
                        "at most 200 characters"), help="start every word with TEXT")
    sample.add_argument("--mark", action="store_true",
                        help="mark words that are already in the training split with a '*'")

    ev = _Parser(prog="mlp-tui eval", description="Split losses of a saved model, as JSON on stdout.")
    ev.add_argument("--checkpoint", type=Path, required=True, metavar="PATH",
                    help="a run directory or a model.pt written by mlp-tui")
    ev.add_argument("--data", default=None, metavar="PATH",
                    help="evaluate on this dataset instead of the one the model was trained on")

    bench = _Parser(prog="mlp-tui bench",
                    description="Steps per second of the lecture's training loop and of mlp-tui's trainer, "
                                "same recipe, same data, one process. With --preset or any model or training "
                                "flag: that recipe written the plain PyTorch way (nn layers, autograd, "
                                "torch.optim, loss.item() per step) against the trainer, and the step's matmul "
                                "floor. --steps: steps for each loop (default here: 30,000 for the lecture's "
                                "loop, 3,000 for a recipe).")
    bench.add_argument("--threads", type=_thread_count, default=1, metavar="N", help="torch threads (default: 1)")
    options_for("bench", bench)
    runs = _Parser(prog="mlp-tui runs", description="List the runs in the runs folder, newest first.")
    add_runs_dir(runs)
    runs.add_argument("--study", default=None, metavar="NAME", help="only the trials of this sweep's study")
    export = _Parser(prog="mlp-tui export", description="A run's loss history as CSV: step, log10 loss, loss, and "
                                                         "the split losses at the steps they were evaluated.")
    export.add_argument("run", type=Path, metavar="RUN", help="a run directory")
    export.add_argument("-o", "--out", type=Path, default=None, metavar="FILE", help="write here (default: stdout)")
    ngram = _Parser(prog="mlp-tui ngram", description="The counting baseline: an n-gram model of the data, "
                    "add-k smoothed (k picked on dev), with its split losses, the share of dev contexts never seen "
                    "in training and the table entries used, as JSON.")
    ngram.add_argument("--data", default="names", metavar="PATH", help="dataset (default: names)")
    ngram.add_argument("--order", type=_number(int, lambda v: 2 <= v <= 257, "from 2 to 257"), default=4,
                       metavar="N", help="n: the next character given the previous n-1 (default: 4, the lecture's "
                                         "block size 3 + 1)")
    ngram.add_argument("--k", type=_number(float, lambda v: 0 < v <= 1e6, "a number above 0"), default=None,
                       metavar="K", help="add-k smoothing (default: the best of a small grid on the dev split)")
    ngram.add_argument("--dedupe", action="store_true", help="split by distinct word, as train --dedupe")

    recipe = _Parser(prog="mlp-tui recipe", description="A run's settings as a TOML recipe on stdout, for "
                     "mlp-tui train --config FILE (or the app's --config).")
    recipe.add_argument("run", type=Path, metavar="RUN", help="a run directory")

    serve = _Parser(prog="mlp-tui serve", description="The app in a browser (textual-serve): each tab its own app "
                    "and training process. Every flag of mlp-tui passes through (mlp-tui serve --preset best). No "
                    "authentication: anyone who can reach the port can use it.")
    serve.add_argument("--host", default="127.0.0.1", metavar="HOST", help="address to listen on (default: "
                       "127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_number(int, lambda v: 1 <= v <= 65535, "a port from 1 to 65535"),
                       default=8000, metavar="PORT", help="port (default: 8000)")
    serve.add_argument("--max-sessions", type=_number(int, lambda v: v >= 1, "at least 1"),
                       default=os.cpu_count() or 1, metavar="N",
                       help="browser tabs at once, each training on a core (default: the number of cores)")

    from tui.subcommands.sweep import add_sweep_options

    sweep = _Parser(prog="mlp-tui sweep", description="Tune settings with Optuna: worker processes (one per core) "
                    "train trials as ordinary runs; the median pruner stops hopeless ones. The flags of mlp-tui "
                    "train set what is not tuned; --seed also seeds the sampler. Also: mlp-tui sweep show STUDY, "
                    "mlp-tui sweep export STUDY.")
    add_sweep_options(sweep)
    options_for("sweep", sweep)
    add_runs_dir(sweep)
    show = _Parser(prog="mlp-tui sweep show", description="A study's leaderboard, its best settings as a "
                   "command line, and the parameters' importances.")
    show.add_argument("study", metavar="STUDY", help="the study's name")
    show.add_argument("--top", type=_number(int, lambda v: 1 <= v <= 1000, "from 1 to 1000"), default=10,
                      metavar="N", help="trials in the leaderboard (default: 10)")
    show.add_argument("--recipe", action="store_true", help="print the best trial's settings as a TOML recipe "
                      "instead (for mlp-tui train --config)")
    sweep_export = _Parser(prog="mlp-tui sweep export", description="A study's trials as CSV.")
    sweep_export.add_argument("study", metavar="STUDY", help="the study's name")
    sweep_export.add_argument("-o", "--out", type=Path, default=None, metavar="FILE",
                              help="write here (default: stdout)")
    for p in (show, sweep_export):
        p.add_argument("--storage", default=None, metavar="URL", help="the study's storage (default: sweeps.db "
                       "in the runs folder)")
        add_runs_dir(p)
    return {"app": app, "train": train, "sample": sample, "eval": ev, "bench": bench, "runs": runs,
            "export": export, "sweep": sweep, "sweep show": show, "sweep export": sweep_export, "ngram": ngram,
            "recipe": recipe, "serve": serve}


def add_runs_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", type=Path, default=None, metavar="DIR",
                   help="where runs are kept (default: $MLP_TUI_RUNS_DIR, else the user data folder, "
                        "e.g. ~/.local/share/mlp-tui/runs)")


def configs_from_settings(v: dict):
    """(MLPConfig, TrainConfig) from resolved settings; vocab_size is filled in from the data later."""
    from core.config import configs

    return configs(v)


MAX_SAMPLES = 10**9  # streamed: memory stays at one batch, but a billion lines is ~10 GB of output


def cmd_train(args: argparse.Namespace) -> int:
    from tui.subcommands.train import train

    values = resolve_settings(args)
    mcfg, tcfg = configs_from_settings(values)
    return train(args, mcfg, tcfg, data=values["data"], dedupe=bool(values["dedupe"]))


def cmd_bench(args: argparse.Namespace) -> int:
    from tui.subcommands.bench import bench

    recipe = args.preset is not None or any(getattr(args, s.name, None) is not None for s in settings.SETTINGS
                                            if s.cli and s.name not in ("data", "steps"))
    return bench(args, resolve_settings(args) if recipe else None)


def cmd_serve(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from core.runs.files import safe_text
    from tui.subcommands.serve import serve

    values = resolve_settings(args.app_args)  # a bad --config, now, not in every tab
    _, reason = settings.BY_NAME["data"].parse(str(values["data"]))
    if reason:
        raise ConfigError(f"--data {safe_text(str(values['data']))}: {reason}")
    return serve(args, args.app_argv)


def cmd_sweep(args: argparse.Namespace) -> int:
    from tui.subcommands.sweep import cmd_sweep as run

    return run(args, resolve_settings(args))


def _sweep_cmd(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import tui.subcommands.sweep

        return getattr(tui.subcommands.sweep, name)(args)

    return run


def _tool(name: str) -> Callable[[argparse.Namespace], int]:
    """A command of tui/subcommands/tools.py, imported when it runs."""
    def run(args: argparse.Namespace) -> int:
        import tui.subcommands.tools

        return getattr(tui.subcommands.tools, name)(args)

    return run


def cmd_app(args: argparse.Namespace) -> int:
    try:
        from tui.app import run_app
    except ImportError:
        fail("the app is not built yet; use mlp-tui train / sample / eval / bench")
    values = resolve_settings(args)
    values["preset"] = args.preset  # shown in the preset selector; not a setting itself
    return run_app(values, runs_dir=args.runs_dir, storage=args.storage)


def main(argv: list[str] | None = None) -> int:
    as_process = argv is None  # the installed command, not a test calling main()
    argv = sys.argv[1:] if argv is None else argv
    for name in ("stdout", "stderr"):  # started with `>&-`: write nowhere rather than fail on None
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))
    command = argv[0] if argv and argv[0] in COMMANDS else "app"
    parsers = build_parsers(command)
    if command == "sweep" and len(argv) > 1 and argv[1] in ("show", "export"):
        command, argv = f"sweep {argv[1]}", argv[1:]
    if command == "serve":  # its own flags; the rest are the app's, checked here and passed through
        args, app_argv = parsers["serve"].parse_known_args(argv[1:])
        args.app_args = parsers["app"].parse_args(app_argv)
        args.app_argv = app_argv
    else:
        args = parsers[command].parse_args(argv[1:] if command != "app" else argv)
    from core.errors import MLPTuiError

    kernel = os.environ.get("MLP_TUI_KERNEL", "")
    if kernel.strip().lower() not in ("", "auto", "numba", "torch"):
        fail(f"MLP_TUI_KERNEL={kernel!r}: use torch (the torch kernels), or auto or numba (the compiled step "
             f"where numba is installed)")
    try:
        code = {"train": cmd_train, "sample": _tool("cmd_sample"), "eval": _tool("cmd_eval"), "bench": cmd_bench,
                "runs": _tool("cmd_runs"), "export": _tool("cmd_export"), "app": cmd_app, "sweep": cmd_sweep,
                "ngram": _tool("cmd_ngram"), "recipe": _tool("cmd_recipe"), "serve": cmd_serve,
                "sweep show": _sweep_cmd("cmd_sweep_show"), "sweep export": _sweep_cmd("cmd_sweep_export")}[command](
                    args) or 0
        if as_process and command == "train":
            from core.signals import ignore

            # a Ctrl+C pressed again while the run was being saved can land as the process exits: ignore it now
            ignore("SIGINT")
        if command != "app":
            sys.stdout.flush()  # a write error shows here, not as a traceback at exit
        return code
    except MLPTuiError as e:
        fail(str(e))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mlp-tui export RUN | head`: the reader has what it wanted
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a tool killed by the closed pipe would
    except OSError as e:
        if e.errno in _OUTPUT_ERRNOS:  # `> /dev/full`, a quota, a vanished disk
            _quiet_stdout()
            fail(f"cannot write the output ({e.strerror or e})")
        raise


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT if hasattr(errno, "EDQUOT") else errno.ENOSPC, errno.EFBIG}


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())

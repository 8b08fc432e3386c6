"""The flags several commands share: one per setting of the registry (core.settings), with --config and
--preset, and --runs-dir; and how the given flags, a recipe, a preset and the defaults resolve into settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core import settings
from tui.subcommands.argtypes import path_arg

PRESET_NAMES = tuple(settings.PRESETS)
OFF = type("Off", (), {"__repr__": lambda self: "off"})()  # an optional setting switched off by its flag


def setting_type(key: str) -> Callable[[str], object]:
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
        if s.value_type == "bool":
            g.add_argument(*s.flags, dest=s.name, action="store_const", const=True, default=None,
                           help=s.help + default)
        elif s.value_type == "choice":
            g.add_argument(*s.flags, dest=s.name, choices=s.choices, default=None, help=s.help + default)
        elif s.value_type == "data":  # checked when it is read, which names the file and the problem in full
            g.add_argument(*s.flags, dest=s.name, default=None, metavar=s.metavar, help=s.help + default)
        else:
            g.add_argument(*s.flags, dest=s.name, type=setting_type(s.name), default=None, metavar=s.metavar,
                           help=s.help + default)
        if s.name == "data":
            g.add_argument("--config", type=path_arg, default=None, metavar="FILE",
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


def add_runs_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", type=path_arg, default=None, metavar="DIR",
                   help="where runs are kept (default: $MLP_TUI_RUNS_DIR, else the user data folder, "
                        "e.g. ~/.local/share/mlp-tui/runs)")

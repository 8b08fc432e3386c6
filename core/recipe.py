"""Recipes: a run's settings as a TOML file to share, read back by `--config FILE`.

The keys are the registry's names (its aliases too: `emb_dim`, `hidden`), at the top level or inside
tables such as [model] and [train], which only group them; `preset` names a preset under the file's
values. A data path is taken relative to the TOML file, so a recipe and its word list travel together.
An unknown key or a bad value is one line naming the key. Torch-free.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from core import settings
from core.errors import ConfigError
from core.runs.files import FileRefused, PathError, read_regular, safe_text, user_path

MAX_RECIPE_BYTES = 1 << 20


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # Python 3.10

    return tomli


def read_recipe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings of a recipe file, registry names -> typed values (and "preset" if it names one)."""
    from core.data import BUILTIN

    try:
        p = user_path(path)
    except PathError as e:
        raise ConfigError(f"--config {e}") from None
    where = f"--config {safe_text(p)}"
    try:
        raw = read_regular(p, MAX_RECIPE_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except FileRefused as e:
        raise ConfigError(f"{where}: {e}") from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot read it ({e.strerror or e})") from None
    try:
        doc = _toml().loads(raw.decode("utf-8-sig"))  # a byte-order mark, as Windows editors write, is no statement
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except ValueError as e:  # tomllib.TOMLDecodeError
        raise ConfigError(f"{where}: not valid TOML ({safe_text(str(e), 120)})") from None
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{where}: {_key(key)}"
        group = isinstance(value, dict) and key in settings.GROUPS + settings.TARGETS  # [data] is a group too
        if not group and (key == "preset" or settings.canonical(key) in settings.BY_NAME):
            _put(flat, key, value, name)  # a setting: a table or an array there is a wrong value, said so
        elif isinstance(value, dict):  # [model], [train], ...: groups, not namespaces
            for k, v in value.items():
                _put(flat, k, v, f"{where}: [{_key(key)}] {_key(k)}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{name}: is an array of tables ([[{_key(key)}]]); a group of settings is one table, "
                              f"[{_key(key)}]")
        else:
            _put(flat, key, value, name)
    data = flat.get("data")
    if isinstance(data, str) and data and data not in BUILTIN:
        try:
            if not user_path(data).is_absolute():
                flat["data"] = str(p.parent / data)  # relative to the recipe, not to where mlp-tui was started
        except PathError as e:
            raise ConfigError(f"{where}: data {e}", ("data",)) from None
    if "data" in flat:
        _, reason = settings.BY_NAME["data"].parse(flat["data"])
        if reason:
            raise ConfigError(f"{where}: data {safe_text(flat['data'], 80)}: {reason}", ("data",))
    broken = settings.broken_rules(flat)
    if broken:
        raise ConfigError(f"{where}: {broken[0][1]}", broken[0][0].names)
    return flat


def _key(key: str) -> str:
    """A key as a message shows it: escaped, cut, and "" when empty."""
    return safe_text(key, 40) if key else '""'


def _shown(value: Any) -> str:
    """A value as the TOML file spells it (true, "lots", 1979-05-27, [1, 2]), not as Python's repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + safe_text(value, 60).replace('"', '\\"') + '"'
    if isinstance(value, list):
        return safe_text("[" + ", ".join(map(_shown, value[:5])) + (", ..." if len(value) > 5 else "") + "]", 80)
    if isinstance(value, dict):
        return safe_text("{" + ", ".join(f"{_key(k)} = {_shown(v)}" for k, v in list(value.items())[:5]) + "}", 80)
    if hasattr(value, "isoformat"):
        return f"the date or time {value.isoformat()}"
    return safe_text(value, 60)


def _put(flat: dict[str, Any], key: str, value: Any, where: str) -> None:
    if key == "preset":
        if isinstance(value, dict):
            raise ConfigError(f'{where}: is a table, but preset takes one name: write preset = "lecture"')
        if not isinstance(value, str) or value not in settings.PRESETS:
            raise ConfigError(f"{where} must be one of {', '.join(settings.PRESETS)}, got {_shown(value)}")
        flat["preset"] = value
        return
    name = settings.canonical(key)
    s = settings.BY_NAME.get(name)
    if s is None or not s.cli and s.name != "temperature":
        raise ConfigError(f"{where}: unknown setting; the settings are {', '.join(settings.BY_NAME)}")
    if isinstance(value, dict):  # `n_hidden = {}` or [lr]: a table where one value belongs
        example = f"{key} = {_shown(s.default if s.default is not None else 1)}"
        raise ConfigError(f"{where}: is a table ({_shown(value)}), but {name} takes one value: write {example}",
                          (name,))
    if s.value_type == "float" and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)  # `lr = 1` is a float setting written plainly
        except OverflowError:
            digits = len(str(value))
            too_big = f"{where} must be <= {settings.fmt(s.hi)}, got a {digits}-digit number"
            raise ConfigError(too_big, (name,)) from None
    reason = s.check(value)
    if reason:
        raise ConfigError(f"{where} {reason}, got {_shown(value)}", (name,))
    if name in flat:
        raise ConfigError(f"{where}: given twice (as {key} and under another name)", (name,))
    flat[name] = value


def recipe_text(values: dict[str, Any], note: str = "") -> str:
    """Settings as a recipe file: grouped in tables by the registry's groups, None (off) left out."""
    import tomli_w

    doc: dict[str, dict[str, Any]] = {}
    for s in settings.SETTINGS:
        if s.name in values and values[s.name] is not None and (s.cli or s.name == "temperature"):
            doc.setdefault(s.group, {})[s.name] = values[s.name]
    head = "".join(f"# {line}\n" for line in note.splitlines()) if note else ""
    return head + tomli_w.dumps(doc)

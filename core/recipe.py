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
    from core.runs.files import FileRefused, PathError, read_regular, safe_text, user_path

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
        doc = _toml().loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except ValueError as e:  # tomllib.TOMLDecodeError
        raise ConfigError(f"{where}: not valid TOML ({safe_text(str(e), 120)})") from None
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):  # [model], [train], ...: groups, not namespaces
            for k, v in value.items():
                _put(flat, k, v, f"{where}: [{safe_text(key, 40)}] {safe_text(k, 40)}")
        else:
            _put(flat, key, value, f"{where}: {safe_text(key, 40)}")
    if "preset" in flat and flat["preset"] not in settings.PRESETS:
        raise ConfigError(f"{where}: preset must be one of {', '.join(settings.PRESETS)}, got {flat['preset']!r}")
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


def _put(flat: dict[str, Any], key: str, value: Any, where: str) -> None:
    if key == "preset":
        if not isinstance(value, str) or value not in settings.PRESETS:
            raise ConfigError(f"{where}: preset must be one of {', '.join(settings.PRESETS)}, got {value!r}")
        flat["preset"] = value
        return
    name = settings.canonical(key)
    s = settings.BY_NAME.get(name)
    if s is None or not s.cli and s.name != "temperature":
        raise ConfigError(f"{where}: unknown setting; the settings are {', '.join(settings.BY_NAME)}")
    if s.value_type == "float" and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)  # `lr = 1` is a float setting written plainly
        except OverflowError:
            digits = len(str(value))
            too_big = f"{where} must be <= {settings.fmt(s.hi)}, got a {digits}-digit number"
            raise ConfigError(too_big, (name,)) from None
    reason = s.check(value)
    if reason:
        raise ConfigError(f"{where} {reason}, got {value!r}", (name,))
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

"""Effective settings, layered: defaults < SQLite store < TOML file (`--config`) < overrides
(the command-line flags, or `init()`'s arguments).

Everything here is generated from the declared schema in `edgenet_app.core.settings`: the TOML
tables (one per dotted prefix) and the exported file; the flags themselves are made from the
same schema in `cli/settings_flags.py`. A stored value that no longer validates is reported as
a warning and replaced by its default; a bad file or override is an error.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import textwrap
import tomllib
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import tomli_w

from ...core.errors import SettingsError
from ...core.settings import (
    SETTINGS,
    SettingValue,
    defaults,
    describe_allowed,
    format_value,
    from_json,
    get_setting,
    rule_violations,
    to_json,
    validate,
)

__all__ = [
    "EffectiveSettings",
    "SettingsStore",
    "Source",
    "effective_settings",
    "export_toml",
    "load_toml",
    "store_setting",
    "stored_values",
]

log = logging.getLogger(__name__)

Source = Literal["default", "store", "toml", "cli"]
_SOURCE_NAMES: dict[Source, str] = {
    "default": "the default",
    "store": "the store",
    "toml": "the config file",
    "cli": "the command line",
}


class SettingsStore(Protocol):
    """The part of `edgenet_app.runtime.store.store.Store` that settings use."""

    def get_settings(self) -> dict[str, str]: ...
    def put_setting(self, key: str, json_text: str) -> None: ...
    def delete_setting(self, key: str) -> None: ...


@dataclasses.dataclass(frozen=True)
class EffectiveSettings:
    """The value of every setting, the layer it came from, and what was ignored on the way."""

    values: dict[str, SettingValue]
    sources: dict[str, Source]
    warnings: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> SettingValue:
        return self.values[get_setting(key).key]


def stored_values(store: SettingsStore | None) -> tuple[dict[str, SettingValue], list[str]]:
    """The valid values in the store, and a warning for each one that was ignored."""
    values: dict[str, SettingValue] = {}
    warnings: list[str] = []
    known = defaults()
    for key, text in (store.get_settings() if store is not None else {}).items():
        if key not in known:
            warnings.append(f"stored setting {key!r} is not a known setting; ignored")
            continue
        try:
            values[key] = from_json(key, text)
        except SettingsError as exc:
            default = format_value(known[key])
            warnings.append(f"stored setting ignored ({exc}); using the default {default!r}")
    return values, warnings


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, Any], errors: list[str]) -> None:
    keys = defaults()
    for name, value in table.items():
        key = prefix + name
        if key in keys:
            out[key] = value
        elif isinstance(value, dict) and any(k.startswith(key + ".") for k in keys):
            _flatten(value, key + ".", out, errors)
        else:
            try:
                get_setting(key)
            except SettingsError as exc:
                errors.append(str(exc))


def load_toml(path: str | os.PathLike[str]) -> dict[str, SettingValue]:
    """Read a TOML settings file; every problem is reported with the file name and key."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"{name}: cannot read the config file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{name}: not valid TOML: {exc}") from None
    raw: dict[str, Any] = {}
    errors: list[str] = []
    _flatten(data, "", raw, errors)
    values: dict[str, SettingValue] = {}
    for key, value in raw.items():
        try:
            values[key] = validate(key, value)
        except SettingsError as exc:
            errors.append(str(exc))
    if len(errors) == 1:
        raise SettingsError(f"{name}: {errors[0]}")
    if errors:
        raise SettingsError(f"{name}: {len(errors)} problems:\n  " + "\n  ".join(errors))
    return values


def export_toml(values: Mapping[str, SettingValue]) -> str:
    """`values` as a commented TOML file that `load_toml` (and `--config`) reads back."""
    checked = {key: validate(key, value) for key, value in values.items()}
    groups: dict[str, list[str]] = {"general": []}
    for s in SETTINGS:
        if s.key in checked:
            lines = groups.setdefault(s.group, [])
            comment = f"{s.help} Allowed: {describe_allowed(s)}."
            lines += ["# " + line for line in textwrap.wrap(comment, 96)]
            lines.append(tomli_w.dumps({s.name: checked[s.key]}).rstrip("\n"))
    out = ["# edgenet settings; use with `edgenet --config FILE`."]
    for group, lines in groups.items():
        if lines:
            out += ["", *([f"[{group}]"] if group != "general" else []), *lines]
    return "\n".join(out) + "\n"


def effective_settings(
    store: SettingsStore | None,
    toml_path: str | os.PathLike[str] | None = None,
    cli_overrides: Mapping[str, SettingValue] | None = None,
) -> EffectiveSettings:
    """Merge the layers; stored values that fail validation fall back to defaults (warned).

    A cross-field rule broken only by stored values is also a warning (its first key falls back
    to the default); one broken by the file or the flags is an error naming the layers.
    """
    values = defaults()
    sources: dict[str, Source] = dict.fromkeys(values, "default")
    stored, warnings = stored_values(store)
    layers: list[tuple[Source, Mapping[str, SettingValue]]] = [("store", stored)]
    if toml_path is not None:
        layers.append(("toml", load_toml(toml_path)))
    if cli_overrides:
        layers.append(("cli", {key: validate(key, v) for key, v in cli_overrides.items()}))
    for source, layer in layers:
        for key, value in layer.items():
            values[key] = value
            sources[key] = source
    for rule, reason in rule_violations(values):
        first = rule.keys[0]
        if any(sources[k] in ("toml", "cli") for k in rule.keys) or sources[first] != "store":
            names = {**_SOURCE_NAMES, "toml": f"the config file {os.fspath(toml_path or '')}"}
            where = ", ".join(f"{k} from {names[sources[k]]}" for k in rule.keys)
            raise SettingsError(f"{reason} [{where}]")
        values[first], sources[first] = get_setting(first).default, "default"
        warnings.append(f"stored setting ignored ({reason}); using the default for {first}")
    for warning in warnings:
        log.warning("%s", warning)
    return EffectiveSettings(values, sources, tuple(warnings))


def store_setting(
    store: SettingsStore, key: str, value: SettingValue | None
) -> tuple[SettingValue, SettingValue]:
    """Persist `value` for `key` (None: delete, back to the default) and return the stored-layer
    (old, new) values. Refused, leaving the store unchanged, if the value is invalid or breaks a
    cross-field rule together with the other stored values."""
    key = get_setting(key).key
    stored, _ = stored_values(store)
    merged = {**defaults(), **stored}
    old = merged[key]
    new = get_setting(key).default if value is None else validate(key, value)
    merged[key] = new
    for rule, reason in rule_violations(merged):
        if key in rule.keys:
            raise SettingsError(reason)
    if value is None:
        store.delete_setting(key)
    else:
        store.put_setting(key, to_json(new))
    return old, new

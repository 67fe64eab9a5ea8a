"""The settings as command-line flags, generated from the declared schema
(`edgenet_app.core.settings`): `idle.min_idle_seconds` -> `--idle-min-idle-seconds`, bools
as `--x/--no-x`. `edgenet node` and `edgenet config list/get` take them; what they give is the
top layer of the effective settings (`runtime/store/config.py`: defaults < store < `--config`
file < these flags)."""

from __future__ import annotations

import argparse

from ..core.errors import SettingsError
from ..core.settings import (
    SETTINGS,
    SettingValue,
    describe_allowed,
    format_value,
    parse_value,
    validate,
)

__all__ = ["add_settings_flags", "flag_name", "overrides_from_args"]


def flag_name(key: str) -> str:
    """The command-line flag of a setting: `idle.min_idle_seconds` -> `--idle-min-idle-seconds`."""
    return "--" + key.replace(".", "-").replace("_", "-")


def _dest(key: str) -> str:
    return "setting__" + key.replace(".", "__")


_METAVARS = {int: "N", float: "FRACTION", str: "TEXT", list: "A,B,..."}


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """Add one flag per declared setting (bools get `--x/--no-x`); values stay as text until
    `overrides_from_args` parses and validates them."""
    group = parser.add_argument_group("settings", "override stored settings for this run")
    for s in SETTINGS:
        default = format_value(s.default) or "none"
        if s.type is bool:
            text = f"{s.help} Default: {default}."
        else:
            default = "all" if s.choices and s.default == s.choices else default
            text = f"{s.help} Allowed: {describe_allowed(s)}; default {default}."
        text = text.replace("%", "%%")
        if s.type is bool:
            group.add_argument(
                flag_name(s.key),
                dest=_dest(s.key),
                action=argparse.BooleanOptionalAction,
                default=None,
                help=text,
            )
        else:
            group.add_argument(
                flag_name(s.key), dest=_dest(s.key), metavar=_METAVARS[s.type], help=text
            )


def overrides_from_args(args: argparse.Namespace) -> dict[str, SettingValue]:
    """The settings the user gave as flags, parsed and validated ({} for a command that takes
    no settings flags)."""
    out: dict[str, SettingValue] = {}
    for s in SETTINGS:
        raw = getattr(args, _dest(s.key), None)
        if raw is None:
            continue
        try:
            out[s.key] = validate(s.key, raw) if s.type is bool else parse_value(s.key, raw)
        except SettingsError as exc:
            raise SettingsError(f"{flag_name(s.key)}: {exc}") from None
    return out

"""The settings as command-line flags (`cli/settings_flags.py`): one per declared setting,
with its allowed values in the help, parsed and validated into overrides."""

from __future__ import annotations

import argparse

import pytest

from edgenet_app.cli.settings_flags import add_settings_flags, flag_name, overrides_from_args
from edgenet_app.core.errors import SettingsError
from edgenet_app.core.settings import SETTINGS


def flags_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgenet node")
    add_settings_flags(parser)
    return parser


def test_flag_names() -> None:
    assert flag_name("cpu_limit") == "--cpu-limit"
    assert flag_name("idle.min_idle_seconds") == "--idle-min-idle-seconds"
    help_text = flags_parser().format_help()
    for s in SETTINGS:
        assert flag_name(s.key) in help_text
    assert "--idle-respect-battery, --no-idle-respect-battery" in help_text
    flat = " ".join(help_text.split())
    assert "Allowed: 0.1–1.0 (fraction of the machine); default 0.3." in flat
    assert "Allowed: 0–100 (%); default 50." in flat
    assert "on battery. Default: true." in flat and "custom_wasm; default all." in flat


def test_flags_parse_into_overrides() -> None:
    parser = flags_parser()
    assert overrides_from_args(parser.parse_args([])) == {}
    args = parser.parse_args(
        [
            "--cpu-limit",
            "40%",
            "--idle-min-idle-seconds",
            "120",
            "--no-idle-respect-battery",
            "--idle-work-while-in-use",
            "--task-kinds",
            "embedding,encryption",
            "--network-relays",
            "wss://relay.example.org",
            "--schedule",
            "mon-fri 09:00-17:00",
        ]
    )
    assert overrides_from_args(args) == {
        "cpu_limit": 0.4,
        "idle.min_idle_seconds": 120,
        "idle.respect_battery": False,
        "idle.work_while_in_use": True,
        "task_kinds": ("embedding", "encryption"),
        "network.relays": ("wss://relay.example.org",),
        "schedule": "mon-fri 09:00-17:00",
    }
    with pytest.raises(SettingsError) as exc:
        overrides_from_args(parser.parse_args(["--cpu-limit", "1.5"]))
    assert str(exc.value).startswith("--cpu-limit: cpu_limit: 1.5 is out of range")
    assert "0.1–1.0" in str(exc.value)

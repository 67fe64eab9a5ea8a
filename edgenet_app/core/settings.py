"""The one declared settings schema.

`SETTINGS` lists every user setting once: key, type, default, bounds, label and help. The
same declarations drive validation (`validate`, `validate_all`), persistence (`to_json`,
`from_json`), command-line text (`parse_value`, `format_value`), the TOML file and CLI flags
(`edgenet_app.runtime.store.config`) and the settings dialog (`describe`).

Types are `bool`, `int`, `float`, `str` and `list` (a list of strings). Values are
normalised: ints given for floats become floats, lists become tuples of strings. For lists,
`min`/`max` bound the number of items, `choices` and `validator` apply to each item, and
duplicates are refused. A validator raises `ValueError` with the reason.

The schedule grammar lives in `edgenet_app.core.schedule`; `parse_schedule` and `Schedule` are
re-exported here.

Pure logic: no I/O, no clocks. Every rejection is a `SettingsError` naming the key and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import SettingsError
from .schedule import Schedule, parse_schedule

__all__ = [
    "RULES",
    "SETTINGS",
    "Rule",
    "Schedule",
    "Setting",
    "SettingValue",
    "defaults",
    "describe",
    "describe_allowed",
    "format_value",
    "from_json",
    "get_setting",
    "parse_schedule",
    "parse_value",
    "rule_violations",
    "to_json",
    "validate",
    "validate_all",
]

SettingValue = bool | int | float | str | tuple[str, ...]

TASK_KINDS = (
    "vector_insert",
    "vector_search",
    "embedding",
    "semantic_match",
    "neural_inference",
    "encryption",
    "compression",
    "custom_wasm",
)

_TYPE_NAMES: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str", list: "list"}


@dataclasses.dataclass(frozen=True)
class Setting:
    """One declared setting. `allowed` overrides the generated description of valid values."""

    key: str
    type: type
    default: SettingValue
    help: str
    label: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    unit: str | None = None
    validator: Callable[[Any], object] | None = None
    allowed: str | None = None

    @property
    def group(self) -> str:
        """The dialog page / TOML table the setting belongs to ("general" for top-level keys)."""
        return self.key.rpartition(".")[0] or "general"

    @property
    def name(self) -> str:
        """The key without its group prefix."""
        return self.key.rpartition(".")[2]


def _check_relay_url(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError("scheme must be ws:// or wss://")
    if not parts.hostname:
        raise ValueError("no host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError("bad port") from None


_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?")


def _check_ice_url(url: str) -> None:
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("stun", "stuns", "turn", "turns"):
        raise ValueError("scheme must be stun:, stuns:, turn: or turns:")
    if rest.startswith("//"):
        raise ValueError("write stun:host:port, without '//'")
    hostport, qsep, query = rest.partition("?")
    m = _HOST.fullmatch(hostport)
    if m is None:
        raise ValueError("expected host or host:port after the scheme")
    if m.group(2) is not None and not 1 <= int(m.group(2)) <= 65535:
        raise ValueError("port must be 1–65535")
    if qsep and (scheme.startswith("stun") or query not in ("transport=udp", "transport=tcp")):
        raise ValueError("only turn URLs take a query, and only ?transport=udp or ?transport=tcp")


def _check_schedule(text: str) -> None:
    parse_schedule(text)


SETTINGS: tuple[Setting, ...] = (
    Setting("cpu_limit", float, 0.3, "Share of the whole machine task workers may use.",
            "CPU limit", min=0.1, max=1.0, unit="fraction of the machine"),
    Setting("memory_limit_mb", int, 512, "Memory available to task workers.",
            "Memory limit", min=64, max=65536, unit="MB"),
    Setting("bandwidth_limit_kib_s", int, 1024, "Network bandwidth for task traffic.",
            "Bandwidth limit", min=0, max=10_000_000, unit="KiB/s, 0 = unlimited"),
    Setting("task_kinds", list, TASK_KINDS, "Kinds of task this machine accepts.",
            "Task kinds", min=1, max=len(TASK_KINDS), choices=TASK_KINDS),
    Setting("idle.min_idle_seconds", int, 60,
            "Keyboard/mouse idle time before contributing fully.",
            "Idle after", min=0, max=86400, unit="seconds"),
    Setting("idle.work_while_in_use", bool, True,
            "Keep contributing (at the in-use limit) while the computer is in use.",
            "Work while in use"),
    Setting("idle.in_use_cpu_limit", float, 0.1,
            "Share of the machine used while the user is active; at most cpu_limit.",
            "CPU limit while in use", min=0.05, max=1.0, unit="fraction of the machine"),
    Setting("idle.respect_battery", bool, True, "Hold back while running on battery.",
            "Respect battery"),
    Setting("idle.battery_threshold", int, 50,
            "On battery, contribute only above this charge.",
            "Battery threshold", min=0, max=100, unit="%"),
    Setting("idle.max_other_cpu", float, 0.5,
            "Suspend while other programs use more than this share of the machine.",
            "Other programs' CPU limit", min=0.0, max=1.0,
            unit="fraction of the machine, 1.0 = never suspend"),
    Setting("auto_stake", bool, True,
            "Stake 100 credits once available: staked workers earn the bonus and uptime "
            "rewards, and their results can outvote wrong ones.",
            "Stake automatically"),
    Setting("start_at_login", bool, False, "Start edgenet when you log in.",
            "Start at login"),
    Setting("notifications", bool, True,
            "Show notifications of credits earned (at most one every 10 minutes) and of errors.",
            "Notifications"),
    Setting("schedule", str, "always", "When contributing is allowed (local time).",
            "Schedule", validator=_check_schedule,
            allowed="'always', 'never', or windows like 'mon-fri 09:00-17:30, sat 10:00-12:00'"),
    Setting("network.relays", list, (), "Signaling relays (ws:// or wss:// URLs).",
            "Relays", min=0, max=32, validator=_check_relay_url,
            allowed="up to 32 distinct ws:// or wss:// URLs"),
    Setting("network.ice_servers", list, (), "STUN/TURN servers for WebRTC.",
            "ICE servers", min=0, max=32, validator=_check_ice_url,
            allowed="up to 32 distinct stun:, stuns:, turn: or turns: URLs"),
    Setting("network.mdns", bool, True,
            "Find relays on the local network (mDNS) when none is configured or none answers.",
            "Find relays on the LAN"),
)  # fmt: skip

_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Rule:
    """A cross-field rule: `check` returns the reason the values break it, or None."""

    keys: tuple[str, ...]
    check: Callable[[Mapping[str, SettingValue]], str | None]


def _in_use_below_limit(v: Mapping[str, SettingValue]) -> str | None:
    in_use, limit = v["idle.in_use_cpu_limit"], v["cpu_limit"]
    assert isinstance(in_use, float) and isinstance(limit, float)
    if in_use > limit:
        return f"idle.in_use_cpu_limit: {in_use} must not exceed cpu_limit ({limit})"
    return None


RULES: tuple[Rule, ...] = (Rule(("idle.in_use_cpu_limit", "cpu_limit"), _in_use_below_limit),)


def get_setting(key: str) -> Setting:
    """The declaration of `key`; unknown keys are refused with the closest known keys."""
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(key), list(_BY_KEY), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; see `edgenet config list`"
    raise SettingsError(f"unknown setting {key!r}{hint}")


def describe_allowed(setting: Setting) -> str:
    """What `setting` accepts, in words ("0.1–1.0 (fraction of the machine)")."""
    if setting.allowed:
        return setting.allowed
    unit = f" ({setting.unit})" if setting.unit else ""
    if setting.type is bool:
        return "true or false"
    if setting.type in (int, float):
        return f"{setting.min!r}–{setting.max!r}{unit}"
    if setting.type is list:
        items = f"one of {', '.join(setting.choices)}" if setting.choices else "a string"
        size = "a non-empty list" if setting.min else "a list"
        return f"{size} without duplicates, each item {items}"
    return "text"


def _fail(setting: Setting, reason: str) -> SettingsError:
    return SettingsError(f"{setting.key}: {reason}; allowed {describe_allowed(setting)}")


def _show(value: object) -> str:
    return f"{repr(value)[:60]} ({type(value).__name__})"


def validate(key: str, value: object) -> SettingValue:
    """Check `value` for `key` strictly (bool is not a number) and return it normalised."""
    s = get_setting(key)
    if s.type is bool:
        if not isinstance(value, bool):
            raise _fail(s, f"expected true or false, got {_show(value)}")
        return value
    if s.type in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(s, f"expected a number, got {_show(value)}")
        if s.type is int and not isinstance(value, int):
            raise _fail(s, f"expected a whole number, got {value!r}")
        if s.type is float:
            try:
                value = float(value)
            except OverflowError:
                raise _fail(s, f"{value} is out of range") from None
            if not math.isfinite(value):
                raise _fail(s, f"{value} is not a finite number")
        assert s.min is not None and s.max is not None
        if not s.min <= value <= s.max:
            raise _fail(s, f"{value!r} is out of range")
        return value
    if s.type is str:
        if not isinstance(value, str):
            raise _fail(s, f"expected text, got {_show(value)}")
        value = value.strip()
        _run_validator(s, value, "")
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(i, str) for i in value):
        raise _fail(s, f"expected a list of strings, got {_show(value)}")
    items = tuple(i.strip() for i in value)
    if s.min is not None and len(items) < s.min:
        raise _fail(s, "the list is empty" if not items else f"needs at least {s.min!r} items")
    if s.max is not None and len(items) > s.max:
        raise _fail(s, f"{len(items)} items is too many")
    for n, item in enumerate(items, 1):
        if s.choices is not None and item not in s.choices:
            raise _fail(s, f"item {n} {item!r} is not a known choice")
        if item in items[: n - 1]:
            raise _fail(s, f"item {n} {item!r} is a duplicate")
        _run_validator(s, item, f"item {n} ")
    return items


def _run_validator(s: Setting, value: str, where: str) -> None:
    if s.validator is None:
        return
    if len(value) > 2048:
        raise _fail(s, f"{where}is longer than 2048 characters")
    if s.type is list and any(c.isspace() or not c.isprintable() for c in value):
        raise _fail(s, f"{where}{value[:60]!r} contains whitespace or control characters")
    try:
        s.validator(value)
    except ValueError as exc:
        raise _fail(s, f"{where}{value[:60]!r} is not allowed: {exc}") from None


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_INT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_value(key: str, text: str) -> SettingValue:
    """Parse command-line text ("0.5", "30%", "yes", "a,b") for `key` and validate it."""
    s = get_setting(key)
    t = text.strip()
    if s.type in (int, float) and len(t) > 40:
        raise _fail(s, f"{t[:40]!r}... is too long to be a number")
    if s.type is bool:
        if t.lower() in _TRUE:
            return True
        if t.lower() in _FALSE:
            return False
        raise _fail(s, f"{text!r} is not a yes/no value (true/false, yes/no, on/off, 1/0)")
    if s.type is int:
        if s.unit == "%" and t.endswith("%"):
            t = t[:-1].rstrip()
        if not _INT.fullmatch(t):
            raise _fail(s, f"{text!r} is not a whole number")
        return validate(key, int(t))
    if s.type is float:
        percent = t.endswith("%")
        number = t[:-1].strip() if percent else t
        if not _FLOAT.fullmatch(number):
            raise _fail(s, f"{text!r} is not a number")
        return validate(key, float(number) / 100 if percent else float(number))
    if s.type is list:
        if not t:
            return validate(key, ())
        items = [i.strip() for i in t.split(",")]
        for n, item in enumerate(items, 1):
            if not item:
                raise _fail(s, f"item {n} of {text!r} is empty")
        return validate(key, items)
    return validate(key, text)


def format_value(value: SettingValue) -> str:
    """Text for `value` that `parse_value` reads back (lists comma-separated)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def defaults() -> dict[str, SettingValue]:
    """Every key with its declared default."""
    return {s.key: s.default for s in SETTINGS}


def rule_violations(values: Mapping[str, SettingValue]) -> list[tuple[Rule, str]]:
    """The cross-field rules a complete, validated mapping breaks, with reasons."""
    out: list[tuple[Rule, str]] = []
    for rule in RULES:
        reason = rule.check(values)
        if reason is not None:
            out.append((rule, reason))
    return out


def validate_all(values: Mapping[str, object]) -> dict[str, SettingValue]:
    """Validate a (possibly partial) mapping, fill in defaults and apply cross-field rules."""
    out = defaults()
    for key, value in values.items():
        out[key] = validate(key, value)
    broken = rule_violations(out)
    if broken:
        raise SettingsError(broken[0][1])
    return out


def to_json(value: SettingValue) -> str:
    """The JSON text stored for a value."""
    return json.dumps(value, ensure_ascii=False)


def from_json(key: str, text: str) -> SettingValue:
    """Decode and validate a stored JSON value for `key`."""
    s = get_setting(key)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise _fail(s, f"stored value {text[:60]!r} is not valid JSON") from None
    return validate(key, value)


def describe(setting: Setting) -> dict[str, Any]:
    """A JSON-ready description of one setting, for tooling and the settings dialog."""
    return {
        "key": setting.key,
        "group": setting.group,
        "type": _TYPE_NAMES[setting.type],
        "default": list(setting.default) if isinstance(setting.default, tuple) else setting.default,
        "label": setting.label,
        "help": setting.help,
        "min": setting.min,
        "max": setting.max,
        "choices": list(setting.choices) if setting.choices else None,
        "unit": setting.unit,
        "allowed": describe_allowed(setting),
    }

"""The declared settings schema: validation, text and JSON forms."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_schedule import schedule_texts

from edgenet_app.core.errors import SettingsError
from edgenet_app.core.settings import (
    SETTINGS,
    Setting,
    SettingValue,
    defaults,
    describe,
    format_value,
    from_json,
    get_setting,
    parse_value,
    to_json,
    validate,
    validate_all,
)

PROPS = settings(max_examples=200, deadline=None)
KEYS = [s.key for s in SETTINGS]


# --- declarations and defaults -------------------------------------------------------------


def test_every_default_validates_to_itself() -> None:
    for s in SETTINGS:
        assert validate(s.key, s.default) == s.default, s.key
    assert validate_all({}) == defaults()
    assert validate_all(defaults()) == defaults()


def test_declared_keys() -> None:
    assert KEYS == [
        "cpu_limit",
        "memory_limit_mb",
        "bandwidth_limit_kib_s",
        "task_kinds",
        "idle.min_idle_seconds",
        "idle.work_while_in_use",
        "idle.in_use_cpu_limit",
        "idle.respect_battery",
        "idle.battery_threshold",
        "idle.max_other_cpu",
        "auto_stake",
        "start_at_login",
        "notifications",
        "schedule",
        "network.relays",
        "network.ice_servers",
        "network.mdns",
    ]
    assert len(set(KEYS)) == len(KEYS)
    assert get_setting("idle.min_idle_seconds").group == "idle"
    assert get_setting("idle.min_idle_seconds").name == "min_idle_seconds"
    assert get_setting("cpu_limit").group == "general"


def test_describe_is_json_for_tooling() -> None:
    described = json.loads(json.dumps([describe(s) for s in SETTINGS]))
    cpu = described[0]
    assert cpu["key"] == "cpu_limit" and cpu["type"] == "float"
    assert (cpu["min"], cpu["max"], cpu["default"]) == (0.1, 1.0, 0.3)
    assert described[3]["default"] == list(get_setting("task_kinds").choices or ())


def test_unknown_key_suggests_close_matches() -> None:
    with pytest.raises(SettingsError, match=r"unknown setting 'cpu_limt'; did you mean cpu_limit"):
        get_setting("cpu_limt")
    with pytest.raises(SettingsError, match=r"idle\.min_idle_seconds"):
        validate("idle.min_idle_secs", 3)
    with pytest.raises(SettingsError, match="unknown setting 'zzz'"):
        parse_value("zzz", "1")


@pytest.mark.slow
def test_core_settings_imports_no_io_or_qt() -> None:
    code = (
        "import sys, edgenet_app.core.settings\n"
        "bad = {'sqlite3', 'PySide6', 'asyncio', 'aiortc'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- validate ------------------------------------------------------------------------------


def test_out_of_range_message_names_key_range_and_unit() -> None:
    with pytest.raises(SettingsError) as exc:
        validate("cpu_limit", 1.5)
    assert str(exc.value) == (
        "cpu_limit: 1.5 is out of range; allowed 0.1–1.0 (fraction of the machine)"
    )


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("cpu_limit", 0.09, "0.1–1.0"),
        ("cpu_limit", 1.0001, "0.1–1.0"),
        ("memory_limit_mb", 63, "64–65536 (MB)"),
        ("memory_limit_mb", 65537, "64–65536"),
        ("bandwidth_limit_kib_s", -1, "0–10000000"),
        ("bandwidth_limit_kib_s", 10_000_001, "0–10000000"),
        ("idle.min_idle_seconds", 86401, "0–86400 (seconds)"),
        ("idle.in_use_cpu_limit", 0.01, "0.05–1.0"),
        ("idle.battery_threshold", 101, "0–100 (%)"),
        ("idle.battery_threshold", -1, "0–100"),
        ("idle.max_other_cpu", 1.01, "0.0–1.0 (fraction of the machine, 1.0 = never suspend)"),
        ("idle.max_other_cpu", -0.1, "0.0–1.0"),
    ],
)
def test_bounds_rejected(key: str, value: object, allowed: str) -> None:
    with pytest.raises(SettingsError) as exc:
        validate(key, value)
    message = str(exc.value)
    assert message.startswith(f"{key}: ") and "out of range" in message and allowed in message


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("cpu_limit", True, "expected a number"),
        ("cpu_limit", "0.5", "expected a number"),
        ("cpu_limit", math.nan, "not a finite number"),
        ("cpu_limit", math.inf, "not a finite number"),
        ("cpu_limit", 10**400, "out of range"),
        ("memory_limit_mb", 512.0, "expected a whole number"),
        ("memory_limit_mb", False, "expected a number"),
        ("idle.respect_battery", 1, "expected true or false"),
        ("idle.respect_battery", "yes", "expected true or false"),
        ("schedule", ["always"], "expected text"),
        ("task_kinds", "embedding", "expected a list of strings"),
        ("task_kinds", ["embedding", 3], "expected a list of strings"),
        ("network.relays", None, "expected a list of strings"),
    ],
)
def test_types_are_strict(key: str, value: object, why: str) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")) as exc:
        validate(key, value)
    assert why in str(exc.value) and "allowed" in str(exc.value)


def test_ints_become_floats() -> None:
    value = validate("cpu_limit", 1)
    assert value == 1.0 and type(value) is float
    assert validate("idle.respect_battery", False) is False


def test_task_kinds() -> None:
    assert validate("task_kinds", ["encryption", "embedding"]) == ("encryption", "embedding")
    for bad, why in [
        ([], "the list is empty"),
        (["embedding", "embedding"], "item 2 'embedding' is a duplicate"),
        (["embedding", "mining"], "item 2 'mining' is not a known choice"),
    ]:
        with pytest.raises(SettingsError) as exc:
            validate("task_kinds", bad)
        assert str(exc.value).startswith("task_kinds: " + why)
        assert "custom_wasm" in str(exc.value)  # the choices are listed


@pytest.mark.parametrize(
    "url", ["ws://relay.example.org", "wss://relay.example.org:8443/ws?x=1", "ws://127.0.0.1:9"]
)
def test_relay_urls_accepted(url: str) -> None:
    assert validate("network.relays", [url]) == (url,)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://relay.example.org", "scheme must be ws:// or wss://"),
        ("relay.example.org", "scheme"),
        ("wss://", "no host"),
        ("wss://:443/x", "no host"),
        ("ws://relay.example.org:99999", "bad port"),
        ("ws://relay example.org", "whitespace"),
        ("ws://relay.example.org/\x00", "control"),
    ],
)
def test_relay_urls_rejected(url: str, why: str) -> None:
    with pytest.raises(SettingsError, match=r"network\.relays: item 1 .*" + re.escape(why)):
        validate("network.relays", [url])


def test_list_length_limit() -> None:
    urls = [f"wss://r{i}.example.org" for i in range(33)]
    assert validate("network.relays", urls[:32]) == tuple(urls[:32])
    with pytest.raises(SettingsError, match=r"network\.relays: 33 items is too many.*up to 32"):
        validate("network.relays", urls)
    with pytest.raises(SettingsError, match="duplicate"):
        validate("network.relays", [urls[0], urls[0]])


@pytest.mark.parametrize(
    "url",
    [
        "stun:stun.l.google.com:19302",
        "stuns:stun.example.org",
        "turn:turn.example.org:3478?transport=udp",
        "turns:turn.example.org:5349?transport=tcp",
        "stun:[2001:db8::1]:3478",
        "stun:192.0.2.7",
    ],
)
def test_ice_urls_accepted(url: str) -> None:
    assert validate("network.ice_servers", [url]) == (url,)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://stun.example.org", "scheme must be stun:"),
        ("stun://stun.example.org", "without '//'"),
        ("stun:", "expected host"),
        ("stun:host:0", "port must be 1–65535"),
        ("stun:host:99999", "port must be 1–65535"),
        ("stun:host?transport=udp", "only turn URLs take a query"),
        ("turn:host?transport=sctp", "only ?transport=udp"),
        ("turn:bad_host!", "expected host"),
    ],
)
def test_ice_urls_rejected(url: str, why: str) -> None:
    with pytest.raises(SettingsError, match=r"network\.ice_servers: item 1 .*" + re.escape(why)):
        validate("network.ice_servers", [url])


def test_validate_all_cross_field_rule() -> None:
    ok = validate_all({"cpu_limit": 0.2, "idle.in_use_cpu_limit": 0.2})
    assert ok["idle.in_use_cpu_limit"] == ok["cpu_limit"] == 0.2
    with pytest.raises(SettingsError) as exc:
        validate_all({"cpu_limit": 0.2, "idle.in_use_cpu_limit": 0.25})
    assert "idle.in_use_cpu_limit" in str(exc.value) and "cpu_limit (0.2)" in str(exc.value)
    with pytest.raises(SettingsError, match=r"idle\.in_use_cpu_limit"):
        validate_all({"idle.in_use_cpu_limit": 0.5})  # above the default cpu_limit 0.3
    with pytest.raises(SettingsError, match="unknown setting"):
        validate_all({"nope": 1})


# --- parse_value, format_value, JSON --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("cpu_limit", "0.5", 0.5),
        ("cpu_limit", " 1 ", 1.0),
        ("cpu_limit", "30%", 0.3),
        ("cpu_limit", "12.5 %", 0.125),
        ("cpu_limit", ".25", 0.25),
        ("cpu_limit", "5e-1", 0.5),
        ("memory_limit_mb", "2048", 2048),
        ("memory_limit_mb", "+1_024", 1024),
        ("bandwidth_limit_kib_s", "0", 0),
        ("idle.battery_threshold", "80%", 80),
        ("idle.max_other_cpu", "50%", 0.5),
        ("idle.max_other_cpu", "1", 1.0),
        ("idle.respect_battery", "true", True),
        ("idle.respect_battery", "YES", True),
        ("idle.respect_battery", "on", True),
        ("idle.respect_battery", "1", True),
        ("idle.respect_battery", "false", False),
        ("idle.respect_battery", "No", False),
        ("idle.respect_battery", "off", False),
        ("idle.respect_battery", "0", False),
        ("task_kinds", "embedding, encryption", ("embedding", "encryption")),
        ("network.relays", "", ()),
        ("network.relays", "wss://a.example.org,ws://b.example.org:80",
         ("wss://a.example.org", "ws://b.example.org:80")),
        ("schedule", "  mon-fri 09:00-17:00 ", "mon-fri 09:00-17:00"),
    ],
)  # fmt: skip
def test_parse_value(key: str, text: str, expected: SettingValue) -> None:
    value = parse_value(key, text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("key", "text", "why"),
    [
        ("cpu_limit", "150%", "out of range"),
        ("cpu_limit", "half", "'half' is not a number"),
        ("cpu_limit", "nan", "is not a number"),
        ("cpu_limit", "1e999", "not a finite number"),
        ("memory_limit_mb", "1.5", "not a whole number"),
        ("memory_limit_mb", "9" * 5000, "too long to be a number"),
        ("idle.respect_battery", "maybe", "not a yes/no value"),
        ("task_kinds", "", "the list is empty"),
        ("task_kinds", "embedding,,encryption", "item 2 of 'embedding,,encryption' is empty"),
        ("schedule", "weekdays", "unknown day 'weekdays'"),
    ],
)
def test_parse_value_rejects(key: str, text: str, why: str) -> None:
    with pytest.raises(SettingsError) as exc:
        parse_value(key, text)
    assert str(exc.value).startswith(key + ": ") and why in str(exc.value)


def test_format_value_reads_back() -> None:
    for s in SETTINGS:
        assert parse_value(s.key, format_value(s.default)) == s.default


def test_from_json_rejects_with_key() -> None:
    assert from_json("cpu_limit", "0.5") == 0.5
    with pytest.raises(SettingsError, match=r"memory_limit_mb: stored value '\{' is not valid"):
        from_json("memory_limit_mb", "{")
    with pytest.raises(SettingsError, match="memory_limit_mb: expected a whole number"):
        from_json("memory_limit_mb", "512.5")
    with pytest.raises(SettingsError, match=r"cpu_limit: .*not a finite number"):
        from_json("cpu_limit", "NaN")


# --- the schedule setting (the grammar itself: test_schedule.py) ---------------------------


def test_schedule_setting_error_names_key_and_token() -> None:
    with pytest.raises(SettingsError) as exc:
        validate("schedule", "mon-fri 9:00-17:00 xyz")
    assert str(exc.value).startswith("schedule: ")
    assert "'xyz' at column 20: unknown day 'xyz'" in str(exc.value)
    assert "'always', 'never'" in str(exc.value)


# --- properties -----------------------------------------------------------------------------


def _host() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True)


_port = st.none() | st.integers(1, 65535)


def _with_port(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


_relay = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{_with_port(host, port)}{path}",
    st.sampled_from(["ws", "wss"]),
    _host(),
    _port,
    st.sampled_from(["", "/", "/ws", "/relay/v1?x=1"]),
)
_ice = st.builds(
    lambda scheme, host, port, q: (
        f"{scheme}:{_with_port(host, port)}" + (q if scheme.startswith("turn") else "")
    ),
    st.sampled_from(["stun", "stuns", "turn", "turns"]),
    _host(),
    _port,
    st.sampled_from(["", "?transport=udp", "?transport=tcp"]),
)


def _values(s: Setting) -> st.SearchStrategy[Any]:
    if s.type is bool:
        return st.booleans()
    if s.type is int:
        return st.integers(int(s.min or 0), int(s.max or 0))
    if s.type is float:
        return st.floats(s.min, s.max, allow_nan=False) | st.integers(1, 1)
    if s.key == "schedule":
        return schedule_texts()
    if s.key == "task_kinds":
        return st.lists(st.sampled_from(s.choices or ()), min_size=1, unique=True)
    return st.lists(_relay if s.key == "network.relays" else _ice, max_size=32, unique=True)


_valid = st.sampled_from(SETTINGS).flatmap(lambda s: st.tuples(st.just(s.key), _values(s)))


@PROPS
@given(_valid)
def test_json_and_text_round_trip(item: tuple[str, Any]) -> None:
    key, raw = item
    value = validate(key, raw)
    assert validate(key, value) == value
    assert from_json(key, to_json(value)) == value
    assert parse_value(key, format_value(value)) == value


_junk = (
    st.text()
    | st.text(alphabet="monthuwedfrisatsun0123456789:-,;% .e+_ws/")
    | st.sampled_from(
        ["1e999", "-0", "nan", "inf", "[]", "{}", "null", '"x"', "[" * 2000, "1" * 5000]
    )
)


@PROPS
@given(st.sampled_from(KEYS), _junk)
def test_parsing_junk_only_raises_settings_error(key: str, text: str) -> None:
    for parse in (parse_value, from_json):
        try:
            value = parse(key, text)
        except SettingsError:
            continue
        assert validate(key, value) == value


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@PROPS
@given(st.sampled_from(KEYS), _json_like)
def test_validate_junk_only_raises_settings_error(key: str, value: object) -> None:
    try:
        assert validate(key, value) == validate(key, validate(key, value))
    except SettingsError:
        pass

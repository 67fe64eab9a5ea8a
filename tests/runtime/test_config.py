"""Settings layers (defaults < store < TOML < flags) and `edgenet config` (the generated flags
themselves: tests/cli/test_settings_flags.py)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgenet_app.cli import main
from edgenet_app.cli.settings_flags import add_settings_flags, flag_name, overrides_from_args
from edgenet_app.core.errors import SettingsError
from edgenet_app.core.settings import SETTINGS, defaults
from edgenet_app.runtime.store import paths
from edgenet_app.runtime.store.config import (
    effective_settings,
    export_toml,
    load_toml,
    store_setting,
)
from edgenet_app.runtime.store.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store.sqlite3") as s:
        yield s


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- TOML -----------------------------------------------------------------------------------


def test_load_toml_valid(tmp_path: Path) -> None:
    f = write(
        tmp_path / "edgenet.toml",
        """
cpu_limit = 1            # an int is fine for a fraction
task_kinds = ["embedding", "encryption"]
schedule = "mon-fri 09:00-17:30; sun 22:00-02:00"

[idle]
min_idle_seconds = 120
respect_battery = false

[network]
relays = ["wss://relay.example.org/ws"]
ice_servers = ["stun:stun.example.org:3478"]
""",
    )
    assert load_toml(f) == {
        "cpu_limit": 1.0,
        "task_kinds": ("embedding", "encryption"),
        "schedule": "mon-fri 09:00-17:30; sun 22:00-02:00",
        "idle.min_idle_seconds": 120,
        "idle.respect_battery": False,
        "network.relays": ("wss://relay.example.org/ws",),
        "network.ice_servers": ("stun:stun.example.org:3478",),
    }
    assert load_toml(write(tmp_path / "dotted.toml", "idle.battery_threshold = 80\n")) == {
        "idle.battery_threshold": 80
    }


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("cpu_limt = 0.5\n", ["unknown setting 'cpu_limt'", "did you mean cpu_limit"]),
        ("[idle]\nmin_idle_secs = 5\n", ["'idle.min_idle_secs'", "idle.min_idle_seconds"]),
        ("[gpu]\nlimit = 1\n", ["unknown setting 'gpu'"]),
        ("[cpu_limit]\nvalue = 1\n", ["cpu_limit: expected a number", "0.1–1.0"]),
        ('cpu_limit = "high"\n', ["cpu_limit: expected a number, got 'high' (str)", "0.1–1.0"]),
        ("memory_limit_mb = 512.0\n", ["memory_limit_mb: expected a whole number", "64–65536"]),
        ("[idle]\nrespect_battery = 1\n", ["idle.respect_battery: expected true or false"]),
        ("[idle]\nbattery_threshold = 120\n", ["idle.battery_threshold: 120 is out of range"]),
        ('[network]\nrelays = ["http://x"]\n', ["network.relays: item 1 'http://x'", "ws://"]),
        ("cpu_limit = = 1\n", ["not valid TOML", "line 1"]),
        ("cpu_limit = 2\nmemory_limit_mb = 1\n", ["2 problems", "cpu_limit: 2.0", "64–65536"]),
    ],
)
def test_load_toml_rejects_naming_file_and_key(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    f = write(tmp_path / "bad.toml", text)
    with pytest.raises(SettingsError) as exc:
        load_toml(f)
    message = str(exc.value)
    assert message.startswith(f"{f}: ")
    for fragment in fragments:
        assert fragment in message


def test_load_toml_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"missing\.toml: cannot read the config file"):
        load_toml(tmp_path / "missing.toml")


def test_export_toml_reads_back(tmp_path: Path) -> None:
    values = defaults() | {
        "cpu_limit": 0.55,
        "task_kinds": ("custom_wasm",),
        "schedule": "sat, sun",
        "idle.work_while_in_use": False,
        "network.ice_servers": ("turn:turn.example.org:3478?transport=tcp",),
    }
    text = export_toml(values)
    assert "[idle]" in text and "[network]" in text
    assert all(len(line) <= 100 for line in text.splitlines() if line.startswith("#"))
    assert load_toml(write(tmp_path / "out.toml", text)) == values


# --- layers ---------------------------------------------------------------------------------


def test_precedence_defaults_store_toml_cli(store: Store, tmp_path: Path) -> None:
    for key, value in [
        ("cpu_limit", 0.4),
        ("memory_limit_mb", 1024),
        ("idle.battery_threshold", 70),
    ]:
        store_setting(store, key, value)
    f = write(tmp_path / "c.toml", "cpu_limit = 0.5\nmemory_limit_mb = 2048\n")
    eff = effective_settings(store, f, {"cpu_limit": 0.6})
    assert eff.values == defaults() | {
        "cpu_limit": 0.6,
        "memory_limit_mb": 2048,
        "idle.battery_threshold": 70,
    }
    assert eff.sources["cpu_limit"] == "cli"
    assert eff.sources["memory_limit_mb"] == "toml"
    assert eff.sources["idle.battery_threshold"] == "store"
    assert eff.sources["idle.min_idle_seconds"] == "default"
    assert eff["cpu_limit"] == 0.6 and eff.warnings == ()
    # peel the layers off one at a time
    assert effective_settings(store, f).values["cpu_limit"] == 0.5
    assert effective_settings(store).values["cpu_limit"] == 0.4
    assert effective_settings(None).values == defaults()


def test_bad_stored_values_warn_and_fall_back(store: Store) -> None:
    store.put_setting("cpu_limit", "1.5")  # e.g. written when the bounds were wider
    store.put_setting("memory_limit_mb", '"lots"')
    store.put_setting("retired_setting", "1")
    store_setting(store, "idle.min_idle_seconds", 300)
    eff = effective_settings(store)
    assert eff.values == defaults() | {"idle.min_idle_seconds": 300}
    assert eff.sources["cpu_limit"] == "default"
    text = "\n".join(eff.warnings)
    assert len(eff.warnings) == 3
    assert "cpu_limit: 1.5 is out of range" in text and "using the default '0.3'" in text
    assert "memory_limit_mb: expected a number" in text
    assert "'retired_setting' is not a known setting" in text


def test_cross_field_rule_across_layers(store: Store, tmp_path: Path) -> None:
    store_setting(store, "cpu_limit", 0.5)
    store_setting(store, "idle.in_use_cpu_limit", 0.4)
    with pytest.raises(SettingsError) as exc:
        effective_settings(store, cli_overrides={"cpu_limit": 0.3})
    assert "must not exceed cpu_limit (0.3)" in str(exc.value)
    assert "cpu_limit from the command line" in str(exc.value)
    f = write(tmp_path / "c.toml", "[idle]\nin_use_cpu_limit = 0.9\n")
    with pytest.raises(
        SettingsError,
        match=r"in_use_cpu_limit from the config file .*c\.toml, cpu_limit from the store\]",
    ):
        effective_settings(store, f)
    # inconsistent stored values (only possible from outside) are a warning, not a crash
    store.put_setting("idle.in_use_cpu_limit", "0.8")
    eff = effective_settings(store)
    assert eff.values["idle.in_use_cpu_limit"] == 0.1 and eff.values["cpu_limit"] == 0.5
    assert "idle.in_use_cpu_limit" in eff.warnings[0]


def test_store_setting_refuses_and_leaves_store_unchanged(store: Store) -> None:
    assert store_setting(store, "cpu_limit", 0.8) == (0.3, 0.8)
    before = store.get_settings()
    with pytest.raises(SettingsError, match=r"cpu_limit: 2\.0 is out of range"):
        store_setting(store, "cpu_limit", 2.0)
    with pytest.raises(SettingsError, match="must not exceed cpu_limit"):
        store_setting(store, "idle.in_use_cpu_limit", 0.9)
    store_setting(store, "idle.in_use_cpu_limit", 0.5)
    with pytest.raises(SettingsError, match="must not exceed cpu_limit"):
        store_setting(store, "cpu_limit", None)  # the default 0.3 is below 0.5
    assert store.get_settings() == before | {"idle.in_use_cpu_limit": "0.5"}
    assert store_setting(store, "idle.in_use_cpu_limit", None) == (0.5, 0.1)
    assert "idle.in_use_cpu_limit" not in store.get_settings()


# --- `edgenet config` -----------------------------------------------------------------------


def flags_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgenet node")
    add_settings_flags(parser)
    return parser


def run(
    capsys: pytest.CaptureFixture[str], data: Path, *argv: str, config: Path | None = None
) -> tuple[int, str, str]:
    extra = ["--config", str(config)] if config else []
    code = main(["--data-dir", str(data), *extra, "config", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_config_commands_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "get", "cpu_limit") == (0, "0.3\n", "")
    assert not paths.store_path(data).exists()  # reading does not create the store
    assert run(capsys, data, "set", "cpu_limit", "50%")[:2] == (0, "cpu_limit: 0.3 -> 0.5\n")
    assert run(capsys, data, "set", "task_kinds", "embedding,encryption")[0] == 0
    assert run(capsys, data, "set", "idle.respect_battery", "off")[0] == 0
    assert run(capsys, data, "get", "cpu_limit") == (0, "0.5\n", "")
    assert run(capsys, data, "get", "task_kinds", "--json")[1] == '["embedding", "encryption"]\n'

    code, out, _ = run(capsys, data, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["KEY", "VALUE", "DEFAULT", "SOURCE", "HELP"]
    assert lines[1].split()[:4] == ["cpu_limit", "0.5", "0.3", "store"]
    for column in ("VALUE", "DEFAULT", "SOURCE", "HELP"):  # aligned
        at = lines[0].index(column)
        assert all(line[at - 2 : at] == "  " and line[at] != " " for line in lines), column
    listed = json.loads(run(capsys, data, "list", "--json")[1])
    assert [i["key"] for i in listed] == [s.key for s in SETTINGS]
    assert listed[0] == {
        "key": "cpu_limit",
        "value": 0.5,
        "default": 0.3,
        "source": "store",
        "help": SETTINGS[0].help,
    }

    # export, then use the file as --config on an empty data dir: same effective values
    out_file = tmp_path / "exported.toml"
    assert run(capsys, data, "export", "--out", str(out_file))[:2] == (0, f"wrote {out_file}\n")
    assert run(capsys, data, "export")[1] == out_file.read_text(encoding="utf-8")
    fresh = json.loads(run(capsys, tmp_path / "fresh", "list", "--json", config=out_file)[1])
    assert [i["value"] for i in fresh] == [i["value"] for i in listed]
    assert {i["source"] for i in fresh} == {"toml"}

    code, out, _ = run(capsys, data, "unset", "cpu_limit")
    assert (code, out) == (0, "cpu_limit: 0.5 -> 0.3 (default)\n")
    assert run(capsys, data, "unset", "cpu_limit")[1] == (
        "cpu_limit: not stored; already the default (0.3)\n"
    )
    assert run(capsys, data, "get", "cpu_limit")[1] == "0.3\n"
    # a value in --config wins over the store; `set` says so
    out = run(capsys, data, "set", "cpu_limit", "0.2", config=out_file)[1]
    assert out.startswith("cpu_limit: 0.3 -> 0.2\nnote: ") and "takes precedence" in out


def test_config_set_out_of_range(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, tmp_path, "set", "cpu_limit", "0.7")[0] == 0
    code, out, err = run(capsys, tmp_path, "set", "cpu_limit", "2")
    assert code == 1 and out == ""
    assert err.startswith("edgenet: error: cpu_limit: ") and "0.1–1.0" in err
    assert run(capsys, tmp_path, "get", "cpu_limit")[1] == "0.7\n"
    with Store.open(paths.store_path(tmp_path)) as s:
        assert s.get_settings() == {"cpu_limit": "0.7"}


def test_config_errors_and_help(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, tmp_path, "get", "cpu_limt")
    assert code == 1 and "did you mean cpu_limit" in err
    code, _, err = run(capsys, tmp_path, "set", "idle.in_use_cpu_limit", "0.9")
    assert code == 1 and "must not exceed cpu_limit (0.3)" in err
    code, out, _ = run(capsys, tmp_path, "list", config=write(tmp_path / "x.toml", "nope = 1\n"))
    assert code == 1 and out == ""
    code, out, _ = run(capsys, tmp_path)
    assert code == 0 and "usage: edgenet config" in out and "export" in out


# every settings flag with a valid, non-default value, as a user would type it
FLAG_VALUES: dict[str, tuple[str, object]] = {
    "cpu_limit": ("40%", 0.4),
    "memory_limit_mb": ("2048", 2048),
    "bandwidth_limit_kib_s": ("0", 0),
    "task_kinds": ("embedding,encryption", ["embedding", "encryption"]),
    "idle.min_idle_seconds": ("120", 120),
    "idle.work_while_in_use": ("", False),
    "idle.in_use_cpu_limit": ("0.2", 0.2),
    "idle.respect_battery": ("", False),
    "idle.battery_threshold": ("80", 80),
    "idle.max_other_cpu": ("75%", 0.75),
    "auto_stake": ("", False),
    "start_at_login": ("", True),
    "notifications": ("", False),
    "schedule": ("mon-fri 18:00-08:00; sat; sun", "mon-fri 18:00-08:00; sat; sun"),
    "network.relays": ("wss://relay.lab.example:8765", ["wss://relay.lab.example:8765"]),
    "network.ice_servers": ("stun:stun.lab.example", ["stun:stun.lab.example"]),
    "network.mdns": ("", False),
}


def every_flag() -> list[str]:
    argv: list[str] = []
    for s in SETTINGS:
        text, _ = FLAG_VALUES[s.key]
        if s.type is bool:  # the flag that gives the non-default value
            flag = flag_name(s.key)
            argv.append(flag if FLAG_VALUES[s.key][1] else flag.replace("--", "--no-", 1))
        else:
            argv += [flag_name(s.key), text]
    return argv


def test_config_list_and_get_take_every_settings_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert set(FLAG_VALUES) == {s.key for s in SETTINGS}
    data = tmp_path / "data"
    listed = json.loads(run(capsys, data, "list", "--json", *every_flag())[1])
    assert {i["key"]: i["value"] for i in listed} == {k: v for k, (_, v) in FLAG_VALUES.items()}
    assert {i["source"] for i in listed} == {"cli"}
    for s in SETTINGS:
        code, out, err = run(capsys, data, "get", s.key, "--json", *every_flag())
        assert (code, err) == (0, ""), s.key
        assert json.loads(out) == FLAG_VALUES[s.key][1], s.key
    assert not paths.store_path(data).exists()  # previewing writes nothing


def test_config_list_previews_what_a_node_would_use(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "set", "cpu_limit", "0.4")[0] == 0
    assert run(capsys, data, "set", "idle.battery_threshold", "70")[0] == 0
    lab = write(tmp_path / "lab.toml", "cpu_limit = 0.8\nmemory_limit_mb = 2048\n")
    flags = ["--cpu-limit", "0.5", "--no-idle-respect-battery"]

    code, out, err = run(capsys, data, "list", "--json", *flags, config=lab)
    assert (code, err) == (0, "")
    listed = {i["key"]: i for i in json.loads(out)}
    # exactly what the layering gives a node started with --config lab.toml and these flags
    node_args = flags_parser().parse_args(flags)
    with Store.open(paths.store_path(data)) as s:
        node = effective_settings(s, lab, overrides_from_args(node_args))
    assert {k: i["value"] for k, i in listed.items()} == {
        k: list(v) if isinstance(v, tuple) else v for k, v in node.values.items()
    }
    assert {k: i["source"] for k, i in listed.items()} == node.sources
    assert (listed["cpu_limit"]["value"], listed["cpu_limit"]["source"]) == (0.5, "cli")
    assert listed["idle.respect_battery"]["source"] == "cli"
    assert listed["memory_limit_mb"]["source"] == "toml"
    assert listed["idle.battery_threshold"]["source"] == "store"
    assert listed["schedule"]["source"] == "default"

    lines = run(capsys, data, "list", *flags, config=lab)[1].splitlines()
    assert lines[1].split()[:4] == ["cpu_limit", "0.5", "0.3", "cli"]
    respect = next(line for line in lines if line.startswith("idle.respect_battery "))
    assert respect.split()[:4] == ["idle.respect_battery", "false", "true", "cli"]

    assert run(capsys, data, "get", "cpu_limit", "--cpu-limit", "60%", config=lab)[:2] == (
        0,
        "0.6\n",
    )
    assert run(capsys, data, "get", "cpu_limit", config=lab)[1] == "0.8\n"
    assert run(capsys, data, "get", "cpu_limit")[1] == "0.4\n"  # the store is unchanged
    with Store.open(paths.store_path(data)) as s:
        assert s.get_settings() == {"cpu_limit": "0.4", "idle.battery_threshold": "70"}


@pytest.mark.parametrize("action", [["list"], ["list", "--json"], ["get", "cpu_limit"]])
def test_config_preview_rejects_bad_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, action: list[str]
) -> None:
    code, out, err = run(capsys, tmp_path, *action, "--cpu-limit", "2")
    assert (code, out) == (1, "")
    assert err.startswith("edgenet: error: --cpu-limit: cpu_limit: 2.0 is out of range")
    assert "allowed 0.1–1.0 (fraction of the machine)" in err and err.count("\n") == 1
    code, out, err = run(capsys, tmp_path, *action, "--idle-battery-threshold", "120%")
    assert code == 1 and "idle.battery_threshold: 120 is out of range" in err and "0–100" in err
    code, out, err = run(capsys, tmp_path, *action, "--schedule", "weekdays")
    assert code == 1 and "schedule: " in err and "unknown day 'weekdays'" in err
    # a flag that breaks a cross-field rule names the layers involved
    code, out, err = run(capsys, tmp_path, *action, "--idle-in-use-cpu-limit", "0.5")
    assert (code, out) == (1, "")
    assert "must not exceed cpu_limit (0.3)" in err
    assert "idle.in_use_cpu_limit from the command line, cpu_limit from the default" in err
    assert not paths.store_path(tmp_path).exists()


def test_config_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    schema = json.loads(run(capsys, tmp_path, "schema", "--json")[1])
    assert [item["key"] for item in schema] == [s.key for s in SETTINGS]
    assert schema[0]["allowed"] == "0.1–1.0 (fraction of the machine)"
    assert "cpu_limit" in run(capsys, tmp_path, "schema")[1]


@pytest.mark.slow
def test_config_get_subprocess(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "EDGENET_DATA_DIR"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgenet_app",
            "--data-dir",
            str(tmp_path),
            "config",
            "get",
            "cpu_limit",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "0.3\n", "")

"""`runtime/launch.py`: a node's options from the settings layers, and serving it with its
control API (the headless node, `edgenet submit`, the tray app and `api.init` all use it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from edgenet_app.core.errors import NoRelayError, SettingsError
from edgenet_app.runtime.control.client import ControlClient, control_path
from edgenet_app.runtime.control.server import ControlServer
from edgenet_app.runtime.launch import node_options, node_settings, run_node, serve_node
from edgenet_app.runtime.store import paths
from edgenet_app.runtime.store.config import store_setting
from edgenet_app.runtime.store.store import Store


def store(data: Path, **values: Any) -> None:
    with Store.open(paths.store_path(paths.ensure_private_dir(data))) as s:
        for key, value in values.items():
            store_setting(s, key, value)


def test_options_come_from_defaults_store_file_and_overrides_in_that_order(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    store(data, cpu_limit=0.8, memory_limit_mb=1024, auto_stake=False)
    toml = tmp_path / "lab.toml"
    toml.write_text("cpu_limit = 0.6\nmemory_limit_mb = 2048\n", encoding="utf-8")
    options, values = node_options(
        data,
        config_file=toml,
        overrides={"cpu_limit": 0.5},
        relays=("ws://127.0.0.1:9/ws",),
        loopback=True,
        passphrase="secret",
    )
    assert (values["cpu_limit"], values["memory_limit_mb"], values["auto_stake"]) == (
        0.5,
        2048,
        False,
    )
    assert options.policy.cpu_limit == 0.5 and options.limits.memory_mb == 2048
    assert options.auto_stake is False
    assert options.relays == ("ws://127.0.0.1:9/ws",) and options.loopback
    assert options.passphrase == "secret"
    eff = node_settings(data, config_file=toml)
    assert (eff.sources["cpu_limit"], eff.sources["auto_stake"]) == ("toml", "store")


def test_relays_given_win_over_the_setting_and_bad_overrides_are_refused(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    assert node_options(data)[0].relays == ()  # a new data dir: created, with no settings
    assert paths.store_path(data).exists()
    store(data, **{"network.relays": ["wss://relay.example"]})
    assert node_options(data)[0].relays == ("wss://relay.example",)
    assert node_options(data, relays=("ws://other/ws",))[0].relays == ("ws://other/ws",)
    with pytest.raises(SettingsError, match="cpu_limit"):
        node_options(data, overrides={"cpu_limit": 7})


class FakeNode:
    """What serving needs of a node; records the order of events."""

    def __init__(self, data_dir: Path, fail: BaseException | None = None) -> None:
        self.data_dir = data_dir
        self.fail = fail
        self.log: list[str] = []

    async def start(self) -> None:
        self.log.append("start")
        if self.fail is not None:
            raise self.fail

    async def stop(self) -> None:
        self.log.append("stop")
        self.log.append(f"control.json {control_path(self.data_dir).exists()}")

    def stats(self) -> dict[str, Any]:
        return {"node_id": "n", "peers": []}


async def test_run_node_serves_until_told_then_stops_serving_before_the_node(
    tmp_path: Path,
) -> None:
    node = FakeNode(tmp_path)
    stop = asyncio.Event()
    seen: list[ControlServer] = []

    def ready(control: ControlServer) -> None:
        seen.append(control)
        node.log.append("ready")
        found = ControlClient.discover(tmp_path)
        assert found is not None and found.port == control.port
        stop.set()

    await run_node(node, stop.wait, overrides={"cpu_limit": 0.5}, ready=ready)  # type: ignore[arg-type]
    assert node.log == ["start", "ready", "stop", "control.json False"]
    assert seen[0].overrides == {"cpu_limit": 0.5}


async def test_a_node_that_fails_to_start_is_stopped_and_nothing_is_served(
    tmp_path: Path,
) -> None:
    node = FakeNode(tmp_path, NoRelayError("no relay answered"))
    with pytest.raises(NoRelayError):
        async with serve_node(node):  # type: ignore[arg-type]
            raise AssertionError("served a node that did not start")
    assert node.log == ["start", "stop", "control.json False"]

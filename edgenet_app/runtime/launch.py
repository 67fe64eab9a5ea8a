"""Launching a node: its options from the settings layers, and serving it with its control API.

Every way of running a node starts it through here: `edgenet node` (and `--headless`),
`edgenet submit` when no node runs, the tray app's hosted node (app/host.py) and the Python
API's `init`. So they all read the settings alike (defaults < stored settings < `--config`
TOML file < overrides: the command-line flags, or `init()`'s arguments) and all serve and stop
a node alike. Everything comes in as plain values (paths, dicts of settings, keyword flags);
turning a command line into them is the caller's business (cli/).

It sits at the top of `runtime/`, not in one of its rooms, because it joins three of them:
the settings layers (store/config.py), the node (node/) and its control API (control/); none
of those depends on another for this. Importing it is cheap: the node, WebRTC and the HTTP
server load when a function here runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.settings import SettingValue
from .store import paths
from .store.config import EffectiveSettings, effective_settings
from .store.store import Store

if TYPE_CHECKING:
    from .control.server import ControlServer
    from .node import Node, NodeOptions

__all__ = ["node_options", "node_settings", "run_node", "serve_node"]

ConfigFile = str | os.PathLike[str] | None


def node_settings(
    data_dir: Path,
    *,
    config_file: ConfigFile = None,
    overrides: Mapping[str, SettingValue] | None = None,
) -> EffectiveSettings:
    """The effective settings of the node for `data_dir`: defaults < the settings stored there
    < `config_file` < `overrides`. Creates the (private) data dir and its store if needed;
    `SettingsError` if the file or an override is not valid."""
    store = Store.open(paths.store_path(paths.ensure_private_dir(data_dir)))
    try:
        return effective_settings(store, config_file, overrides)
    finally:
        store.close()


def node_options(
    data_dir: Path,
    *,
    config_file: ConfigFile = None,
    overrides: Mapping[str, SettingValue] | None = None,
    relays: tuple[str, ...] = (),
    loopback: bool = False,
    passphrase: str | None = None,
) -> tuple[NodeOptions, dict[str, SettingValue]]:
    """The node's options from its settings (`node_settings`), and those settings' values.

    `relays` given here (`--relay`) win over the `network.relays` setting; `loopback` keeps
    WebRTC on 127.0.0.1; `passphrase` unlocks (or protects a new) key file."""
    from .node import NodeOptions

    values = node_settings(data_dir, config_file=config_file, overrides=overrides).values
    options = NodeOptions.from_settings(
        values, relays=relays, loopback=loopback, passphrase=passphrase
    )
    return options, values


@contextlib.asynccontextmanager
async def serve_node(
    node: Node,
    *,
    config_file: ConfigFile = None,
    overrides: Mapping[str, SettingValue] | None = None,
) -> AsyncIterator[ControlServer]:
    """Start `node` and serve its control API (control.json in its data dir) for the block;
    on the way out stop serving, then stop the node (it hands back the tasks it runs), also
    when starting failed half-way. `config_file` and `overrides` are the ones its options were
    built from, so that the control API shows and stores the node's own settings."""
    from .control.server import ControlServer

    try:
        await node.start()
        control = ControlServer(node, node.data_dir, config_file=config_file, overrides=overrides)
        await control.start()
        try:
            yield control
        finally:
            await control.stop()
    finally:
        await node.stop()


async def run_node(
    node: Node,
    until: Callable[[], Awaitable[object]],
    *,
    config_file: ConfigFile = None,
    overrides: Mapping[str, SettingValue] | None = None,
    ready: Callable[[ControlServer], object] | None = None,
) -> None:
    """Serve `node` (`serve_node`) until `until()` returns, then stop it cleanly. `ready` is
    called with the control server once the node and its control API run."""
    async with serve_node(node, config_file=config_file, overrides=overrides) as control:
        if ready is not None:
            ready(control)
        await until()

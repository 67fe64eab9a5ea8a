"""Where the app's node runs: attached to one already running, or hosted here.

`open_node(args, data_dir)` looks for a node running for the data dir
(`ControlClient.discover`): if there is one (`edgenet node`, `edgenet --headless`), the app
attaches to it and quitting the app leaves it running. Otherwise the app hosts a `Node` in
its own process, on the same asyncio loop as Qt (qasync), started and served exactly as the
headless node is (`node_options` and `run_node` from runtime/launch.py: settings layers,
node, control API), so `edgenet status` and `edgenet submit` work while the app runs. Either
way the UI talks to the node only through a `ControlClient` (`NodeSource`), so both cases run
the same UI code.

A hosted node that cannot start because no relay answers (`NoRelayError`) keeps retrying
(2 s, doubling up to a minute); until it runs, the source refuses every call with the reason,
which the window and the menu show as "lost contact with the node". Any other reason it
cannot start is reported once: retrying would not help.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import EdgenetError, NoRelayError
from ..core.notifications import Notification
from ..core.status import NodeHistory, NodeStatus
from ..runtime.control.client import ControlClient, ControlError
from ..runtime.launch import node_options, run_node
from ..runtime.node import Node
from ..runtime.store.networks import load_network
from .source import NodeSource

if TYPE_CHECKING:
    from ..runtime.control.server import ControlServer

log = logging.getLogger(__name__)

RETRY_FIRST_S = 2.0
RETRY_MAX_S = 60.0
STOP_TIMEOUT_S = 20.0


class HostedSource:
    """The `NodeSource` of the hosted node: its ControlClient once it serves; before that,
    every call raises ControlError with the reason (`why`)."""

    def __init__(self) -> None:
        self.client: ControlClient | None = None
        self.why = "the node is starting"

    def _client(self) -> ControlClient:
        if self.client is None:
            raise ControlError(self.why, 503)
        return self.client

    async def status(self) -> NodeStatus:
        return await self._client().status()

    async def history(self, limit: int = 50) -> NodeHistory:
        return await self._client().history(limit)

    async def peers(self) -> list[dict[str, Any]]:
        return await self._client().peers()

    async def pause(self) -> NodeStatus:
        return await self._client().pause()

    async def resume(self) -> NodeStatus:
        return await self._client().resume()

    async def snooze(self, seconds: float) -> NodeStatus:
        return await self._client().snooze(seconds)

    async def finish_then_pause(self) -> NodeStatus:
        return await self._client().finish_then_pause()

    async def settings(self) -> dict[str, Any]:
        return await self._client().settings()

    async def set_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        return await self._client().set_settings(values)

    async def events(self) -> AsyncIterator[Notification]:
        async for event in self._client().events():
            yield event


class NodeHost:
    """Runs the node for `data_dir` and its control API in this process until `stop()`:
    on `network` (a network file; None: the built-in one), with the settings stored in the
    data dir under `config_file`, `relays` (--relay) and `loopback`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        network: str | os.PathLike[str] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        relays: tuple[str, ...] = (),
        loopback: bool = False,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.network = network
        self.config_file = config_file
        self.relays = relays
        self.loopback = loopback
        self.on_error = on_error or (lambda message: None)
        self.source = HostedSource()
        self.node: Node | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stopping.is_set():
            try:
                genesis = load_network(self.network)
                options, _ = node_options(
                    self.data_dir,
                    config_file=self.config_file,
                    relays=self.relays,
                    loopback=self.loopback,
                )
                node = Node(self.data_dir, genesis, options)
                await run_node(
                    node,
                    self._stopping.wait,
                    config_file=self.config_file,
                    ready=functools.partial(self._serving, node),
                )
                return
            except NoRelayError as exc:  # no relay answered: worth retrying
                self._failed(f"the node cannot start: {exc}; retrying in {delay:.0f} s")
            except EdgenetError as exc:  # a bad network file, key or store: retrying won't help
                self._failed(f"the node cannot start: {exc}")
                return
            finally:
                self.node = None
                if self.source.client is not None:
                    await self.source.client.close()
                self.source.client = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def _serving(self, node: Node, control: ControlServer) -> None:
        self.node = node
        self.source.client = control.client()
        log.info("hosting node %s (control port %d)", node.stats().node_id, control.port)

    def _failed(self, message: str) -> None:
        log.warning("%s", message)
        self.source.why = message
        self.on_error(message)

    async def stop(self) -> None:
        """Stop serving and stop the node (it hands back the tasks it runs)."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("the node did not stop within %.0f s", STOP_TIMEOUT_S)
            self._task.cancel()
        except Exception:
            log.exception("stopping the node failed")


def open_node(
    args: argparse.Namespace, data_dir: Path, on_error: Callable[[str], None] | None = None
) -> tuple[NodeSource, NodeHost | None]:
    """The node for the data dir: (its client, None) when one runs already, else a NodeHost
    (not started yet) and its source. `args` is the app's command line (`edgenet app`):
    --network, --relay, --loopback and the global --config."""
    running = ControlClient.discover(data_dir)
    if running is not None:
        log.info("attaching to the node running for %s (pid %s)", data_dir, running.pid)
        return running, None
    host = NodeHost(
        data_dir,
        network=args.network,
        config_file=args.config,
        relays=tuple(args.relay),
        loopback=args.loopback,
        on_error=on_error,
    )
    return host.source, host

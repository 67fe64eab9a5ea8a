"""`edgenet node` (the headless contributor) and `edgenet submit` (run one task).

Neither imports Qt: kiosks, labs and servers run them without a display.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._json import jsonable
from ..core import economics as econ
from ..core.errors import EdgenetError
from ..core.genesis import Genesis
from ..core.settings import SettingValue
from ..core.submit import SubmitRequest
from ..runtime.store import paths
from ..runtime.store.config import add_settings_flags, effective_settings, overrides_from_args
from ..runtime.store.networks import load_network
from ..runtime.store.store import Store
from . import logs
from .io import read_payload, until_stopped
from .network_cmd import add_network_option

if TYPE_CHECKING:
    from ..runtime.control.client import ControlClient
    from ..runtime.control.server import ControlServer
    from ..runtime.node import Node, NodeOptions

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 5.0


def add_node_options(p: argparse.ArgumentParser) -> None:
    """--network, --relay and --loopback: how a node joins its network (node, submit, app)."""
    add_network_option(p)
    p.add_argument(
        "--relay",
        metavar="URL",
        action="append",
        default=[],
        help="relay to use (repeatable; default: the network's and the settings')",
    )
    p.add_argument(
        "--loopback",
        action="store_true",
        help="WebRTC over 127.0.0.1 only (tests and single-machine demos)",
    )


def register(sub: Any) -> None:
    n = sub.add_parser("node", help="run the contributor node without a GUI (headless)")
    add_node_options(n)
    add_settings_flags(n)
    n.set_defaults(func=_node)

    s = sub.add_parser(
        "submit",
        help="submit one task to the network and print its result",
        description="Submit one task and print its result. If a node is running for the data "
        "dir, the task goes through it (its --relay/--loopback/settings apply); otherwise a "
        "short-lived node is started for the task.",
    )
    add_node_options(s)
    s.add_argument("--type", dest="kind", required=True, metavar="KIND", choices=econ.TASK_KINDS)
    s.add_argument("--payload-file", required=True, metavar="FILE")
    s.add_argument("--redundancy", type=int, default=econ.DEFAULT_REDUNDANCY)
    s.add_argument("--priority", choices=("low", "normal", "high"), default="normal")
    s.add_argument("--max-credits", metavar="C", help="refuse if the task could cost more")
    s.add_argument("--timeout", type=float, default=60.0, metavar="S")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_submit)


def node_options(
    args: argparse.Namespace, data_dir: Path
) -> tuple[NodeOptions, dict[str, SettingValue]]:
    """The node's options from the settings layers (store, --config, flags) and --relay and
    --loopback, and the settings flags given (the control API needs them). `edgenet node`,
    `edgenet submit` and the tray app (which hosts a node) all start their node with these."""
    from ..runtime.node import NodeOptions

    overrides = overrides_from_args(args)  # {} for submit, which takes no settings flags
    store = Store.open(paths.store_path(paths.ensure_private_dir(data_dir)))
    try:
        eff = effective_settings(store, args.config, overrides).values
    finally:
        store.close()
    options = NodeOptions.from_settings(eff, relays=tuple(args.relay), loopback=args.loopback)
    return options, overrides


@contextlib.asynccontextmanager
async def serve_node(
    node: Node,
    *,
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, SettingValue] | None = None,
) -> AsyncIterator[ControlServer]:
    """Start `node` and serve its control API (control.json in its data dir) for the block;
    on the way out stop serving, then stop the node (it hands back the tasks it runs), also
    when starting failed half-way. The headless node and the tray app run their node so."""
    from ..runtime.control.server import ControlServer

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


def _print_line(record: dict[str, Any]) -> None:
    print(json.dumps(record, default=jsonable), flush=True)


def _node(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM. Standard output is structured: a "ready" line, one line per
    node notification (`Node.subscribe` plus "t", the wall-clock time), a "stopped" line."""
    from ..runtime.control.client import ControlClient
    from ..runtime.node import Node

    logs.show_progress(args.verbose)
    data_dir = paths.data_dir(args.data_dir)
    running = ControlClient.discover(data_dir)
    if running is not None:
        raise EdgenetError(f"a node is already running for {data_dir} (pid {running.pid})")
    genesis = load_network(args.network)
    options, overrides = node_options(args, data_dir)

    async def main() -> None:
        node = Node(data_dir, genesis, options)
        early: list[dict[str, Any]] = []  # notifications before the "ready" line
        ready = False

        def notify(event: dict[str, Any]) -> None:
            record = {**event, "t": time.time()}
            if ready:
                _print_line(record)
            else:
                early.append(record)

        node.subscribe(notify)
        t0 = time.perf_counter()
        async with serve_node(node, config_file=args.config, overrides=overrides) as control:
            stats = node.stats()
            _print_line(
                {
                    "event": "ready",
                    "node_id": stats["node_id"],
                    "network": genesis.name,
                    "peers": len(stats["peers"]),
                    "control_port": control.port,
                    "ready_s": round(time.perf_counter() - t0, 3),
                }
            )
            for record in early:
                _print_line(record)
            ready = True
            await until_stopped()
        _print_line({"event": "stopped", "node_id": stats["node_id"]})

    asyncio.run(main())
    return 0


async def _flushed(node: Node, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
    """Wait (bounded) until a peer link is open and every open link has handed its queued
    frames, the settlement events `submit` published among them, to the network."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        links = [link for link in node.mesh.hub.links.values() if link.open] if node.mesh else []
        if links and all(link.channel.bufferedAmount == 0 for link in links):
            return True
        await asyncio.sleep(0.02)
    return False


def _submit(args: argparse.Namespace) -> int:
    from ..runtime.control.client import ControlClient

    if not 1 <= args.redundancy <= 7:
        raise EdgenetError(f"--redundancy {args.redundancy}: allowed 1–7")
    try:
        max_credits = econ.parse_credits(args.max_credits) if args.max_credits else None
    except ValueError as exc:
        raise EdgenetError(f"--max-credits: {exc}") from None
    payload = read_payload(args.payload_file)
    data_dir = paths.data_dir(args.data_dir)
    genesis = load_network(args.network)
    client = ControlClient.discover(data_dir)
    if client is not None:
        result = _submit_through(client, args, payload, genesis, data_dir)
    else:
        result = asyncio.run(_submit_alone(args, payload, max_credits, genesis, data_dir))
    if args.json:
        print(json.dumps(result, default=jsonable))
    else:
        print(json.dumps(result["result"], indent=2, default=jsonable))
        print(
            f"{'verified' if result['verified'] else 'NOT verified'} by "
            f"{len(result['workers'])} worker(s); cost {result['cost']} credits",
            file=sys.stderr,
        )
    return 0 if result["verified"] else 3


def _submit_through(
    client: ControlClient, args: argparse.Namespace, payload: Any, genesis: Genesis, data_dir: Path
) -> dict[str, Any]:
    """Submit through the node already running for the data dir (it pays, its peers work)."""
    status = client.sync(client.status())
    if status.get("network_id") != genesis.network_id.hex():
        raise EdgenetError(
            f"the node running for {data_dir} is on network {status.get('network')!r}, not "
            f"{genesis.name!r} ({genesis.network_id.hex()[:16]}…); stop it or use another "
            "--data-dir"
        )
    return client.sync(
        client.submit(
            args.kind,
            payload,
            redundancy=args.redundancy,
            priority=args.priority,
            max_credits=args.max_credits,
            timeout_s=args.timeout,
        )
    )


async def _submit_alone(
    args: argparse.Namespace,
    payload: Any,
    max_credits: int | None,
    genesis: Genesis,
    data_dir: Path,
) -> dict[str, Any]:
    """Start a short-lived node, submit, and stay until the settlements have been sent."""
    from ..runtime.node import Node

    options, _ = node_options(args, data_dir)
    # it stops right after its task: a spot-check would be cut short, wasting workers' time
    node = Node(data_dir, genesis, dataclasses.replace(options, spot_check_rate=0.0))
    await node.start()
    try:
        deadline = time.monotonic() + min(args.timeout, 30)
        while len(node.stats()["peers"]) < args.redundancy and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        out = await node.submit(
            SubmitRequest(
                args.kind,
                payload,
                redundancy=args.redundancy,
                priority=args.priority,
                timeout_s=args.timeout,
                max_credits=max_credits,
            )
        )
        if out.workers and not await _flushed(node):
            log.warning("the settlements may not have reached the workers yet")
        return out.as_dict()
    finally:
        await node.stop()

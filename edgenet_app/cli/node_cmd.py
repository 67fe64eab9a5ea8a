"""`edgenet node` (the headless contributor) and `edgenet submit` (run one task).

Neither imports Qt: kiosks, labs and servers run them without a display. Both turn their
command line into plain values and start their node through `runtime/launch.py`, as the tray
app and the Python API do; `submit` checks its flags against `SubmitRequest` before any node
is involved.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._json import jsonable
from ..core import economics as econ
from ..core import notifications as notes
from ..core.errors import EdgenetError, RequestError
from ..core.genesis import Genesis
from ..core.notifications import Notification
from ..core.submit import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S, MIN_TIMEOUT_S, SubmitRequest
from ..core.taskmsg import MAX_REDUNDANCY
from ..runtime.launch import node_options, run_node
from ..runtime.store import paths
from ..runtime.store.networks import load_network
from . import logs
from .io import read_payload, until_stopped
from .network_cmd import add_network_option
from .settings_flags import add_settings_flags, overrides_from_args

if TYPE_CHECKING:
    from ..runtime.control.client import ControlClient
    from ..runtime.control.server import ControlServer
    from ..runtime.node import Node

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
    s.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_submit)


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
    overrides = overrides_from_args(args)
    options, _ = node_options(
        data_dir,
        config_file=args.config,
        overrides=overrides,
        relays=tuple(args.relay),
        loopback=args.loopback,
    )

    async def main() -> None:
        node = Node(data_dir, genesis, options)
        early: list[dict[str, Any]] = []  # notifications before the "ready" line
        ready = False
        node_id = ""

        def notify(note: Notification) -> None:
            record = {**notes.to_json(note), "t": time.time()}
            if ready:
                _print_line(record)
            else:
                early.append(record)

        def announce(control: ControlServer) -> None:
            nonlocal ready, node_id
            stats = node.stats()
            node_id = stats.node_id or ""
            _print_line(
                {
                    "event": "ready",
                    "node_id": stats.node_id,
                    "network": genesis.name,
                    "peers": len(stats.peers),
                    "control_port": control.port,
                    "ready_s": round(time.perf_counter() - t0, 3),
                }
            )
            for record in early:
                _print_line(record)
            ready = True

        node.subscribe(notify)
        t0 = time.perf_counter()
        await run_node(
            node, until_stopped, config_file=args.config, overrides=overrides, ready=announce
        )
        _print_line({"event": "stopped", "node_id": node_id})

    asyncio.run(main())
    return 0


async def _flushed(node: Node, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
    """Wait (bounded) until a peer link is open and every open link has handed its queued
    frames, the settlement events `submit` published among them, to the network."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        links = node.mesh.open_links() if node.mesh else []
        if links and all(link.channel.bufferedAmount == 0 for link in links):
            return True
        await asyncio.sleep(0.02)
    return False


def _submit_request(args: argparse.Namespace) -> SubmitRequest:
    """The task the flags describe, checked by `SubmitRequest` (the rules every entry point
    shares) before the payload is read (it may be standard input) or any node is involved;
    a refusal names the flag. The payload is filled in afterwards."""
    try:
        max_credits = econ.parse_credits(args.max_credits) if args.max_credits else None
    except ValueError as exc:
        raise EdgenetError(f"--max-credits: {exc}") from None
    try:
        return SubmitRequest(
            args.kind,
            None,
            redundancy=args.redundancy,
            priority=args.priority,
            timeout_s=args.timeout,
            max_credits=max_credits,
        )
    except RequestError as exc:
        if exc.field == "redundancy":
            raise EdgenetError(
                f"--redundancy {args.redundancy}: allowed 1–{MAX_REDUNDANCY}"
            ) from None
        if exc.field == "timeout":
            raise EdgenetError(
                f"--timeout {args.timeout:g}: out of range; allowed "
                f"{MIN_TIMEOUT_S:g}–{MAX_TIMEOUT_S:g} s"
            ) from None
        flag = {"type": "--type"}.get(exc.field, "--" + exc.field.replace("_", "-"))
        raise EdgenetError(f"{flag}: {exc.reason}") from None


def _submit(args: argparse.Namespace) -> int:
    from ..runtime.control.client import ControlClient

    request = _submit_request(args)
    request = dataclasses.replace(request, payload=read_payload(args.payload_file))
    data_dir = paths.data_dir(args.data_dir)
    genesis = load_network(args.network)
    client = ControlClient.discover(data_dir)
    if client is not None:
        result = _submit_through(client, request, args.max_credits, genesis, data_dir)
    else:
        result = asyncio.run(_submit_alone(args, request, genesis, data_dir))
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
    client: ControlClient,
    request: SubmitRequest,
    max_credits: str | None,
    genesis: Genesis,
    data_dir: Path,
) -> dict[str, Any]:
    """Submit through the node already running for the data dir (it pays, its peers work);
    `max_credits` as given (the control API takes the decimal text)."""
    status = client.sync(client.status())
    if status.network_id != genesis.network_id.hex():
        raise EdgenetError(
            f"the node running for {data_dir} is on network {status.network!r}, not "
            f"{genesis.name!r} ({genesis.network_id.hex()[:16]}…); stop it or use another "
            "--data-dir"
        )
    return client.sync(
        client.submit(
            request.kind,
            request.payload,
            redundancy=request.redundancy,
            priority=request.priority,
            max_credits=max_credits,
            timeout_s=request.timeout_s,
        )
    )


async def _submit_alone(
    args: argparse.Namespace, request: SubmitRequest, genesis: Genesis, data_dir: Path
) -> dict[str, Any]:
    """Start a short-lived node, submit, and stay until the settlements have been sent."""
    from ..runtime.node import Node

    options, _ = node_options(
        data_dir, config_file=args.config, relays=tuple(args.relay), loopback=args.loopback
    )
    # it stops right after its task: a spot-check would be cut short, wasting workers' time
    node = Node(data_dir, genesis, dataclasses.replace(options, spot_check_rate=0.0))
    await node.start()
    try:
        deadline = time.monotonic() + min(request.timeout_s, 30)
        while len(node.stats().peers) < request.redundancy and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        out = await node.submit(request)
        if out.workers and not await _flushed(node):
            log.warning("the settlements may not have reached the workers yet")
        return out.as_dict()
    finally:
        await node.stop()

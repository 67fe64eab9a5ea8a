"""`edgenet node` (the headless contributor) and `edgenet submit` (run one task).

Neither imports Qt: kiosks, labs and servers run them without a display.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from ..core import economics as econ
from ..core.errors import EdgenetError
from ..runtime import paths
from ..runtime.config import add_settings_flags, effective_settings, overrides_from_args
from ..runtime.networks import load_network
from ..runtime.store import Store
from ..tasks.base import Limits
from .io import jsonable, read_payload, until_stopped
from .network_cmd import add_network_option

log = logging.getLogger("edgenet.cli")


def _common(p: argparse.ArgumentParser) -> None:
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
    _common(n)
    add_settings_flags(n)
    n.set_defaults(func=_node)

    s = sub.add_parser("submit", help="submit one task to the network and print its result")
    _common(s)
    s.add_argument("--type", dest="kind", required=True, metavar="KIND", choices=econ.TASK_KINDS)
    s.add_argument("--payload-file", required=True, metavar="FILE")
    s.add_argument("--redundancy", type=int, default=econ.DEFAULT_REDUNDANCY)
    s.add_argument("--priority", choices=("low", "normal", "high"), default="normal")
    s.add_argument("--max-credits", metavar="C", help="refuse if the task could cost more")
    s.add_argument("--timeout", type=float, default=60.0, metavar="S")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_submit)


def _options(args: argparse.Namespace, data_dir: Path) -> Any:
    from ..runtime.node import NodeOptions

    store = Store.open(paths.store_path(paths.ensure_private_dir(data_dir)))
    try:
        overrides = overrides_from_args(args) if hasattr(args, "cpu_limit") else {}
        eff = effective_settings(store, args.config, overrides).values
    finally:
        store.close()
    relays = tuple(args.relay) or tuple(eff["network.relays"])  # type: ignore[arg-type]
    return NodeOptions(
        relays=relays,
        cpu_limit=float(eff["cpu_limit"]),  # type: ignore[arg-type]
        kinds=tuple(eff["task_kinds"]),  # type: ignore[arg-type]
        ice_servers=tuple(eff["network.ice_servers"]),  # type: ignore[arg-type]
        loopback=args.loopback,
        limits=Limits(memory_mb=int(eff["memory_limit_mb"])),  # type: ignore[arg-type]
    )


def _node(args: argparse.Namespace) -> int:
    from ..runtime.node import Node

    logging.getLogger("edgenet").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    data_dir = paths.data_dir(args.data_dir)
    genesis = load_network(args.network)
    options = _options(args, data_dir)

    async def main() -> None:
        node = Node(data_dir, genesis, options)
        t0 = time.perf_counter()
        await node.start()
        stats = node.stats()
        print(
            json.dumps(
                {
                    "event": "ready",
                    "node_id": stats["node_id"],
                    "network": genesis.name,
                    "peers": len(stats["peers"]),
                    "ready_s": round(time.perf_counter() - t0, 3),
                }
            ),
            flush=True,
        )
        await until_stopped()
        await node.stop()
        print(json.dumps({"event": "stopped", "node_id": stats["node_id"]}), flush=True)

    asyncio.run(main())
    return 0


def _submit(args: argparse.Namespace) -> int:
    from ..runtime.node import Node

    if not 1 <= args.redundancy <= 7:
        raise EdgenetError(f"--redundancy {args.redundancy}: allowed 1–7")
    max_credits = econ.parse_credits(args.max_credits) if args.max_credits else None
    payload = read_payload(args.payload_file)
    data_dir = paths.data_dir(args.data_dir)
    genesis = load_network(args.network)
    options = _options(args, data_dir)

    async def main() -> dict[str, Any]:
        node = Node(data_dir, genesis, options)
        await node.start()
        try:
            deadline = time.monotonic() + min(args.timeout, 30)
            while len(node.stats()["peers"]) < args.redundancy and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            out = await node.submit(
                args.kind,
                payload,
                redundancy=args.redundancy,
                priority=args.priority,
                timeout_s=args.timeout,
                max_credits=max_credits,
            )
            await asyncio.sleep(0.5)  # let the settlement reach the peers
            return out.as_dict()
        finally:
            await node.stop()

    result = asyncio.run(main())
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

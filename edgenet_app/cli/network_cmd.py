"""`edgenet network create | show`: genesis documents that define a network."""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path
from typing import Any

from ..core import economics as econ
from ..core.errors import EdgenetError, SchemaError
from ..core.genesis import Genesis
from ..core.identity import is_node_id
from ..runtime.store import keystore, paths
from ..runtime.store.networks import load_network, write_network


class UsageError(EdgenetError):
    pass


def add_network_option(p: argparse.ArgumentParser) -> None:
    """The `--network FILE` option every command that joins a network takes."""
    p.add_argument(
        "--network",
        metavar="FILE",
        type=Path,
        help="genesis file of the network to join (default: the built-in 'edgenet' network)",
    )


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "network",
        help="create or inspect a network definition (genesis file)",
        description="A network is defined by a genesis document signed by its creator.",
    )

    def show_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 0

    p.set_defaults(func=show_help)
    cmds = p.add_subparsers(dest="network_command", metavar="SUBCOMMAND")

    c = cmds.add_parser("create", help="create and sign a new network with this identity")
    c.add_argument("--out", metavar="FILE", type=Path, required=True, help="genesis file to write")
    c.add_argument("--name", default="edgenet-private", help="network name (default: %(default)s)")
    c.add_argument(
        "--grant",
        metavar="NODE_ID=CREDITS",
        action="append",
        default=[],
        help="initial credits for a node (repeatable)",
    )
    c.add_argument("--relay", metavar="URL", action="append", default=[], help="ws:// or wss://")
    c.add_argument("--ice", metavar="URL", action="append", default=[], help="stun: or turn: URL")
    c.add_argument("--force", action="store_true", help="replace an existing --out file")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--passphrase-file", metavar="FILE", type=Path, help="identity passphrase")
    c.set_defaults(func=_create)

    s = cmds.add_parser("show", help="show a network definition")
    add_network_option(s)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=_show)


def _parse_grants(items: list[str]) -> tuple[tuple[str, int], ...]:
    out = []
    for item in items:
        node, sep, amount = item.partition("=")
        if not sep or not is_node_id(node.strip()):
            raise UsageError(f"--grant {item!r}: expected NODE_ID=CREDITS with a 24-char node id")
        try:
            micro = econ.parse_credits(amount.strip())
        except ValueError as exc:
            raise UsageError(f"--grant {item!r}: {exc}") from None
        if micro <= 0:
            raise UsageError(f"--grant {item!r}: credits must be more than 0")
        out.append((node.strip(), micro))
    return tuple(out)


def describe(genesis: Genesis) -> dict[str, Any]:
    body = genesis.body
    return {
        "network_id": genesis.network_id.hex(),
        "name": body.name,
        "created": datetime.datetime.fromtimestamp(body.created_ms / 1000, datetime.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "creator": body.creator.hex(),
        "relays": list(body.relays),
        "ice_servers": list(body.ice_servers),
        "grants": {g.node_id: econ.format_credits(g.amount) for g in body.grants},
    }


def _print(genesis: Genesis, as_json: bool) -> None:
    info = describe(genesis)
    if as_json:
        print(json.dumps(info, indent=2))
        return
    print(f"network   {info['name']}  ({info['network_id'][:16]}…)")
    print(f"created   {info['created']}")
    print(f"relays    {', '.join(info['relays']) or '(none: LAN discovery and settings)'}")
    print(f"ICE       {', '.join(info['ice_servers']) or '(none)'}")
    total = econ.format_credits(genesis.total_granted)
    print(f"grants    {len(info['grants'])} node(s), {total} credits in all")
    for node, credits in info["grants"].items():
        print(f"          {node}  {credits}")


def _create(args: argparse.Namespace) -> int:
    grants = _parse_grants(args.grant)
    passphrase = keystore.read_passphrase(file=args.passphrase_file, ask=False, confirm=False)
    creator = keystore.load_identity(paths.data_dir(args.data_dir), passphrase)
    try:
        genesis = Genesis.create(
            creator,
            args.name,
            int(time.time() * 1000),
            relays=tuple(args.relay),
            ice_servers=tuple(args.ice),
            grants=grants,
        )
    except SchemaError as exc:
        raise UsageError(f"invalid network definition: {exc}") from None
    write_network(genesis, args.out, force=args.force)
    if not args.json:
        print(f"wrote {args.out}")
    _print(genesis, args.json)
    return 0


def _show(args: argparse.Namespace) -> int:
    _print(load_network(args.network), args.json)
    return 0

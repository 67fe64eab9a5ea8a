"""The `edgenet` command line. Each sub-command group lives in its own module and
registers itself with `register(subparsers)`; handlers take the parsed arguments and
return an exit code. Errors edgenet raises on purpose are printed as one clear line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .._version import __version__
from ..core.errors import EdgenetError

log = logging.getLogger("edgenet")


def build_parser() -> argparse.ArgumentParser:
    from . import (
        config_cmd,
        demo_cmd,
        identity_cmd,
        ledger_cmd,
        network_cmd,
        node_cmd,
        relay_cmd,
        tasks_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="edgenet",
        description="Lend idle CPU to a peer-to-peer compute network and earn credits.",
    )
    parser.add_argument("--version", action="version", version=f"edgenet {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where keys, ledger and settings live (default: the platform data dir, "
        "or $EDGENET_DATA_DIR)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="TOML settings file for headless deployments"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    identity_cmd.register(sub)
    network_cmd.register(sub)
    config_cmd.register(sub)
    tasks_cmd.register(sub)
    relay_cmd.register(sub)
    ledger_cmd.register(sub)
    node_cmd.register(sub)
    demo_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        code: int = handler(args)
    except EdgenetError as exc:
        print(f"edgenet: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `edgenet ... | head`
        sys.stderr.close()
        return 0
    return code

"""The `edgenet` command line. Each sub-command group lives in its own module and
registers itself with `register(subparsers)`; handlers take the parsed arguments and
return an exit code. Errors edgenet raises on purpose are printed as one clear line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from ..core.errors import EdgenetError
from . import logs


def build_parser() -> argparse.ArgumentParser:
    from . import (
        app_cmd,
        config_cmd,
        demo_cmd,
        identity_cmd,
        ledger_cmd,
        network_cmd,
        node_cmd,
        relay_cmd,
        status_cmd,
        tasks_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="edgenet",
        description="Lend idle CPU to a peer-to-peer compute network and earn credits. "
        "With no command, edgenet starts the tray app (`edgenet app`).",
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
    parser.add_argument(
        "--headless",
        action="store_true",
        help="run the contributor node without a GUI: the same as `edgenet node`, and takes "
        "all of its options (edgenet --headless --relay URL --cpu-limit 0.5 ...)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    identity_cmd.register(sub)
    network_cmd.register(sub)
    config_cmd.register(sub)
    tasks_cmd.register(sub)
    relay_cmd.register(sub)
    ledger_cmd.register(sub)
    node_cmd.register(sub)
    status_cmd.register(sub)
    demo_cmd.register(sub)
    app_cmd.register(sub)
    return parser


_GLOBAL_WITH_VALUE = ("--data-dir", "--config")
_GLOBAL_FLAGS = ("-v", "--verbose")


def _global_option(args: list[str], i: int) -> int:
    """How many tokens the global option at `args[i]` takes (0: it is not one)."""
    if args[i] in _GLOBAL_WITH_VALUE:
        return 2
    if args[i] in _GLOBAL_FLAGS or args[i].startswith(("--data-dir=", "--config=")):
        return 1
    return 0


def expand_headless(argv: Sequence[str]) -> list[str]:
    """`edgenet [global options] --headless [options]` -> `edgenet [global options] node
    [options]`. Global options given after --headless move in front of `node`."""
    args, i = list(argv), 0
    while i < len(args) and args[i] != "--headless":
        step = _global_option(args, i)
        if not step:  # a command comes first: nothing to expand
            return args
        i += step
    if i == len(args):
        return args
    return _insert_command(args, i, "node", drop=1)


def expand_app(argv: Sequence[str]) -> list[str]:
    """No command -> the tray app: `edgenet [global options] [app options]` -> `edgenet
    [global options] app [app options]`. Help and --version stay where they are."""
    args, i = list(argv), 0
    while i < len(args):
        step = _global_option(args, i)
        if not step:
            break
        i += step
    if i < len(args) and (args[i] in ("-h", "--help", "--version") or args[i][:1] != "-"):
        return args  # help, version, or a command
    return _insert_command(args, i, "app", drop=0)


def _insert_command(args: list[str], i: int, command: str, *, drop: int) -> list[str]:
    """Put `command` at `args[i]` (replacing `drop` tokens there); global options given after
    it move in front of it."""
    front, tail, j = args[:i], args[i + drop :], 0
    rest: list[str] = []
    while j < len(tail):
        step = _global_option(tail, j)
        (front if step else rest).extend(tail[j : j + max(step, 1)])
        j += max(step, 1)
    return [*front, command, *rest]


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as the `edgenet` program (not called from a test or a library)
        from ..runtime.net import no_media

        no_media.install()  # data channels only: ~17 MB less in every node and the app
    parser = build_parser()
    args = parser.parse_args(expand_app(expand_headless(sys.argv[1:] if argv is None else argv)))
    logs.configure(args.verbose)
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

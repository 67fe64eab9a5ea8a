"""`edgenet app`: the tray app, which is what `edgenet` with no command runs.

Only the options live here; the Qt code is imported when the command runs, so that
`edgenet --headless`, `node` and the other commands never load PySide6.
"""

from __future__ import annotations

import argparse
from typing import Any

from .node_cmd import add_node_options


def register(sub: Any) -> None:
    p = sub.add_parser(
        "app",
        help="the tray app (what `edgenet` with no command runs)",
        description="The desktop app: a tray icon (or a window where the desktop has no tray) "
        "over the node for the data dir. It attaches to a node already running for that data "
        "dir, or else runs one itself and serves its control API. One app per data dir: a "
        "second one raises the first one's window and exits.",
    )
    add_node_options(p)
    p.add_argument(
        "--minimized",
        action="store_true",
        help="start in the tray without opening the dashboard window (as at login)",
    )
    p.set_defaults(func=_app)


def _app(args: argparse.Namespace) -> int:
    from ..app.main import run_app

    return run_app(args)

"""The core is pure: importing it loads no Qt, WebRTC, HTTP or SQLite module."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import edgenet_app.core

FORBIDDEN = ("PySide6", "aiortc", "aiohttp", "sqlite3", "_sqlite3", "asyncio", "qasync")


def core_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(edgenet_app.core.__path__, "edgenet_app.core.")
    )


def test_core_modules_exist() -> None:
    assert {"edgenet_app.core.ledger", "edgenet_app.core.codec"} <= set(core_modules())


@pytest.mark.slow
def test_importing_core_loads_no_io_or_gui_module() -> None:
    mods = ["edgenet_app.core", *core_modules()]
    code = (
        "import sys\n"
        f"for m in {mods!r}: __import__(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported: {out.stdout.strip()}"


@pytest.mark.slow
def test_headless_commands_load_no_gui_module() -> None:
    """`edgenet --headless`, `node`, `status` and the control API run without Qt."""
    code = (
        "import sys\n"
        "from edgenet_app.cli import build_parser, expand_headless\n"
        "import edgenet_app.cli.node_cmd, edgenet_app.cli.status_cmd\n"
        "import edgenet_app.runtime.control.server, edgenet_app.runtime.control.client\n"
        "args = build_parser().parse_args(expand_headless(['--headless', '--loopback']))\n"
        "assert args.func.__name__ == '_node', args\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'qasync'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"headless imported: {out.stdout.strip()}"

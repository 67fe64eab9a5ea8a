"""The core is pure: importing it loads no Qt, WebRTC, HTTP or SQLite module."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import edgenet_app
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


# -- which layer may import which --------------------------------------------------------------

PACKAGE = Path(edgenet_app.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every edgenet_app module `path` imports (relative imports resolved), at any depth of
    the file: inside functions and TYPE_CHECKING blocks too."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}  # `from . import x`
    return {m for m in found if m.split(".")[0] == "edgenet_app"}


def layer_imports(layer: str) -> dict[str, set[str]]:
    """For each module of `edgenet_app.<layer>`, the other layers it imports."""
    out: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        layers = {m.split(".")[1] for m in imported_modules(path) if m.count(".") >= 1}
        out[str(path.relative_to(PACKAGE))] = layers
    return out


def test_the_import_walk_sees_relative_and_nested_imports() -> None:
    found = imported_modules(PACKAGE / "cli" / "node_cmd.py")
    assert "edgenet_app.runtime.launch" in found  # a relative import at the top
    assert "edgenet_app.runtime.control.client" in found  # one inside a function


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("core", {"runtime", "tasks", "app", "cli", "api"}),
        ("tasks", {"runtime", "app", "cli", "api"}),
        ("runtime", {"app", "cli", "api"}),
        ("app", {"cli"}),
    ],
)
def test_layers_import_only_what_is_below_them(layer: str, forbidden: set[str]) -> None:
    """core < tasks < runtime < app and cli: the tray app starts its node through
    runtime/launch.py, never through the command line's modules."""
    bad = {m: sorted(ls & forbidden) for m, ls in layer_imports(layer).items() if ls & forbidden}
    assert bad == {}


def test_modules_stay_small() -> None:
    """No module over 500 lines, none of the node's services over 400: a module that grows
    past that holds more than one thing and is split by what it holds."""
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert {m: n for m, n in sizes.items() if n > 500} == {}
    node = {m: n for m, n in sizes.items() if m.startswith("runtime/node/") and n > 400}
    assert node == {}

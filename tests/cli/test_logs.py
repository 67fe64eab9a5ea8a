"""One logger hierarchy: every module logs to `getLogger(__name__)`, and the level the command
line sets on `edgenet_app` reaches all of them (the store's and keystore's records included)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import edgenet_app
from edgenet_app.cli import logs

PACKAGE = Path(edgenet_app.__file__).parent

# The logging setup of an `edgenet` command (`configure`; `show_progress` for `edgenet node`,
# the headless node), then a new store is opened: its "migrated" record is INFO, logged by
# edgenet_app.runtime.store.store.
PROBE = """
import sys
from pathlib import Path
from edgenet_app.cli import logs
from edgenet_app.runtime.store.store import Store

logs.configure({verbose})
{progress}
Store.open(Path(sys.argv[1]) / "edgenet.sqlite3").close()
"""


def run_probe(tmp_path: Path, *, verbose: bool, progress: bool) -> str:
    code = PROBE.format(
        verbose=verbose, progress=f"logs.show_progress({verbose})" if progress else ""
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stderr


@pytest.mark.slow
def test_the_headless_node_shows_info_records_of_every_module(tmp_path: Path) -> None:
    err = run_probe(tmp_path, verbose=False, progress=True)
    assert "INFO edgenet_app.runtime.store.store: store " in err
    assert "migrated from version 0" in err


@pytest.mark.slow
def test_short_commands_show_only_warnings(tmp_path: Path) -> None:
    assert "migrated" not in run_probe(tmp_path, verbose=False, progress=False)


@pytest.mark.slow
def test_verbose_shows_everything(tmp_path: Path) -> None:
    err = run_probe(tmp_path, verbose=True, progress=False)
    assert "INFO edgenet_app.runtime.store.store:" in err


def test_the_root_is_the_package() -> None:
    assert logs.ROOT == edgenet_app.__name__


def fixed_logger_names() -> list[str]:
    """`getLogger("...")` calls with a literal name anywhere in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getLogger"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.append(f"{path.relative_to(PACKAGE).as_posix()}: {node.args[0].value!r}")
    return found


def test_every_module_logs_under_its_own_name() -> None:
    assert fixed_logger_names() == []

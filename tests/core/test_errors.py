"""One exception tree: every error edgenet defines derives from `EdgenetError`, so a caller
can catch everything edgenet raises on purpose with one `except`, and nothing else."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import edgenet_app
from edgenet_app.core.errors import EdgenetError

# `python -m edgenet_app` runs the command line (the tray app) when imported: never imported here.
SKIPPED = {"edgenet_app.__main__"}


def package_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(edgenet_app.__path__, "edgenet_app.")
        if m.name not in SKIPPED
    )


def defined_exceptions() -> list[type[BaseException]]:
    """Every exception class defined (not just imported) in a module of edgenet_app."""
    found: list[type[BaseException]] = []
    for name in package_modules():
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return found


@pytest.mark.slow
def test_the_walk_sees_every_layer() -> None:
    names = {f"{e.__module__}.{e.__qualname__}" for e in defined_exceptions()}
    assert {
        "edgenet_app.core.errors.EdgenetError",
        "edgenet_app.tasks.base.PayloadError",
        "edgenet_app.runtime.net.webrtc.LinkClosed",
        "edgenet_app.runtime.store.store.StoreError",
        "edgenet_app.cli.io.InputError",
        "edgenet_app.app.settings.schedule_grid.OffGridError",
    } <= names


@pytest.mark.slow
def test_every_exception_edgenet_defines_is_an_edgenet_error() -> None:
    outside = [
        f"{e.__module__}.{e.__qualname__}"
        for e in defined_exceptions()
        if not issubclass(e, EdgenetError)
    ]
    assert outside == []


@pytest.mark.slow  # importing aiortc runs ldconfig (ifaddr)
@pytest.mark.parametrize(
    ("module", "name", "also"),
    [
        ("edgenet_app.runtime.net.webrtc", "DialError", ConnectionError),
        ("edgenet_app.tasks.registry", "UnknownKind", KeyError),
        ("edgenet_app.runtime.net.no_media", "MediaUnavailable", AttributeError),
        ("edgenet_app.app.settings.schedule_grid", "OffGridError", ValueError),
        ("edgenet_app.core.errors", "SettingsError", ValueError),
    ],
)
def test_joined_errors_keep_their_builtin_base(module: str, name: str, also: type) -> None:
    """Existing `except ConnectionError:` (…) clauses still catch them."""
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, EdgenetError) and issubclass(cls, also)


def test_unknown_kind_message_is_unchanged() -> None:
    from edgenet_app.tasks.registry import UnknownKind, get_kind

    with pytest.raises(UnknownKind) as info:
        get_kind("no_such_kind")
    assert info.value.args[0].startswith("unknown task kind 'no_such_kind'; known: ")


@pytest.mark.slow
def test_public_errors_import_from_the_package_without_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from edgenet_app import EdgenetError, NodeError, PayloadError, ApiError, NoRelayError\n"
        "from edgenet_app.core import errors\n"
        "assert EdgenetError is errors.EdgenetError and NoRelayError is errors.NoRelayError\n"
        "assert issubclass(NoRelayError, NodeError) and issubclass(NodeError, EdgenetError)\n"
        "assert issubclass(PayloadError, EdgenetError) and issubclass(ApiError, EdgenetError)\n"
        "heavy = ('numpy', 'aiortc', 'PySide6', 'wasmtime', 'sqlite3')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"importing the errors loaded: {out.stdout.strip()}"


def test_public_errors_are_listed_in_all() -> None:
    assert {"EdgenetError", "NodeError", "NoRelayError", "PayloadError", "ApiError"} <= set(
        edgenet_app.__all__
    )

"""One exception tree: every error edgenet defines derives from `EdgenetError`, so a caller
can catch everything edgenet raises on purpose with one `except`, and nothing else."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

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


def test_every_exception_edgenet_defines_is_an_edgenet_error() -> None:
    outside = [
        f"{e.__module__}.{e.__qualname__}"
        for e in defined_exceptions()
        if not issubclass(e, EdgenetError)
    ]
    assert outside == []


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

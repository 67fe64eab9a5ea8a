"""All task kinds, by name. Each kind lives in its own module exposing `KIND`."""

from __future__ import annotations

import importlib
from functools import cache

from ..core.economics import TASK_KINDS
from ..core.errors import EdgenetError
from .base import TaskKind

_MODULES = {
    "vector_insert": "vectors_insert",
    "vector_search": "vectors_search",
    "embedding": "embedding",
    "semantic_match": "semantic_match",
    "neural_inference": "neural",
    "encryption": "encryption",
    "compression": "compression",
    "custom_wasm": "wasm",
}
assert set(_MODULES) == set(TASK_KINDS)


class UnknownKind(EdgenetError, KeyError):
    """No task kind has this name (a KeyError too; the message lists the known kinds)."""


@cache
def get_kind(name: str) -> TaskKind:
    """The task kind called `name` (imported on first use)."""
    if name not in _MODULES:
        raise UnknownKind(f"unknown task kind {name!r}; known: {', '.join(_MODULES)}")
    module = importlib.import_module(f"{__package__}.{_MODULES[name]}")
    kind: TaskKind = module.KIND
    assert kind.name == name
    return kind


def all_kinds() -> list[TaskKind]:
    return [get_kind(name) for name in _MODULES]


def kind_names() -> tuple[str, ...]:
    return tuple(_MODULES)

"""Typed records: strict types, bounds, nested and fixed-length tuples, precise paths."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from edgenet_app.core.errors import SchemaError
from edgenet_app.core.schema import Record, spec


@dataclass(frozen=True)
class Pair(Record):
    items: tuple[tuple[bytes, int], ...] = spec(max_len=3)
    note: str | None = None


def test_fixed_length_tuples_round_trip() -> None:
    p = Pair(((b"a", 1), (b"b", 2)))
    assert Pair.decode(p.encode()) == p


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({"items": [[b"a", "1"]]}, r"items\[0\]\[1\]: expected an integer"),
        ({"items": [[b"a", 1, 2]]}, r"items\[0\]: expected 2 items"),
        ({"items": [[b"a", True]]}, "expected an integer, got bool"),
        ({"items": [[b"a", 1]] * 4}, "at most 3 items"),
        ({"items": [], "extra": 1}, "unknown field"),
        ({}, "items: missing"),
    ],
)
def test_errors_name_the_path(wire: dict[str, object], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        Pair.from_wire(wire)

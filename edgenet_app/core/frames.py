"""Typed frames: a record sent as the canonical encoding of a map with a type field `t`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from . import codec
from .errors import WireError
from .schema import Record


class TypedFrame(Record):
    T: ClassVar[str]

    def frame(self) -> bytes:
        wire = self.to_wire()
        wire["t"] = self.T
        return codec.encode(wire)


F = TypeVar("F", bound=TypedFrame)


def parse_typed(
    data: Any,
    types: Mapping[str, type[F]],
    *,
    max_bytes: int,
    allowed: tuple[type[F], ...] | None = None,
) -> F:
    """Decode one frame of one of `types`. Raises WireError (naming the problem) only."""
    if not isinstance(data, bytes | bytearray):
        raise WireError("frames must be binary")
    if len(data) > max_bytes:
        raise WireError(f"frame of {len(data)} bytes; limit {max_bytes}")
    value = codec.decode(bytes(data), max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise WireError("a frame must be a map")
    value = dict(value)
    t = value.pop("t", None)
    cls = types.get(t) if isinstance(t, str) else None
    if cls is None:
        raise WireError(f"unknown message type {t!r}")
    if allowed is not None and cls not in allowed:
        raise WireError(f"a {t!r} message is not allowed here")
    return cls.from_wire(value, t)

"""Typed wire schemas: frozen dataclasses that validate themselves.

A schema class is a frozen dataclass deriving from `Record`. Field types may be
int, float, bool, str, bytes, `X | None`, `tuple[X, ...]` and other `Record`s;
bounds come from `spec(...)`. Every instance is validated when it is built, whether
by local code or from the wire, so an invalid record cannot exist. `from_wire`
rejects unknown and missing fields and wrong types with the path of the field.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from typing import Any, ClassVar, Self, Union, get_args, get_origin

from . import codec
from .errors import SchemaError


def spec(
    *,
    min: float | None = None,
    max: float | None = None,
    length: int | None = None,
    max_len: int | None = None,
    min_len: int | None = None,
    pattern: str | None = None,
    choices: tuple[Any, ...] | None = None,
    default: Any = dataclasses.MISSING,
) -> Any:
    """Declare bounds for a field (numbers: min/max; str/bytes/tuple: lengths)."""
    meta = {
        "min": min,
        "max": max,
        "length": length,
        "max_len": max_len,
        "min_len": min_len,
        "pattern": re.compile(pattern) if pattern else None,
        "choices": choices,
    }
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


_DEFAULT_MAX_STR = 4096
_DEFAULT_MAX_BYTES = codec.MAX_MESSAGE_BYTES
_DEFAULT_MAX_ITEMS = 10_000


class Record:
    """Base of all wire records. Subclasses must be `@dataclass(frozen=True)`."""

    _hints: ClassVar[dict[str, Any]]

    def __post_init__(self) -> None:
        cls = type(self)
        hints = _hints_of(cls)
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            _check(getattr(self, f.name), hints[f.name], f.metadata, f.name)
        self.validate()

    def validate(self) -> None:
        """Cross-field rules; override and raise SchemaError."""

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _to_wire(getattr(self, f.name))
        return out

    @classmethod
    def from_wire(cls, obj: Any, path: str = "") -> Self:
        where = path or cls.__name__
        if not isinstance(obj, dict):
            raise SchemaError(where, f"expected a map, got {_tname(obj)}")
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(obj) - set(names))
        if unknown:
            raise SchemaError(where, f"unknown field(s) {', '.join(map(repr, unknown))}")
        hints = _hints_of(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            sub = f"{where}.{f.name}"
            if f.name not in obj:
                if f.default is not dataclasses.MISSING:
                    continue
                raise SchemaError(sub, "missing")
            kwargs[f.name] = _from_wire(obj[f.name], hints[f.name], sub)
        try:
            return cls(**kwargs)
        except SchemaError as exc:
            if exc.path and not exc.path.startswith(where):
                raise SchemaError(f"{where}.{exc.path}", exc.reason) from None
            raise

    def encode(self) -> bytes:
        return codec.encode(self.to_wire())

    @classmethod
    def decode(cls, data: bytes, *, max_bytes: int = codec.MAX_MESSAGE_BYTES) -> Self:
        return cls.from_wire(codec.decode(data, max_bytes=max_bytes))


def _hints_of(cls: type) -> dict[str, Any]:
    cached: dict[str, Any] | None = cls.__dict__.get("_hints_cache")
    if cached is None:
        cached = typing.get_type_hints(cls)
        cls._hints_cache = cached  # type: ignore[attr-defined]
    return cached


def _tname(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _to_wire(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, tuple):
        return [_to_wire(v) for v in value]
    return value


@functools.cache
def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return True, args[0]
    return False, tp


@functools.cache
def _origin(tp: Any) -> Any:
    return get_origin(tp)


def _from_wire(value: Any, tp: Any, path: str) -> Any:
    optional, inner = _is_optional(tp)
    if optional:
        return None if value is None else _from_wire(value, inner, path)
    if isinstance(inner, type) and issubclass(inner, Record):
        return inner.from_wire(value, path)
    if _origin(inner) is tuple:
        if not isinstance(value, tuple | list):
            raise SchemaError(path, f"expected a list, got {_tname(value)}")
        args = get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_wire(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise SchemaError(path, f"expected {len(args)} items, got {len(value)}")
        return tuple(
            _from_wire(v, a, f"{path}[{i}]")
            for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    return value


def _check(value: Any, tp: Any, meta: Any, path: str) -> None:
    optional, inner = _is_optional(tp)
    if value is None:
        if optional:
            return
        raise SchemaError(path, "missing (null)")
    tp = inner
    origin = _origin(tp)
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(path, f"expected a boolean, got {_tname(value)}")
    elif tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise SchemaError(path, f"expected an integer, got {_tname(value)}")
        _bounds(value, meta, path)
    elif tp is float:
        if not isinstance(value, float):
            raise SchemaError(path, f"expected a float, got {_tname(value)}")
        _bounds(value, meta, path)
    elif tp is str:
        if not isinstance(value, str):
            raise SchemaError(path, f"expected a string, got {_tname(value)}")
        _lengths(value, meta, path, "characters", _DEFAULT_MAX_STR)
        pattern = meta.get("pattern") if meta else None
        if pattern is not None and not pattern.fullmatch(value):
            raise SchemaError(path, f"{value[:40]!r} does not match {pattern.pattern}")
    elif tp is bytes:
        if not isinstance(value, bytes):
            raise SchemaError(path, f"expected bytes, got {_tname(value)}")
        _lengths(value, meta, path, "bytes", _DEFAULT_MAX_BYTES)
    elif origin is tuple:
        if not isinstance(value, tuple):
            raise SchemaError(path, f"expected a tuple, got {_tname(value)}")
        _lengths(value, meta, path, "items", _DEFAULT_MAX_ITEMS)
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            for i, item in enumerate(value):
                _check(item, args[0], None, f"{path}[{i}]")
        else:
            if len(args) != len(value):
                raise SchemaError(path, f"expected {len(args)} items, got {len(value)}")
            for i, (item, a) in enumerate(zip(value, args, strict=True)):
                _check(item, a, None, f"{path}[{i}]")
    elif isinstance(tp, type) and issubclass(tp, Record):
        if not isinstance(value, tp):
            raise SchemaError(path, f"expected {tp.__name__}, got {_tname(value)}")
    else:  # pragma: no cover - programming error in a schema declaration
        raise TypeError(f"unsupported schema type {tp!r} at {path}")
    choices = meta.get("choices") if meta else None
    if choices is not None and value not in choices:
        raise SchemaError(path, f"{value!r} is not one of {', '.join(map(repr, choices))}")


def _bounds(value: float, meta: Any, path: str) -> None:
    lo = meta.get("min") if meta else None
    hi = meta.get("max") if meta else None
    if lo is not None and value < lo:
        raise SchemaError(path, f"must be ≥ {lo}, got {value}")
    if hi is not None and value > hi:
        raise SchemaError(path, f"must be ≤ {hi}, got {value}")
    if lo is None and hi is None and isinstance(value, int):
        if not codec.INT_MIN <= value <= codec.INT_MAX:
            raise SchemaError(path, "integer outside the 64-bit range")


def _lengths(value: Any, meta: Any, path: str, unit: str, default_max: int) -> None:
    n = len(value)
    length = meta.get("length") if meta else None
    if length is not None and n != length:
        raise SchemaError(path, f"must be exactly {length} {unit}, got {n}")
    lo = meta.get("min_len") if meta else None
    if lo is not None and n < lo:
        raise SchemaError(path, f"must be at least {lo} {unit}, got {n}")
    hi = (meta.get("max_len") if meta else None) or default_max
    if n > hi:
        raise SchemaError(path, f"must be at most {hi} {unit}, got {n}")

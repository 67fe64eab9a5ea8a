"""Canonical, strict binary encoding (a deterministic subset of MessagePack).

Everything that is signed, hashed or sent uses this encoding. Values are limited to
None, bool, int (64-bit), finite float (always float64), str, bytes, list/tuple and
dicts with str keys. Maps are written with keys sorted by their UTF-8 bytes, integers
and lengths in their shortest form. Decoding is strict: the input must be exactly the
canonical encoding of the value it decodes to (so every value has one encoding and a
signature over it cannot be malleated), must fit the size limits, and any failure is a
`CodecError` and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from .errors import CodecError

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 24
MAX_CONTAINER_ITEMS = 100_000
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

Value = Any  # None | bool | int | float | str | bytes | tuple[Value, ...] | dict[str, Value]


def _normalize(value: Value, depth: int) -> Value:
    if depth > MAX_DEPTH:
        raise CodecError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str | bytes):
        return value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise CodecError(f"integer {value} outside the 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError("NaN and infinite floats cannot be encoded")
        return value
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"map key {key!r} is not a string")
            items.append((key.encode("utf-8"), key, _normalize(item, depth + 1)))
        items.sort(key=lambda kv: kv[0])
        return {key: item for _, key, item in items}
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Sequence):
        return [_normalize(item, depth + 1) for item in value]
    raise CodecError(f"type {type(value).__name__} cannot be encoded")


def encode(value: Value) -> bytes:
    """Return the canonical encoding of `value`."""
    data: bytes = msgpack.packb(_normalize(value, 0), use_bin_type=True, use_single_float=False)
    if len(data) > MAX_MESSAGE_BYTES:
        raise CodecError(f"encoding is {len(data)} bytes, limit is {MAX_MESSAGE_BYTES}")
    return data


def _no_ext(code: int, data: bytes) -> Value:
    raise CodecError(f"extension type {code} is not allowed")


def _check_keys(value: Value, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CodecError(f"value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        last = None
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError("map key is not a string")
            raw_key = key.encode("utf-8")
            if last is not None and raw_key <= last:
                raise CodecError("non-canonical encoding (map keys not in sorted order)")
            last = raw_key
            _check_keys(item, depth + 1)
    elif isinstance(value, tuple):
        for item in value:
            _check_keys(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise CodecError("NaN and infinite floats are not allowed")


def decode(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Value:
    """Decode canonical bytes. Arrays come back as tuples. Raises only `CodecError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise CodecError(f"message is {len(data)} bytes, limit is {max_bytes}")
    if not data:
        raise CodecError("empty message")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=False,
            strict_map_key=True,
            ext_hook=_no_ext,
            max_str_len=max_bytes,
            max_bin_len=max_bytes,
            max_array_len=MAX_CONTAINER_ITEMS,
            max_map_len=MAX_CONTAINER_ITEMS,
            max_ext_len=0,
        )
    except CodecError:
        raise
    except msgpack.ExtraData as exc:
        raise CodecError(f"{len(exc.extra)} trailing bytes after the message") from None
    except (ValueError, TypeError, RecursionError, MemoryError, OverflowError) as exc:
        raise CodecError(f"malformed encoding: {exc}") from None
    except Exception as exc:  # msgpack's own exception types differ between versions
        raise CodecError(f"malformed encoding: {type(exc).__name__}: {exc}") from None
    _check_keys(value, 0)  # also proves map keys are sorted, so packb can skip _normalize
    try:
        again = msgpack.packb(value, use_bin_type=True, use_single_float=False)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"malformed value: {exc}") from None
    if again != data:
        raise CodecError(
            "non-canonical encoding (key order, integer or float width, or duplicates)"
        )
    return value


def json_shaped(value: Value) -> Value:
    """A decoded value with its arrays as lists (the shape JSON payloads have)."""
    if isinstance(value, tuple | list):
        return [json_shaped(v) for v in value]
    if isinstance(value, dict):
        return {k: json_shaped(v) for k, v in value.items()}
    return value

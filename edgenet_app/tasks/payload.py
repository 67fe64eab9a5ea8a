"""Strict readers for JSON payloads: every error names the field and the rule."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import PayloadError

_Str = str
_Int = int
_Bool = bool
_Float = float


# Vector components are bounded so that squared norms of 4096-d vectors stay finite in
# float32 (distances never overflow to infinity).
MAX_MAGNITUDE = 1e15


class Fields:
    """Read the fields of one payload object; `done()` rejects unknown fields.

    >>> f = Fields({"k": 3}, "vector_search"); f.int("k", 1, 100); f.done()
    3
    """

    def __init__(self, obj: Any, where: _Str) -> None:
        if not isinstance(obj, dict):
            raise PayloadError(f"{where}: the payload must be a JSON object, got {_t(obj)}")
        self.obj = obj
        self.where = where
        self.seen: set[str] = set()

    def _get(self, name: _Str, default: Any, required: _Bool) -> Any:
        self.seen.add(name)
        if name not in self.obj or self.obj[name] is None:
            if required:
                raise PayloadError(f"{self.path(name)}: missing (required)")
            return default
        return self.obj[name]

    def path(self, name: _Str) -> _Str:
        return f"{self.where}.{name}"

    def has(self, name: _Str) -> _Bool:
        return self.obj.get(name) is not None

    def done(self) -> None:
        unknown = sorted(map(repr, set(self.obj) - self.seen))
        if unknown:
            raise PayloadError(
                f"{self.where}: unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(self.seen))}"
            )

    def str(
        self,
        name: _Str,
        *,
        default: _Str | None = None,
        required: _Bool = True,
        max_len: _Int = 4096,
        min_len: _Int = 0,
        choices: Sequence[_Str] | None = None,
    ) -> Any:
        v = self._get(name, default, required and default is None)
        if v is None:
            return None
        return check_str(v, self.path(name), max_len=max_len, min_len=min_len, choices=choices)

    def int(self, name: _Str, lo: _Int, hi: _Int, *, default: _Int | None = None) -> Any:
        v = self._get(name, default, default is None)
        if isinstance(v, bool) or not isinstance(v, int):
            raise PayloadError(f"{self.path(name)}: must be an integer, got {_t(v)}")
        if not lo <= v <= hi:
            raise PayloadError(f"{self.path(name)}: must be between {lo} and {hi}, got {v}")
        return v

    def float(self, name: _Str, lo: _Float, hi: _Float, *, default: _Float | None = None) -> Any:
        v = self._get(name, default, default is None)
        try:
            finite = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            raise PayloadError(f"{self.path(name)}: must be a finite number, got {_t(v)}")
        if not lo <= v <= hi:
            raise PayloadError(f"{self.path(name)}: must be between {lo:g} and {hi:g}, got {v}")
        return float(v)

    def bool(self, name: _Str, *, default: _Bool | None = None) -> Any:
        v = self._get(name, default, default is None)
        if not isinstance(v, bool):
            raise PayloadError(f"{self.path(name)}: must be true or false, got {_t(v)}")
        return v

    def b64(
        self,
        name: _Str,
        *,
        max_bytes: _Int,
        min_bytes: _Int = 0,
        length: _Int | None = None,
        required: _Bool = True,
    ) -> Any:
        v = self._get(name, None, required)
        if v is None:
            return None
        return check_b64(
            v, self.path(name), max_bytes=max_bytes, min_bytes=min_bytes, length=length
        )

    def str_list(
        self,
        name: _Str,
        *,
        max_items: _Int,
        max_len: _Int,
        min_items: _Int = 1,
        required: _Bool = True,
    ) -> Any:
        v = self._get(name, None, required)
        if v is None:
            return None
        if not isinstance(v, list):
            raise PayloadError(f"{self.path(name)}: must be a list of strings, got {_t(v)}")
        if not min_items <= len(v) <= max_items:
            raise PayloadError(
                f"{self.path(name)}: must hold {min_items}–{max_items} items, got {len(v)}"
            )
        return [check_str(s, f"{self.path(name)}[{i}]", max_len=max_len) for i, s in enumerate(v)]

    def matrix(
        self,
        name: _Str,
        *,
        max_rows: _Int,
        dim: _Int | None = None,
        max_dim: _Int = 4096,
        min_rows: _Int = 1,
        required: _Bool = True,
    ) -> Any:
        v = self._get(name, None, required)
        if v is None:
            return None
        return check_matrix(
            v, self.path(name), max_rows=max_rows, dim=dim, max_dim=max_dim, min_rows=min_rows
        )

    def vector(
        self, name: _Str, *, dim: _Int | None = None, max_dim: _Int = 4096, required: _Bool = True
    ) -> Any:
        v = self._get(name, None, required)
        if v is None:
            return None
        m = check_matrix(
            [v] if isinstance(v, list) else v, self.path(name), max_rows=1, dim=dim, max_dim=max_dim
        )
        return m[0]

    def obj_list(self, name: _Str, *, max_items: _Int, min_items: _Int = 1) -> Any:
        v = self._get(name, None, True)
        if not isinstance(v, list):
            raise PayloadError(f"{self.path(name)}: must be a list of objects, got {_t(v)}")
        if not min_items <= len(v) <= max_items:
            raise PayloadError(
                f"{self.path(name)}: must hold {min_items}–{max_items} items, got {len(v)}"
            )
        return v

    def raw(self, name: _Str, *, required: _Bool = True) -> Any:
        return self._get(name, None, required)


def check_str(
    v: Any,
    path: str,
    *,
    max_len: int = 4096,
    min_len: int = 0,
    choices: Sequence[str] | None = None,
) -> str:
    if not isinstance(v, str):
        raise PayloadError(f"{path}: must be a string, got {_t(v)}")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"{path}: contains an unpaired surrogate (not valid Unicode)") from None
    if choices is not None and v not in choices:
        raise PayloadError(f"{path}: {v[:40]!r} is not one of {', '.join(choices)}")
    if not min_len <= len(v) <= max_len:
        raise PayloadError(f"{path}: must be {min_len}–{max_len} characters, got {len(v)}")
    return v


def check_b64(
    v: Any, path: str, *, max_bytes: int, min_bytes: int = 0, length: int | None = None
) -> bytes:
    if isinstance(v, bytes | bytearray | memoryview):  # from Python or the wire: no base64
        data = v if isinstance(v, bytes) else bytes(v)
        if length is not None and len(data) != length:
            raise PayloadError(f"{path}: must be exactly {length} bytes, got {len(data)}")
        if not min_bytes <= len(data) <= max_bytes:
            raise PayloadError(f"{path}: must be {min_bytes}–{max_bytes} bytes, got {len(data)}")
        return data
    if not isinstance(v, str):
        raise PayloadError(f"{path}: must be bytes or a base64 string, got {_t(v)}")
    if len(v) > (max_bytes + 2) // 3 * 4 + 4:
        raise PayloadError(f"{path}: decodes to more than {max_bytes} bytes")
    try:
        data = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(f"{path}: not valid base64") from None
    if length is not None and len(data) != length:
        raise PayloadError(f"{path}: must decode to exactly {length} bytes, got {len(data)}")
    if not min_bytes <= len(data) <= max_bytes:
        raise PayloadError(f"{path}: must decode to {min_bytes}–{max_bytes} bytes, got {len(data)}")
    return data


def check_matrix(
    v: Any,
    path: str,
    *,
    max_rows: int,
    dim: int | None = None,
    max_dim: int = 4096,
    min_rows: int = 1,
) -> np.ndarray:
    """A list of equal-length lists of finite numbers -> float32 array (rows, dim)."""
    if not isinstance(v, list):
        raise PayloadError(f"{path}: must be a list of vectors, got {_t(v)}")
    if not min_rows <= len(v) <= max_rows:
        raise PayloadError(f"{path}: must hold {min_rows}–{max_rows} vectors, got {len(v)}")
    if not v:
        return np.zeros((0, dim or 0), dtype=np.float32)
    for i, row in enumerate(v):
        if not isinstance(row, list):
            raise PayloadError(f"{path}[{i}]: must be a list of numbers, got {_t(row)}")
    width = len(v[0])
    want = dim if dim is not None else width
    if not 1 <= want <= max_dim:
        raise PayloadError(f"{path}[0]: dimension must be 1–{max_dim}, got {want}")
    for i, row in enumerate(v):
        if len(row) != want:
            raise PayloadError(f"{path}[{i}]: must have {want} numbers, got {len(row)}")
    for i, row in enumerate(v):
        for j, x in enumerate(row):
            t = type(x)
            if t is not float and t is not int:
                raise PayloadError(f"{path}[{i}][{j}]: must be a number, got {_t(x)}")
    try:
        arr = np.array(v, dtype=np.float64)
    except (OverflowError, ValueError, TypeError):
        raise PayloadError(f"{path}: numbers must be within ±{MAX_MAGNITUDE:g}") from None
    if arr.ndim != 2:
        raise PayloadError(f"{path}: must be a list of equal-length number lists")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise PayloadError(f"{path}[{i}][{j}]: must be a finite number")
    if np.abs(arr).max(initial=0) > MAX_MAGNITUDE:
        i, j = map(int, np.argwhere(np.abs(arr) > MAX_MAGNITUDE)[0])
        raise PayloadError(f"{path}[{i}][{j}]: must be within ±{MAX_MAGNITUDE:g}")
    return arr.astype(np.float32)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _t(v: Any) -> str:
    if v is None:
        return "null"
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
    }.get(type(v), type(v).__name__)

"""JSON output shared by the CLI and the control API."""

from __future__ import annotations

import base64
from typing import Any


def jsonable(value: Any) -> Any:
    """`json.dumps` default: binary values print as base64 text, the form payload files use."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

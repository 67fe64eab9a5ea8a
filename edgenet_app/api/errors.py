"""The exceptions the Python API raises or reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.errors import EdgenetError

__all__ = ["ApiError", "DisconnectedError", "NodeReportedError"]


class ApiError(EdgenetError, ValueError):
    """An argument of the Python API is not valid, or the API is used out of order."""


class DisconnectedError(EdgenetError):
    """The node was disconnected while a submitted task was still running."""


class NodeReportedError(EdgenetError):
    """A problem the running node reported; `on_error` receives it. `event` is the raw dict."""

    def __init__(self, message: str, event: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.event = dict(event)

"""What every start-at-login backend shares: the error, the interface, and the backend of
platforms that have none."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path

from ....core.errors import EdgenetError

APP_NAME = "edgenet"


class AutostartError(EdgenetError):
    """Start at login could not be read or changed; the message names the file or key."""


class AutostartBackend(abc.ABC):
    """How one platform starts programs at login."""

    mechanism: str = ""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """The file or registry value this backend writes."""

    @abc.abstractmethod
    def is_enabled(self) -> bool:
        """Whether edgenet will start at the next login."""

    @abc.abstractmethod
    def enable(self, command: Sequence[str]) -> Path | str:
        """Start `command` at login; returns the file or registry value written."""

    @abc.abstractmethod
    def disable(self) -> None:
        """Stop starting edgenet at login (nothing to do if it is not registered)."""

    @abc.abstractmethod
    def registered_command(self) -> str | None:
        """The registered command line as stored (None if nothing is registered)."""


class UnsupportedBackend(AutostartBackend):
    """Platforms without a known login mechanism: never enabled, cannot be enabled."""

    mechanism = "unsupported"

    def __init__(self, platform: str) -> None:
        self.platform = platform

    @property
    def location(self) -> str:
        return ""

    def is_enabled(self) -> bool:
        return False

    def registered_command(self) -> str | None:
        return None

    def enable(self, command: Sequence[str]) -> str:
        raise AutostartError(f"starting at login is not supported on {self.platform}")

    def disable(self) -> None:
        return None

"""macOS: a launch agent, `~/Library/LaunchAgents/org.edgenet.app.plist`, loaded by launchd
at the next login (`launchctl` is never called; see the package docstring)."""

from __future__ import annotations

import plistlib
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import AutostartBackend, AutostartError
from .command import check_command
from .files import read_bytes, remove, write_atomic

LAUNCH_AGENT_LABEL = "org.edgenet.app"


class LaunchAgentBackend(AutostartBackend):
    """`~/Library/LaunchAgents/org.edgenet.app.plist`, loaded by launchd at login."""

    mechanism = "launch-agent"

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"

    @property
    def location(self) -> str:
        return str(self.path)

    def _load(self) -> tuple[bytes, dict[str, Any] | None] | None:
        """(raw bytes, the plist if it is ours) or None if there is no file."""
        data = read_bytes(self.path)
        if data is None:
            return None
        try:
            plist = plistlib.loads(data)
        except Exception:  # any malformed plist is simply not ours
            return data, None
        if isinstance(plist, dict) and plist.get("Label") == LAUNCH_AGENT_LABEL:
            return data, plist
        return data, None

    @staticmethod
    def _runs(plist: Mapping[str, Any]) -> bool:
        return plist.get("RunAtLoad") is True and plist.get("Disabled") is not True

    def is_enabled(self) -> bool:
        loaded = self._load()
        return loaded is not None and loaded[1] is not None and self._runs(loaded[1])

    def registered_command(self) -> str | None:
        loaded = self._load()
        if loaded is None or loaded[1] is None or not self._runs(loaded[1]):
            return None
        args = loaded[1].get("ProgramArguments")
        if isinstance(args, list) and all(isinstance(a, str) for a in args):
            return shlex.join(args)
        return None

    @staticmethod
    def render(command: Sequence[str]) -> bytes:
        plist = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": check_command(command),
            "RunAtLoad": True,
            "ProcessType": "Interactive",
        }
        try:
            return plistlib.dumps(plist, fmt=plistlib.FMT_XML)
        except ValueError as exc:  # control characters, unpaired surrogates
            raise AutostartError(f"cannot put {list(command)!r} in a launch agent: {exc}") from exc

    def _refuse_foreign(
        self, loaded: tuple[bytes, dict[str, Any] | None] | None, doing: str
    ) -> None:
        if loaded is not None and loaded[1] is None:
            raise AutostartError(
                f"{self.path} is not an edgenet launch agent (label {LAUNCH_AGENT_LABEL}); "
                f"not {doing} it. Remove or rename it, then try again."
            )

    def enable(self, command: Sequence[str]) -> Path:
        data = self.render(command)
        loaded = self._load()
        self._refuse_foreign(loaded, "replacing")
        if loaded is None or loaded[0] != data:
            write_atomic(self.path, data)
        return self.path

    def disable(self) -> None:
        loaded = self._load()
        if loaded is None:
            return
        self._refuse_foreign(loaded, "removing")
        remove(self.path)

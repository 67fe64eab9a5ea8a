"""The command registered to run at login, and the check every backend applies to one."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .base import AutostartError


def default_command(
    platform: str | None = None,
    *,
    executable: str | None = None,
    frozen: bool | None = None,
) -> list[str]:
    """The command that starts this installation's tray app (see the package docstring)."""
    plat = sys.platform if platform is None else platform
    exe = sys.executable if executable is None else executable
    is_frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    windows = plat == "win32"
    if not exe:
        raise AutostartError(
            "cannot tell which program to start at login: the Python interpreter's path "
            "(sys.executable) is unknown"
        )
    if windows:  # C:\..., \\server\share\... or a rooted \... / /...
        absolute = exe[1:3] in (":\\", ":/") or exe[:1] in ("\\", "/")
    else:
        absolute = exe[:1] == "/"
    if not absolute:
        raise AutostartError(f"cannot start {exe!r} at login: it is not an absolute path")
    if is_frozen:
        return [exe, "--minimized"]
    if windows and exe.lower().endswith("python.exe"):
        windowed = exe[: -len("python.exe")] + "pythonw.exe"
        if os.path.isfile(windowed):
            exe = windowed
    return [exe, "-m", "edgenet_app", "--minimized"]  # at login: to the tray, no window


def check_command(command: Sequence[str]) -> list[str]:
    """`command` as a list, if it is a non-empty sequence of strings without NUL characters."""
    if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
        raise AutostartError(f"the login command must be a non-empty list of strings: {command!r}")
    if any("\0" in a for a in command):
        raise AutostartError("the login command contains a NUL character")
    return list(command)

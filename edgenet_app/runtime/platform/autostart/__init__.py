"""Start edgenet when the user logs in (the `start_at_login` setting).

One backend per platform, each writing only what that platform's session manager reads:

- Linux and the BSDs: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/edgenet.desktop`
  (default `~/.config/autostart`), written atomically. An entry a user switched off in their
  desktop's startup settings (`Hidden=true` or `X-GNOME-Autostart-enabled=false`) counts as
  disabled. If an administrator installed `edgenet.desktop` into a system autostart directory
  (`$XDG_CONFIG_DIRS/autostart`, default `/etc/xdg/autostart`), `disable` masks it with a
  user entry saying `Hidden=true`, as the spec prescribes, instead of deleting anything.
- Windows: the value `edgenet` under `HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`,
  a command line quoted with `subprocess.list2cmdline`. Task Manager's "Disable" is recorded
  (undocumented, but stable since Windows 8) under `...\\Explorer\\StartupApproved\\Run`, a
  binary value whose first byte is odd when disabled: such an entry counts as disabled, and an
  explicit `enable` clears that mark.
- macOS: a launch agent, `~/Library/LaunchAgents/org.edgenet.app.plist`, which launchd loads
  at the next login. `launchctl` is deliberately not called: loading the agent now would start
  a second copy of the app at once (RunAtLoad), and booting it out would kill the running app
  if launchd started it. A plist saying `Disabled = true` counts as disabled.

The default command is `[sys.executable, "-m", "edgenet_app"]`, which runs the tray app (the
`edgenet` command with no arguments) of the installation that is running now:

- not the `edgenet` console script: at login the session's PATH rarely contains a venv's
  `bin/`, `~/.local/bin` or a pipx shim directory, script wrappers are regenerated or
  removed by pip, and on Windows the script is a console `.exe` that opens a terminal window;
- `sys.executable` is used as given, never resolved: in a venv it is a symlink whose location
  is what selects the venv;
- on Windows `pythonw.exe` next to `python.exe` is preferred, so no console window opens;
- a frozen (PyInstaller) build runs `sys.executable` alone: it is the app.

One module per backend: `xdg.py`, `windows.py`, `macos.py`; what they share is in `base.py`
(the error and the backend interface), `command.py` (the default command) and `files.py`
(atomic writes). This module chooses the backend and holds the functions below.

Every function takes optional `platform`, `home`, `env` and `winreg` arguments, so each
platform's backend can be exercised anywhere (tests use a temporary home and a fake winreg).
Every failure is an `AutostartError` naming the path or key; files are replaced atomically,
so an interrupted write never leaves a half-written entry.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import AutostartBackend, AutostartError, UnsupportedBackend
from .command import default_command
from .macos import LaunchAgentBackend
from .windows import WindowsRunBackend, WinregModule, system_winreg
from .xdg import XdgAutostartBackend, desktop_exec, quote_exec_arg

__all__ = [
    "AutostartBackend",
    "AutostartError",
    "LaunchAgentBackend",
    "UnsupportedBackend",
    "WindowsRunBackend",
    "WinregModule",
    "XdgAutostartBackend",
    "default_command",
    "desktop_exec",
    "disable",
    "enable",
    "get_backend",
    "is_enabled",
    "quote_exec_arg",
    "set_enabled",
    "status",
]


_UNSUPPORTED = ("android", "ios", "emscripten", "wasi")


def _home(home: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    if home is not None:
        return Path(home)
    if os.path.isabs(env.get("HOME", "")):
        return Path(env["HOME"])
    try:
        return Path.home()
    except (RuntimeError, KeyError) as exc:
        raise AutostartError(f"cannot find the home directory: {exc}") from exc


def get_backend(
    *,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    winreg: WinregModule | None = None,
) -> AutostartBackend:
    """The backend for `platform` (default: this one), using `home`, `env` (default: the
    real home and environment) and `winreg` (default: the real module, Windows only)."""
    plat = sys.platform if platform is None else platform
    environ: Mapping[str, str] = os.environ if env is None else env
    if plat == "win32":
        return WindowsRunBackend(system_winreg() if winreg is None else winreg)
    if plat == "darwin":
        return LaunchAgentBackend(_home(home, environ))
    if plat.startswith(_UNSUPPORTED):
        return UnsupportedBackend(plat)
    return XdgAutostartBackend.from_env(_home(home, environ), environ)


def is_enabled(
    *,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    winreg: WinregModule | None = None,
) -> bool:
    """Whether edgenet starts at the next login (an entry switched off by the user does not)."""
    return get_backend(platform=platform, home=home, env=env, winreg=winreg).is_enabled()


def enable(
    command: Sequence[str] | None = None,
    *,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    winreg: WinregModule | None = None,
) -> Path | str:
    """Start `command` (default: this installation's tray app) at login. Idempotent; replaces
    an older edgenet entry (another install, or switched off by the user). Returns the file
    or registry value written."""
    backend = get_backend(platform=platform, home=home, env=env, winreg=winreg)
    if command is None:
        command = default_command(sys.platform if platform is None else platform)
    return backend.enable(command)


def disable(
    *,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    winreg: WinregModule | None = None,
) -> None:
    """Stop starting edgenet at login. Idempotent."""
    get_backend(platform=platform, home=home, env=env, winreg=winreg).disable()


def set_enabled(
    enabled: bool,
    command: Sequence[str] | None = None,
    *,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    winreg: WinregModule | None = None,
) -> None:
    """Apply the `start_at_login` setting."""
    if enabled:
        enable(command, platform=platform, home=home, env=env, winreg=winreg)
    else:
        disable(platform=platform, home=home, env=env, winreg=winreg)


def status(
    *,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    winreg: WinregModule | None = None,
) -> dict[str, Any]:
    """A JSON-ready report: platform, mechanism, location, enabled, the command as registered
    (None if none runs), the command `enable()` would register, and any error. Never raises
    AutostartError."""
    plat = sys.platform if platform is None else platform
    out: dict[str, Any] = {
        "platform": plat,
        "mechanism": None,
        "location": None,
        "enabled": False,
        "command": None,
        "default_command": None,
        "error": None,
    }
    try:
        backend = get_backend(platform=plat, home=home, env=env, winreg=winreg)
        out["mechanism"], out["location"] = backend.mechanism, backend.location
        out["enabled"] = backend.is_enabled()
        out["command"] = backend.registered_command()
        if not isinstance(backend, UnsupportedBackend):
            out["default_command"] = default_command(plat)
    except AutostartError as exc:
        out["error"] = str(exc)
    return out

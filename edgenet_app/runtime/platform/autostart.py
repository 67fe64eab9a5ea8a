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

Every function takes optional `platform`, `home`, `env` and `winreg` arguments, so each
platform's backend can be exercised anywhere (tests use a temporary home and a fake winreg).
Every failure is an `AutostartError` naming the path or key; files are replaced atomically,
so an interrupted write never leaves a half-written entry.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import plistlib
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..._fs import fsync_dir
from ...core.errors import EdgenetError

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

log = logging.getLogger(__name__)

APP_NAME = "edgenet"
DESKTOP_FILE = "edgenet.desktop"
LAUNCH_AGENT_LABEL = "org.edgenet.app"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
RUN_VALUE = "edgenet"
MAX_RUN_COMMAND = 260  # "a command line no longer than 260 characters" (Run key docs)
MARKER_KEY = "X-Edgenet-Autostart"  # marks a desktop entry as written by edgenet
COMMENT = "Lend idle CPU to a peer-to-peer compute network"


class AutostartError(EdgenetError):
    """Start at login could not be read or changed; the message names the file or key."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# --- the command ----------------------------------------------------------------------------


def default_command(
    platform: str | None = None,
    *,
    executable: str | None = None,
    frozen: bool | None = None,
) -> list[str]:
    """The command that starts this installation's tray app (see the module docstring)."""
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


def _check_command(command: Sequence[str]) -> list[str]:
    if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
        raise AutostartError(f"the login command must be a non-empty list of strings: {command!r}")
    if any("\0" in a for a in command):
        raise AutostartError("the login command contains a NUL character")
    return list(command)


# --- Desktop Entry quoting ------------------------------------------------------------------

# "Reserved characters" of the Desktop Entry spec (Exec key): an argument containing any of
# them must be quoted. \r and \v/\f are added: quoting more than needed is always allowed.
_EXEC_RESERVED = frozenset(" \t\n\r\v\f\"'\\><~|&;$*?#()`")
_EXEC_ESCAPED = frozenset('"`$\\')  # inside quotes, preceded by a backslash


def quote_exec_arg(arg: str) -> str:
    """One argument of an Exec value, before the key file's string escaping: `%` doubled
    (field codes), and the argument quoted if it is empty or has a reserved character."""
    bad = [c for c in arg if (ord(c) < 0x20 and c not in "\t\n\r") or ord(c) == 0x7F]
    if bad:
        raise AutostartError(
            f"cannot put {arg!r} in a desktop entry: it contains control character {bad[0]!r}"
        )
    arg = arg.replace("%", "%%")
    if arg and not any(c in _EXEC_RESERVED for c in arg):
        return arg
    return '"' + "".join("\\" + c if c in _EXEC_ESCAPED else c for c in arg) + '"'


def _escape_string(value: str) -> str:
    """Key-file escaping of a `string` value: backslash, newline, tab, CR, leading space."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return "\\s" + out[1:] if out.startswith(" ") else out


def desktop_exec(command: Sequence[str]) -> str:
    """The Exec value, exactly as written after `Exec=`, that runs `command` verbatim.

    Per the Desktop Entry spec, a reader first undoes the string escapes (`\\\\` -> `\\`,
    `\\n` ...), then splits and unquotes the arguments, then expands field codes (`%%` -> `%`).
    So a literal backslash in a quoted argument becomes four backslashes in the file, and a
    literal `$` becomes `\\\\$`."""
    return _escape_string(" ".join(quote_exec_arg(a) for a in _check_command(command)))


def _parse_desktop(text: str) -> dict[str, str]:
    """The keys of the `[Desktop Entry]` group (values with leading/trailing spaces trimmed,
    string escapes left in place)."""
    entry: dict[str, str] = {}
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep and group == "Desktop Entry":
            entry.setdefault(key.strip(), value.strip())
    return entry


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1")


def _false(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("false", "0")


def _entry_runs(entry: Mapping[str, str]) -> bool:
    return not _true(entry.get("Hidden")) and not _false(entry.get("X-GNOME-Autostart-enabled"))


# --- files ----------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (mode 0644) via a temporary file in the same directory."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AutostartError(f"cannot create {path.parent}: {_reason(exc)}") from exc
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise AutostartError(f"cannot write {path}: {_reason(exc)}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AutostartError(f"cannot write {path}: {_reason(exc)}") from exc
        raise
    fsync_dir(path.parent)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise AutostartError(f"cannot read {path}: {_reason(exc)}") from exc


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AutostartError(f"cannot remove {path}: {_reason(exc)}") from exc
    fsync_dir(path.parent)


# --- backends -------------------------------------------------------------------------------


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


class XdgAutostartBackend(AutostartBackend):
    """`$XDG_CONFIG_HOME/autostart/edgenet.desktop` (freedesktop.org autostart spec)."""

    mechanism = "xdg-autostart"

    def __init__(self, config_home: Path, config_dirs: Sequence[Path] = ()) -> None:
        self.path = Path(config_home) / "autostart" / DESKTOP_FILE
        self.system_paths = [Path(d) / "autostart" / DESKTOP_FILE for d in config_dirs]

    @classmethod
    def from_env(cls, home: Path, env: Mapping[str, str]) -> XdgAutostartBackend:
        """Directories per the XDG Base Directory spec (relative paths are ignored)."""
        config_home = env.get("XDG_CONFIG_HOME", "")
        dirs = [d for d in env.get("XDG_CONFIG_DIRS", "").split(":") if os.path.isabs(d)]
        return cls(
            Path(config_home) if os.path.isabs(config_home) else home / ".config",
            [Path(d) for d in dirs] or [Path("/etc/xdg")],
        )

    @property
    def location(self) -> str:
        return str(self.path)

    def _entry(self, path: Path) -> dict[str, str] | None:
        data = _read_bytes(path)
        return None if data is None else _parse_desktop(data.decode("utf-8", "replace"))

    @staticmethod
    def _ours(entry: Mapping[str, str]) -> bool:
        return _true(entry.get(MARKER_KEY))

    def _system_entry_runs(self) -> bool:
        for path in self.system_paths:
            try:
                entry = self._entry(path)
            except AutostartError as exc:
                log.debug("ignoring unreadable system autostart entry: %s", exc)
                continue
            if entry is not None:
                return _entry_runs(entry)  # the first one found shadows the others
        return False

    def is_enabled(self) -> bool:
        entry = self._entry(self.path)
        if entry is None:
            return self._system_entry_runs()
        return self._ours(entry) and _entry_runs(entry)

    def registered_command(self) -> str | None:
        entry = self._entry(self.path)
        if entry is not None:
            return entry.get("Exec") if _entry_runs(entry) else None
        for path in self.system_paths:
            with contextlib.suppress(AutostartError):
                system = self._entry(path)
                if system is not None:
                    return system.get("Exec") if _entry_runs(system) else None
        return None

    def _refuse_foreign(self, entry: Mapping[str, str] | None, doing: str) -> None:
        if entry is not None and not self._ours(entry):
            raise AutostartError(
                f"{self.path} was not written by edgenet; not {doing} it. "
                "Remove or rename it, then try again."
            )

    @staticmethod
    def render(command: Sequence[str], *, hidden: bool = False) -> str:
        """The desktop entry for `command`; `hidden` masks a system-wide entry."""
        lines = [
            "[Desktop Entry]",
            "Type=Application",
            f"Name={APP_NAME}",
            f"Comment={COMMENT}",
            f"Exec={desktop_exec(command)}",
        ]
        if command[0].startswith("/"):
            lines.append(f"TryExec={_escape_string(command[0])}")
        lines += [f"Icon={APP_NAME}", "Terminal=false"]
        if hidden:
            lines.append("Hidden=true")
        lines += [
            f"X-GNOME-Autostart-enabled={'false' if hidden else 'true'}",
            f"{MARKER_KEY}=true",
        ]
        return "\n".join(lines) + "\n"

    def _write(self, text: str) -> None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise AutostartError(
                f"cannot write {self.path}: the command has characters that are not valid "
                f"UTF-8 ({text[exc.start : exc.end]!r})"
            ) from exc
        if _read_bytes(self.path) != data:
            _write_atomic(self.path, data)

    def enable(self, command: Sequence[str]) -> Path:
        command = _check_command(command)
        self._refuse_foreign(self._entry(self.path), "replacing")
        self._write(self.render(command))
        return self.path

    def disable(self) -> None:
        entry = self._entry(self.path)
        if entry is not None and not self._ours(entry):
            if not _entry_runs(entry):
                return  # someone else's entry, already switched off
            self._refuse_foreign(entry, "removing")
        if self._system_entry_runs():
            self._write(self.render([APP_NAME], hidden=True))
        else:
            _remove(self.path)


class WinregModule(Protocol):
    """The part of the `winreg` module used here (tests pass a fake)."""

    HKEY_CURRENT_USER: Any
    KEY_READ: int
    KEY_SET_VALUE: int
    REG_SZ: int
    REG_EXPAND_SZ: int

    def OpenKey(self, key: Any, sub_key: str, reserved: int = 0, access: int = ..., /) -> Any: ...

    def CreateKey(self, key: Any, sub_key: str | None, /) -> Any: ...

    def QueryValueEx(self, key: Any, name: str, /) -> tuple[Any, int]: ...

    def SetValueEx(
        self, key: Any, value_name: str | None, reserved: Any, type: int, value: Any, /
    ) -> None: ...

    def DeleteValue(self, key: Any, value: str, /) -> None: ...

    def CloseKey(self, hkey: Any, /) -> None: ...


def _system_winreg() -> WinregModule:
    if sys.platform == "win32":
        import winreg

        return winreg
    raise AutostartError("the Windows registry is only available on Windows")


class WindowsRunBackend(AutostartBackend):
    """The `edgenet` value under HKCU's Run key."""

    mechanism = "registry-run"

    def __init__(self, winreg: WinregModule) -> None:
        self.winreg = winreg

    @property
    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"

    def _query(self, sub_key: str) -> tuple[Any, int] | None:
        reg = self.winreg
        try:
            handle = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_READ)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AutostartError(f"cannot read HKEY_CURRENT_USER\\{sub_key}: {exc}") from exc
        try:
            return reg.QueryValueEx(handle, RUN_VALUE)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AutostartError(
                f"cannot read HKEY_CURRENT_USER\\{sub_key}\\{RUN_VALUE}: {exc}"
            ) from exc
        finally:
            reg.CloseKey(handle)

    def _delete(self, sub_key: str) -> None:
        reg = self.winreg
        try:
            handle = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_SET_VALUE)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AutostartError(f"cannot open HKEY_CURRENT_USER\\{sub_key}: {exc}") from exc
        try:
            reg.DeleteValue(handle, RUN_VALUE)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise AutostartError(
                f"cannot remove HKEY_CURRENT_USER\\{sub_key}\\{RUN_VALUE}: {exc}"
            ) from exc
        finally:
            reg.CloseKey(handle)

    def _disabled_in_task_manager(self) -> bool:
        found = self._query(STARTUP_APPROVED_KEY)
        if found is None or not isinstance(found[0], bytes | bytearray) or not found[0]:
            return False
        return bool(found[0][0] & 1)

    def registered_command(self) -> str | None:
        found = self._query(RUN_KEY)
        if found is None or found[1] not in (self.winreg.REG_SZ, self.winreg.REG_EXPAND_SZ):
            return None
        return found[0] if isinstance(found[0], str) and found[0] else None

    def is_enabled(self) -> bool:
        return self.registered_command() is not None and not self._disabled_in_task_manager()

    @staticmethod
    def command_line(command: Sequence[str]) -> str:
        line = subprocess.list2cmdline(_check_command(command))
        if len(line) > MAX_RUN_COMMAND:
            raise AutostartError(
                f"cannot start edgenet at login: the command line is {len(line)} characters, "
                f"and Windows runs at most {MAX_RUN_COMMAND} from the Run key ({line[:80]}...)"
            )
        return line

    def enable(self, command: Sequence[str]) -> str:
        line = self.command_line(command)
        reg = self.winreg
        current = self._query(RUN_KEY)
        if current != (line, reg.REG_SZ):
            try:
                handle = reg.CreateKey(reg.HKEY_CURRENT_USER, RUN_KEY)
            except OSError as exc:
                raise AutostartError(f"cannot open HKEY_CURRENT_USER\\{RUN_KEY}: {exc}") from exc
            try:
                reg.SetValueEx(handle, RUN_VALUE, 0, reg.REG_SZ, line)
            except OSError as exc:
                raise AutostartError(f"cannot write {self.location}: {exc}") from exc
            finally:
                reg.CloseKey(handle)
        if self._disabled_in_task_manager():  # the user asks again: undo Task Manager's "Disable"
            self._delete(STARTUP_APPROVED_KEY)
        return self.location

    def disable(self) -> None:
        self._delete(RUN_KEY)
        self._delete(STARTUP_APPROVED_KEY)


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
        data = _read_bytes(self.path)
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
            "ProgramArguments": _check_command(command),
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
            _write_atomic(self.path, data)
        return self.path

    def disable(self) -> None:
        loaded = self._load()
        if loaded is None:
            return
        self._refuse_foreign(loaded, "removing")
        _remove(self.path)


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


# --- module API -----------------------------------------------------------------------------

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
        return WindowsRunBackend(_system_winreg() if winreg is None else winreg)
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

"""Linux and the BSDs: an XDG autostart entry (`$XDG_CONFIG_HOME/autostart/edgenet.desktop`)
and the Desktop Entry quoting that puts a command in it verbatim."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .base import APP_NAME, AutostartBackend, AutostartError
from .command import check_command
from .files import read_bytes, remove, write_atomic

log = logging.getLogger(__name__)

DESKTOP_FILE = "edgenet.desktop"
MARKER_KEY = "X-Edgenet-Autostart"  # marks a desktop entry as written by edgenet
COMMENT = "Lend idle CPU to a peer-to-peer compute network"


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
    return _escape_string(" ".join(quote_exec_arg(a) for a in check_command(command)))


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
        data = read_bytes(path)
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
        if read_bytes(self.path) != data:
            write_atomic(self.path, data)

    def enable(self, command: Sequence[str]) -> Path:
        command = check_command(command)
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
            remove(self.path)

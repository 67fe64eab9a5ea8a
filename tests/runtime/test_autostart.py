"""Start at login: every platform's backend, exercised on this machine (temporary homes and a
fake winreg), the Desktop Entry Exec quoting against an independent parser, and a real XDG
autostart entry in a temporary $XDG_CONFIG_HOME."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgenet_app.core.errors import EdgenetError
from edgenet_app.runtime.platform import autostart
from edgenet_app.runtime.platform.autostart import (
    AutostartError,
    LaunchAgentBackend,
    WindowsRunBackend,
    XdgAutostartBackend,
    default_command,
    desktop_exec,
    quote_exec_arg,
)
from edgenet_app.runtime.platform.autostart import files as autostart_files

HOSTILE = [
    "/opt/My Apps/python3",
    '/home/o"brien/bin/python',
    "/home/$USER/venv/bin/python",
    "/tmp/back\\slash/py",
    "/tmp/`whoami`/py",
    "/tmp/it's/py",
    "/tmp/100%/py",
    "/tmp/%f %u/py",
    "/tmp/a;b|c&d>e<f/py",
    "/tmp/~tilde/*star?/#hash/(paren)/py",
    "/tmp/tab\there/py",
    "/tmp/new\nline/py",
    "/tmp/cr\rreturn/py",
    '/tmp/\\"$`\\\\all/py',
    "/tmp/trailing space /py",
    "/home/josé/ünïcødé/py",
    "",
    " ",
    "\\",
    '"',
    "%",
    "%%",
    "-m",
    "edgenet_app",
]


# --- an independent Desktop Entry Exec parser, written from the spec ---------------------


def unescape_string(value: str) -> str:
    """Undo the key-file string escapes (\\s \\n \\t \\r \\\\); anything else is invalid."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = value[i + 1 : i + 2]
        table = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
        assert nxt in table, f"invalid escape \\{nxt!r} in {value!r}"
        out.append(table[nxt])
        i += 2
    return "".join(out)


RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def parse_exec(value: str) -> list[str]:
    """The argv a spec-following launcher builds from an Exec value as written in the file."""
    text = unescape_string(value)
    args: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        arg: list[str] = []
        if text[i] == '"':
            i += 1
            while True:
                assert i < len(text), f"unterminated quote in {text!r}"
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    nxt = text[i + 1 : i + 2]
                    assert nxt in ('"', "`", "$", "\\"), f"bad escape in quotes: {text!r}"
                    arg.append(nxt)
                    i += 2
                    continue
                arg.append(c)
                i += 1
            assert i == len(text) or text[i] == " ", f"junk after a quoted argument: {text!r}"
        else:
            while i < len(text) and text[i] != " ":
                assert text[i] not in RESERVED, f"unquoted reserved {text[i]!r} in {text!r}"
                arg.append(text[i])
                i += 1
        args.append(expand_field_codes("".join(arg)))
    return args


def expand_field_codes(arg: str) -> str:
    out, i = [], 0
    while i < len(arg):
        if arg[i] == "%":
            assert arg[i + 1 : i + 2] == "%", f"field code in {arg!r}"
            out.append("%")
            i += 2
        else:
            out.append(arg[i])
            i += 1
    return "".join(out)


def read_desktop(path: Path) -> dict[str, str]:
    group, entry = None, {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            group = line
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert group == "[Desktop Entry]"
            assert key not in entry, f"duplicate key {key}"
            entry[key] = value
    return entry


# --- Exec quoting ------------------------------------------------------------------------


@pytest.mark.parametrize("arg", HOSTILE)
def test_exec_quoting_round_trips_hostile_arguments(arg: str) -> None:
    command = [arg, "-m", "edgenet_app", arg]
    written = desktop_exec(command)
    assert "\n" not in written and "\r" not in written and "\t" not in written
    assert parse_exec(written) == command


def test_exec_quoting_examples_from_the_spec() -> None:
    assert desktop_exec(["/usr/bin/python3", "-m", "edgenet_app"]) == (
        "/usr/bin/python3 -m edgenet_app"
    )
    assert desktop_exec(["/opt/My Apps/py"]) == '"/opt/My Apps/py"'
    # a literal backslash in a quoted argument takes four backslashes, `$` takes `\\$`
    assert desktop_exec(["/a\\b"]) == '"/a\\\\\\\\b"'
    assert desktop_exec(["/a$b"]) == '"/a\\\\$b"'
    assert desktop_exec(['/a"b']) == '"/a\\\\"b"'
    assert desktop_exec(["/a`b"]) == '"/a\\\\`b"'
    assert desktop_exec(["/100%"]) == "/100%%"
    assert desktop_exec([""]) == '""'
    assert desktop_exec(["/new\nline"]) == '"/new\\nline"'
    assert quote_exec_arg("it's") == '"it\'s"'


@given(st.lists(st.text(st.characters(blacklist_categories=["Cc", "Cs"])), min_size=1))
def test_exec_quoting_round_trips_any_printable_text(command: list[str]) -> None:
    assert parse_exec(desktop_exec(command)) == command


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize("arg", [a for a in HOSTILE if "%" not in a])
@pytest.mark.slow
def test_exec_quoting_agrees_with_a_posix_shell(arg: str) -> None:
    """The spec's quoting is the shell's double-quote rule: a second, independent parser."""
    line = unescape_string(desktop_exec([arg, "x y"]))
    out = subprocess.run(
        ["sh", "-c", f"printf '%s\\0' {line}"], capture_output=True, check=True
    ).stdout
    assert out.decode("utf-8").split("\0")[:-1] == [arg, "x y"]


@pytest.mark.parametrize("bad", ["/tmp/\x01/py", "/tmp/\x7f", "/tmp/\x1b[31m"])
def test_exec_quoting_refuses_control_characters(bad: str) -> None:
    with pytest.raises(AutostartError, match="control character"):
        desktop_exec([bad])


def test_exec_quoting_refuses_bad_commands() -> None:
    for bad in ([], "python", ["/a\0b"], [b"/bin/x"]):
        with pytest.raises(AutostartError):
            desktop_exec(bad)  # type: ignore[arg-type]


# --- default command ---------------------------------------------------------------------


def test_default_command_runs_this_interpreter_as_a_module() -> None:
    assert default_command() == [sys.executable, "-m", "edgenet_app", "--minimized"]
    assert default_command("linux", executable="/venv/bin/python") == [
        "/venv/bin/python",
        "-m",
        "edgenet_app",
        "--minimized",
    ]
    # a venv's python is a symlink: used as given, never resolved
    assert default_command("linux", executable="/v/bin/../bin/python")[0] == (
        "/v/bin/../bin/python"
    )


def test_default_command_frozen_is_the_executable_alone() -> None:
    assert default_command("linux", executable="/opt/edgenet/edgenet", frozen=True) == [
        "/opt/edgenet/edgenet",
        "--minimized",
    ]
    exe = "C:\\Program Files\\edgenet\\edgenet.exe"
    assert default_command("win32", executable=exe, frozen=True) == [exe, "--minimized"]


def test_default_command_prefers_pythonw_on_windows(tmp_path: Path) -> None:
    python = tmp_path / "Scripts" / "python.exe"
    python.parent.mkdir()
    python.touch()
    assert default_command("win32", executable=str(python), frozen=False)[0] == str(python)
    (tmp_path / "Scripts" / "pythonw.exe").touch()
    assert default_command("win32", executable=str(python), frozen=False) == [
        str(tmp_path / "Scripts" / "pythonw.exe"),
        "-m",
        "edgenet_app",
        "--minimized",
    ]


def test_default_command_refuses_unknown_or_relative_interpreter() -> None:
    with pytest.raises(AutostartError, match=r"sys\.executable"):
        default_command("linux", executable="", frozen=False)
    with pytest.raises(AutostartError, match="not an absolute path"):
        default_command("linux", executable="python3", frozen=False)
    with pytest.raises(AutostartError, match="not an absolute path"):
        default_command("win32", executable="python.exe", frozen=False)


def test_autostart_error_is_an_edgenet_error() -> None:
    assert issubclass(AutostartError, EdgenetError)


# --- Linux / BSD: XDG autostart ----------------------------------------------------------


def xdg_env(tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
    }


def xdg_kw(tmp_path: Path) -> dict[str, Any]:
    return {"platform": "linux", "env": xdg_env(tmp_path)}


COMMAND = ["/opt/My Apps/venv/bin/python", "-m", "edgenet_app"]


def test_xdg_enable_is_enabled_disable(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    path = tmp_path / "config" / "autostart" / "edgenet.desktop"
    assert not autostart.is_enabled(**kw)
    assert autostart.enable(COMMAND, **kw) == path
    assert autostart.is_enabled(**kw)
    entry = read_desktop(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "edgenet"
    assert entry["Icon"] == "edgenet"
    assert entry["Terminal"] == "false"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Comment"]
    assert "Hidden" not in entry
    assert parse_exec(entry["Exec"]) == COMMAND
    assert unescape_string(entry["TryExec"]) == COMMAND[0]
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["edgenet.desktop"]  # no temp files

    autostart.disable(**kw)
    assert not path.exists()
    assert not autostart.is_enabled(**kw)


def test_xdg_enable_and_disable_are_idempotent(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    path = Path(autostart.enable(COMMAND, **kw))
    before = path.stat()
    assert autostart.enable(COMMAND, **kw) == path
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)  # no rewrite
    autostart.enable(["/other/python", "-m", "edgenet_app"], **kw)  # another install takes over
    assert parse_exec(read_desktop(path)["Exec"]) == ["/other/python", "-m", "edgenet_app"]
    autostart.disable(**kw)
    autostart.disable(**kw)
    assert not autostart.is_enabled(**kw)
    autostart.set_enabled(True, COMMAND, **kw)
    assert autostart.is_enabled(**kw)
    autostart.set_enabled(False, **kw)
    assert not autostart.is_enabled(**kw)


@pytest.mark.parametrize(
    "switch", ["Hidden=true", "X-GNOME-Autostart-enabled=false", "Hidden=1", "Hidden = true"]
)
def test_xdg_entry_switched_off_by_the_user_counts_as_disabled(tmp_path: Path, switch: str) -> None:
    kw = xdg_kw(tmp_path)
    path = Path(autostart.enable(COMMAND, **kw))
    text = path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    path.write_text(text + switch + "\n")
    assert not autostart.is_enabled(**kw)
    assert autostart.status(**kw)["command"] is None
    autostart.enable(COMMAND, **kw)  # asking again switches it back on
    assert autostart.is_enabled(**kw)
    assert "Hidden" not in read_desktop(path)


def test_xdg_keys_outside_the_desktop_entry_group_do_not_count(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    path = Path(autostart.enable(COMMAND, **kw))
    path.write_text(path.read_text() + "\n[Desktop Action x]\nHidden=true\n")
    assert autostart.is_enabled(**kw)


def test_xdg_leaves_someone_elses_entry_alone(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    path = tmp_path / "config" / "autostart" / "edgenet.desktop"
    path.parent.mkdir(parents=True)
    foreign = "[Desktop Entry]\nType=Application\nName=Mine\nExec=/usr/bin/mine\n"
    path.write_text(foreign)
    assert not autostart.is_enabled(**kw)
    with pytest.raises(AutostartError, match=r"edgenet\.desktop was not written by edgenet"):
        autostart.enable(COMMAND, **kw)
    with pytest.raises(AutostartError, match="not removing"):
        autostart.disable(**kw)
    assert path.read_text() == foreign
    path.write_text(foreign + "Hidden=true\n")
    autostart.disable(**kw)  # already off: nothing to do
    assert path.read_text() == foreign + "Hidden=true\n"


def test_xdg_masks_a_system_wide_entry_instead_of_deleting_it(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    system = tmp_path / "etc-xdg" / "autostart" / "edgenet.desktop"
    system.parent.mkdir(parents=True)
    system.write_text("[Desktop Entry]\nType=Application\nName=edgenet\nExec=edgenet\n")
    assert autostart.is_enabled(**kw)  # an administrator's entry starts it
    assert autostart.status(**kw)["command"] == "edgenet"
    autostart.disable(**kw)
    user = tmp_path / "config" / "autostart" / "edgenet.desktop"
    assert read_desktop(user)["Hidden"] == "true"
    assert system.exists()
    assert not autostart.is_enabled(**kw)
    autostart.disable(**kw)
    assert autostart.enable(COMMAND, **kw) == user
    assert autostart.is_enabled(**kw)
    assert "Hidden" not in read_desktop(user)
    system.write_text(system.read_text() + "Hidden=true\n")
    autostart.disable(**kw)  # the system entry is off: plain removal
    assert not user.exists() and not autostart.is_enabled(**kw)


def test_xdg_directories_follow_the_base_directory_spec(tmp_path: Path) -> None:
    home = tmp_path / "home"
    b = autostart.get_backend(platform="linux", env={"HOME": str(home)})
    assert isinstance(b, XdgAutostartBackend)
    assert b.path == home / ".config" / "autostart" / "edgenet.desktop"
    assert b.system_paths == [Path("/etc/xdg/autostart/edgenet.desktop")]
    b = autostart.get_backend(
        platform="freebsd14", env={"HOME": str(home), "XDG_CONFIG_HOME": "relative/ignored"}
    )
    assert isinstance(b, XdgAutostartBackend)
    assert b.path == home / ".config" / "autostart" / "edgenet.desktop"
    b = autostart.get_backend(
        platform="linux",
        home=tmp_path / "h2",
        env={"XDG_CONFIG_HOME": "", "XDG_CONFIG_DIRS": "/a:rel:/b"},
    )
    assert isinstance(b, XdgAutostartBackend)
    assert b.path == tmp_path / "h2" / ".config" / "autostart" / "edgenet.desktop"
    assert b.system_paths == [
        Path("/a/autostart/edgenet.desktop"),
        Path("/b/autostart/edgenet.desktop"),
    ]


def test_xdg_write_failure_is_clear_and_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kw = xdg_kw(tmp_path)
    path = Path(autostart.enable(COMMAND, **kw))
    good = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(autostart_files.os, "replace", broken_replace)
    with pytest.raises(AutostartError, match=rf"cannot write {path}: No space left on device"):
        autostart.enable(["/other/python"], **kw)
    assert path.read_bytes() == good
    assert [p.name for p in path.parent.iterdir()] == ["edgenet.desktop"]


def test_xdg_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("a file where the directory should be")
    with pytest.raises(AutostartError, match=rf"cannot create {tmp_path / 'config'}"):
        autostart.enable(COMMAND, **xdg_kw(tmp_path))


def test_xdg_permission_denied_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a non-root user would see in a read-only directory (this also runs as root)."""
    kw = xdg_kw(tmp_path)

    def denied(**_: Any) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(autostart_files.tempfile, "mkstemp", denied)
    autostart_dir = tmp_path / "config" / "autostart"
    with pytest.raises(
        AutostartError, match=rf"cannot write {autostart_dir}/edgenet\.desktop: Permission denied"
    ):
        autostart.enable(COMMAND, **kw)
    assert list(autostart_dir.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_xdg_read_only_directory_is_a_clear_error(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    autostart_dir = tmp_path / "config" / "autostart"
    autostart_dir.mkdir(parents=True)
    autostart_dir.chmod(0o500)
    try:
        with pytest.raises(AutostartError, match=rf"cannot write {autostart_dir}"):
            autostart.enable(COMMAND, **kw)
        assert list(autostart_dir.iterdir()) == []
    finally:
        autostart_dir.chmod(0o700)


def test_xdg_refuses_a_command_it_cannot_encode(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    undecodable = os.fsdecode(b"/tmp/\xff/python")  # a non-UTF-8 file name
    with pytest.raises(AutostartError, match="not valid UTF-8"):
        autostart.enable([undecodable], **kw)
    with pytest.raises(AutostartError, match="control character"):
        autostart.enable(["/tmp/\x01/python"], **kw)
    assert not (tmp_path / "config" / "autostart" / "edgenet.desktop").exists()


@pytest.mark.parametrize("arg", HOSTILE)
def test_xdg_hostile_paths_round_trip_through_the_file(tmp_path: Path, arg: str) -> None:
    kw = xdg_kw(tmp_path)
    command = ["/opt/x y/python", arg, "-m", "edgenet_app"]
    path = Path(autostart.enable(command, **kw))
    entry = read_desktop(path)  # one line per key: no raw newline escaped the quoting
    assert parse_exec(entry["Exec"]) == command
    assert autostart.is_enabled(**kw)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.slow
def test_xdg_entries_pass_desktop_file_validate(tmp_path: Path, hidden: bool) -> None:
    path = tmp_path / "edgenet.desktop"
    command = ["/opt/x y/py", *[a for a in HOSTILE if a.isprintable() or "\n" in a]]
    path.write_text(XdgAutostartBackend.render(command, hidden=hidden), encoding="utf-8")
    out = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="this machine's real backend")
@pytest.mark.slow
def test_real_xdg_autostart_in_a_temporary_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defaults (sys.platform, os.environ, sys.executable), as the tray app will call."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg dirs"))
    path = tmp_path / "xdg config" / "autostart" / "edgenet.desktop"
    assert not autostart.is_enabled()
    assert autostart.enable() == path
    assert autostart.is_enabled()
    argv = parse_exec(read_desktop(path)["Exec"])
    assert argv == [sys.executable, "-m", "edgenet_app", "--minimized"]
    # the entry really starts this installation's tray app (asked only for its help here)
    out = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("usage: edgenet app"), out.stderr
    st = autostart.status()
    assert st["mechanism"] == "xdg-autostart" and st["location"] == str(path)
    assert st["enabled"] is True and st["error"] is None
    assert parse_exec(st["command"]) == argv and st["default_command"] == argv
    autostart.disable()
    assert not path.exists() and not autostart.is_enabled()
    assert autostart.status()["enabled"] is False


# --- Windows: the Run key, with a fake winreg --------------------------------------------


class FakeWinreg:
    """Enough of `winreg`: keys are paths under HKCU, opening a missing key or value raises
    FileNotFoundError, CreateKey creates intermediate keys, handles must be closed."""

    HKEY_CURRENT_USER = 0x80000001
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1
    REG_EXPAND_SZ = 2
    REG_BINARY = 3

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[Any, int]]] = {"": {}}
        self.open: dict[int, tuple[str, int]] = {}
        self._next = 1
        self.writes = 0
        self.fail_writes = False

    def _handle(self, path: str, access: int) -> int:
        self._next += 1
        self.open[self._next] = (path, access)
        return self._next

    def _path(self, key: Any, sub_key: str | None) -> str:
        base = "" if key == self.HKEY_CURRENT_USER else self.open[key][0]
        return "\\".join(p for p in (base, sub_key or "") if p).lower()

    def OpenKey(self, key: Any, sub_key: str, reserved: int = 0, access: int = KEY_READ) -> int:
        path = self._path(key, sub_key)
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._handle(path, access)

    def CreateKey(self, key: Any, sub_key: str | None) -> int:
        path = self._path(key, sub_key)
        parts = path.split("\\")
        for n in range(1, len(parts) + 1):
            self.keys.setdefault("\\".join(parts[:n]), {})
        return self._handle(path, self.KEY_READ | self.KEY_SET_VALUE)

    def QueryValueEx(self, key: Any, name: str) -> tuple[Any, int]:
        path, _ = self.open[key]
        try:
            return self.keys[path][name.lower()]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None

    def SetValueEx(
        self, key: Any, value_name: str | None, reserved: Any, type: int, value: Any
    ) -> None:
        path, access = self.open[key]
        if self.fail_writes or not access & self.KEY_SET_VALUE:
            raise PermissionError(5, "Access is denied")
        assert type != self.REG_SZ or isinstance(value, str)
        self.keys[path][(value_name or "").lower()] = (value, type)
        self.writes += 1

    def DeleteValue(self, key: Any, value: str) -> None:
        path, access = self.open[key]
        if self.fail_writes or not access & self.KEY_SET_VALUE:
            raise PermissionError(5, "Access is denied")
        try:
            del self.keys[path][value.lower()]
        except KeyError:
            raise FileNotFoundError(2, "The system cannot find the file specified") from None
        self.writes += 1

    def CloseKey(self, hkey: Any) -> None:
        del self.open[hkey]

    def value(self, sub_key: str, name: str) -> tuple[Any, int] | None:
        return self.keys.get(sub_key.lower(), {}).get(name.lower())


RUN = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
WIN_COMMAND = [r"C:\Users\Zoë O'Neil\My venv\Scripts\pythonw.exe", "-m", "edgenet_app"]


def test_windows_enable_is_enabled_disable() -> None:
    reg = FakeWinreg()
    kw: dict[str, Any] = {"platform": "win32", "winreg": reg}
    assert not autostart.is_enabled(**kw)
    location = autostart.enable(WIN_COMMAND, **kw)
    assert location == "HKEY_CURRENT_USER\\" + RUN + "\\edgenet"
    assert reg.value(RUN, "edgenet") == (
        '"C:\\Users\\Zoë O\'Neil\\My venv\\Scripts\\pythonw.exe" -m edgenet_app',
        reg.REG_SZ,
    )
    assert reg.value(RUN, "edgenet") == (subprocess.list2cmdline(WIN_COMMAND), reg.REG_SZ)
    assert autostart.is_enabled(**kw)
    st = autostart.status(**kw)
    assert (st["mechanism"], st["location"], st["enabled"]) == ("registry-run", location, True)
    assert st["command"] == subprocess.list2cmdline(WIN_COMMAND)
    autostart.disable(**kw)
    assert reg.value(RUN, "edgenet") is None
    assert not autostart.is_enabled(**kw)
    assert reg.open == {}  # every handle closed


def test_windows_enable_and_disable_are_idempotent() -> None:
    reg = FakeWinreg()
    kw: dict[str, Any] = {"platform": "win32", "winreg": reg}
    autostart.disable(**kw)  # no Run key at all yet
    autostart.enable(WIN_COMMAND, **kw)
    writes = reg.writes
    autostart.enable(WIN_COMMAND, **kw)
    assert reg.writes == writes  # unchanged: nothing written
    autostart.disable(**kw)
    autostart.disable(**kw)
    assert not autostart.is_enabled(**kw)
    assert reg.open == {}


def test_windows_keeps_other_programs_run_values() -> None:
    reg = FakeWinreg()
    handle = reg.CreateKey(reg.HKEY_CURRENT_USER, RUN)
    reg.SetValueEx(handle, "OneDrive", 0, reg.REG_SZ, r"C:\OneDrive.exe /background")
    reg.CloseKey(handle)
    autostart.enable(WIN_COMMAND, platform="win32", winreg=reg)
    autostart.disable(platform="win32", winreg=reg)
    assert reg.value(RUN, "OneDrive") == (r"C:\OneDrive.exe /background", reg.REG_SZ)


@pytest.mark.parametrize("arg", HOSTILE)
def test_windows_hostile_arguments_are_quoted_with_list2cmdline(arg: str) -> None:
    reg = FakeWinreg()
    command = [r"C:\Program Files\Python 3.12\pythonw.exe", arg, "-m", "edgenet_app"]
    autostart.enable(command, platform="win32", winreg=reg)
    stored = reg.value(RUN, "edgenet")
    assert stored == (subprocess.list2cmdline(command), reg.REG_SZ)
    assert stored[0].startswith('"C:\\Program Files\\Python 3.12\\pythonw.exe" ')


def test_windows_disabled_in_task_manager_counts_as_disabled() -> None:
    reg = FakeWinreg()
    kw: dict[str, Any] = {"platform": "win32", "winreg": reg}
    autostart.enable(WIN_COMMAND, **kw)
    handle = reg.CreateKey(reg.HKEY_CURRENT_USER, APPROVED)
    reg.SetValueEx(handle, "edgenet", 0, reg.REG_BINARY, bytes([3]) + bytes(11))
    reg.CloseKey(handle)
    assert not autostart.is_enabled(**kw)
    autostart.enable(WIN_COMMAND, **kw)  # asking again undoes Task Manager's "Disable"
    assert reg.value(APPROVED, "edgenet") is None
    assert autostart.is_enabled(**kw)
    handle = reg.CreateKey(reg.HKEY_CURRENT_USER, APPROVED)
    reg.SetValueEx(handle, "edgenet", 0, reg.REG_BINARY, bytes([2]) + bytes(11))  # enabled
    reg.CloseKey(handle)
    assert autostart.is_enabled(**kw)
    autostart.disable(**kw)
    assert reg.value(APPROVED, "edgenet") is None and reg.value(RUN, "edgenet") is None
    assert reg.open == {}


def test_windows_refuses_a_command_line_windows_would_not_run() -> None:
    reg = FakeWinreg()
    with pytest.raises(AutostartError, match="at most 260"):
        autostart.enable(["C:\\" + "x" * 300 + "\\pythonw.exe"], platform="win32", winreg=reg)
    with pytest.raises(AutostartError, match="NUL"):
        autostart.enable(["C:\\a\0b.exe"], platform="win32", winreg=reg)
    assert reg.value(RUN, "edgenet") is None


def test_windows_registry_errors_are_clear() -> None:
    reg = FakeWinreg()
    reg.fail_writes = True
    with pytest.raises(AutostartError, match=r"cannot write HKEY_CURRENT_USER\\.*\\Run\\edgenet"):
        autostart.enable(WIN_COMMAND, platform="win32", winreg=reg)
    assert reg.open == {}
    reg.fail_writes = False
    autostart.enable(WIN_COMMAND, platform="win32", winreg=reg)
    reg.fail_writes = True
    with pytest.raises(AutostartError, match="cannot remove"):
        autostart.disable(platform="win32", winreg=reg)
    assert reg.open == {}


@pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows fallback")
def test_windows_backend_needs_winreg() -> None:
    with pytest.raises(AutostartError, match="only available on Windows"):
        autostart.get_backend(platform="win32")
    assert autostart.status(platform="win32")["error"] is not None


def test_windows_default_command_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = tmp_path / "python.exe"
    python.touch()
    (tmp_path / "pythonw.exe").touch()
    monkeypatch.setattr(autostart.sys, "executable", str(python))
    reg = FakeWinreg()
    autostart.enable(platform="win32", winreg=reg)
    stored = reg.value(RUN, "edgenet")
    assert stored is not None
    assert stored[0] == subprocess.list2cmdline(
        [str(tmp_path / "pythonw.exe"), "-m", "edgenet_app", "--minimized"]
    )


# --- macOS: a launch agent ---------------------------------------------------------------


MAC_COMMAND = [
    "/Users/zoë/Library/Application Support/edgenet venv/bin/python",
    "-m",
    "edgenet_app",
]


def agent_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / "org.edgenet.app.plist"


def test_macos_enable_is_enabled_disable(tmp_path: Path) -> None:
    kw: dict[str, Any] = {"platform": "darwin", "home": tmp_path}
    path = agent_path(tmp_path)
    assert not autostart.is_enabled(**kw)
    assert autostart.enable(MAC_COMMAND, **kw) == path
    assert autostart.is_enabled(**kw)
    plist = plistlib.loads(path.read_bytes())
    assert plist == {
        "Label": "org.edgenet.app",
        "ProgramArguments": MAC_COMMAND,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
    }
    assert path.read_bytes().startswith(b"<?xml")
    assert path.stat().st_mode & 0o777 == 0o644
    st = autostart.status(**kw)
    assert (st["mechanism"], st["location"], st["enabled"]) == ("launch-agent", str(path), True)
    autostart.disable(**kw)
    assert not path.exists() and not autostart.is_enabled(**kw)


def test_macos_enable_and_disable_are_idempotent(tmp_path: Path) -> None:
    kw: dict[str, Any] = {"platform": "darwin", "home": tmp_path}
    path = Path(autostart.enable(MAC_COMMAND, **kw))
    before = path.stat()
    autostart.enable(MAC_COMMAND, **kw)
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    autostart.disable(**kw)
    autostart.disable(**kw)
    assert not autostart.is_enabled(**kw)


@pytest.mark.parametrize("arg", [a for a in HOSTILE if a.isprintable() or "\n" in a or "\t" in a])
def test_macos_hostile_arguments_round_trip(tmp_path: Path, arg: str) -> None:
    command = ["/Applications/My App/python", arg]
    path = Path(autostart.enable(command, platform="darwin", home=tmp_path))
    assert plistlib.loads(path.read_bytes())["ProgramArguments"] == command


def test_macos_disabled_agent_counts_as_disabled(tmp_path: Path) -> None:
    kw: dict[str, Any] = {"platform": "darwin", "home": tmp_path}
    path = Path(autostart.enable(MAC_COMMAND, **kw))
    plist = plistlib.loads(path.read_bytes())
    path.write_bytes(plistlib.dumps({**plist, "Disabled": True}))
    assert not autostart.is_enabled(**kw)
    autostart.enable(MAC_COMMAND, **kw)
    assert autostart.is_enabled(**kw)


def test_macos_leaves_a_foreign_plist_alone(tmp_path: Path) -> None:
    kw: dict[str, Any] = {"platform": "darwin", "home": tmp_path}
    path = agent_path(tmp_path)
    path.parent.mkdir(parents=True)
    for foreign in (plistlib.dumps({"Label": "com.example.other"}), b"not a plist"):
        path.write_bytes(foreign)
        assert not autostart.is_enabled(**kw)
        with pytest.raises(AutostartError, match="not an edgenet launch agent"):
            autostart.enable(MAC_COMMAND, **kw)
        with pytest.raises(AutostartError, match="not removing"):
            autostart.disable(**kw)
        assert path.read_bytes() == foreign


def test_macos_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "Library").write_text("a file")
    with pytest.raises(AutostartError, match=rf"cannot create {tmp_path / 'Library'}"):
        autostart.enable(MAC_COMMAND, platform="darwin", home=tmp_path)
    with pytest.raises(AutostartError, match="launch agent"):
        autostart.enable(["/bin/\x01"], platform="darwin", home=tmp_path / "h")
    assert not (tmp_path / "h").exists()


# --- everything else ---------------------------------------------------------------------


@pytest.mark.parametrize("plat", ["android", "ios", "emscripten", "wasi"])
def test_unsupported_platforms(plat: str) -> None:
    assert not autostart.is_enabled(platform=plat)
    autostart.disable(platform=plat)
    with pytest.raises(AutostartError, match=f"not supported on {plat}"):
        autostart.enable(["/bin/x"], platform=plat)
    st = autostart.status(platform=plat)
    assert st["mechanism"] == "unsupported" and st["enabled"] is False


def test_backends_chosen_by_platform(tmp_path: Path) -> None:
    env: Mapping[str, str] = {"HOME": str(tmp_path)}
    assert isinstance(autostart.get_backend(platform="linux", env=env), XdgAutostartBackend)
    assert isinstance(autostart.get_backend(platform="openbsd7", env=env), XdgAutostartBackend)
    mac = autostart.get_backend(platform="darwin", env=env)
    assert isinstance(mac, LaunchAgentBackend) and mac.path == agent_path(tmp_path)
    win = autostart.get_backend(platform="win32", winreg=FakeWinreg())
    assert isinstance(win, WindowsRunBackend)


def test_status_reports_errors_instead_of_raising(tmp_path: Path) -> None:
    kw = xdg_kw(tmp_path)
    autostart_dir = tmp_path / "config" / "autostart"
    autostart_dir.mkdir(parents=True)
    (autostart_dir / "edgenet.desktop").mkdir()  # unreadable as a file
    st = autostart.status(**kw)
    assert st["enabled"] is False and "cannot read" in st["error"]
    assert set(st) == {
        "platform",
        "mechanism",
        "location",
        "enabled",
        "command",
        "default_command",
        "error",
    }

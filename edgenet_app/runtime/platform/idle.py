"""How long since the user last touched the keyboard or mouse, on every platform.

Each source is a small class with a `name` (shown in the UI: "idle source: X11
XScreenSaver") and `idle_seconds()`, which returns seconds since the last input or None
when it cannot tell; `close()` releases what it holds and a later call opens it again.
`IdleMonitor` tries the sources of `default_sources()` in order and keeps the first that
answers. Every call is cheap: the node asks every 2 s on its event loop.

| platform | source |
|---|---|
| X11 | libXss `XScreenSaverQueryInfo` through ctypes, one display connection kept open |
| GNOME (Wayland, X11) | D-Bus `org.gnome.Mutter.IdleMonitor.GetIdletime` (ms), session bus |
| KDE and others | D-Bus `org.freedesktop.ScreenSaver.GetSessionIdleTime` (ms) |
| Windows | `GetLastInputInfo` and `GetTickCount` through ctypes |
| macOS | `ioreg -c IOHIDSystem`, `HIDIdleTime` in ns, cached for 1 s |
| anything else | none: idle time unknown, which the policy treats as idle |

On a Wayland session the X11 source is not tried: XWayland only sees input to X clients,
so it would report the user idle while they type into Wayland windows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

NO_SOURCE = "none (no idle source)"


class IdleSource(Protocol):
    name: str

    def idle_seconds(self) -> float | None: ...

    def close(self) -> None: ...


class NoIdleSource:
    """No way to tell: headless machines contribute at their CPU limit."""

    name = NO_SOURCE

    def idle_seconds(self) -> float | None:
        return None

    def close(self) -> None:
        pass


# -- X11 ------------------------------------------------------------------------------------


class _XScreenSaverInfo(ctypes.Structure):
    _fields_ = [  # the layout of XScreenSaverInfo (X11/extensions/scrnsaver.h)
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),  # ms since the last input
        ("event_mask", ctypes.c_ulong),
    ]


_IOErrorExitHandler = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_IOErrorHandler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

# Displays opened by X11IdleSource (pointer -> source), and Xlib's I/O error handlers: the
# handler is process-wide, so ours marks our own displays broken and hands any other
# display to the handler it replaced (which reports the error and exits, as before).
_our_displays: dict[int, X11IdleSource] = {}
_previous_io_handler: Any = None


def _on_io_error(dpy: int | None) -> int:
    source = _our_displays.get(dpy or 0)
    if source is None:
        return int(_previous_io_handler(dpy)) if _previous_io_handler else 0
    source._dead = True
    return 0


def _on_io_error_exit(dpy: int | None, data: int | None) -> None:
    source = _our_displays.get(dpy or 0)
    if source is not None:
        source._dead = True


_io_handler = _IOErrorHandler(_on_io_error)
_io_exit_handler = _IOErrorExitHandler(_on_io_error_exit)


_x11_libs: tuple[Any, Any] | None = None


def _load_x11() -> tuple[Any, Any] | None:
    """libX11 and libXss, loaded and declared once per process (None if missing)."""
    global _x11_libs, _previous_io_handler
    if _x11_libs is not None:
        return _x11_libs
    x11_name, xss_name = ctypes.util.find_library("X11"), ctypes.util.find_library("Xss")
    if not x11_name or not xss_name:
        return None
    try:
        x11, xss = ctypes.CDLL(x11_name), ctypes.CDLL(xss_name)
    except OSError:
        return None
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    xss.XScreenSaverQueryExtension.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_int),
    ]
    xss.XScreenSaverQueryInfo.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.POINTER(_XScreenSaverInfo),
    ]
    if hasattr(x11, "XSetIOErrorExitHandler"):  # libX11 >= 1.7
        x11.XSetIOErrorExitHandler.argtypes = [
            ctypes.c_void_p,
            _IOErrorExitHandler,
            ctypes.c_void_p,
        ]
        x11.XSetIOErrorExitHandler.restype = None
        x11.XSetIOErrorHandler.argtypes = [_IOErrorHandler]
        x11.XSetIOErrorHandler.restype = _IOErrorHandler
        _previous_io_handler = x11.XSetIOErrorHandler(_io_handler)
    _x11_libs = (x11, xss)
    return _x11_libs


class X11IdleSource:
    """libXss `XScreenSaverQueryInfo` on `display` (default `$DISPLAY`), opened once.

    If the X server goes away, Xlib's default reaction is to exit the process. With libX11
    >= 1.7 our I/O error handlers turn that into "no answer" for our display (and leave
    every other display's handling as it was); older libX11 exits as before.
    """

    name = "X11 XScreenSaver"

    def __init__(self, display: str | None = None) -> None:
        self.display = display
        self._libs: tuple[Any, Any] | None = None
        self._dpy: int | None = None
        self._root = 0
        self._dead = False  # the connection broke: that Display is never used again
        self._info = _XScreenSaverInfo()

    def _open(self) -> bool:
        name = self.display if self.display is not None else os.environ.get("DISPLAY")
        if not name:
            return False
        if self._libs is None:
            self._libs = _load_x11()
            if self._libs is None:
                return False
        x11, xss = self._libs
        dpy = x11.XOpenDisplay(name.encode())
        if not dpy:
            return False
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not xss.XScreenSaverQueryExtension(
            dpy, ctypes.byref(event_base), ctypes.byref(error_base)
        ):
            x11.XCloseDisplay(dpy)
            log.info("X display %s has no MIT-SCREEN-SAVER extension", name)
            return False
        if hasattr(x11, "XSetIOErrorExitHandler"):
            x11.XSetIOErrorExitHandler(dpy, _io_exit_handler, None)
        _our_displays[dpy] = self
        self._dpy, self._root, self._dead = dpy, x11.XDefaultRootWindow(dpy), False
        return True

    def idle_seconds(self) -> float | None:
        if self._dead:
            self._forget()  # leaked on purpose: closing a broken Display re-enters Xlib
        if self._dpy is None and not self._open():
            return None
        assert self._libs is not None
        ok = self._libs[1].XScreenSaverQueryInfo(self._dpy, self._root, ctypes.byref(self._info))
        if not ok or self._dead:
            return None
        return float(self._info.idle) / 1000.0

    def _forget(self) -> None:
        if self._dpy is not None:
            _our_displays.pop(self._dpy, None)
        self._dpy, self._dead = None, False

    def close(self) -> None:
        if self._dpy is not None and not self._dead and self._libs is not None:
            self._libs[0].XCloseDisplay(self._dpy)
        self._forget()


# -- D-Bus (GNOME, KDE) ---------------------------------------------------------------------


class DBusIdleSource:
    """A method returning idle milliseconds, called through jeepney on one kept connection.

    Messages carry NO_AUTO_START (never start a service just to ask it) and every call has a
    short timeout; after a failure to connect, the next attempt waits `retry_s`.
    """

    def __init__(
        self,
        name: str,
        service: str,
        path: str,
        interface: str,
        method: str,
        *,
        bus: str = "SESSION",
        timeout_s: float = 0.25,
        retry_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.service, self.path, self.interface, self.method = service, path, interface, method
        self.bus = bus  # "SESSION", "SYSTEM" or a D-Bus address ("unix:path=...")
        self.timeout_s, self.retry_s, self.clock = timeout_s, retry_s, clock
        self._conn: Any = None
        self._retry_at = 0.0

    def _connect(self) -> Any:
        if self._conn is None and self.clock() >= self._retry_at:
            if self.bus == "SESSION" and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
                return None
            try:
                from jeepney.io.blocking import open_dbus_connection
            except ImportError:  # not installed (it is a Linux-only dependency)
                self._retry_at = float("inf")
                return None
            try:
                self._conn = open_dbus_connection(self.bus, auth_timeout=self.timeout_s)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:  # TimeoutError ⊂ OSError
                log.debug("%s: no D-Bus connection: %s", self.name, exc)
                self._retry_at = self.clock() + self.retry_s
        return self._conn

    def idle_seconds(self) -> float | None:
        conn = self._connect()
        if conn is None:
            return None
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.low_level import MessageFlag

        msg = new_method_call(DBusAddress(self.path, self.service, self.interface), self.method)
        msg.header.flags |= MessageFlag.no_auto_start
        try:
            reply = conn.send_and_get_reply(msg, timeout=self.timeout_s)
        except (OSError, ValueError) as exc:  # bus gone, timeout, garbage
            log.debug("%s: %s", self.name, exc)
            self.close()
            self._retry_at = self.clock() + self.retry_s
            return None
        if reply.header.message_type != MessageType.method_return or not reply.body:
            return None  # no such service, or "not implemented" (GNOME's ScreenSaver)
        value = reply.body[0]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None
        return value / 1000.0

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._conn = None


def mutter_source(**kw: Any) -> DBusIdleSource:
    return DBusIdleSource(
        "GNOME Mutter IdleMonitor (D-Bus)",
        "org.gnome.Mutter.IdleMonitor",
        "/org/gnome/Mutter/IdleMonitor/Core",
        "org.gnome.Mutter.IdleMonitor",
        "GetIdletime",  # t: milliseconds
        **kw,
    )


def screensaver_source(**kw: Any) -> DBusIdleSource:
    return DBusIdleSource(
        "freedesktop ScreenSaver (D-Bus)",
        "org.freedesktop.ScreenSaver",
        "/org/freedesktop/ScreenSaver",
        "org.freedesktop.ScreenSaver",
        "GetSessionIdleTime",  # u: milliseconds in KDE's implementation; GNOME: not implemented
        **kw,
    )


# -- Windows --------------------------------------------------------------------------------


def tick_delta_ms(now_tick: int, last_input_tick: int) -> int:
    """Milliseconds between two GetTickCount values; the 32-bit counter wraps every 49.7 days."""
    return (now_tick - last_input_tick) & 0xFFFFFFFF


class WindowsIdleSource:
    """`GetLastInputInfo` (tick of the last input) against `GetTickCount` (tick now)."""

    name = "Windows GetLastInputInfo"

    def __init__(
        self,
        get_tick: Callable[[], int] | None = None,
        get_last_input: Callable[[], int | None] | None = None,
    ) -> None:
        self._get_tick = get_tick
        self._get_last_input = get_last_input

    def _bind(self) -> bool:
        if self._get_tick is not None and self._get_last_input is not None:
            return True
        if sys.platform != "win32":
            return False
        user32, kernel32 = ctypes.windll.user32, ctypes.windll.kernel32

        class LastInputInfo(ctypes.Structure):
            _fields_ = [("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint32)]

        kernel32.GetTickCount.restype = ctypes.c_uint32
        info = LastInputInfo()
        info.cbSize = ctypes.sizeof(LastInputInfo)

        def last_input() -> int | None:
            return int(info.dwTime) if user32.GetLastInputInfo(ctypes.byref(info)) else None

        self._get_tick = lambda: int(kernel32.GetTickCount())
        self._get_last_input = last_input
        return True

    def idle_seconds(self) -> float | None:
        if not self._bind():
            return None
        assert self._get_tick is not None and self._get_last_input is not None
        last = self._get_last_input()
        if last is None:
            return None
        return tick_delta_ms(self._get_tick(), last) / 1000.0

    def close(self) -> None:
        pass


# -- macOS ----------------------------------------------------------------------------------

_HID_IDLE = re.compile(r'"HIDIdleTime"\s*=\s*(\d+)')


def parse_hid_idle_time(text: str) -> float | None:
    """Seconds from `ioreg -c IOHIDSystem` output (the first `"HIDIdleTime" = <ns>`)."""
    m = _HID_IDLE.search(text)
    return int(m.group(1)) / 1e9 if m else None


def _run_ioreg() -> str:
    out = subprocess.run(
        ["ioreg", "-c", "IOHIDSystem"], capture_output=True, text=True, timeout=2.0, check=True
    )
    return out.stdout


class MacIdleSource:
    """`HIDIdleTime` from `ioreg -c IOHIDSystem`, cached for `cache_s` (it runs a process)."""

    name = "macOS IOHIDSystem HIDIdleTime"

    def __init__(
        self,
        run: Callable[[], str] = _run_ioreg,
        *,
        cache_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run, self.cache_s, self.clock = run, cache_s, clock
        self._cached: tuple[float, float | None] | None = None  # (taken at, value)

    def idle_seconds(self) -> float | None:
        now = self.clock()
        if self._cached is not None and now - self._cached[0] < self.cache_s:
            taken, value = self._cached
            return None if value is None else value + (now - taken)
        try:
            value = parse_hid_idle_time(self.run())
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("ioreg failed: %s", exc)
            value = None
        self._cached = (now, value)
        return value

    def close(self) -> None:
        self._cached = None


# -- choosing -------------------------------------------------------------------------------


def default_sources(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> list[IdleSource]:
    """The sources worth trying on this platform and session, best first."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return [WindowsIdleSource()]
    if platform == "darwin":
        return [MacIdleSource()]
    wayland = env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))
    dbus: list[IdleSource] = [mutter_source(), screensaver_source()]
    if wayland or not env.get("DISPLAY"):
        return dbus
    return [X11IdleSource(env["DISPLAY"]), *dbus]


class IdleMonitor:
    """The first of `sources` that answers; re-chosen when it stops answering.

    Nothing is opened before the first `idle_seconds()`. When no source answers, or the
    chosen one failed `max_failures` times in a row, the next choice waits `retry_s` (a
    desktop session's bus may come up after an autostarted app).
    """

    def __init__(
        self,
        sources: Sequence[IdleSource] | None = None,
        *,
        retry_s: float = 30.0,
        max_failures: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sources: Sequence[IdleSource] | None = sources
        self.retry_s, self.max_failures, self.clock = retry_s, max_failures, clock
        self._chosen: IdleSource | None = None
        self._failures = 0
        self._next_choice = 0.0

    @property
    def sources(self) -> Sequence[IdleSource]:
        if self._sources is None:
            self._sources = default_sources()
        return self._sources

    @property
    def name(self) -> str:
        """The source in use, or "none (no idle source)"."""
        return self._chosen.name if self._chosen is not None else NO_SOURCE

    def _choose(self) -> float | None:
        self._next_choice = self.clock() + self.retry_s
        for source in self.sources:
            value = source.idle_seconds()
            if value is not None:
                self._chosen, self._failures = source, 0
                log.info("idle source: %s", source.name)
                return value
            source.close()
        return None

    def idle_seconds(self) -> float | None:
        if self._chosen is None:
            return self._choose() if self.clock() >= self._next_choice else None
        value = self._chosen.idle_seconds()
        if value is not None:
            self._failures = 0
            return value
        self._failures += 1
        if self._failures >= self.max_failures:
            log.info("idle source %s stopped answering", self._chosen.name)
            self._chosen.close()
            self._chosen = None
            self._next_choice = self.clock() + self.retry_s
        return None

    def close(self) -> None:
        for source in self._sources or ():
            source.close()
        self._chosen = None

"""runtime/platform/idle.py and probe.py: idle sources, other programs' load, the sample.

Real where this machine allows it: the X11 source against an Xvfb server (libXss, and
libXtst to fake input), the D-Bus sources against a private dbus-daemon with fake GNOME and
KDE services, and the load probe against a real busy process. Windows and macOS are tested
through their arithmetic and parser with fakes. Each real test that cannot run says why
and which apt package it needs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgenet_app.runtime.platform import idle
from edgenet_app.runtime.platform.idle import (
    NO_SOURCE,
    DBusIdleSource,
    IdleMonitor,
    MacIdleSource,
    NoIdleSource,
    WindowsIdleSource,
    X11IdleSource,
    default_sources,
    mutter_source,
    parse_hid_idle_time,
    screensaver_source,
    tick_delta_ms,
)
from edgenet_app.runtime.platform.probe import FixedProbe, LoadProbe, ProbeSample, SystemProbe


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# -- Windows: GetTickCount arithmetic -------------------------------------------------------


def test_tick_delta_handles_the_49_7_day_wrap() -> None:
    assert tick_delta_ms(5_000, 2_000) == 3_000
    assert tick_delta_ms(100, 2**32 - 900) == 1_000  # the counter wrapped after the input
    assert tick_delta_ms(0, 2**32 - 1) == 1
    assert tick_delta_ms(7, 7) == 0


def test_windows_source_with_fake_ticks() -> None:
    ticks = {"now": 2**32 - 500, "last": 2**32 - 2_500}
    src = WindowsIdleSource(lambda: ticks["now"], lambda: ticks["last"])
    assert src.idle_seconds() == 2.0
    ticks["now"] = 1_500  # 49.7 days of uptime passed: GetTickCount wrapped to 0
    assert src.idle_seconds() == 4.0
    ticks["last"] = 1_000  # input just now
    assert src.idle_seconds() == 0.5
    assert WindowsIdleSource(lambda: 10, lambda: None).idle_seconds() is None  # call failed


@pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows behaviour")
def test_windows_source_answers_nothing_elsewhere() -> None:
    assert WindowsIdleSource().idle_seconds() is None


# -- macOS: ioreg parsing -------------------------------------------------------------------

IOREG = textwrap.dedent(
    """\
    +-o Root  <class IORegistryEntry, id 0x100000100, retain 29>
      +-o IOResources  <class IOResources, id 0x100000112, registered, matched, active, busy 0 (0 ms), retain 71>
        +-o IOHIDSystem  <class IOHIDSystem, id 0x1000003f9, registered, matched, active, busy 0 (0 ms), retain 29>
        | {
        |   "IOClass" = "IOHIDSystem"
        |   "HIDParameters" = {"HIDClickTime"=500000000,"HIDKeyRepeat"=83333333}
        |   "HIDIdleTime" = 4251773000
        |   "IOProviderClass" = "IOResources"
        |   "HIDEventsInLastMinute" = 0
        | }
        |
        +-o IOHIDUserClient  <class IOHIDUserClient, id 0x100000a04, !registered, !matched, active, busy 0, retain 6>
          {
            "HIDIdleTime" = 1
          }
    """  # noqa: E501
)


def test_parse_hid_idle_time() -> None:
    assert parse_hid_idle_time(IOREG) == pytest.approx(4.251773)  # ns -> s, the first match
    assert parse_hid_idle_time('"HIDIdleTime" = 0') == 0.0
    assert parse_hid_idle_time('"HIDIdleTime"=123000000000') == 123.0
    assert parse_hid_idle_time("no such key here") is None
    assert parse_hid_idle_time('"HIDIdleTime" = <0a1b>') is None  # not a number: unknown


def test_mac_source_runs_ioreg_at_most_once_a_second() -> None:
    clock, runs = Clock(), []

    def run() -> str:
        runs.append(clock.t)
        return '"HIDIdleTime" = 10000000000'

    src = MacIdleSource(run, clock=clock)
    assert src.idle_seconds() == 10.0
    clock.t += 0.6
    assert src.idle_seconds() == pytest.approx(10.6)  # cached, aged by the clock
    assert len(runs) == 1
    clock.t += 0.4
    assert src.idle_seconds() == 10.0 and len(runs) == 2

    def broken() -> str:
        raise subprocess.CalledProcessError(1, ["ioreg"])

    assert MacIdleSource(broken, clock=clock).idle_seconds() is None
    assert MacIdleSource(lambda: "", clock=clock).idle_seconds() is None


# -- choosing a source ----------------------------------------------------------------------


class FakeSource:
    def __init__(self, name: str, values: list[float | None]) -> None:
        self.name, self.values, self.calls, self.closed = name, values, 0, 0

    def idle_seconds(self) -> float | None:
        self.calls += 1
        return self.values.pop(0) if self.values else None

    def close(self) -> None:
        self.closed += 1


def test_monitor_uses_the_first_source_that_answers() -> None:
    a, b, c = FakeSource("a", []), FakeSource("b", [5.0, 6.0]), FakeSource("c", [1.0])
    m = IdleMonitor([a, b, c], clock=Clock())
    assert m.name == NO_SOURCE  # nothing tried before the first call
    assert m.idle_seconds() == 5.0 and m.name == "b"
    assert a.closed == 1 and c.calls == 0  # a failed and was released; c never tried
    assert m.idle_seconds() == 6.0
    m.close()
    assert b.closed == 1 and m.name == NO_SOURCE


def test_monitor_rechooses_after_repeated_failures_and_retries_slowly() -> None:
    clock = Clock()
    a = FakeSource("a", [1.0, None, None, None])
    b = FakeSource("b", [])
    m = IdleMonitor([a, b], clock=clock, retry_s=30.0, max_failures=3)
    assert m.idle_seconds() == 1.0 and m.name == "a"
    assert [m.idle_seconds() for _ in range(2)] == [None, None] and m.name == "a"
    assert m.idle_seconds() is None and m.name == NO_SOURCE  # third failure: dropped
    calls = a.calls + b.calls
    clock.t += 29
    assert m.idle_seconds() is None and a.calls + b.calls == calls  # waits retry_s
    b.values = [7.0]
    clock.t += 1
    assert m.idle_seconds() == 7.0 and m.name == "b"


def test_monitor_without_sources_is_none() -> None:
    m = IdleMonitor([NoIdleSource()], clock=Clock())
    assert m.idle_seconds() is None and m.name == "none (no idle source)"


def names(sources: list[Any]) -> list[str]:
    return [s.name for s in sources]


def test_default_sources_per_platform_and_session() -> None:
    assert names(default_sources({}, "win32")) == ["Windows GetLastInputInfo"]
    assert names(default_sources({}, "darwin")) == ["macOS IOHIDSystem HIDIdleTime"]
    dbus = ["GNOME Mutter IdleMonitor (D-Bus)", "freedesktop ScreenSaver (D-Bus)"]
    x11 = default_sources({"DISPLAY": ":3"}, "linux")
    assert names(x11) == ["X11 XScreenSaver", *dbus]
    assert isinstance(x11[0], X11IdleSource) and x11[0].display == ":3"
    # XWayland only sees input to X clients: never trusted on a Wayland session
    assert names(default_sources({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux")) == (
        dbus
    )
    assert names(default_sources({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "linux")) == (
        dbus
    )
    assert names(default_sources({}, "linux")) == dbus
    assert names(default_sources({}, "freebsd14")) == dbus


@pytest.mark.slow
def test_sources_without_a_session_answer_none_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    t = time.monotonic()
    m = IdleMonitor(default_sources(platform="linux"))
    assert m.idle_seconds() is None and m.name == NO_SOURCE
    assert X11IdleSource().idle_seconds() is None
    assert X11IdleSource(":9876").idle_seconds() is None  # no such X server
    assert time.monotonic() - t < 1.0


# -- X11, for real under Xvfb ---------------------------------------------------------------


def _x11_missing() -> str | None:
    if sys.platform != "linux":
        return "the X11 test runs on Linux"
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (apt package xvfb)"
    if not ctypes.util.find_library("X11"):
        return "libX11 is not installed (apt package libx11-6)"
    if not ctypes.util.find_library("Xss"):
        return "libXss is not installed (apt package libxss1)"
    return None


@dataclass
class Xvfb:
    display: str
    proc: subprocess.Popen[bytes]


def start_xvfb() -> Xvfb:
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "320x240x24"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return Xvfb(f":{number}", proc)


@pytest.fixture
def xvfb() -> Iterator[Xvfb]:
    reason = _x11_missing()
    if reason:
        pytest.skip(reason)
    server = start_xvfb()
    try:
        yield server
    finally:
        server.proc.kill()
        server.proc.wait()


def fake_mouse_motion(display: str) -> None:
    """Input through the XTEST extension (libXtst): the server counts it as the user's."""
    name = ctypes.util.find_library("Xtst")
    if not name:
        pytest.skip("libXtst is not installed (apt package libxtst6)")
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    xtst = ctypes.CDLL(name)
    x11.XOpenDisplay.argtypes, x11.XOpenDisplay.restype = [ctypes.c_char_p], ctypes.c_void_p
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xtst.XTestFakeRelativeMotionEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_ulong,
    ]
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy
    try:
        assert xtst.XTestFakeRelativeMotionEvent(dpy, 7, 3, 0)
        x11.XSync(dpy, 0)
    finally:
        x11.XCloseDisplay(dpy)


@pytest.mark.slow
def test_x11_source_under_xvfb(xvfb: Xvfb) -> None:
    src = X11IdleSource(xvfb.display)
    try:
        first = src.idle_seconds()
        assert first is not None and first >= 0
        time.sleep(1.2)
        later = src.idle_seconds()
        assert later is not None and 1.0 <= later - first <= 3.0  # nobody touched it
        fake_mouse_motion(xvfb.display)
        moved = src.idle_seconds()
        assert moved is not None and moved < 0.5
        m = IdleMonitor(default_sources({"DISPLAY": xvfb.display}, "linux"))
        assert m.idle_seconds() is not None and m.name == "X11 XScreenSaver"
        m.close()
    finally:
        src.close()
    assert src._dpy is None


@pytest.mark.slow
def test_x11_server_going_away_does_not_kill_the_process(xvfb: Xvfb) -> None:
    """Xlib exits the process on a broken connection unless told otherwise (libX11 >= 1.7);
    run in a child so that a regression fails this test instead of ending the test run."""
    code = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from edgenet_app.runtime.platform.idle import X11IdleSource
        src = X11IdleSource({xvfb.display!r})
        assert src.idle_seconds() is not None
        os.kill({xvfb.proc.pid}, signal.SIGKILL)
        time.sleep(0.5)
        print(src.idle_seconds(), src.idle_seconds())
        src.close()
        print("alive")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert (out.returncode, out.stdout) == (0, "None None\nalive\n"), out.stderr


# -- D-Bus, for real against a private bus ---------------------------------------------------


@pytest.fixture
def bus() -> Iterator[str]:
    if sys.platform != "linux":
        pytest.skip("the D-Bus test runs on Linux")
    pytest.importorskip("jeepney", reason="jeepney is not installed (pip install jeepney)")
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (apt package dbus-daemon)")
    proc = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    try:
        assert address.startswith("unix:"), address
        yield address
    finally:
        proc.kill()
        proc.wait()


class FakeService:
    """A D-Bus service on its own connection and thread: answers `method` with `reply()`."""

    def __init__(
        self, address: str, name: str, method: str, signature: str, reply: Callable[[], Any]
    ) -> None:
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.method, self.signature, self.reply = method, signature, reply
        self.calls: list[Any] = []
        self.conn = open_dbus_connection(address)
        got = self.conn.send_and_get_reply(message_bus.RequestName(name, 4), timeout=2)
        assert got.body == (1,), got.body  # primary owner
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from jeepney import MessageType, new_error, new_method_return

        while not self.stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            self.calls.append(msg)
            member = msg.header.fields.get(3)  # HeaderFields.member
            value = self.reply() if member == self.method else None
            if value is None:
                out = new_error(msg, "org.freedesktop.DBus.Error.NotSupported", "s", ("no",))
            else:
                out = new_method_return(msg, self.signature, (value,))
            self.conn.send_message(out)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.conn.close()


@pytest.mark.slow
def test_mutter_idle_monitor_over_dbus(bus: str) -> None:
    idle_ms = {"value": 12_345}
    svc = FakeService(
        bus, "org.gnome.Mutter.IdleMonitor", "GetIdletime", "t", lambda: idle_ms["value"]
    )
    src = mutter_source(bus=bus)
    try:
        assert src.idle_seconds() == 12.345
        idle_ms["value"] = 250
        t = time.perf_counter()
        for _ in range(20):
            assert src.idle_seconds() == 0.25
        assert (time.perf_counter() - t) / 20 < 0.02  # one kept connection: cheap calls
        msg = svc.calls[0]
        assert msg.header.fields[1] == "/org/gnome/Mutter/IdleMonitor/Core"  # path
        assert msg.header.flags & 2  # NO_AUTO_START: never start a service just to ask
    finally:
        src.close()
        svc.close()


@pytest.mark.slow
def test_dbus_fallback_order_and_failures(bus: str) -> None:
    # GNOME's org.freedesktop.ScreenSaver answers GetSessionIdleTime with an error
    unimplemented = FakeService(bus, "org.freedesktop.ScreenSaver", "Nothing", "u", lambda: 0)
    try:
        assert screensaver_source(bus=bus).idle_seconds() is None
    finally:
        unimplemented.close()
    kde = FakeService(bus, "org.freedesktop.ScreenSaver", "GetSessionIdleTime", "u", lambda: 9000)
    try:
        m = IdleMonitor(
            [X11IdleSource(""), mutter_source(bus=bus), screensaver_source(bus=bus)],
            clock=Clock(),
        )
        assert m.idle_seconds() == 9.0  # no X display, no Mutter: KDE's ScreenSaver answers
        assert m.name == "freedesktop ScreenSaver (D-Bus)"
        m.close()
    finally:
        kde.close()


@pytest.mark.slow
def test_dbus_source_survives_the_bus_going_away(bus: str) -> None:
    clock = Clock()
    svc = FakeService(bus, "org.gnome.Mutter.IdleMonitor", "GetIdletime", "t", lambda: 1000)
    src = DBusIdleSource(
        "test",
        "org.gnome.Mutter.IdleMonitor",
        "/org/gnome/Mutter/IdleMonitor/Core",
        "org.gnome.Mutter.IdleMonitor",
        "GetIdletime",
        bus=bus,
        clock=clock,
    )
    assert src.idle_seconds() == 1.0
    svc.close()
    assert src.idle_seconds() is None  # the service left: an error reply
    src.close()
    assert (
        DBusIdleSource("x", "a.b", "/a", "a.b", "M", bus="unix:path=/nonexistent").idle_seconds()
        is None
    )


def test_dbus_source_without_a_session_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert mutter_source().idle_seconds() is None


# -- other programs' CPU load -----------------------------------------------------------------


@dataclass
class FakeTimes:
    user: float
    system: float


class FakeProcess:
    def __init__(self, table: dict[int, tuple[float, float]], pid: int) -> None:
        if pid not in table:
            raise ProcessLookupError(pid)
        self.table, self.pid = table, pid

    def cpu_times(self) -> FakeTimes:
        if self.pid not in self.table:
            import psutil

            raise psutil.NoSuchProcess(self.pid)
        return FakeTimes(self.table[self.pid][0], 0.0)

    def create_time(self) -> float:
        return self.table[self.pid][1]


class FakeMachine:
    """Two CPUs; `run(seconds, other=, ours={pid: share})` advances every counter."""

    def __init__(self) -> None:
        self.mono, self.wall = 100.0, 1_700_000_000.0
        self.busy, self.total = 0.0, 0.0
        self.procs: dict[int, tuple[float, float]] = {os.getpid(): (0.0, self.wall - 50)}

    def run(self, seconds: float, other: float = 0.0, ours: dict[int, float] | None = None) -> None:
        self.mono += seconds
        self.wall += seconds
        self.total += 2 * seconds
        used = other * 2 * seconds
        for pid, share in (ours or {}).items():
            cpu, born = self.procs[pid]
            self.procs[pid] = (cpu + share * 2 * seconds, born)
            used += share * 2 * seconds
        self.busy += used

    def probe(self, **kw: Any) -> LoadProbe:
        return LoadProbe(
            clock=lambda: self.mono,
            wall_clock=lambda: self.wall,
            system_times=lambda: (self.busy, self.total),
            process=lambda pid: FakeProcess(self.procs, pid),
            **kw,
        )


def test_load_probe_subtracts_our_processes_and_smooths() -> None:
    m = FakeMachine()
    m.procs[11] = (30.0, m.wall - 100)  # a worker of ours, running before we looked
    p = m.probe(tau_s=10.0)
    assert p.sample({11}) is None  # no interval yet
    m.run(2, other=0.25, ours={11: 0.5})
    assert p.sample({11}) == pytest.approx(0.25)  # the first interval is taken as it is
    m.run(2, other=0.75, ours={11: 0.25})
    alpha = 1 - 2.718281828459045 ** (-2 / 10)
    assert p.sample({11}) == pytest.approx(0.25 + alpha * 0.5)
    for _ in range(30):  # ~60 s later the average has caught up
        m.run(2, other=0.75, ours={11: 0.25})
        value = p.sample({11})
    assert value == pytest.approx(0.75, abs=0.01)


def test_load_probe_counts_a_new_worker_whole_and_an_old_one_from_now() -> None:
    m = FakeMachine()
    m.procs[11] = (500.0, m.wall - 1000)  # old: its 500 s are not in any interval
    p = m.probe(tau_s=0.001)
    p.sample()
    m.procs[12] = (0.0, m.wall + 0.5)  # born inside the next interval
    m.run(1, other=0.3, ours={12: 0.5})
    # 11's 500 s are not counted (else 0.0) and 12's 1 s all is (else 0.55)
    assert p.sample({11, 12}) == pytest.approx(0.3)
    m.run(2, other=0.1, ours={11: 0.2, 12: 0.3})
    assert p.sample({11, 12}) == pytest.approx(0.1)
    del m.procs[12]  # a worker that exited
    m.run(2, other=0.2, ours={11: 0.2})
    assert p.sample({11, 12}) == pytest.approx(0.2)


def test_load_probe_min_interval_and_clamping() -> None:
    m = FakeMachine()
    p = m.probe(tau_s=0.001, min_interval_s=0.5)
    p.sample()
    m.run(1, other=0.4)
    assert p.sample() == pytest.approx(0.4)
    m.run(0.2, other=1.0)
    assert p.sample() == pytest.approx(0.4)  # too soon: the value as it was
    m.run(1, other=1.0)
    assert p.sample() == pytest.approx(1.0)
    m.run(1)
    m.busy -= 0.5  # counters read out of step: never below 0
    assert p.sample() == 0.0


@pytest.mark.slow
def test_load_probe_against_a_real_busy_process() -> None:
    """A process spinning one CPU is "other" unless its pid is passed as ours."""
    ncpu = os.cpu_count() or 1
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        theirs = LoadProbe(tau_s=0.001, min_interval_s=0.0)
        mine = LoadProbe(tau_s=0.001, min_interval_s=0.0)
        time.sleep(0.3)  # let it start spinning
        theirs.sample()
        mine.sample({spin.pid})
        time.sleep(1.5)
        other = theirs.sample()
        ours = mine.sample({spin.pid})
    finally:
        spin.kill()
        spin.wait()
    assert other is not None and ours is not None
    # most of one CPU's share (0.4: the spinner may share its CPU with a loaded machine)
    assert other >= 0.4 / ncpu, other
    assert other - ours >= 0.4 / ncpu, (other, ours)


# -- the combined sample --------------------------------------------------------------------


def test_system_probe_combines_idle_battery_and_load() -> None:
    m = FakeMachine()
    load = m.probe(tau_s=0.001)
    probe = SystemProbe(
        IdleMonitor([FakeSource("fake idle", [42.0, 43.0])], clock=Clock()),
        load,
        battery=lambda: (True, 77.0),
    )
    first = probe.sample({123})
    assert first == ProbeSample(42.0, True, 77.0, None, "fake idle")
    m.run(2, other=0.3)
    second = probe.sample()
    assert second.other_cpu == pytest.approx(0.3)
    assert second == ProbeSample(43.0, True, 77.0, second.other_cpu, "fake idle")
    probe.close()


def test_default_system_probe_opens_nothing_until_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    probe = SystemProbe()
    assert probe.idle.name == NO_SOURCE and probe.idle._sources is None
    s = probe.sample({os.getpid()})
    assert s.idle_s is None and s.idle_source == "none (no idle source)"
    assert s.other_cpu is None  # the first reading has no interval yet
    probe.close()


def test_fixed_probe_reports_what_it_is_told() -> None:
    probe = FixedProbe(ProbeSample(idle_s=5.0, other_cpu=0.2, idle_source="test"))
    assert probe.sample() == ProbeSample(5.0, False, None, 0.2, "test")
    assert probe.sample([1, 2]).idle_s == 5.0 and probe.our_pids == {1, 2}


def test_idle_module_keeps_xlib_handlers_alive() -> None:
    """ctypes callbacks must stay referenced for as long as Xlib may call them."""
    assert idle._io_handler is not None and idle._io_exit_handler is not None


def test_core_activity_stays_pure() -> None:
    src = Path(__file__).parents[2] / "edgenet_app" / "core" / "activity.py"
    text = src.read_text()
    for word in ("import time", "import os", "psutil", "subprocess", "ctypes", "datetime"):
        assert word not in text, word

"""The tray app's shell: tray menu, actions, icons, the no-tray window, first run,
notifications, one app per data dir, and the hosting path end to end.

Qt runs offscreen (no system tray there). Each test that needs asyncio gets a qasync loop
on pytest-qt's QApplication and drives it with `run(loop, coroutine)`; waiting is always
on a condition (`until`), never on a fixed sleep.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("PySide6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QApplication, QMenu

from edgenet_app.app import icons
from edgenet_app.app.actions import Commands, seconds_until_tomorrow
from edgenet_app.app.display import tray_tooltip
from edgenet_app.app.display.labels import NO_TRAY_NOTICE
from edgenet_app.app.fake import FakeSource
from edgenet_app.app.first_run import (
    FIRST_RUN_FLAG,
    Consent,
    FirstRunDialog,
    first_run_done,
    record_consent,
)
from edgenet_app.app.instance import SingleInstance
from edgenet_app.app.model import AppModel
from edgenet_app.app.notify import CreditBatcher, CreditSummary, ErrorGate, Notifier
from edgenet_app.app.shell import Shell
from edgenet_app.app.tray import Tray, TrayMenu
from edgenet_app.app.window import Banner
from edgenet_app.core.errors import NodeError, NoRelayError
from edgenet_app.core.notifications import CreditNote, ErrorNote
from edgenet_app.core.settings import get_setting
from edgenet_app.runtime.control.client import ControlError
from edgenet_app.runtime.store import paths
from edgenet_app.runtime.store.config import stored_values
from edgenet_app.runtime.store.store import Store

T = TypeVar("T")

STATES = ("contributing", "paused", "waiting_for_idle", "on_battery", "offline")


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


def run(loop: qasync.QEventLoop, coro: Awaitable[T], timeout: float = 10.0) -> T:
    result: T = loop.run_until_complete(asyncio.wait_for(coro, timeout))
    return result


async def until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def model(loop: qasync.QEventLoop, source: FakeSource) -> Iterator[AppModel]:
    m = AppModel(source)
    run(loop, m.refresh())
    yield m
    run(loop, m.stop())


def menu_actions(menu: QMenu) -> dict[str, QAction]:
    """Every action of the menu and its submenus, by text."""
    out: dict[str, QAction] = {}
    for a in menu.actions():
        out[a.text()] = a
        if a.menu() is not None:
            out.update(menu_actions(a.menu()))
    return out


# -- the tray menu ----------------------------------------------------------------------------


def test_menu_contributing(model: AppModel) -> None:
    menu = TrayMenu(model, Commands(model))
    menu.aboutToShow.emit()
    assert menu.texts() == [
        "Contributing",
        "Accepting tasks (30% of the machine)",
        "1,284.51 credits · rank #12 of 340",
        "-",
        "Pause",
        "Snooze",
        "Finish current tasks, then pause",
        "-",
        "Open dashboard",
        "Settings…",
        "-",
        "Quit edgenet",
    ]
    acts = menu_actions(menu)
    assert not any(acts[t].isEnabled() for t in menu.texts()[:3])  # the status lines
    assert all(acts[t].isEnabled() for t in ("Pause", "Snooze", "Open dashboard", "Quit edgenet"))
    assert [a.text() for a in menu.snooze_menu.actions()] == [
        "For 15 minutes",
        "For 1 hour",
        "Until tomorrow, 08:00",
    ]


@pytest.mark.parametrize("state", STATES)
def test_menu_follows_state_on_every_open(
    loop: qasync.QEventLoop, model: AppModel, source: FakeSource, state: str
) -> None:
    menu = TrayMenu(model, Commands(model))
    source.set_state(state)
    run(loop, model.refresh())
    assert menu.texts()[0] == "Contributing"  # not rebuilt until it opens
    menu.aboutToShow.emit()
    texts = menu.texts()
    title = {"waiting_for_idle": "Waiting for idle", "on_battery": "On battery"}
    assert texts[0] == title.get(state, state.capitalize())
    assert texts[1].lower() == source.current.reason.lower()
    paused = state == "paused"
    assert ("Resume" in texts) == paused and ("Pause" in texts) != paused
    acts = menu_actions(menu)
    assert acts["Snooze"].isEnabled() != paused
    assert acts["Finish current tasks, then pause"].isEnabled() != paused


def test_menu_without_contact(loop: qasync.QEventLoop, source: FakeSource) -> None:
    source.fail_next = "cannot reach the node"
    m = AppModel(source)
    run(loop, m.refresh())
    menu = TrayMenu(m, Commands(m))
    texts = menu.texts()
    assert texts[:3] == ["Offline", "Connecting to the node…", "Credits unknown"]
    acts = menu_actions(menu)
    assert not acts["Pause"].isEnabled() and not acts["Snooze"].isEnabled()
    assert acts["Open dashboard"].isEnabled() and acts["Quit edgenet"].isEnabled()


def test_actions_call_the_node(
    loop: qasync.QEventLoop, model: AppModel, source: FakeSource
) -> None:
    now = dt.datetime(2026, 6, 10, 22, 30).timestamp()  # local time; no DST change near
    commands = Commands(model, clock=lambda: now)
    menu = TrayMenu(model, commands)

    def click(text: str, call: tuple[str, Any]) -> None:
        async def go() -> None:
            menu.aboutToShow.emit()
            menu_actions(menu)[text].trigger()
            await until(lambda: source.calls[-1] == call)

        run(loop, go())

    click("Pause", ("pause", None))
    click("Resume", ("resume", None))
    click("For 15 minutes", ("snooze", 900))
    click("Resume", ("resume", None))
    click("For 1 hour", ("snooze", 3600))
    click("Resume", ("resume", None))
    click("Until tomorrow, 08:00", ("snooze", 9.5 * 3600))
    click("Resume", ("resume", None))
    click("Finish current tasks, then pause", ("finish_then_pause", None))


def test_menu_requests_reach_the_shell(qtbot: Any, model: AppModel) -> None:
    commands = Commands(model)
    menu = TrayMenu(model, commands)
    acts = menu_actions(menu)
    for text, request in (
        ("Open dashboard", commands.dashboardRequested),
        ("Settings…", commands.settingsRequested),
        ("Quit edgenet", commands.quitRequested),
    ):
        with qtbot.waitSignal(request, timeout=1000):
            acts[text].trigger()


def test_until_tomorrow_is_8_next_morning() -> None:
    at = dt.datetime(2026, 6, 10, 7, 0).timestamp()  # before 08:00: still the next day
    assert seconds_until_tomorrow(at) == 25 * 3600
    at = dt.datetime(2026, 6, 10, 23, 59, 30).timestamp()
    assert seconds_until_tomorrow(at) == 8 * 3600 + 30


# -- icons and tooltip ------------------------------------------------------------------------


def glyph_mask(state: str, size: int = 64) -> frozenset[tuple[int, int]]:
    """Where the white glyph is: the state's shape, whatever its colour."""
    img = icons.state_pixmap(state, size).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    return frozenset(
        (x, y)
        for y in range(size)
        for x in range(size)
        if min(img.pixelColor(x, y).getRgb()[:3]) > 230 and img.pixelColor(x, y).alpha() > 200
    )


def test_state_icons_differ_in_shape_not_only_colour(qapp: QApplication) -> None:
    masks = {s: glyph_mask(s) for s in STATES}
    for a in STATES:
        assert len(masks[a]) > 60, f"{a}: no glyph"
        for b in STATES:
            if a < b:
                overlap = len(masks[a] & masks[b]) / len(masks[a] | masks[b])
                assert overlap < 0.7, f"{a} and {b} look alike ({overlap:.2f})"
    for size in (16, 22, 32):  # small sizes render, distinct too
        images = {s: icons.state_pixmap(s, size).toImage() for s in STATES}
        assert len({img.cacheKey() for img in images.values()}) == len(STATES)
        assert all(images[a] != images[b] for a in STATES for b in STATES if a < b)


def test_tray_icon_and_tooltip_follow_state(
    loop: qasync.QEventLoop, model: AppModel, source: FakeSource
) -> None:
    tray = Tray(model, Commands(model))
    assert tray.toolTip() == "edgenet — contributing · 1,284.51 credits"
    seen = {}
    for state in STATES:
        source.set_state(state)
        run(loop, model.refresh())
        assert tray.state == state
        seen[state] = tray.icon().pixmap(32, 32).toImage()
    assert all(seen[a] != seen[b] for a in STATES for b in STATES if a < b)
    assert tray.toolTip() == "edgenet — offline · 1,284.51 credits"
    assert tray_tooltip({}, False) == "edgenet — offline"


# -- without a system tray --------------------------------------------------------------------


def test_no_tray_runs_in_a_window_that_says_so(qtbot: Any, model: AppModel) -> None:
    shell = Shell(model)  # offscreen: no system tray
    assert shell.tray is None and shell.window.standalone
    assert shell.window.notice is not None
    assert shell.window.notice.label.text() == NO_TRAY_NOTICE
    texts = [a.text() for a in shell.window.toolbar.actions() if a.text()]
    assert {"Pause", "Finish tasks, then pause", "Settings…", "Quit"} <= set(texts)
    assert shell.window.snooze_button.menu() is not None
    shell.window.show()
    shell.notify("edgenet", "You earned 3.2 credits for 14 tasks", "info")
    banners = [b.label.text() for b in shell.window.findChildren(Banner) if not b.isHidden()]
    assert "You earned 3.2 credits for 14 tasks" in banners
    with qtbot.waitSignal(shell.quitRequested, timeout=1000):
        shell.window.close()  # closing the window quits


def test_with_a_tray_closing_the_window_only_hides_it(qtbot: Any, model: AppModel) -> None:
    shell = Shell(model, tray=True)
    assert shell.tray is not None and shell.window.notice is None
    shell.show_window()
    assert shell.window.isVisible()
    with qtbot.assertNotEmitted(shell.quitRequested):
        shell.window.close()
    assert not shell.window.isVisible()
    shell.commands.dashboardRequested.emit()  # "Open dashboard" / a click on the icon
    assert shell.window.isVisible()
    shell.window.hide()


def test_window_toolbar_toggles_pause(
    loop: qasync.QEventLoop, model: AppModel, source: FakeSource
) -> None:
    shell = Shell(model, tray=False)

    async def go() -> None:
        shell.window.toggle_action.trigger()
        await until(lambda: shell.window.toggle_action.text() == "Resume")
        assert source.calls[-1] == ("pause", None)
        assert not shell.window.snooze_button.isEnabled()
        shell.window.toggle_action.trigger()
        await until(lambda: shell.window.toggle_action.text() == "Pause")
        assert source.calls[-1] == ("resume", None)

    run(loop, go())
    shell.window.hide()


# -- first run --------------------------------------------------------------------------------


def test_first_run_dialog_defaults_come_from_the_schema(qapp: QApplication) -> None:
    dialog = FirstRunDialog()
    default = get_setting("cpu_limit").default
    assert dialog.consent() == Consent(default, bool(get_setting("start_at_login").default))  # type: ignore[arg-type]
    assert dialog.cpu_slider.minimum() == 10 and dialog.cpu_slider.maximum() == 100
    assert "30 %" in dialog.cpu_value.text()
    dialog.cpu_slider.setValue(55)
    dialog.start_at_login.setChecked(True)
    assert dialog.consent() == Consent(0.55, True)
    assert dialog.agree.isDefault()


def test_agreeing_stores_the_choices_and_the_flag(tmp_path: Path) -> None:
    calls: list[bool] = []
    with Store.open(paths.store_path(tmp_path)) as store:
        assert not first_run_done(store)
        record_consent(store, Consent(0.55, True), set_autostart=calls.append)
        assert first_run_done(store)
        assert store.get_meta(FIRST_RUN_FLAG)
        stored, _ = stored_values(store)
    assert stored == {"cpu_limit": 0.55, "start_at_login": True}
    assert calls == [True]


def _answer_dialog(button: str) -> None:
    def press() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, FirstRunDialog):
            QTimer.singleShot(20, press)
            return
        getattr(dialog, button).click()

    QTimer.singleShot(0, press)


def test_not_now_quits_without_contributing(qapp: QApplication, tmp_path: Path) -> None:
    from edgenet_app.app.main import run_app

    data = tmp_path / "d"
    args = argparse.Namespace(
        data_dir=str(data), network=None, relay=[], loopback=False, config=None, minimized=False
    )
    _answer_dialog("not_now")
    assert run_app(args) == 0
    assert not (data / "control.json").exists()  # no node was started
    with Store.open(paths.store_path(data)) as store:
        assert not first_run_done(store)
        assert stored_values(store)[0] == {}
    assert SingleInstance(data).acquire()  # and the lock was released


def test_first_run_agree_then_never_again(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgenet_app.app import main as app_main
    from edgenet_app.runtime.platform import autostart

    calls: list[bool] = []
    monkeypatch.setattr(autostart, "set_enabled", lambda enabled: calls.append(enabled))
    _answer_dialog("agree")
    assert app_main.first_run(tmp_path) is True
    assert calls == [False]
    assert app_main.first_run(tmp_path) is True  # no dialog the second time (it would hang)
    with Store.open(paths.store_path(tmp_path)) as store:
        assert first_run_done(store)


# -- notifications ----------------------------------------------------------------------------


def test_credit_batching_with_a_fake_clock() -> None:
    b = CreditBatcher(min_gap_s=600, gather_s=60)
    assert b.take(0) is None
    b.add(150_000, now=0)
    assert b.take(59) is None  # a burst is gathered for a minute
    b.add(250_000, now=30)
    assert b.take(60) == CreditSummary(400_000, 2)
    assert b.take(61) is None
    for t in range(100, 500, 40):  # ten more, then at most one message per 10 minutes
        b.add(320_000, now=t)
    assert b.take(500) is None and b.take(659) is None
    summary = b.take(660)
    assert summary == CreditSummary(3_200_000, 10)
    assert summary.text() == "You earned 3.2 credits for 10 tasks"
    assert CreditSummary(3_200_000, 14).text() == "You earned 3.2 credits for 14 tasks"
    assert CreditSummary(150_000, 1).text() == "You earned 0.15 credits for 1 task"
    assert CreditSummary(1_284_500_000, 900).text() == "You earned 1,284.5 credits for 900 tasks"
    b.add(0, now=700)  # nothing earned: nothing to say
    assert b.due_at() is None


def test_error_gate_repeats_an_error_at_most_every_10_minutes() -> None:
    g = ErrorGate(repeat_s=600)
    assert g.allow("lost contact with the node", 0)
    assert not g.allow("lost contact with the node", 599)
    assert g.allow("lost the relay connection; reconnecting", 10)
    assert g.allow("lost contact with the node", 600)


def test_notifier_batches_and_can_be_turned_off(model: AppModel) -> None:
    now = [1000.0]
    shown: list[tuple[str, str, str]] = []
    notifier = Notifier(model, lambda *m: shown.append(m), clock=lambda: now[0])
    for _ in range(14):
        model.notified.emit(CreditNote(228_572, "ab" * 16, "payer"))
    assert shown == []
    now[0] += 60
    notifier.flush()
    assert shown == [("edgenet", "You earned 3.2 credits for 14 tasks", "info")]
    model.notified.emit(ErrorNote("lost the relay connection; reconnecting"))
    model.errorOccurred.emit("lost contact with the node: gone")
    assert shown[1:] == [
        ("edgenet", "Lost the relay connection; reconnecting", "error"),
        ("edgenet", "Lost contact with the node: gone", "error"),
    ]
    model.settingsChanged.emit({"values": {"notifications": False}})
    model.notified.emit(CreditNote(5_000_000, "cd" * 16, "payer"))
    model.errorOccurred.emit("another problem")
    now[0] += 3600
    notifier.flush()
    assert len(shown) == 3
    model.settingsChanged.emit({"values": {"notifications": True}})
    model.errorOccurred.emit("another problem")
    assert len(shown) == 4


# -- one app per data dir ---------------------------------------------------------------------


def test_second_instance_raises_the_first(qtbot: Any, tmp_path: Path) -> None:
    first, second = SingleInstance(tmp_path), SingleInstance(tmp_path)
    other = SingleInstance(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    try:
        assert first.acquire()
        assert not second.acquire()
        assert second.holder_pid() == os.getpid()
        assert other.acquire()  # another data dir is another app
        with qtbot.waitSignal(first.activated, timeout=5000):
            assert second.ask_first_to_show()
    finally:
        first.release()
        other.release()
    assert second.acquire()  # released: the next app takes over
    second.release()


@pytest.mark.slow
def test_a_crashed_app_leaves_no_lock_behind(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "from edgenet_app.app.instance import SingleInstance\n"
        "app = QCoreApplication([])\n"
        "instance = SingleInstance(sys.argv[1])\n"
        "assert instance.acquire()\n"
        "os._exit(9)\n"  # dies holding the lock
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, timeout=60)
    assert proc.returncode == 9 and (tmp_path / "app.lock").exists()
    app = SingleInstance(tmp_path)
    assert app.acquire()
    app.release()


@pytest.mark.slow
def test_second_edgenet_process_exits_0_and_raises_the_first(qtbot: Any, tmp_path: Path) -> None:
    first = SingleInstance(tmp_path)
    assert first.acquire()
    try:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        with qtbot.waitSignal(first.activated, timeout=60_000):
            proc = subprocess.Popen(
                [sys.executable, "-m", "edgenet_app", "--data-dir", str(tmp_path)],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "already running" in err
    finally:
        first.release()


# -- the command line -------------------------------------------------------------------------


@pytest.mark.slow
def test_no_command_is_the_app_and_imports_no_qt_until_it_runs() -> None:
    code = (
        "import sys\n"
        "from edgenet_app.cli import build_parser, expand_app, expand_headless\n"
        "p = build_parser()\n"
        "for argv in ([], ['--minimized'], ['--data-dir', 'D', '--network', 'N']):\n"
        "    a = p.parse_args(expand_app(expand_headless(argv)))\n"
        "    assert a.func.__name__ == '_app', a\n"
        "a = p.parse_args(expand_app(['--network', 'N', '--data-dir', 'D', '--minimized']))\n"
        "assert (a.data_dir, str(a.network), a.minimized) == ('D', 'N', True), a\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'PySide6')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    helped = subprocess.run(
        [sys.executable, "-m", "edgenet_app", "--help"], capture_output=True, text=True
    )
    assert helped.returncode == 0 and "tray app" in helped.stdout


# -- hosting: which failures are retried ----------------------------------------------------


class StartFails:
    """A node stand-in whose start raises `error`; counts its starts and stops."""

    starts = stops = 0
    error: BaseException = RuntimeError()

    def __init__(self, data_dir: Path, genesis: Any, options: Any) -> None:
        self.data_dir = data_dir

    async def start(self) -> None:
        type(self).starts += 1
        raise type(self).error

    async def stop(self) -> None:
        type(self).stops += 1


@pytest.mark.parametrize(
    ("error", "retried"),
    [(NoRelayError("no relay answered: refused"), True), (NodeError("the key is locked"), False)],
)
def test_the_host_retries_only_when_no_relay_answers(
    loop: qasync.QEventLoop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: NodeError,
    retried: bool,
) -> None:
    from edgenet_app.app import host as host_mod

    class Node(StartFails):
        pass

    Node.error = error
    monkeypatch.setattr(host_mod, "Node", Node)
    monkeypatch.setattr(host_mod, "RETRY_FIRST_S", 0.01)
    args = argparse.Namespace(network=None, relay=[], loopback=True, config=None)
    errors: list[str] = []
    source, host = host_mod.open_node(args, tmp_path / "data", errors.append)
    assert host is not None

    async def scenario() -> None:
        host.start()
        if retried:
            await until(lambda: Node.starts >= 3)
        else:
            await until(lambda: bool(errors))
            await asyncio.sleep(0.1)
        await host.stop()

    run(loop, scenario())
    assert Node.stops == Node.starts  # every attempt was cleaned up
    assert errors[0] == f"the node cannot start: {error}" + ("; retrying in 0 s" if retried else "")
    assert Node.starts >= 3 if retried else Node.starts == 1
    with pytest.raises(ControlError, match=str(error)):
        run(loop, source.status())


# -- end to end: the app hosts a real node ----------------------------------------------------


@pytest.mark.slow
def test_app_hosts_a_node_that_joins_the_network_and_serves_status(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    from support.netharness import EDGENET, Net

    from edgenet_app.app.host import open_node
    from edgenet_app.app.main import run_session

    with Net(tmp_path, funded=["app"]) as net:
        net.start_relay()
        net.start_node("worker")
        data = tmp_path / "app"
        args = argparse.Namespace(
            data_dir=str(data),
            network=net.network,
            relay=[net.url],
            loopback=True,
            config=None,
            minimized=True,
        )
        source, host = open_node(args, data)
        assert host is not None  # nothing runs for this data dir: the app hosts

        async def scenario() -> dict[str, Any]:
            shells: list[Shell] = []
            session = asyncio.ensure_future(
                run_session(source, host, tray=False, ready=shells.append)
            )
            await until(lambda: bool(shells), 10)
            model = shells[0].model
            await until(
                lambda: model.connected and len(getattr(model.status, "peers", ())) >= 1, 60
            )
            status = await asyncio.to_thread(
                subprocess.run,
                [*EDGENET, "--data-dir", str(data), "status", "--json"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert status.returncode == 0, status.stderr
            answered = json.loads(status.stdout)
            assert model.status is not None and answered["node_id"] == model.status.node_id
            assert answered["network"] == "net-test"
            shells[0].commands.quitRequested.emit()  # Quit
            assert await session == 0
            return answered

        answered = run(loop, scenario(), timeout=120)
        assert net.identities["app"].node_id == answered["node_id"]
        assert not (data / "control.json").exists()  # the hosted node stopped serving


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_app_process_hosts_then_exits_0_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """`edgenet` as a real process: hosts its node (control API up), stops on SIGTERM or
    SIGINT with exit code 0 and removes control.json."""
    from support.netharness import EDGENET, Net

    from edgenet_app.runtime.control.client import ControlClient

    with Net(tmp_path, funded=["app"]) as net:
        net.start_relay()
        data = tmp_path / "app"
        with Store.open(paths.store_path(data)) as store:
            store.set_meta(FIRST_RUN_FLAG, "test")  # consent given before
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        app = subprocess.Popen(
            [*EDGENET, "--data-dir", str(data), "--network", str(net.network),
             "--relay", net.url, "--loopback", "--minimized"],
            env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            client = None
            while client is None and time.monotonic() < deadline and app.poll() is None:
                client = ControlClient.discover(data)
                time.sleep(0.05)
            assert client is not None, "the app did not start its node"
            status = client.sync(client.status())
            assert status.node_id == net.identities["app"].node_id
            app.send_signal(sig)
            _, err = app.communicate(timeout=30)
            assert app.returncode == 0, err
            assert not (data / "control.json").exists()
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()

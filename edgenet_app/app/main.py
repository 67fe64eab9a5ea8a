"""`edgenet` with no command: the tray app.

1. **One app per data dir** (app/instance.py): a second `edgenet` for the same data dir
   raises the first one's window and exits 0.
2. **Hosting or attaching** (app/host.py). If a node already runs for the data dir
   (`edgenet node` / `--headless`, found through its control.json), the app attaches to it;
   quitting the app leaves that node running. Otherwise the app hosts the node in its own
   process, on the same asyncio loop as Qt (qasync), and serves its control API like the
   headless node, so `edgenet status`, `submit`, `pause` work while the app runs. Hosting
   is the normal case: a volunteer runs one program, and its RSS and CPU budgets are one
   process's. Attaching keeps a lab's headless service and a desktop session from running
   two nodes on one identity. Both ways the UI talks through a `ControlClient` into one
   `AppModel`, so both run the same UI code.
3. **First run** (app/first_run.py): without consent nothing starts; "Not now" exits 0.
4. **The session**: a qasync `QEventLoop` runs Qt and asyncio together until Quit, the
   window is closed (where there is no tray), SIGINT or SIGTERM. Then the UI goes, the
   model stops following, and a hosted node stops: it hands back the tasks it was running,
   so their submitters reassign them at once. Exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import qasync  # type: ignore[import-untyped]
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ..core.errors import EdgenetError
from ..runtime.control.client import ControlClient
from ..runtime.store import paths
from ..runtime.store.store import Store
from . import icons
from .first_run import ask_consent, first_run_done, record_consent
from .host import NodeHost, open_node
from .instance import SingleInstance
from .model import AppModel
from .shell import Shell
from .source import NodeSource

log = logging.getLogger(__name__)


def application() -> QApplication:
    """The QApplication (created if needed), set up for a tray app."""
    app = cast(QApplication | None, QApplication.instance()) or QApplication(sys.argv[:1])
    app.setApplicationName("edgenet")
    app.setApplicationDisplayName("edgenet")
    app.setDesktopFileName("edgenet")
    app.setQuitOnLastWindowClosed(False)  # the tray, or the session, decides when to quit
    app.setWindowIcon(icons.state_icon("contributing"))
    return app


def run_app(args: argparse.Namespace) -> int:
    data_dir = paths.ensure_private_dir(paths.data_dir(args.data_dir))
    app = application()
    instance = SingleInstance(data_dir)
    if not instance.acquire():
        if instance.ask_first_to_show():
            print(f"edgenet is already running for {data_dir}; showing it", file=sys.stderr)
        else:
            pid = instance.holder_pid()
            print(f"edgenet is already running for {data_dir} (pid {pid})", file=sys.stderr)
        return 0
    instance.activated.connect(lambda: _raise_visible(app))
    try:
        source, host = open_node(args, data_dir)
        attached = source if isinstance(source, ControlClient) else None
        if not first_run(data_dir, attached):
            return 0
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            code: int = loop.run_until_complete(
                run_session(source, host, instance, minimized=args.minimized)
            )
            return code
        finally:
            loop.close()
            asyncio.set_event_loop(None)
    finally:
        instance.release()


def first_run(data_dir: Path, attached: ControlClient | None = None) -> bool:
    """Ask for consent if this data dir never gave it; False if the user said "Not now".
    Attached to a running node, the choices go through its control API (it applies them)."""
    with Store.open(paths.store_path(data_dir)) as store:
        if first_run_done(store):
            return True
        consent = ask_consent()
        if consent is None:
            return False
        if attached is not None:
            try:
                attached.sync(attached.set_settings(dict(consent.settings())))
            except EdgenetError as exc:
                log.warning("the running node refused the first-run settings: %s", exc)
        record_consent(store, consent, store_settings=attached is None)
    return True


async def run_session(
    source: NodeSource,
    host: NodeHost | None,
    instance: SingleInstance | None = None,
    *,
    minimized: bool = False,
    tray: bool | None = None,
    ready: Callable[[Shell], None] | None = None,
) -> int:
    """Run the UI over `source` (and the hosted node, if any) until asked to quit."""
    stop = asyncio.Event()
    undo_signals = _on_signals(stop.set)
    model = AppModel(source)
    shell = Shell(model, tray=tray)
    shell.quitRequested.connect(stop.set)
    if instance is not None:
        instance.activated.connect(shell.show_window)
    if host is not None:
        host.on_error = model.errorOccurred.emit
        host.start()
    shell.start(minimized=minimized)
    if ready is not None:
        ready(shell)
    try:
        await stop.wait()
    finally:
        log.info("quitting")
        await shell.close()
        if host is not None:
            await host.stop()
        undo_signals()
    return 0


def _on_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` on SIGINT and SIGTERM; returns a function that undoes it."""
    loop = asyncio.get_running_loop()
    sigs = [signal.SIGINT, signal.SIGTERM]
    try:
        for sig in sigs:
            loop.add_signal_handler(sig, callback)
    except (NotImplementedError, RuntimeError):  # Windows: plain handlers, and a timer that
        previous = {sig: signal.getsignal(sig) for sig in sigs}  # lets Python run them
        for sig in sigs:
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(callback))
        timer = QTimer()
        timer.timeout.connect(lambda: None)
        timer.start(250)

        def undo_plain() -> None:
            timer.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return undo_plain

    def undo() -> None:
        for sig in sigs:
            loop.remove_signal_handler(sig)

    return undo


def _raise_visible(app: QApplication) -> None:
    for widget in app.topLevelWidgets():
        if widget.isVisible():
            widget.raise_()
            widget.activateWindow()

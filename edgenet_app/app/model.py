"""The app's view of its node: one QObject that polls and listens, and emits Qt signals.

Widgets connect to the signals and call the action methods; nothing in the UI awaits the
network itself, so a slow or vanished node never blocks a repaint. All I/O runs as asyncio
tasks on the qasync loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core.errors import EdgenetError
from ..core.notifications import CreditNote, StateNote, TaskNote
from ..core.status import NodeHistory, NodeStatus
from .source import NodeSource

log = logging.getLogger(__name__)

STATUS_EVERY_S = 2.0
HISTORY_EVERY_S = 15.0
RETRY_EVENTS_S = 3.0


class AppModel(QObject):
    statusChanged = Signal(object)  # NodeStatus (core/status.py)
    historyChanged = Signal(object)  # NodeHistory (core/status.py)
    settingsChanged = Signal(dict)  # {"values", "sources", "warnings"}
    notified = Signal(object)  # a live Notification from the node (core/notifications.py)
    errorOccurred = Signal(str)  # a message for the user
    connectedChanged = Signal(bool)

    def __init__(self, source: NodeSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.status: NodeStatus | None = None  # None until the node first answers
        self.history = NodeHistory()
        self.settings: dict[str, Any] = {}
        self.connected = False
        self._tasks: list[asyncio.Task[None]] = []
        self._history_due = True

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Begin polling and listening (call with the qasync loop running)."""
        if not self._tasks:
            self._tasks = [
                asyncio.ensure_future(self._poll_loop()),
                asyncio.ensure_future(self._event_loop()),
            ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    # -- reading -------------------------------------------------------------------------

    async def refresh(self, *, history: bool = False) -> None:
        """Fetch the status now (and the history if asked or due)."""
        try:
            status = await self.source.status()
        except EdgenetError as exc:
            self._set_connected(False, str(exc))
            return
        self._set_connected(True)
        self.status = status
        self.statusChanged.emit(status)
        if history or self._history_due:
            self._history_due = False
            try:
                self.history = await self.source.history(50)
            except EdgenetError as exc:
                log.info("history unavailable: %s", exc)
                return
            self.historyChanged.emit(self.history)

    async def load_settings(self) -> dict[str, Any]:
        self.settings = await self.source.settings()
        self.settingsChanged.emit(self.settings)
        return self.settings

    async def _poll_loop(self) -> None:
        elapsed = 0.0
        while True:
            await self.refresh()
            await asyncio.sleep(STATUS_EVERY_S)
            elapsed += STATUS_EVERY_S
            if elapsed >= HISTORY_EVERY_S:
                elapsed = 0.0
                self._history_due = True

    async def _event_loop(self) -> None:
        while True:
            try:
                async for note in self.source.events():
                    self.notified.emit(note)
                    if isinstance(note, CreditNote | TaskNote | StateNote):
                        self._history_due = not isinstance(note, StateNote)
                        await self.refresh()
            except EdgenetError as exc:
                log.info("event stream ended: %s", exc)
            await asyncio.sleep(RETRY_EVENTS_S)

    def _set_connected(self, ok: bool, why: str = "") -> None:
        if ok != self.connected:
            self.connected = ok
            self.connectedChanged.emit(ok)
            if not ok:
                self.errorOccurred.emit(f"lost contact with the node: {why}")

    # -- acting --------------------------------------------------------------------------

    def pause(self) -> asyncio.Task[None]:
        return self._act(self.source.pause)

    def resume(self) -> asyncio.Task[None]:
        return self._act(self.source.resume)

    def snooze(self, seconds: float) -> asyncio.Task[None]:
        return self._act(lambda: self.source.snooze(seconds))

    def finish_then_pause(self) -> asyncio.Task[None]:
        return self._act(self.source.finish_then_pause)

    def _act(self, call: Callable[[], Awaitable[NodeStatus]]) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                status = await call()
            except EdgenetError as exc:
                self.errorOccurred.emit(str(exc))
                return
            self.status = status
            self.statusChanged.emit(status)

        return asyncio.ensure_future(run())

    async def apply_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validate, persist and apply; raises EdgenetError (ControlError) with the reason."""
        result = await self.source.set_settings(values)
        self.settings = result
        self.settingsChanged.emit(result)
        await self.refresh()
        return result

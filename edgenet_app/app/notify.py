"""Notifications: credits earned, batched, and errors, never a flood.

`CreditBatcher` and `ErrorGate` are pure (they take the time as an argument) and decide
*when* to say something: credits are gathered for a minute after the first one arrives and
reported at most once every 10 minutes ("You earned 3.2 credits for 14 tasks"); the same
error is repeated at most once every 10 minutes. `Notifier` feeds them from the `AppModel`
and shows what they let through: as a tray balloon (`QSystemTrayIcon.showMessage`) or, where
the desktop has no tray, as a banner in the window. The `notifications` setting turns it off.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Literal

from PySide6.QtCore import QObject, QTimer

from ..core.notifications import CreditNote, ErrorNote, Notification
from . import display
from .display import labels
from .model import AppModel

Level = Literal["info", "error"]
ShowFn = Callable[[str, str, Level], None]  # (title, message, level)

MIN_GAP_S = 600.0  # at most one credit notification per 10 minutes
GATHER_S = 60.0  # after the first credit, wait this long for the rest of a burst
ERROR_REPEAT_S = 600.0
TICK_MS = 5_000


@dataclasses.dataclass(frozen=True)
class CreditSummary:
    micro: int
    tasks: int

    def text(self) -> str:
        return display.credits_earned(self.micro, self.tasks)


class CreditBatcher:
    """Collects credits; `take(now)` hands back a summary when one is due, else None."""

    def __init__(self, min_gap_s: float = MIN_GAP_S, gather_s: float = GATHER_S) -> None:
        self.min_gap_s = min_gap_s
        self.gather_s = gather_s
        self.pending_micro = 0
        self.pending_tasks = 0
        self.first_at: float | None = None
        self.last_shown: float | None = None

    def add(self, micro: int, now: float) -> None:
        if micro <= 0:
            return
        self.pending_micro += micro
        self.pending_tasks += 1
        if self.first_at is None:
            self.first_at = now

    def due_at(self) -> float | None:
        """When the pending credits may be shown (None: nothing pending)."""
        if self.first_at is None:
            return None
        ready = self.first_at + self.gather_s
        if self.last_shown is not None:
            ready = max(ready, self.last_shown + self.min_gap_s)
        return ready

    def take(self, now: float) -> CreditSummary | None:
        due = self.due_at()
        if due is None or now < due:
            return None
        out = CreditSummary(self.pending_micro, self.pending_tasks)
        self.clear()
        self.last_shown = now
        return out

    def clear(self) -> None:
        self.pending_micro = self.pending_tasks = 0
        self.first_at = None


class ErrorGate:
    """Lets an error message through unless the same one went through recently."""

    def __init__(self, repeat_s: float = ERROR_REPEAT_S) -> None:
        self.repeat_s = repeat_s
        self._last: dict[str, float] = {}

    def allow(self, message: str, now: float) -> bool:
        last = self._last.get(message)
        if last is not None and now - last < self.repeat_s:
            return False
        self._last[message] = now
        return True


class Notifier(QObject):
    """Shows batched credit and error notifications through `show(title, message, level)`."""

    def __init__(
        self,
        model: AppModel,
        show: ShowFn,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.show = show
        self.clock = clock
        self.enabled = True
        self.credits = CreditBatcher()
        self.errors = ErrorGate()
        model.notified.connect(self.on_event)
        model.errorOccurred.connect(self.on_error)
        model.settingsChanged.connect(self.on_settings)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def on_settings(self, settings: dict[str, Any]) -> None:
        self.enabled = bool(settings.get("values", {}).get("notifications", True))
        if not self.enabled:
            self.credits.clear()

    def on_event(self, note: Notification) -> None:
        if isinstance(note, CreditNote) and self.enabled:
            self.credits.add(note.amount, self.clock())
            self.flush()
        elif isinstance(note, ErrorNote):
            self.on_error(note.message or labels.NODE_ERROR)

    def on_error(self, message: str) -> None:
        if self.enabled and self.errors.allow(message, self.clock()):
            self.show(labels.APP_NAME, display.sentence(message), "error")

    def flush(self) -> None:
        summary = self.credits.take(self.clock()) if self.enabled else None
        if summary is not None:
            self.show(labels.APP_NAME, summary.text(), "info")

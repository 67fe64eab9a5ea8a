"""What the tray menu and the window's toolbar both offer.

`Commands` turns a click into an `AppModel` call (pause, resume, snooze, finish then pause)
or a request to the shell (open the dashboard or the settings, quit). The wording of states,
credits and snooze times lives in app/display (`display.state_of`, `display.reason_text`,
`display.credits_line`, `display.labels`), as plain functions and constants, so tests can
check it without a menu.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from ..core.status import NodeStatus
from .display import labels
from .model import AppModel

SNOOZE_15_MIN = 15 * 60
SNOOZE_1_HOUR = 3600
TOMORROW_AT = dt.time(8, 0)


def is_paused(status: NodeStatus | None) -> bool:
    return status is not None and status.state == "paused"


def seconds_until_tomorrow(now: float) -> float:
    """Seconds from `now` (a Unix time) to 08:00 local time on the next day."""
    here = dt.datetime.fromtimestamp(now)
    target = dt.datetime.combine(here.date() + dt.timedelta(days=1), TOMORROW_AT)
    return target.timestamp() - now


class Commands(QObject):
    """The actions of the tray menu and of the toolbar. `clock` gives the Unix time (for
    "until tomorrow"); the shell connects the three requests."""

    dashboardRequested = Signal()
    settingsRequested = Signal()
    quitRequested = Signal()

    def __init__(
        self,
        model: AppModel,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.clock = clock

    def pause(self) -> None:
        self.model.pause()

    def resume(self) -> None:
        self.model.resume()

    def toggle(self) -> None:
        """Resume when paused, pause otherwise."""
        if is_paused(self.model.status):
            self.model.resume()
        else:
            self.model.pause()

    def snooze(self, seconds: float) -> None:
        self.model.snooze(seconds)

    def snooze_until_tomorrow(self) -> None:
        self.model.snooze(seconds_until_tomorrow(self.clock()))

    def finish_then_pause(self) -> None:
        self.model.finish_then_pause()

    def can_act(self) -> bool:
        return self.model.connected

    def fill_snooze_menu(self, menu: QMenu) -> None:
        """15 minutes / 1 hour / until tomorrow 08:00."""
        menu.clear()
        for text, seconds in (
            (labels.SNOOZE_FOR_15_MIN, SNOOZE_15_MIN),
            (labels.SNOOZE_FOR_1_HOUR, SNOOZE_1_HOUR),
        ):
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, s=seconds: self.snooze(s))
        action = menu.addAction(labels.snooze_until(TOMORROW_AT))
        action.triggered.connect(lambda _=False: self.snooze_until_tomorrow())

    def add_action(
        self, menu: QMenu, text: str, slot: Callable[[], None], *, enabled: bool = True
    ) -> QAction:
        action = menu.addAction(text)
        action.setEnabled(enabled)
        action.triggered.connect(lambda _=False: slot())
        return action

"""What the tray menu and the window's toolbar both offer, and the words they use.

`Commands` turns a click into an `AppModel` call (pause, resume, snooze, finish then pause)
or a request to the shell (open the dashboard or the settings, quit). The wording of states,
credits and snooze times lives here once, as plain functions, so tests can check it without
a menu.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from ..core import economics as econ
from .model import AppModel

STATE_TITLES = {
    "contributing": "Contributing",
    "paused": "Paused",
    "waiting_for_idle": "Waiting for idle",
    "on_battery": "On battery",
    "offline": "Offline",
}
SNOOZE_15_MIN = 15 * 60
SNOOZE_1_HOUR = 3600
TOMORROW_AT = dt.time(8, 0)


def state_of(status: dict[str, Any], connected: bool) -> str:
    """The state the icon shows: the node's, or offline when the app cannot reach it."""
    state = str(status.get("state") or "offline") if connected else "offline"
    return state if state in STATE_TITLES else "offline"


def reason_text(status: dict[str, Any], connected: bool) -> str:
    if not connected:
        return "Connecting to the node…" if not status else "Lost contact with the node"
    reason = str(status.get("reason") or "")
    return reason[:1].upper() + reason[1:]


def credits_value(status: dict[str, Any]) -> float | None:
    """Available credits as a number, or None if unknown."""
    text = (status.get("credits") or {}).get("available")
    try:
        return econ.parse_credits(str(text)) / econ.MICRO if text is not None else None
    except ValueError:
        return None


def short_credits(value: float) -> str:
    """1,284.5 / 3.25 / 0.15: one decimal from 100 on, two below."""
    return f"{value:,.1f}" if value >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def credits_line(status: dict[str, Any]) -> str:
    value = credits_value(status)
    if value is None:
        return "Credits unknown"
    line = f"{short_credits(value)} credits"
    rank = status.get("rank")
    if isinstance(rank, list | tuple) and len(rank) == 2 and rank[1]:
        line += f" · rank #{rank[0]:,} of {rank[1]:,}"
    return line


def tooltip(status: dict[str, Any], connected: bool) -> str:
    """edgenet — contributing · 1,284.5 credits"""
    words = STATE_TITLES[state_of(status, connected)].lower()
    value = credits_value(status) if connected else None
    if value is None:
        return f"edgenet — {words}"
    return f"edgenet — {words} · {short_credits(value)} credits"


def is_paused(status: dict[str, Any]) -> bool:
    return status.get("state") == "paused"


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
        for text, seconds in (("For 15 minutes", SNOOZE_15_MIN), ("For 1 hour", SNOOZE_1_HOUR)):
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, s=seconds: self.snooze(s))
        action = menu.addAction(f"Until tomorrow, {TOMORROW_AT:%H:%M}")
        action.triggered.connect(lambda _=False: self.snooze_until_tomorrow())

    def add_action(
        self, menu: QMenu, text: str, slot: Callable[[], None], *, enabled: bool = True
    ) -> QAction:
        action = menu.addAction(text)
        action.setEnabled(enabled)
        action.triggered.connect(lambda _=False: slot())
        return action

"""The tray icon and its menu.

The icon (app/icons.py) and tooltip follow the node's state. The menu is rebuilt from the
model's live status every time it opens (as Vorta's tray menu): three disabled lines with
the state, its reason and the credits (plain actions, not widgets, so that desktops which
draw the menu themselves over D-Bus show them too); Pause or Resume; Snooze; Finish
current tasks, then pause; Open dashboard; Settings…; Quit. Clicking the icon opens the
dashboard.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QIcon, QPalette
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from ..core.status import NodeStatus
from . import display, icons
from .actions import Commands, is_paused
from .display import labels
from .model import AppModel


class TrayMenu(QMenu):
    """Rebuilt on every aboutToShow from `model.status`."""

    def __init__(self, model: AppModel, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.commands = commands
        self.snooze_menu = QMenu(
            labels.SNOOZE, self
        )  # kept: clear() would leak a new one each time
        commands.fill_snooze_menu(self.snooze_menu)
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        status, connected = self.model.status, self.model.connected
        state = display.state_of(status, connected)
        title = self.addAction(icons.state_icon(state), display.STATE_TITLES[state])
        font = QFont(self.font())
        font.setBold(True)
        title.setFont(font)
        self.addAction(display.reason_text(status, connected))
        self.addAction(display.credits_line(status))
        for info in self.actions():
            info.setEnabled(False)
        self.addSeparator()

        ink = self.palette().color(QPalette.ColorRole.Text)
        lit = self.palette().color(QPalette.ColorRole.HighlightedText)
        c, can = self.commands, connected
        if is_paused(status):
            act = c.add_action(self, labels.RESUME, c.resume, enabled=can)
            act.setIcon(icons.action_icon("resume", ink, lit))
        else:
            act = c.add_action(self, labels.PAUSE, c.pause, enabled=can)
            act.setIcon(icons.action_icon("pause", ink, lit))
        self.snooze_menu.setIcon(icons.action_icon("snooze", ink, lit))
        self.addMenu(self.snooze_menu).setEnabled(can and not is_paused(status))
        act = c.add_action(
            self, labels.FINISH_THEN_PAUSE, c.finish_then_pause,
            enabled=can and not is_paused(status),
        )  # fmt: skip
        act.setIcon(icons.action_icon("finish", ink, lit))
        self.addSeparator()
        act = c.add_action(self, labels.OPEN_DASHBOARD, c.dashboardRequested.emit)
        act.setIcon(icons.action_icon("dashboard", ink, lit))
        act = c.add_action(self, labels.SETTINGS, c.settingsRequested.emit)
        act.setIcon(icons.action_icon("settings", ink, lit))
        self.addSeparator()
        act = c.add_action(self, labels.QUIT_APP, c.quitRequested.emit)
        act.setIcon(icons.action_icon("quit", ink, lit))

    def texts(self) -> list[str]:
        """The visible entries, separators as "-" (for tests and accessibility checks)."""
        return ["-" if a.isSeparator() else a.text() for a in self.actions()]


class Tray(QSystemTrayIcon):
    """The icon in the notification area; its look and tooltip follow the model."""

    def __init__(self, model: AppModel, commands: Commands) -> None:
        super().__init__()
        self.model = model
        self.commands = commands
        self.state = ""
        self._icons: dict[str, QIcon] = {}
        self.tray_menu = TrayMenu(model, commands)
        self.setContextMenu(self.tray_menu)
        self.activated.connect(self._on_activated)
        model.statusChanged.connect(self._on_status)
        model.connectedChanged.connect(lambda _ok: self._on_status(model.status))
        self._on_status(model.status)

    def _on_status(self, status: NodeStatus | None) -> None:
        state = display.state_of(status, self.model.connected)
        if state != self.state:
            self.state = state
            if state not in self._icons:
                self._icons[state] = icons.state_icon(state)
            self.setIcon(self._icons[state])
        self.setToolTip(display.tray_tooltip(status, self.model.connected))

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.commands.dashboardRequested.emit()

"""The app's visible parts over one `AppModel`: tray icon (or not), main window,
notifications and the settings dialog, wired to the shared `Commands`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog, QSystemTrayIcon, QWidget

from ..core.errors import EdgenetError
from .actions import Commands
from .model import AppModel
from .notify import Level, Notifier
from .settings import SettingsDialog
from .tray import Tray
from .window import MainWindow

BALLOON_MS = 10_000


class Shell(QObject):
    quitRequested = Signal()

    def __init__(
        self,
        model: AppModel,
        *,
        tray: bool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`tray`: use a tray icon (default: if the desktop has a system tray)."""
        super().__init__()
        self.model = model
        self.commands = Commands(model, clock, self)
        has_tray = QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray
        self.window = MainWindow(model, self.commands, standalone=not has_tray)
        self.tray = Tray(model, self.commands) if has_tray else None
        self.notifier = Notifier(model, self.notify, parent=self)
        self.settings_dialog: QDialog | None = None
        self.commands.dashboardRequested.connect(self.show_window)
        self.commands.settingsRequested.connect(self.open_settings)
        self.commands.quitRequested.connect(self.quitRequested)
        model.connectedChanged.connect(self._on_connected)
        self._loading: asyncio.Task[None] | None = None

    def start(self, *, minimized: bool = False) -> None:
        """Show the tray icon (or the window) and start following the node."""
        self.model.start()
        if self.tray is not None:
            self.tray.show()
            if not minimized:
                self.window.bring_to_front()
        elif minimized:
            self.window.showMinimized()
        else:
            self.window.bring_to_front()

    def _on_connected(self, ok: bool) -> None:
        if ok:
            self._loading = asyncio.ensure_future(self._load_settings())

    async def _load_settings(self) -> None:
        try:
            await self.model.load_settings()
        except EdgenetError:
            pass  # the model reports lost contact itself

    def notify(self, title: str, message: str, level: Level) -> None:
        """Show a notification: a tray balloon, or a banner in the window."""
        if self.tray is not None and self.tray.isVisible() and self.tray.supportsMessages():
            icon = (
                QSystemTrayIcon.MessageIcon.Warning
                if level == "error"
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.tray.showMessage(title, message, icon, BALLOON_MS)
        else:
            self.window.notify(title, message, level)

    def show_window(self) -> None:
        self.window.bring_to_front()

    def open_settings(self) -> None:
        """The settings dialog (one at a time, not modal: the node keeps being followed)."""
        if self.settings_dialog is not None:
            self.settings_dialog.show()
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return
        parent: QWidget | None = self.window if self.window.isVisible() else None
        dialog = SettingsDialog(self.model, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._settings_closed)
        self.settings_dialog = dialog
        dialog.show()

    def _settings_closed(self) -> None:
        self.settings_dialog = None

    async def close(self) -> None:
        """Hide everything and stop following the node (the node itself is not ours)."""
        if self.settings_dialog is not None:
            self.settings_dialog.close()
        self.notifier.timer.stop()
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        await self.model.stop()

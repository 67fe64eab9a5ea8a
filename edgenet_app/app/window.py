"""The main window: the dashboard under a toolbar with the tray menu's actions.

With a system tray it is the "Open dashboard" window, and closing it only hides it. Without
one (`QSystemTrayIcon.isSystemTrayAvailable()` is false: some Wayland and tiling desktops,
offscreen) it *is* the app: it says so once, in a banner, and closing it quits edgenet. In
that case notifications appear as banners here too.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.status import NodeStatus
from . import display, icons
from .actions import Commands, is_paused
from .dashboard import Dashboard
from .display import labels
from .model import AppModel

MAX_BANNERS = 3
BANNER_TIMEOUT_MS = 20_000
LEVEL_COLOURS = {"notice": "#3b82f6", "info": "#1f9d63", "error": "#d64545"}


class Banner(QFrame):
    """A dismissible message strip, tinted by its level (notice, info or error)."""

    dismissed = Signal()

    def __init__(self, text: str, level: str = "notice", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.level = level
        accent = QColor(LEVEL_COLOURS.get(level, LEVEL_COLOURS["notice"]))
        base = self.palette().color(QPalette.ColorRole.Window)
        tint = QColor(
            round(0.86 * base.red() + 0.14 * accent.red()),
            round(0.86 * base.green() + 0.14 * accent.green()),
            round(0.86 * base.blue() + 0.14 * accent.blue()),
        )
        self.setStyleSheet(
            f"#banner {{ background: {tint.name()}; border: 1px solid {accent.name()};"
            f" border-left: 4px solid {accent.name()}; border-radius: 6px; }}"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 10, 8, 10)
        row.setSpacing(10)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.label, 1)
        close = QToolButton()
        close.setText(labels.DISMISS_GLYPH)
        close.setAutoRaise(True)
        close.setToolTip(labels.DISMISS)
        close.clicked.connect(lambda _=False: self.dismiss())
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
        self.deleteLater()


class StatusChip(QWidget):
    """The toolbar's left end: the state icon and its name; the reason as tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 14, 0)
        row.setSpacing(8)
        self.icon = QLabel()
        self.text = QLabel()
        font = QFont(self.text.font())
        font.setBold(True)
        self.text.setFont(font)
        row.addWidget(self.icon)
        row.addWidget(self.text)

    def show_state(self, state: str, reason: str) -> None:
        self.icon.setPixmap(icons.state_icon(state).pixmap(22, 22))
        self.text.setText(display.STATE_TITLES[state])
        self.setToolTip(reason)


class MainWindow(QMainWindow):
    def __init__(
        self,
        model: AppModel,
        commands: Commands,
        *,
        standalone: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.commands = commands
        self.standalone = standalone
        self.setWindowTitle(labels.APP_NAME)
        self.setObjectName("mainWindow")
        self._build_toolbar()
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.dashboard = Dashboard(model)
        inner = self.dashboard.layout()
        sides = inner.contentsMargins() if inner is not None else None
        self.banners = QVBoxLayout()  # aligned with the dashboard's cards
        self.banners.setContentsMargins(
            sides.left() if sides else 16, 14, sides.right() if sides else 16, 0
        )
        self.banners.setSpacing(6)
        column.addLayout(self.banners)
        column.addWidget(self.dashboard, 1)
        self.setCentralWidget(body)
        self.notice: Banner | None = None
        self._look: tuple[str, bool, str] | None = None
        if standalone:
            self.notice = self.show_banner(labels.NO_TRAY_NOTICE, "notice", timeout_ms=0)
        model.statusChanged.connect(self._refresh)
        model.connectedChanged.connect(lambda _ok: self._refresh(model.status))
        self._refresh(model.status)
        self.resize(980, 720)

    # -- toolbar ------------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        c = self.commands
        bar = QToolBar(labels.TOOLBAR)
        bar.setObjectName("actions")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
        self.chip = StatusChip()
        bar.addWidget(self.chip)
        bar.addSeparator()
        self.toggle_action = bar.addAction(labels.PAUSE)
        self.toggle_action.triggered.connect(lambda _=False: c.toggle())
        self.snooze_menu = QMenu(self)
        c.fill_snooze_menu(self.snooze_menu)
        self.snooze_button = QToolButton()
        self.snooze_button.setText(labels.SNOOZE_BUTTON)
        self.snooze_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")
        self.snooze_button.setMenu(self.snooze_menu)
        self.snooze_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.snooze_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addWidget(self.snooze_button)
        self.finish_action = bar.addAction(labels.FINISH_THEN_PAUSE_SHORT)
        self.finish_action.setToolTip(labels.FINISH_THEN_PAUSE)
        self.finish_action.triggered.connect(lambda _=False: c.finish_then_pause())
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.settings_action = bar.addAction(labels.SETTINGS)
        self.settings_action.triggered.connect(lambda _=False: c.settingsRequested.emit())
        self.quit_action = bar.addAction(labels.QUIT)
        self.quit_action.triggered.connect(lambda _=False: c.quitRequested.emit())
        self.addToolBar(bar)
        self.toolbar = bar

    def _refresh(self, status: NodeStatus | None) -> None:
        """Follow the status (every poll: only what changed is redrawn)."""
        connected = self.model.connected
        state = display.state_of(status, connected)
        paused = is_paused(status)
        self.chip.setToolTip(display.reason_text(status, connected))
        self.toggle_action.setEnabled(connected)
        self.snooze_button.setEnabled(connected and not paused)
        self.finish_action.setEnabled(connected and not paused)
        ink = self.palette().color(QPalette.ColorRole.WindowText)
        look = (state, paused, ink.name())
        if look == self._look:
            return
        self._look = look
        self.chip.show_state(state, display.reason_text(status, connected))
        self.toggle_action.setText(labels.RESUME if paused else labels.PAUSE)
        self.toggle_action.setIcon(icons.action_icon("resume" if paused else "pause", ink))
        self.snooze_button.setIcon(icons.action_icon("snooze", ink))
        self.finish_action.setIcon(icons.action_icon("finish", ink))
        self.settings_action.setIcon(icons.action_icon("settings", ink))
        self.quit_action.setIcon(icons.action_icon("quit", ink))
        self.setWindowIcon(icons.state_icon(state))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_look"):
            self._refresh(self.model.status)

    # -- banners ------------------------------------------------------------------------------

    def show_banner(self, text: str, level: str = "info", *, timeout_ms: int = -1) -> Banner:
        """Add a banner on top (at most MAX_BANNERS; the oldest goes). Info banners go away
        by themselves after BANNER_TIMEOUT_MS unless `timeout_ms` says otherwise (0: never)."""
        banner = Banner(text, level)
        self.banners.insertWidget(0, banner)
        banner.show()
        items = (self.banners.itemAt(i) for i in range(self.banners.count()))
        shown = [w for w in (item.widget() if item else None for item in items) if w]
        extra = [b for b in shown if isinstance(b, Banner) and b is not self.notice]
        for old in extra[MAX_BANNERS:]:
            old.dismiss()
        timeout = BANNER_TIMEOUT_MS if timeout_ms < 0 and level == "info" else timeout_ms
        if timeout > 0:
            QTimer.singleShot(timeout, banner, banner.dismiss)
        return banner

    def notify(self, title: str, message: str, level: str) -> None:
        """A notification (app/notify.py) where there is no tray to show it."""
        self.show_banner(message, level)

    # -- showing and closing ------------------------------------------------------------------

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.standalone:
            event.accept()
            self.commands.quitRequested.emit()
        else:  # the tray keeps running
            event.ignore()
            self.hide()

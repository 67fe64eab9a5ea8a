"""The first-run dialog: what edgenet shares, in plain words, and the user's consent.

It appears when the data dir's store has no `app.first_run_done` flag (the store's `meta`
table: the flag belongs to the data dir, like the identity and the ledger, so a second data
dir asks again and a copied one does not). "Agree and start" stores the chosen CPU limit and
"start at login" as ordinary settings (the same `store_setting` as `edgenet config set`),
registers or removes the login entry (runtime/platform/autostart/), then sets the flag. "Not now"
stores nothing: the app quits without contributing and asks again next time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import EdgenetError
from ..core.settings import SettingValue, get_setting
from ..runtime.store.config import store_setting
from ..runtime.store.store import Store
from . import icons
from .display import labels

log = logging.getLogger(__name__)

FIRST_RUN_FLAG = "app.first_run_done"
WIDTH = 600
MARGIN = 32
TEXT_WIDTH = WIDTH - 2 * MARGIN  # wrapped labels get fixed widths: their heights then fit

# The badges beside what edgenet shares (display.labels.WELCOME_POINTS): glyph, colour.
BADGES = (
    ("cpu", "#1f9d63"),
    ("bandwidth", "#3b82f6"),
    ("sandbox", "#5a5fd6"),
    ("credits", "#e0a21a"),
)


@dataclasses.dataclass(frozen=True)
class Consent:
    cpu_limit: float
    start_at_login: bool

    def settings(self) -> dict[str, SettingValue]:
        return {"cpu_limit": self.cpu_limit, "start_at_login": self.start_at_login}


def first_run_done(store: Store) -> bool:
    return store.get_meta(FIRST_RUN_FLAG) is not None


def record_consent(
    store: Store,
    consent: Consent,
    *,
    set_autostart: Callable[[bool], object] | None = None,
    store_settings: bool = True,
) -> None:
    """Store the choices (unless a running node takes them through its control API:
    `store_settings=False`), apply "start at login", then set the first-run flag."""
    if store_settings:
        for key, value in consent.settings().items():
            store_setting(store, key, value)
    if set_autostart is None:
        from ..runtime.platform import autostart

        set_autostart = autostart.set_enabled
    try:
        set_autostart(consent.start_at_login)
    except EdgenetError as exc:  # edgenet still runs; the setting says what was asked
        log.warning("cannot change start at login: %s", exc)
    store.set_meta(FIRST_RUN_FLAG, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def _wrapped(label: QLabel, width: int) -> QLabel:
    """Wrap `label` at a fixed width and give it the height its text needs there (a dialog
    does not lay out height-for-width by itself, and would clip the last line)."""
    label.setWordWrap(True)
    label.setFixedWidth(width)
    label.setFixedHeight(label.heightForWidth(width))
    return label


def _ink_on(background: QColor) -> str:
    """White or near-black text, whichever reads better on `background` (WCAG contrast)."""

    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())

    bg = lum(background)
    return "#ffffff" if (1.05 / (bg + 0.05)) >= ((bg + 0.05) / 0.0627) else "#0d1420"


def _outlined(control: QWidget) -> None:
    """On a dark palette, give a control a lighter Window colour: Fusion draws checkbox and
    slider outlines as Window.darker(), which vanishes on a dark window."""
    pal = control.palette()
    if pal.color(QPalette.ColorRole.Window).lightnessF() < 0.5:
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.PlaceholderText))
        control.setPalette(pal)


class FirstRunDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(labels.WELCOME)
        self.setObjectName("firstRun")
        self.setWindowIcon(icons.state_icon("contributing"))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(MARGIN, 28, MARGIN, 22)
        outer.setSpacing(0)
        outer.addLayout(self._heading())
        outer.addSpacing(22)
        outer.addLayout(self._points())
        outer.addSpacing(22)
        outer.addWidget(self._rule())
        outer.addSpacing(18)
        outer.addLayout(self._choices())
        outer.addSpacing(24)
        outer.addLayout(self._buttons())
        self.setFixedWidth(WIDTH)
        self.agree.setFocus()

    def _muted(self, label: QLabel) -> QLabel:
        colour = self.palette().color(QPalette.ColorRole.PlaceholderText)
        label.setStyleSheet(f"color: {colour.name()};")
        return label

    def _heading(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(16)
        logo = QLabel()
        logo.setPixmap(icons.state_icon("contributing").pixmap(56, 56))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        row.addWidget(logo)
        column = QVBoxLayout()
        column.setSpacing(6)
        title = QLabel(labels.WELCOME)
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.7)
        font.setWeight(QFont.Weight.DemiBold)
        title.setFont(font)
        column.addWidget(title)
        lede = QLabel(labels.WELCOME_LEDE)
        column.addWidget(self._muted(_wrapped(lede, TEXT_WIDTH - 56 - 16)))
        row.addLayout(column, 1)
        return row

    def _points(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(14)
        grid.setColumnStretch(1, 1)
        for n, (glyph, colour) in enumerate(BADGES):
            head, text = labels.WELCOME_POINTS[glyph]
            badge = QLabel()
            badge.setPixmap(icons.badge_pixmap(glyph, colour, 30, self.devicePixelRatioF()))
            badge.setAlignment(Qt.AlignmentFlag.AlignTop)
            grid.addWidget(badge, n, 0)
            label = QLabel(f"<b>{head}</b><br>{text}")
            label.setTextFormat(Qt.TextFormat.RichText)
            grid.addWidget(_wrapped(label, TEXT_WIDTH - 30 - 14), n, 1)
        return grid

    def _rule(self) -> QFrame:
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setFrameShadow(QFrame.Shadow.Plain)
        rule.setStyleSheet(f"color: {self.palette().color(QPalette.ColorRole.Mid).name()};")
        return rule

    def _choices(self) -> QVBoxLayout:
        cpu = get_setting("cpu_limit")
        assert cpu.min is not None and cpu.max is not None and isinstance(cpu.default, float)
        column = QVBoxLayout()
        column.setSpacing(8)
        row = QHBoxLayout()
        row.addWidget(QLabel(labels.USE_AT_MOST))
        row.addStretch(1)
        self.cpu_value = QLabel()
        font = QFont(self.cpu_value.font())
        font.setBold(True)
        self.cpu_value.setFont(font)
        row.addWidget(self.cpu_value)
        column.addLayout(row)
        self.cpu_slider = QSlider(Qt.Orientation.Horizontal)
        self.cpu_slider.setRange(round(cpu.min * 100), round(cpu.max * 100))
        self.cpu_slider.setSingleStep(5)
        self.cpu_slider.setPageStep(10)
        self.cpu_slider.setTickInterval(10)
        self.cpu_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.cpu_slider.valueChanged.connect(self._show_cpu)
        self.cpu_slider.setValue(round(cpu.default * 100))
        self._show_cpu(self.cpu_slider.value())
        column.addWidget(self.cpu_slider)
        column.addSpacing(10)
        self.start_at_login = QCheckBox(labels.START_AT_LOGIN)
        self.start_at_login.setChecked(bool(get_setting("start_at_login").default))
        column.addWidget(self.start_at_login)
        for control in (self.cpu_slider, self.start_at_login):
            _outlined(control)
        column.addSpacing(6)
        later = QLabel(labels.CHANGE_LATER)
        column.addWidget(self._muted(_wrapped(later, TEXT_WIDTH)))
        return column

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addStretch(1)
        self.not_now = QPushButton(labels.NOT_NOW)
        self.not_now.clicked.connect(self.reject)
        self.agree = QPushButton(labels.AGREE)
        self.agree.setObjectName("primary")
        self.agree.setDefault(True)
        self.agree.clicked.connect(self.accept)
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        self.agree.setStyleSheet(
            f"#primary {{ background: {accent.name()}; color: {_ink_on(accent)}; border: 1px solid "
            f"{accent.darker(115).name()}; border-radius: 6px; padding: 7px 20px; "
            f"font-weight: 600; }} #primary:hover {{ background: {accent.lighter(108).name()}; }}"
            f" #primary:pressed {{ background: {accent.darker(110).name()}; }}"
        )
        for button in (self.not_now, self.agree):
            button.setMinimumHeight(34)
            button.setMinimumWidth(110)
            row.addWidget(button)
        return row

    def _show_cpu(self, percent: int) -> None:
        self.cpu_value.setText(labels.cpu_share(percent))

    def consent(self) -> Consent:
        return Consent(self.cpu_slider.value() / 100, self.start_at_login.isChecked())


def ask_consent(parent: QWidget | None = None) -> Consent | None:
    """Show the dialog (modal); the choices if the user agreed, else None."""
    dialog = FirstRunDialog(parent)
    return dialog.consent() if dialog.exec() == QDialog.DialogCode.Accepted else None

"""Light and dark colours for everything the app paints itself.

Custom-painted widgets (charts, meters, status dots) and the dashboard's style sheet take
every colour from one `Theme`, chosen from the system: the colour scheme Qt reports
(`QStyleHints.colorScheme`, Qt 6.5+), or, where the platform does not say (offscreen,
some X11 desktops), the lightness of the application palette. `apply_palette` forces one
scheme on the whole application (screenshots, tests).

Form text (help, notes, errors: the settings dialog) takes its colours from the widget's own
palette instead (`muted_color`, `error_color`, `note_color`, `accent_color`), so it reads
well in light and dark themes alike.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class Theme:
    name: str  # "light" or "dark"
    background: str  # the window behind the cards
    card: str
    border: str
    text: str
    muted: str  # captions, axis labels
    grid: str  # chart grid lines, empty parts of meters
    accent: str
    good: str
    warn: str
    bad: str

    def color(self, role: str, alpha: float = 1.0) -> QColor:
        """A role ("text", "accent", "good", ...) as a QColor, optionally translucent."""
        c = QColor(getattr(self, role))
        if alpha < 1.0:
            c.setAlphaF(max(0.0, alpha))
        return c

    @property
    def dark(self) -> bool:
        return self.name == "dark"

    @staticmethod
    def for_scheme(scheme: Qt.ColorScheme) -> Theme:
        return DARK if scheme == Qt.ColorScheme.Dark else LIGHT

    @staticmethod
    def for_palette(palette: QPalette) -> Theme:
        window = palette.color(QPalette.ColorRole.Window)
        return DARK if window.lightnessF() < 0.5 else LIGHT

    @staticmethod
    def system() -> Theme:
        """The theme the system asks for now (needs a QGuiApplication)."""
        scheme = QGuiApplication.styleHints().colorScheme()
        if scheme != Qt.ColorScheme.Unknown:
            return Theme.for_scheme(scheme)
        return Theme.for_palette(QGuiApplication.palette())


LIGHT = Theme(
    name="light",
    background="#f3f5f9",
    card="#ffffff",
    border="#e2e6ee",
    text="#1c2433",
    muted="#6a7386",
    grid="#e9edf3",
    accent="#3d6fe0",
    good="#1e9e63",
    warn="#c97c06",
    bad="#d64545",
)

DARK = Theme(
    name="dark",
    background="#121519",
    card="#1b1f26",
    border="#2a303a",
    text="#e6e9ef",
    muted="#8c95a7",
    grid="#272d37",
    accent="#6d9bff",
    good="#3ccf8e",
    warn="#f0b141",
    bad="#ff6b6b",
)


def palette_for(theme: Theme) -> QPalette:
    """A QPalette in the theme's colours (for the native widgets around the painted ones)."""
    p = QPalette()
    role = QPalette.ColorRole
    c = theme.color
    for r, colour in (
        (role.Window, c("background")),
        (role.WindowText, c("text")),
        (role.Base, c("card")),
        (role.AlternateBase, c("grid")),
        (role.Text, c("text")),
        (role.Button, c("card")),
        (role.ButtonText, c("text")),
        (role.BrightText, c("bad")),
        (role.ToolTipBase, c("card")),
        (role.ToolTipText, c("text")),
        (role.PlaceholderText, c("muted")),
        (role.Highlight, c("accent")),
        (role.HighlightedText, QColor("#ffffff")),
        (role.Link, c("accent")),
        (role.Light, c("card").lighter(120)),
        (role.Midlight, c("border")),
        (role.Mid, c("border")),
        (role.Dark, c("muted")),
        (role.Shadow, QColor("#000000")),
    ):
        p.setColor(r, colour)
    disabled = c("muted", 0.7)
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, disabled)
    return p


def apply_palette(app: QGuiApplication, scheme: Qt.ColorScheme) -> Theme:
    """Force a light or dark look on the whole application; returns the theme in use.

    Sets the colour scheme where the platform supports it and the palette everywhere
    (the offscreen platform ignores the scheme; widgets then follow the palette).
    """
    theme = Theme.for_scheme(scheme)
    with contextlib.suppress(AttributeError):  # QStyleHints.setColorScheme is Qt 6.8+
        app.styleHints().setColorScheme(scheme)
    app.setPalette(palette_for(theme))
    return theme


# -- form text colours, from a widget's palette -------------------------------------------


def is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5


def muted_color(widget: QWidget) -> QColor:
    """Secondary text: the text colour blended halfway towards the background."""
    pal = widget.palette()
    fg, bg = pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window)
    t = 0.42
    return QColor.fromRgbF(
        fg.redF() * (1 - t) + bg.redF() * t,
        fg.greenF() * (1 - t) + bg.greenF() * t,
        fg.blueF() * (1 - t) + bg.blueF() * t,
    )


def error_color(widget: QWidget) -> QColor:
    """A muted red that stays readable on the background."""
    return QColor("#ef7b72") if is_dark(widget) else QColor("#b3261e")


def note_color(widget: QWidget) -> QColor:
    """An amber for notes such as "set by the config file"."""
    return QColor("#e0b350") if is_dark(widget) else QColor("#8a5a00")


def accent_color(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.Highlight)

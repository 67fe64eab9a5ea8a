"""Colours for form text (help, notes, errors) derived from the widget's palette, so the
settings dialog reads well in light and dark themes alike."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

__all__ = ["accent_color", "error_color", "is_dark", "muted_color", "note_color"]


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

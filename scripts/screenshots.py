"""Render the app's screens offscreen into docs/screenshots/ (FakeSource data, no node).

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--theme light|dark] [--out DIR]
                                                             [NAME ...]

One function per screenshot, registered in SHOTS; with no NAME every one is rendered.
Light images are NAME.png, dark ones NAME-dark.png. To add a screen, write
`def shot_x(ctx: Shot) -> QPixmap` and register it in SHOTS.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPixmap,
)
from PySide6.QtWidgets import QApplication, QMenu, QStyleFactory, QWidget

from edgenet_app.app import icons
from edgenet_app.app.actions import Commands
from edgenet_app.app.fake import FakeSource, sample_history, sample_status
from edgenet_app.app.first_run import FirstRunDialog
from edgenet_app.app.model import AppModel
from edgenet_app.app.theme import Theme, apply_palette
from edgenet_app.app.tray import TrayMenu
from edgenet_app.app.window import MainWindow
from edgenet_app.core.settings import defaults

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Shot:
    app: QApplication
    theme: Theme

    def model(self, state: str = "contributing") -> AppModel:
        """An AppModel showing FakeSource's sample data, as if the node had answered."""
        model = AppModel(FakeSource(state))
        model.connected = True
        model.status = sample_status(state)
        model.history = sample_history()
        model.settings = {"values": dict(defaults()), "sources": {}, "warnings": []}
        return model

    def publish(self, model: AppModel) -> None:
        model.settingsChanged.emit(model.settings)
        model.historyChanged.emit(model.history)
        model.statusChanged.emit(model.status)
        self.app.processEvents()

    def settle(self, widget: QWidget) -> None:
        widget.show()
        for _ in range(3):
            self.app.processEvents()


# -- the tray menu, drawn over a desktop panel ------------------------------------------------


def _grab_menu(ctx: Shot, menu: QMenu) -> QPixmap:
    menu.adjustSize()
    menu.move(-10_000, -10_000)
    ctx.settle(menu)
    pm = menu.grab()
    menu.hide()
    return pm


def _shadow(p: QPainter, rect: QRect, radius: float = 6.0) -> None:
    for i in range(10, 0, -1):
        p.setBrush(QColor(0, 0, 0, 5 + (10 - i) * 2))
        p.setPen(Qt.PenStyle.NoPen)
        p.drawRoundedRect(QRectF(rect).adjusted(-i, -i + 4, i, i + 4), radius + i, radius + i)


def _panel_glyph(p: QPainter, name: str, x: float, y: float, colour: QColor) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    if name == "wifi":
        for r in (7.0, 4.5, 2.0):
            path = QPainterPath()
            path.moveTo(x, y + 4)
            path.arcTo(QRectF(x - r, y + 4 - r, 2 * r, 2 * r), 45, 90)
            path.closeSubpath()
            p.drawPath(path) if r == 2.0 else None
            pen = p.pen()
            p.setPen(colour)
            p.drawArc(QRectF(x - r, y + 4 - r, 2 * r, 2 * r), 45 * 16, 90 * 16)
            p.setPen(pen)
    elif name == "volume":
        p.drawPolygon(
            [QPointF(x - 6, y - 2), QPointF(x - 3, y - 2), QPointF(x + 1, y - 6),
             QPointF(x + 1, y + 6), QPointF(x - 3, y + 2), QPointF(x - 6, y + 2)]
        )  # fmt: skip
        p.setPen(colour)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(QRectF(x - 2, y - 5, 8, 10), -60 * 16, 120 * 16)
    elif name == "battery":
        p.setPen(colour)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(QRectF(x - 8, y - 4, 14, 8), 2, 2)
        p.setBrush(colour)
        p.drawRect(QRectF(x - 6, y - 2, 9, 4))
        p.drawRect(QRectF(x + 6, y - 1.5, 2, 3))


def shot_tray_menu(ctx: Shot) -> QPixmap:
    """The tray menu under its icon at the right end of a panel, Snooze open to its left."""
    model = ctx.model()
    menu = TrayMenu(model, Commands(model))
    menu.rebuild()
    sub = _grab_menu(ctx, menu.snooze_menu)
    menu.adjustSize()
    menu.move(-10_000, -10_000)
    ctx.settle(menu)
    menu.setActiveAction(menu.snooze_menu.menuAction())  # the row the submenu belongs to
    ctx.app.processEvents()
    main = menu.grab()
    menu.snooze_menu.hide()
    menu.hide()
    snooze_row = menu.actionGeometry(menu.snooze_menu.menuAction())

    panel_h, margin = 30, 24
    width = margin + sub.width() + main.width() + 190
    height = panel_h + 4 + main.height() + margin
    out = QPixmap(width, height)
    p = QPainter(out)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    wall = QLinearGradient(0, 0, width, height)
    if ctx.theme.dark:
        wall.setColorAt(0, QColor("#253149"))
        wall.setColorAt(1, QColor("#111722"))
    else:
        wall.setColorAt(0, QColor("#c9d8f2"))
        wall.setColorAt(1, QColor("#eef2fa"))
    p.fillRect(out.rect(), wall)

    # the panel: from the right, the clock, three system icons, then ours (highlighted)
    p.fillRect(QRect(0, 0, width, panel_h), QColor(22, 24, 30, 240))
    ink = QColor("#e8eaef")
    font = QFont(ctx.app.font())
    font.setBold(True)
    p.setFont(font)
    p.setPen(ink)
    clock = QRect(width - 96, 0, 86, panel_h)
    p.drawText(clock, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "Tue 14:32")
    for n, name in enumerate(("battery", "volume", "wifi")):
        _panel_glyph(p, name, clock.left() - 16 - n * 28, panel_h / 2, ink)
    icon_x = clock.left() - 16 - 3 * 28 - 8
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(255, 255, 255, 46))
    p.drawRoundedRect(QRectF(icon_x - 5, 3, 28, panel_h - 6), 5, 5)
    p.drawPixmap(icon_x, (panel_h - 18) // 2, icons.state_pixmap("contributing", 18, 1.0))

    # the menu drops from the icon; the submenu opens beside its row, towards the screen
    menu_rect = QRect(icon_x + 24 - main.width(), panel_h + 2, main.width(), main.height())
    sub_rect = QRect(
        menu_rect.left() - sub.width() + 2,
        menu_rect.top() + snooze_row.top() - 4,
        sub.width(),
        sub.height(),
    )
    _shadow(p, menu_rect)
    p.drawPixmap(menu_rect.topLeft(), main)
    _shadow(p, sub_rect)
    p.drawPixmap(sub_rect.topLeft(), sub)
    p.end()
    left = max(0, sub_rect.left() - margin)
    return out.copy(QRect(left, 0, width - left, height))


# -- dialogs and windows ----------------------------------------------------------------------


def shot_first_run(ctx: Shot) -> QPixmap:
    dialog = FirstRunDialog()
    dialog.adjustSize()
    ctx.settle(dialog)
    pm = dialog.grab()
    dialog.close()
    return pm


def shot_main_window(ctx: Shot) -> QPixmap:
    """The window edgenet runs in where the desktop has no system tray."""
    model = ctx.model()
    window = MainWindow(model, Commands(model), standalone=True)
    window.resize(1000, 760)
    ctx.publish(model)
    ctx.settle(window)
    pm = window.grab()
    window.hide()
    return pm


SHOTS: dict[str, Callable[[Shot], QPixmap]] = {
    "tray-menu": shot_tray_menu,
    "first-run": shot_first_run,
    "main-window": shot_main_window,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(SHOTS)}")
    ap.add_argument("--theme", choices=("light", "dark"), default="light")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in SHOTS]
    if unknown:
        ap.error(f"unknown screenshot {unknown[0]!r}; known: {', '.join(SHOTS)}")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setStyle(QStyleFactory.create("Fusion"))
    scheme = Qt.ColorScheme.Dark if args.theme == "dark" else Qt.ColorScheme.Light
    ctx = Shot(app, apply_palette(app, scheme))
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or list(SHOTS):
        path = args.out / (f"{name}-dark.png" if args.theme == "dark" else f"{name}.png")
        if not SHOTS[name](ctx).save(str(path)):
            raise SystemExit(f"could not write {path}")
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

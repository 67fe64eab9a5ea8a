"""Icons drawn with QPainter at run time: no image files to ship, crisp at any size.

Each node state has its own colour *and* its own glyph, so the state reads without colour
too: contributing is a green disc with a bolt, paused two bars, waiting for idle a moon,
on battery a battery, offline a slashed ring. The small action glyphs (play, pause, clock,
flag) are drawn the same way for the menu and the toolbar.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

STATES = ("contributing", "paused", "waiting_for_idle", "on_battery", "offline")
COLOURS = {
    "contributing": "#1f9d63",
    "paused": "#5b6b82",
    "waiting_for_idle": "#5a5fd6",
    "on_battery": "#e0701a",
    "offline": "#8a94a6",
}
ICON_SIZES = (16, 20, 22, 24, 32, 40, 48, 64)
GLYPH = QColor("#ffffff")


def _bolt(p: QPainter, s: float) -> None:
    pts = [(0.56, 0.16), (0.30, 0.55), (0.47, 0.55), (0.42, 0.84), (0.70, 0.43), (0.53, 0.43)]
    p.drawPolygon(QPolygonF([QPointF(x * s, y * s) for x, y in pts]))


def _bars(p: QPainter, s: float) -> None:
    w, h, top = 0.13 * s, 0.42 * s, 0.29 * s
    for x in (0.335, 0.535):
        p.drawRoundedRect(QRectF(x * s, top, w, h), w * 0.25, w * 0.25)


def _moon(p: QPainter, s: float) -> None:
    disc = QPainterPath()
    disc.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.27 * s, 0.27 * s)
    bite = QPainterPath()
    bite.addEllipse(QPointF(0.64 * s, 0.40 * s), 0.22 * s, 0.22 * s)
    p.drawPath(disc.subtracted(bite))


def _battery(p: QPainter, s: float) -> None:
    body = QRectF(0.24 * s, 0.34 * s, 0.46 * s, 0.32 * s)
    outline = QPainterPath()
    outline.addRoundedRect(body, 0.06 * s, 0.06 * s)
    inner = QPainterPath()
    inner.addRoundedRect(
        body.adjusted(0.06 * s, 0.06 * s, -0.06 * s, -0.06 * s), 0.02 * s, 0.02 * s
    )
    p.drawPath(outline.subtracted(inner))
    p.drawRect(QRectF(0.70 * s, 0.43 * s, 0.06 * s, 0.14 * s))  # the tip
    p.drawRect(QRectF(0.33 * s, 0.43 * s, 0.13 * s, 0.14 * s))  # the charge left


def _slashed_ring(p: QPainter, s: float) -> None:
    ring = QPainterPath()
    ring.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.25 * s, 0.25 * s)
    hole = QPainterPath()
    hole.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.165 * s, 0.165 * s)
    p.drawPath(ring.subtracted(hole))
    pen = QPen(GLYPH, 0.085 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.drawLine(QPointF(0.31 * s, 0.69 * s), QPointF(0.69 * s, 0.31 * s))


_GLYPHS = {
    "contributing": _bolt,
    "paused": _bars,
    "waiting_for_idle": _moon,
    "on_battery": _battery,
    "offline": _slashed_ring,
}


def state_pixmap(state: str, size: int, dpr: float = 1.0) -> QPixmap:
    """The tray image of `state` (unknown states draw as offline), `size` px square."""
    state = state if state in _GLYPHS else "offline"
    pm = QPixmap(round(size * dpr), round(size * dpr))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    colour = QColor(COLOURS[state])
    p.setPen(QPen(colour.darker(135), max(1.0, s / 32)))
    p.setBrush(QBrush(colour))
    inset = max(0.5, s / 32) + s * 0.02
    p.drawEllipse(QRectF(inset, inset, s - 2 * inset, s - 2 * inset))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(GLYPH))
    _GLYPHS[state](p, s)
    p.end()
    return pm


def state_icon(state: str) -> QIcon:
    icon = QIcon()
    for size in ICON_SIZES:
        pm = state_pixmap(state, size)
        icon.addPixmap(pm)
        icon.addPixmap(pm, QIcon.Mode.Disabled)  # the menu's status line stays in colour
    return icon


# -- action glyphs (monochrome, in the palette's text colour) ---------------------------------


def _play(p: QPainter, s: float) -> None:
    p.drawPolygon(QPolygonF([QPointF(0.32 * s, 0.2 * s), QPointF(0.8 * s, 0.5 * s),
                             QPointF(0.32 * s, 0.8 * s)]))  # fmt: skip


def _pause(p: QPainter, s: float) -> None:
    for x in (0.27, 0.56):
        p.drawRoundedRect(QRectF(x * s, 0.2 * s, 0.17 * s, 0.6 * s), 0.03 * s, 0.03 * s)


def _clock(p: QPainter, s: float) -> None:
    face = QPainterPath()
    face.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.36 * s, 0.36 * s)
    inner = QPainterPath()
    inner.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.27 * s, 0.27 * s)
    p.drawPath(face.subtracted(inner))
    p.drawRect(QRectF(0.455 * s, 0.3 * s, 0.09 * s, 0.24 * s))
    p.drawRect(QRectF(0.455 * s, 0.455 * s, 0.2 * s, 0.09 * s))


def _flag(p: QPainter, s: float) -> None:  # finish, then pause
    p.drawRect(QRectF(0.24 * s, 0.16 * s, 0.08 * s, 0.7 * s))
    for row in range(3):
        for col in range(4):
            if (row + col) % 2 == 0:
                p.drawRect(QRectF((0.32 + col * 0.12) * s, (0.18 + row * 0.12) * s,
                                  0.12 * s, 0.12 * s))  # fmt: skip
    outline = QPainterPath()
    outline.addRect(QRectF(0.32 * s, 0.18 * s, 0.48 * s, 0.36 * s))
    inner = QPainterPath()
    inner.addRect(QRectF(0.345 * s, 0.205 * s, 0.43 * s, 0.31 * s))
    p.drawPath(outline.subtracted(inner))


def _gear(p: QPainter, s: float) -> None:
    body = QPainterPath()
    body.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.27 * s, 0.27 * s)
    for i in range(8):
        tooth = QPainterPath()
        tooth.addRect(QRectF(-0.07 * s, -0.38 * s, 0.14 * s, 0.16 * s))
        p.save()
        p.translate(0.5 * s, 0.5 * s)
        p.rotate(i * 45)
        p.drawPath(tooth)
        p.restore()
    hole = QPainterPath()
    hole.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.11 * s, 0.11 * s)
    p.drawPath(body.subtracted(hole))


def _grid(p: QPainter, s: float) -> None:  # the dashboard
    for x, y, w, h in ((0.16, 0.16, 0.3, 0.4), (0.54, 0.16, 0.3, 0.22),
                       (0.16, 0.62, 0.3, 0.22), (0.54, 0.46, 0.3, 0.38)):  # fmt: skip
        p.drawRoundedRect(QRectF(x * s, y * s, w * s, h * s), 0.04 * s, 0.04 * s)


def _power(p: QPainter, s: float) -> None:
    pen = QPen(p.brush().color(), 0.09 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawArc(QRectF(0.2 * s, 0.22 * s, 0.6 * s, 0.6 * s), 125 * 16, 290 * 16)
    p.drawLine(QPointF(0.5 * s, 0.14 * s), QPointF(0.5 * s, 0.48 * s))


def _arrows(p: QPainter, s: float) -> None:  # bandwidth: up and down
    for x, up in ((0.36, True), (0.64, False)):
        tip, base = (0.16, 0.44) if up else (0.84, 0.56)
        head = [(x - 0.15, base), (x, tip), (x + 0.15, base)]
        p.drawPolygon(QPolygonF([QPointF(a * s, b * s) for a, b in head]))
        top, bottom = (0.4, 0.84) if up else (0.16, 0.6)
        p.drawRect(QRectF((x - 0.05) * s, top * s, 0.1 * s, (bottom - top) * s))


def _shield(p: QPainter, s: float) -> None:
    path = QPainterPath(QPointF(0.5 * s, 0.12 * s))
    path.lineTo(0.8 * s, 0.24 * s)
    path.cubicTo(0.8 * s, 0.58 * s, 0.66 * s, 0.76 * s, 0.5 * s, 0.88 * s)
    path.cubicTo(0.34 * s, 0.76 * s, 0.2 * s, 0.58 * s, 0.2 * s, 0.24 * s)
    path.closeSubpath()
    p.drawPath(path)


def _coin(p: QPainter, s: float) -> None:
    ring = QPainterPath()
    ring.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.36 * s, 0.36 * s)
    hole = QPainterPath()
    hole.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.27 * s, 0.27 * s)
    p.drawPath(ring.subtracted(hole))
    star = QPainterPath()
    star.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.15 * s, 0.15 * s)
    p.drawPath(star)


ACTIONS = {
    "cpu": _bolt,
    "bandwidth": _arrows,
    "sandbox": _shield,
    "credits": _coin,
    "resume": _play,
    "pause": _pause,
    "snooze": _clock,
    "finish": _flag,
    "settings": _gear,
    "dashboard": _grid,
    "quit": _power,
}


def badge_pixmap(name: str, colour: QColor | str, size: int, dpr: float = 1.0) -> QPixmap:
    """An action glyph in white on a disc of `colour` (the first-run dialog's bullets)."""
    pm = QPixmap(round(size * dpr), round(size * dpr))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(QColor(colour)))
    p.drawEllipse(QRectF(0, 0, size, size))
    p.setBrush(QBrush(GLYPH))
    p.translate(size * 0.2, size * 0.2)
    ACTIONS[name](p, size * 0.6)
    p.end()
    return pm


def _glyph_pixmap(name: str, colour: QColor | str, size: int) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(QColor(colour)))
    ACTIONS[name](p, float(size))
    p.end()
    return pm


def action_icon(name: str, colour: QColor | str, highlighted: QColor | str | None = None) -> QIcon:
    """A monochrome action glyph (see ACTIONS) in `colour`; in `highlighted` on a selected
    menu row (menus draw the row under the pointer in the Active mode)."""
    icon = QIcon()
    for size in (16, 20, 24, 32, 48):
        icon.addPixmap(_glyph_pixmap(name, colour, size))
        if highlighted is not None:
            icon.addPixmap(_glyph_pixmap(name, highlighted, size), QIcon.Mode.Active)
    return icon

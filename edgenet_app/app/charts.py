"""The dashboard's painted parts: the earnings chart, the contribution curve, a meter.

Each is a plain QWidget with a `paintEvent`, data set by a method, colours from a
`Theme`; the axis arithmetic and the words live in app/display (pure, unit-tested).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QToolTip, QWidget

from ..core import economics as econ
from . import display
from .display import labels
from .theme import LIGHT, Theme

_AXIS_GAP = 8.0  # between axis labels and the plot


class _Painted(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def small_font(self) -> QFont:
        f = QFont(self.font())
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.85))
        return f


def _area(path_points: Sequence[QPointF], base_y: float) -> QPainterPath:
    area = QPainterPath(QPointF(path_points[0].x(), base_y))
    for p in path_points:
        area.lineTo(p)
    area.lineTo(QPointF(path_points[-1].x(), base_y))
    area.closeSubpath()
    return area


def _line(path_points: Sequence[QPointF]) -> QPainterPath:
    line = QPainterPath(path_points[0])
    for p in path_points[1:]:
        line.lineTo(p)
    return line


class EarningsChart(_Painted):
    """Cumulative credits over time from `history["earnings"]` ([[ts_ms, micro], ...])."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int, int]] = []
        self._hover: int | None = None
        self._plot = QRectF()
        self.setMouseTracking(True)
        self.setMinimumSize(240, 120)

    def set_points(self, points: Sequence[Sequence[int]]) -> None:
        self.points = sorted((int(p[0]), int(p[1])) for p in points if len(p) >= 2)
        self._hover = None
        self.update()

    def ranges(self) -> tuple[int, int, float, float]:
        """(t0, t1, y0, y1): the time span and the credits span (in credits) drawn."""
        t0, t1 = self.points[0][0], self.points[-1][0]
        if t1 - t0 < 60_000:  # one point, or all at once: centre it in an hour
            t0, t1 = t0 - 1_800_000, t1 + 1_800_000
        top = max(p[1] for p in self.points) / econ.MICRO
        ticks = display.nice_ticks(0.0, top if top > 0 else 1.0, 4)
        return t0, t1, ticks[0], ticks[-1]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        th = self.theme
        if not self.points:
            self._paint_empty(painter)
            painter.end()
            return
        small = self.small_font()
        painter.setFont(small)
        fm = QFontMetricsF(small)
        t0, t1, y0, y1 = self.ranges()
        yticks = display.nice_ticks(y0, y1, 4)
        label_w = max(fm.horizontalAdvance(display.format_compact(v)) for v in yticks)
        plot = QRectF(
            label_w + _AXIS_GAP,
            fm.height() / 2,
            self.width() - label_w - _AXIS_GAP - fm.averageCharWidth() * 2,
            self.height() - fm.height() / 2 - fm.height() - _AXIS_GAP,
        )
        self._plot = plot

        def px(t: float) -> float:
            return plot.left() + (t - t0) / (t1 - t0) * plot.width()

        def py(v: float) -> float:
            return plot.bottom() - (v - y0) / (y1 - y0) * plot.height()

        # credits axis: grid lines and labels
        for v in yticks:
            y = py(v)
            painter.setPen(QPen(th.color("grid"), 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(th.color("muted"))
            box = QRectF(0, y - fm.height() / 2, label_w, fm.height())
            painter.drawText(
                box,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                display.format_compact(v),
            )
        # time axis labels, kept inside the widget and apart from each other
        target = max(2, int(plot.width() // (fm.horizontalAdvance("Wed 28") * 1.5)))
        last_right = -1e9
        for ms, label in display.time_ticks(t0, t1, target):
            x = px(ms)
            w = fm.horizontalAdvance(label)
            left = min(max(x - w / 2, 0.0), self.width() - w)
            if left < last_right + fm.averageCharWidth() * 2:
                continue
            last_right = left + w
            painter.setPen(QPen(th.color("grid"), 1))
            painter.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 4))
            painter.setPen(th.color("muted"))
            painter.drawText(
                QRectF(left, plot.bottom() + _AXIS_GAP / 2 + 2, w + 1, fm.height()),
                Qt.AlignmentFlag.AlignLeft,
                label,
            )

        pts = [QPointF(px(t), py(v / econ.MICRO)) for t, v in self.points]
        accent = th.color("accent")
        if len(pts) > 1:
            grad = QLinearGradient(0, plot.top(), 0, plot.bottom())
            grad.setColorAt(0.0, th.color("accent", 0.30 if th.dark else 0.22))
            grad.setColorAt(1.0, th.color("accent", 0.02))
            painter.fillPath(_area(pts, plot.bottom()), grad)
            painter.setPen(
                QPen(
                    accent,
                    2.0,
                    Qt.PenStyle.SolidLine,
                    Qt.PenCapStyle.RoundCap,
                    Qt.PenJoinStyle.RoundJoin,
                )
            )
            painter.drawPath(_line(pts))
        self._dot(painter, pts[-1], accent)
        if self._hover is not None and 0 <= self._hover < len(pts):
            p = pts[self._hover]
            painter.setPen(QPen(th.color("muted", 0.6), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(p.x(), plot.top()), QPointF(p.x(), plot.bottom()))
            self._dot(painter, p, accent)
        painter.end()

    def _dot(self, painter: QPainter, at: QPointF, colour: QColor) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        halo = QColor(colour)
        halo.setAlphaF(0.25)
        painter.setBrush(halo)
        painter.drawEllipse(at, 7.0, 7.0)
        painter.setBrush(colour)
        painter.drawEllipse(at, 3.5, 3.5)

    def _paint_empty(self, painter: QPainter) -> None:
        th = self.theme
        rect = QRectF(self.rect())
        base_y = rect.bottom() - 20
        painter.setPen(QPen(th.color("grid"), 1, Qt.PenStyle.DashLine))
        for i in range(4):
            y = rect.top() + 8 + i * (base_y - rect.top() - 8) / 3
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
        f = QFont(self.font())
        painter.setFont(f)
        painter.setPen(th.color("text"))
        mid = rect.center().y()
        painter.drawText(
            QRectF(rect.left(), mid - 24, rect.width(), 22),
            Qt.AlignmentFlag.AlignCenter,
            labels.NO_EARNINGS,
        )
        painter.setFont(self.small_font())
        painter.setPen(th.color("muted"))
        painter.drawText(
            QRectF(rect.left(), mid, rect.width(), 20),
            Qt.AlignmentFlag.AlignCenter,
            labels.NO_EARNINGS_LINE,
        )

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self.points or self._plot.width() <= 0:
            return
        t0, t1, _, _ = self.ranges()
        x = event.position().x()
        t = t0 + (x - self._plot.left()) / self._plot.width() * (t1 - t0)
        i = min(range(len(self.points)), key=lambda k: abs(self.points[k][0] - t))
        if i != self._hover:
            self._hover = i
            self.update()
            ts, micro = self.points[i]
            QToolTip.showText(
                event.globalPosition().toPoint(),
                display.earned_point_tip(ts, micro),
                self,
            )

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)


class CurveChart(_Painted):
    """The contribution curve 1 + 9·e^(−x/1M), with the network's position marked."""

    YTICKS = (1.0, 4.0, 7.0, 10.0)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cpu_hours = 0.0
        self.multiplier: float | None = None
        self.marker = QPointF()  # where the position was last drawn (for tests)
        self.setMinimumSize(200, 110)

    def set_position(self, network_cpu_hours: float, multiplier: float | None = None) -> None:
        self.cpu_hours = max(0.0, float(network_cpu_hours))
        self.multiplier = multiplier
        self.setToolTip(display.curve_tip(self.cpu_hours))
        self.update()

    def plot_rect(self, fm: QFontMetricsF) -> QRectF:
        label_w = fm.horizontalAdvance("10×")
        return QRectF(
            label_w + _AXIS_GAP,
            fm.height() / 2,
            self.width() - label_w - _AXIS_GAP - fm.horizontalAdvance("10M") / 2 - 2,
            self.height() - fm.height() / 2 - fm.height() - _AXIS_GAP,
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        th = self.theme
        small = self.small_font()
        painter.setFont(small)
        fm = QFontMetricsF(small)
        plot = self.plot_rect(fm)

        def at(fx: float, fy: float) -> QPointF:
            return QPointF(plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height())

        for m in self.YTICKS:
            y = at(0, (m - 1) / 9).y()
            painter.setPen(QPen(th.color("grid"), 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(th.color("muted"))
            painter.drawText(
                QRectF(0, y - fm.height() / 2, plot.left() - _AXIS_GAP, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                display.format_axis_multiplier(m),
            )
        for x in display.CURVE_TICKS:
            px = at(display.curve_fraction(x), 0).x()
            label = display.format_compact(x)
            w = fm.horizontalAdvance(label)
            painter.setPen(QPen(th.color("grid"), 1))
            painter.drawLine(QPointF(px, plot.top()), QPointF(px, plot.bottom() + 4))
            painter.setPen(th.color("muted"))
            painter.drawText(
                QRectF(px - w / 2, plot.bottom() + _AXIS_GAP / 2 + 2, w + 1, fm.height()),
                Qt.AlignmentFlag.AlignLeft,
                label,
            )

        samples = 160
        pts = []
        for i in range(samples + 1):
            f = i / samples
            m = econ.contribution_multiplier(display.curve_hours(f))
            pts.append(at(f, (m - 1) / 9))
        grad = QLinearGradient(0, plot.top(), 0, plot.bottom())
        grad.setColorAt(0.0, th.color("accent", 0.26 if th.dark else 0.18))
        grad.setColorAt(1.0, th.color("accent", 0.02))
        painter.fillPath(_area(pts, plot.bottom()), grad)
        painter.setPen(QPen(th.color("accent"), 2.0))
        painter.drawPath(_line(pts))

        fx, fy = display.curve_point(self.cpu_hours, self.multiplier)
        mark = at(fx, fy)
        self.marker = mark
        painter.setPen(QPen(th.color("warn", 0.8), 1, Qt.PenStyle.DashLine))
        painter.drawLine(mark, QPointF(mark.x(), plot.bottom()))
        warn = th.color("warn")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(th.color("warn", 0.25))
        painter.drawEllipse(mark, 8.0, 8.0)
        painter.setBrush(warn)
        painter.drawEllipse(mark, 4.5, 4.5)
        painter.setPen(QPen(th.color("card"), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(mark, 4.5, 4.5)

        self._label_marker(painter, fm, plot, mark, fx)
        painter.end()

    def _label_marker(
        self, painter: QPainter, fm: QFontMetricsF, plot: QRectF, mark: QPointF, fx: float
    ) -> None:
        """Two short lines beside the marker, where the curve is not: under the curve's
        flat start while the network is young, above its tail once it has grown."""
        lines = display.curve_marker_lines(self.cpu_hours)
        w = max(fm.horizontalAdvance(t) for t in lines)
        h = fm.height() * len(lines)
        if fx < 0.6:
            left, top = mark.x() + 8, plot.bottom() - h - 4
            align = Qt.AlignmentFlag.AlignLeft
        else:
            left, top = mark.x() - 8 - w, plot.top() + 2
            align = Qt.AlignmentFlag.AlignRight
        left = min(max(left, plot.left() + 2), plot.right() - w)
        painter.setPen(self.theme.color("text"))
        painter.drawText(QRectF(left, top, w, fm.height()), align, lines[0])
        painter.setPen(self.theme.color("muted"))
        painter.drawText(QRectF(left, top + fm.height(), w, fm.height()), align, lines[1])


class Meter(_Painted):
    """A rounded bar: `value` filled in 0..1, an optional tick at `mark` (e.g. the limit)."""

    def __init__(self, tone: str = "accent", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tone = tone
        self.value = 0.0
        self.mark: float | None = None
        self.setFixedHeight(10)
        self.setMinimumWidth(80)

    def set_value(self, value: float, mark: float | None = None) -> None:
        self.value = min(max(0.0, value), 1.0)
        self.mark = None if mark is None else min(max(0.0, mark), 1.0)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        th = self.theme
        h = 6.0
        track = QRectF(0, (self.height() - h) / 2, self.width(), h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(th.color("grid"))
        painter.drawRoundedRect(track, h / 2, h / 2)
        if self.value > 0:
            fill = QRectF(track.left(), track.top(), max(h, track.width() * self.value), h)
            painter.setBrush(th.color(self.tone))
            painter.drawRoundedRect(fill, h / 2, h / 2)
        if self.mark is not None:
            x = track.left() + track.width() * self.mark
            painter.setPen(QPen(th.color("muted"), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()

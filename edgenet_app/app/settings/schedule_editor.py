"""The schedule editor: allowed hours per weekday as a 7×24 grid, presets, and the text.

Click a cell to toggle an hour; drag to set a rectangle of hours (to the opposite of the cell
where the drag began); click a day name or an hour label to toggle that whole row or column.
The keyboard works too: arrows move, Space toggles. The text under the grid is the same
schedule in the grammar of `edgenet_app.core.schedule`, converted by `schedule_grid`.

A schedule with minute precision ("mon-fri 09:00-17:30") cannot be edited on an hour grid:
the grid then draws it read-only (partly filled cells) and the text field opens for editing.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import SettingsError
from ...core.schedule import DAYS
from ..display import UNKNOWN, WEEKDAYS, labels
from ..theme import accent_color, muted_color, note_color
from .schedule_grid import (
    HOURS,
    PRESETS,
    Grid,
    OffGridError,
    coverage,
    grid_from_schedule,
    schedule_from_grid,
)

__all__ = ["HourGrid", "ScheduleEditor"]

CELL_H = 24
GAP = 2


def _blend(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(
        a.redF() * (1 - t) + b.redF() * t,
        a.greenF() * (1 - t) + b.greenF() * t,
        a.blueF() * (1 - t) + b.blueF() * t,
    )


class HourGrid(QWidget):
    """Seven rows (Monday first) of 24 hour cells. `changed` fires after each user edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cells = [[True] * HOURS for _ in DAYS]
        self._coverage: tuple[tuple[float, ...], ...] | None = None  # read-only view
        self._drag: tuple[tuple[int, int], tuple[int, int], bool] | None = None
        self._cursor = (0, 0)
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(labels.HOUR_GRID)
        fm = self.fontMetrics()
        self._left = max(fm.horizontalAdvance(d) for d in WEEKDAYS) + 14
        self._top = fm.height() + 6

    # -- model ---------------------------------------------------------------------------

    def grid(self) -> Grid:
        return tuple(tuple(row) for row in self._cells)

    def set_grid(self, grid: Grid) -> None:
        self._cells = [list(row) for row in grid]
        self._coverage = None
        self._drag = None
        self.update()

    def set_coverage(self, cover: tuple[tuple[float, ...], ...]) -> None:
        """Show a schedule the grid cannot edit (minute precision), read-only."""
        self._coverage = cover
        self._drag = None
        self.update()

    @property
    def read_only(self) -> bool:
        return self._coverage is not None

    @property
    def focus_cell(self) -> tuple[int, int]:
        """The keyboard focus cell (day, hour); a click moves it too."""
        return self._cursor

    # -- geometry ------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(self._left + HOURS * 24, self._top + len(DAYS) * CELL_H + 2)

    def minimumSizeHint(self) -> QSize:
        return QSize(self._left + HOURS * 14, self._top + len(DAYS) * CELL_H + 2)

    def _cell_w(self) -> float:
        return (self.width() - self._left) / HOURS

    def cell_rect(self, day: int, hour: int) -> QRectF:
        """Where the cell of `day` and `hour` is drawn."""
        w = self._cell_w()
        return QRectF(
            self._left + hour * w + GAP / 2,
            self._top + day * CELL_H + GAP / 2,
            w - GAP,
            CELL_H - GAP,
        )

    def _hit(self, pos: QPoint) -> tuple[int | None, int | None]:
        """(day, hour) under `pos`; None for the label margins."""
        day = (pos.y() - self._top) // CELL_H if pos.y() >= self._top else None
        hour = int((pos.x() - self._left) // self._cell_w()) if pos.x() >= self._left else None
        if day is not None and not 0 <= day < len(DAYS):
            day = max(0, min(len(DAYS) - 1, day))
        if hour is not None:
            hour = max(0, min(HOURS - 1, hour))
        return day, hour

    # -- editing -------------------------------------------------------------------------

    def _shown(self) -> list[list[bool]]:
        if self._drag is None:
            return self._cells
        (d0, h0), (d1, h1), target = self._drag
        out = [list(row) for row in self._cells]
        for d in range(min(d0, d1), max(d0, d1) + 1):
            for h in range(min(h0, h1), max(h0, h1) + 1):
                out[d][h] = target
        return out

    def _commit(self, cells: list[list[bool]]) -> None:
        if cells != self._cells:
            self._cells = cells
            self.changed.emit()
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.read_only or event.button() != Qt.MouseButton.LeftButton:
            return
        day, hour = self._hit(event.position().toPoint())
        cells = [list(row) for row in self._cells]
        if day is None and hour is None:
            return
        if hour is None:  # a day name: toggle the whole day
            assert day is not None
            cells[day] = [not all(cells[day])] * HOURS
            self._commit(cells)
        elif day is None:  # an hour label: toggle that hour on every day
            on = not all(row[hour] for row in cells)
            for row in cells:
                row[hour] = on
            self._commit(cells)
        else:
            self._cursor = (day, hour)
            self._drag = ((day, hour), (day, hour), not cells[day][hour])
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        day, hour = self._hit(pos)
        if self._drag is not None:
            anchor, _, target = self._drag
            cur = (day if day is not None else 0, hour if hour is not None else 0)
            self._drag = (anchor, cur, target)
            self.update()
            return
        hover = (day, hour) if day is not None and hour is not None else None
        if hover != self._hover:
            self._hover = hover
            self.update()
            if hover is not None:
                QToolTip.showText(event.globalPosition().toPoint(), self._describe(*hover), self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            cells = self._shown()
            self._drag = None
            self._commit(cells)

    def leaveEvent(self, event: object) -> None:
        self._hover = None
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        day, hour = self._cursor
        key = event.key()
        moves = {
            Qt.Key.Key_Left: (0, -1),
            Qt.Key.Key_Right: (0, 1),
            Qt.Key.Key_Up: (-1, 0),
            Qt.Key.Key_Down: (1, 0),
        }
        if key in moves:
            dd, dh = moves[Qt.Key(key)]
            self._cursor = ((day + dd) % len(DAYS), (hour + dh) % HOURS)
            self.update()
        elif key in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.read_only:
            cells = [list(row) for row in self._cells]
            cells[day][hour] = not cells[day][hour]
            self._commit(cells)
        else:
            super().keyPressEvent(event)

    def _describe(self, day: int, hour: int) -> str:
        if self._coverage is not None:
            return labels.hour_tip(day, hour, self._coverage[day][hour])
        return labels.hour_tip(day, hour, 1.0 if self._cells[day][hour] else 0.0)

    # -- painting ------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        window = pal.color(QPalette.ColorRole.Window)
        text = pal.color(QPalette.ColorRole.WindowText)
        on = accent_color(self)
        off = _blend(window, text, 0.09)
        muted = muted_color(self)
        if not self.isEnabled() or self.read_only:
            on = _blend(on, window, 0.35)
        cells = self._shown()
        w = self._cell_w()
        p.setPen(muted)
        for hour in range(0, HOURS + 1, 3):
            x = self._left + hour * w
            label = labels.hour_label(hour)
            tw = self.fontMetrics().horizontalAdvance(label)
            x = min(max(x - tw / 2, self._left), self.width() - tw)
            p.drawText(QRectF(x, 0, tw + 1, self._top - 4), Qt.AlignmentFlag.AlignBottom, label)
        for day, name in enumerate(WEEKDAYS):
            r = QRectF(0, self._top + day * CELL_H, self._left - 10, CELL_H)
            p.setPen(text if day < 5 else muted)
            p.drawText(r, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
        p.setPen(Qt.PenStyle.NoPen)
        for day in range(len(DAYS)):
            for hour in range(HOURS):
                r = self.cell_rect(day, hour)
                if self._coverage is not None:
                    share = self._coverage[day][hour]
                    p.setBrush(off)
                    p.drawRoundedRect(r, 3, 3)
                    if share:
                        part = QRectF(r.x(), r.y(), r.width() * share, r.height())
                        p.setBrush(on)
                        p.drawRoundedRect(part, 3, 3)
                    continue
                p.setBrush(on if cells[day][hour] else off)
                p.drawRoundedRect(r, 3, 3)
        # hover and keyboard focus
        marks = []
        if self._hover is not None and not self.read_only and self._drag is None:
            marks.append((self._hover, _blend(text, window, 0.5)))
        if self.hasFocus():
            marks.append((self._cursor, text))
        for (day, hour), color in marks:
            p.setBrush(Qt.BrushStyle.NoBrush)
            pen = p.pen()
            pen.setStyle(Qt.PenStyle.SolidLine)
            pen.setColor(color)
            pen.setWidthF(1.5)
            p.setPen(pen)
            p.drawRoundedRect(self.cell_rect(day, hour).adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        p.end()


class _Swatch(QWidget):
    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color = color
        self.setFixedSize(12, 12)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.color)
        p.drawRoundedRect(QRectF(0, 0, 12, 12), 3, 3)
        p.end()


class ScheduleEditor(QWidget):
    """Presets, the hour grid and the schedule text, kept in step. `edited` on user edits."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = "always"
        self.grid = HourGrid()
        self.grid.changed.connect(self._grid_edited)

        presets = QHBoxLayout()
        presets.setSpacing(6)
        self.preset_buttons: dict[str, QPushButton] = {}
        for name, text in PRESETS.items():
            button = QPushButton(name.replace("&", "&&"))
            button.setObjectName(f"preset:{name}")
            button.setToolTip(text)
            button.setAutoDefault(False)
            button.clicked.connect(lambda _c=False, t=text: self._choose(t))
            self.preset_buttons[name] = button
            presets.addWidget(button)
        presets.addStretch(1)

        window = self.palette().color(QPalette.ColorRole.Window)
        text_c = self.palette().color(QPalette.ColorRole.WindowText)
        legend = QHBoxLayout()
        legend.setSpacing(6)
        legend.setContentsMargins(self.grid._left, 0, 0, 0)
        for color, label in (
            (accent_color(self), labels.ALLOWED),
            (_blend(window, text_c, 0.09), labels.NOT_ALLOWED),
        ):
            legend.addWidget(_Swatch(color))
            legend.addWidget(QLabel(label))
            legend.addSpacing(10)
        hint = QLabel(labels.GRID_HINT)
        hint.setStyleSheet(f"color: {muted_color(self).name()}")
        legend.addStretch(1)
        legend.addWidget(hint)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.summary = QLabel()
        self.summary.setFont(mono)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        self.text_button = QPushButton(labels.EDIT_AS_TEXT)
        self.text_button.setObjectName("edit-as-text")
        self.text_button.setCheckable(True)
        self.text_button.setAutoDefault(False)
        self.text_button.toggled.connect(self._show_text_edit)
        caption = QLabel(labels.AS_TEXT)
        caption.setStyleSheet(f"color: {muted_color(self).name()}")
        self.text_edit = QLineEdit()
        self.text_edit.setObjectName("schedule-text")
        self.text_edit.setFont(mono)
        self.text_edit.setPlaceholderText(labels.SCHEDULE_PLACEHOLDER)
        self.text_edit.setAccessibleName(labels.SCHEDULE_AS_TEXT)
        self.text_edit.textEdited.connect(self._text_edited)
        self.text_edit.hide()
        self.text_button.clicked.connect(lambda on: self.text_edit.setFocus() if on else None)
        text_row = QHBoxLayout()
        text_row.setSpacing(8)
        text_row.addWidget(caption)
        text_row.addWidget(self.summary, 1)
        text_row.addWidget(self.text_edit, 1)
        text_row.addWidget(self.text_button)

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {note_color(self).name()}")
        self.note.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        lay.addLayout(presets)
        lay.addSpacing(2)
        lay.addWidget(self.grid)
        lay.addLayout(legend)
        lay.addSpacing(4)
        lay.addLayout(text_row)
        lay.addWidget(self.note)
        self._sync()

    # -- public --------------------------------------------------------------------------

    def text(self) -> str:
        """The schedule text as entered (the grid's text unless edited as text)."""
        return self._text

    def set_text(self, text: str) -> None:
        """Show `text` (not emitting `edited`); minute precision opens the text field."""
        self._text = text
        self.text_edit.setText(text)
        self._sync()

    @property
    def text_mode(self) -> bool:
        return not self.text_edit.isHidden()

    # -- internals -----------------------------------------------------------------------

    def _choose(self, text: str) -> None:
        self.set_text(text)
        self.edited.emit()

    def _grid_edited(self) -> None:
        self._text = schedule_from_grid(self.grid.grid())
        self.text_edit.setText(self._text)
        self._sync()
        self.edited.emit()

    def _text_edited(self, text: str) -> None:
        self._text = text
        self._sync()
        self.edited.emit()

    def _show_text_edit(self, on: bool) -> None:
        self.text_edit.setVisible(on)
        self.summary.setVisible(not on)
        self.text_button.setText(labels.DONE if on else labels.EDIT_AS_TEXT)

    def _sync(self) -> None:
        """Bring the grid, summary, note and mode in line with `self._text`."""
        fits = True
        try:
            self.grid.set_grid(grid_from_schedule(self._text))
            self.note.hide()
        except OffGridError:
            fits = False
            self.grid.set_coverage(coverage(self._text))
            self.note.setText(labels.OFF_GRID_NOTE)
            self.note.show()
        except SettingsError:  # not valid yet: the dialog shows the schema's message
            fits = False
            self.note.hide()
        self.summary.setText(self._text.strip() or UNKNOWN)
        if not fits and not self.text_button.isChecked():
            self.text_button.setChecked(True)
        # Back to the grid only when the text fits it.
        self.text_button.setEnabled(fits or not self.text_button.isChecked())
        self.text_button.setToolTip("" if fits else labels.OFF_GRID_TIP)

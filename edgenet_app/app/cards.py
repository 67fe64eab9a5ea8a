"""The dashboard's building blocks: cards with a caption, stat cards, and small labels.

`Card` is a rounded panel with a caption line (left) and an optional note (right);
`StatCard` adds a big number and a line under it. `ElidedLabel` ends in "…" when its text
does not fit, `EmptyNote` fills an empty panel, `StatusDot` is the banner's coloured dot.
`scaled_font` and `role_label` make the fonts and labels every card uses; a label's `role`
property ("caption", "detail", "value", "accent") picks its colour in the dashboard's
style sheet.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from . import display

_PAD = 16


def scaled_font(base: QFont, scale: float, weight: QFont.Weight | None = None) -> QFont:
    """`base` scaled by `scale`, in `weight` if given."""
    f = QFont(base)
    f.setPointSizeF(base.pointSizeF() * scale)
    if weight is not None:
        f.setWeight(weight)
    return f


def role_label(text: str = "", role: str = "", font: QFont | None = None) -> QLabel:
    """A label that only shows text (no selection), coloured by its style-sheet `role`."""
    lab = QLabel(text)
    if role:
        lab.setProperty("role", role)
    if font is not None:
        lab.setFont(font)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    return lab


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when it does not fit (the full text in a tooltip)."""

    def __init__(self, role: str, font: QFont) -> None:
        super().__init__()
        self.setProperty("role", role)
        self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        r = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, r.width())
        p.drawText(r, int(self.alignment()), text)
        p.end()


class EmptyNote(QWidget):
    """A centred headline and a muted line under it, for an empty panel."""

    def __init__(self, headline: str, line: str, base: QFont) -> None:
        super().__init__()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addStretch(1)
        for text, role, scale in ((headline, "", 1.0), (line, "detail", 0.85)):
            lab = role_label(text, role, scaled_font(base, scale))
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setWordWrap(True)
            box.addWidget(lab)
        box.addStretch(1)


class StatusDot(QWidget):
    """A status dot with a soft halo."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colour = QColor("#888888")
        self.setFixedSize(16, 16)

    def set_colour(self, colour: QColor) -> None:
        self.colour = colour
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        halo = QColor(self.colour)
        halo.setAlphaF(0.25)
        c = QPointF(self.width() / 2, self.height() / 2)
        p.setBrush(halo)
        p.drawEllipse(c, 7.0, 7.0)
        p.setBrush(self.colour)
        p.drawEllipse(c, 4.0, 4.0)
        p.end()


class Card(QFrame):
    """A rounded panel with a caption line (left) and an optional note (right)."""

    def __init__(self, caption: str, base: QFont, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(_PAD, _PAD - 2, _PAD, _PAD - 2)
        self.box.setSpacing(4)
        self.header = QHBoxLayout()
        self.header.setSpacing(8)
        cap = scaled_font(base, 0.82, QFont.Weight.DemiBold)
        cap.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0.6)
        self.caption = role_label(caption.upper(), "caption", cap)
        self.note = role_label("", "detail", scaled_font(base, 0.92))
        self.note.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.titles = QVBoxLayout()
        self.titles.setSpacing(4)
        self.titles.addWidget(self.caption)
        self.header.addLayout(self.titles, 1)
        self.header.addWidget(self.note)
        self.box.addLayout(self.header)


class StatCard(Card):
    """Caption, a big number, a small line under it."""

    def __init__(self, caption: str, base: QFont, parent: QWidget | None = None) -> None:
        super().__init__(caption, base, parent)
        self.value = role_label(
            display.UNKNOWN, "value", scaled_font(base, 2.0, QFont.Weight.DemiBold)
        )
        self.detail = role_label("", "detail", scaled_font(base, 0.92))
        self.box.addSpacing(2)
        self.box.addWidget(self.value)
        self.box.addWidget(self.detail)
        self.box.addStretch(1)

    def set(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)

"""The widgets of a settings page: a row per setting, the page itself, and the sidebar.

`SettingRow` holds the widgets around one field: its label, help, source note and error
message. `build_page` lays out one page of `layout_settings`: its title, subtitle and
"Restore defaults" button, then each section's heading and rows on a two-column grid (label
right-aligned on the left, the field with its texts under it on the right; wide editors, the
schedule and the task kinds, span both columns), in a scroll area. `make_sidebar` and
`page_icon` make the list of pages on the dialog's left.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...core.settings import Setting
from ..display import labels
from ..icons import action_icon
from ..theme import error_color, muted_color, note_color
from .fields import ChoicesField, LinesField, ScheduleField, SettingField, make_field
from .pages import Page, humanise

__all__ = ["PageWidgets", "SettingRow", "build_page", "make_sidebar", "page_icon"]

PAGE_GLYPHS = {
    "contribution": "cpu",
    "when": "snooze",
    "network": "bandwidth",
    "system": "settings",
}


class SettingRow:
    """The widgets around one field: its label, help, source note and error message."""

    def __init__(self, setting: Setting, field: SettingField, owner: QWidget) -> None:
        self.setting = setting
        self.field = field
        self.label = QLabel("" if field.inline_label else setting.label)
        self.label.setObjectName(f"label:{setting.key}")
        self.label.setBuddy(field)
        extra = labels.ONE_PER_LINE if isinstance(field, LinesField) else ""
        self.help = QLabel(humanise(setting.help) + extra)
        self.help.setWordWrap(True)
        self.help.setStyleSheet(f"color: {muted_color(owner).name()}")
        self.note = QLabel()
        self.note.setObjectName(f"note:{setting.key}")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {note_color(owner).name()}")
        self.note.hide()
        self.error = QLabel()
        self.error.setObjectName(f"error:{setting.key}")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(f"color: {error_color(owner).name()}")
        self.error.hide()
        if field.inline_label:  # a check box: its help lines up with the box's text
            box = field.findChild(QAbstractButton)
            indent = box.iconSize().width() + 8 if box is not None else 0
            for label in (self.help, self.note, self.error):
                label.setContentsMargins(indent, 0, 0, 0)

    def set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))

    def set_note(self, message: str | None) -> None:
        self.note.setText(message or "")
        self.note.setVisible(bool(message))

    def set_enabled(self, on: bool) -> None:
        for w in (self.label, self.field, self.help):
            w.setEnabled(on)


@dataclasses.dataclass(frozen=True)
class PageWidgets:
    """A built page: the scroll area to stack, its restore button, and its rows in order."""

    scroll: QScrollArea
    restore: QPushButton
    rows: list[SettingRow]


def make_sidebar() -> QListWidget:
    """The list of pages on the dialog's left (the items are added by the dialog)."""
    sidebar = QListWidget()
    sidebar.setObjectName("pages")
    sidebar.setFixedWidth(176)
    sidebar.setFrameShape(QFrame.Shape.NoFrame)
    sidebar.setIconSize(QSize(18, 18))
    sidebar.setStyleSheet(
        "QListWidget#pages { background: palette(alternate-base); padding: 10px 8px; "
        "outline: 0; }"
        "QListWidget#pages::item { padding: 8px 10px; border-radius: 6px; margin: 1px 0; }"
        "QListWidget#pages::item:selected { background: palette(highlight); "
        "color: palette(highlighted-text); }"
    )
    return sidebar


def page_icon(owner: QWidget, page: str) -> QIcon:
    """The page's glyph in the text colour, white when selected."""
    glyph = PAGE_GLYPHS.get(page, "settings")
    icon = action_icon(glyph, muted_color(owner))
    selected = action_icon(glyph, owner.palette().color(QPalette.ColorRole.HighlightedText))
    for size in (16, 18, 20, 24, 32):
        icon.addPixmap(selected.pixmap(size, size), QIcon.Mode.Selected)
    return icon


def build_page(
    owner: QWidget, page: Page, sections: list[tuple[str, list[Setting]]]
) -> PageWidgets:
    """One page: a field and its `SettingRow` for every setting of `sections`, in order.
    `owner` (the dialog) gives the palette and font; the caller connects the fields and the
    restore button."""
    content = QWidget()
    content.setObjectName(f"page:{page.key}")
    lay = QVBoxLayout(content)
    lay.setContentsMargins(28, 20, 28, 24)
    lay.setSpacing(0)

    header = QHBoxLayout()
    titles = QVBoxLayout()
    titles.setSpacing(2)
    title = QLabel(page.title)
    font = QFont(title.font())
    font.setPointSizeF(font.pointSizeF() * 1.45)
    font.setWeight(QFont.Weight.DemiBold)
    title.setFont(font)
    subtitle = QLabel(page.subtitle)
    subtitle.setWordWrap(True)
    subtitle.setStyleSheet(f"color: {muted_color(owner).name()}")
    titles.addWidget(title)
    titles.addWidget(subtitle)
    restore = QPushButton(labels.RESTORE_DEFAULTS)
    restore.setObjectName(f"restore:{page.key}")
    restore.setAutoDefault(False)
    restore.setToolTip(labels.RESTORE_DEFAULTS_TIP)
    header.addLayout(titles, 1)
    header.addWidget(restore, 0, Qt.AlignmentFlag.AlignTop)
    lay.addLayout(header)

    grid = QGridLayout()
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setHorizontalSpacing(18)
    grid.setVerticalSpacing(0)
    grid.setColumnStretch(1, 1)
    row = 0
    rows: list[SettingRow] = []
    section_font = QFont(owner.font())
    section_font.setWeight(QFont.Weight.DemiBold)
    section_font.setPointSizeF(section_font.pointSizeF() * 1.08)
    for title_text, settings in sections:
        heading = QLabel(title_text)
        heading.setFont(section_font)
        heading.setContentsMargins(0, 18, 0, 8)
        grid.addWidget(heading, row, 0, 1, 2)
        row += 1
        for setting in settings:
            r = SettingRow(setting, make_field(setting), owner)
            rows.append(r)
            row = place_row(grid, row, r)
    lay.addLayout(grid)
    lay.addStretch(1)

    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(content)
    return PageWidgets(scroll, restore, rows)


def place_row(grid: QGridLayout, row: int, r: SettingRow) -> int:
    """Put a setting's widgets on the page grid; wide editors span both columns."""
    wide = isinstance(r.field, ScheduleField) or (
        isinstance(r.field, ChoicesField) and r.setting.key == "task_kinds"
    )
    stack = QVBoxLayout()
    stack.setSpacing(4)
    stack.setContentsMargins(0, 0, 0, 12)
    if wide:
        stack.addWidget(r.help)
        stack.addSpacing(6)
        stack.addWidget(r.field)
    else:
        stack.addWidget(r.field)
        stack.addWidget(r.help)
    stack.addWidget(r.note)
    stack.addWidget(r.error)
    if wide:
        grid.addLayout(stack, row, 0, 1, 2)
    else:
        r.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        r.label.setContentsMargins(0, 4 if not r.field.inline_label else 0, 0, 0)
        grid.addWidget(r.label, row, 0)
        grid.addLayout(stack, row, 1)
    return row + 1

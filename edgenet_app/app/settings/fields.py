"""One editing widget per setting, chosen from the schema (`edgenet_app.core.settings`).

`make_field(setting)` picks a widget from the setting's type, bounds and unit, so a setting
added to the schema gets a sensible editor without code here:

- bool: a check box labelled with the setting's label;
- float with a "fraction …" unit and bounds within 0–1: a percent slider with a live label;
- int / float: a spin box with the unit as suffix ("MB", "%"); a unit like
  "KiB/s, 0 = unlimited" also names the special value ("Unlimited" at 0);
- str: a line edit (with choices: a combo box); `schedule` gets the hour-grid editor;
- list with choices: one check box per choice (task kinds with their human names and the
  task registry's one-line summaries);
- list without choices: one item per line, each line checked with the schema's validator.

A field only shows and reports the value (`raw()` is what the user entered, for
`validate`); validation messages, help and source notes are drawn by the dialog around it.
A field returns exactly the value it was given until the user edits it, so a value the widget
cannot represent exactly (0.333 on a 1 %-step slider) never counts as a change by itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextCharFormat, QTextFormat
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import SettingsError
from ...core.settings import Setting, SettingValue, validate
from .. import display
from ..display import labels
from ..theme import error_color, muted_color
from .schedule_editor import ScheduleEditor

__all__ = ["SettingField", "make_field", "task_kind_text"]

STEPS: dict[str, int] = {"memory_limit_mb": 64, "bandwidth_limit_kib_s": 128}


def task_kind_text(kind: str) -> tuple[str, str]:
    """(human name, one-line description) of a task kind; the registry is imported on first
    use (it loads the executors' libraries), and a kind it cannot load still gets a name."""
    name = labels.TASK_KIND_NAMES.get(kind, display.kind_label(kind).capitalize())
    try:
        from ...tasks.registry import get_kind

        summary = get_kind(kind).summary
    except Exception:  # a missing optional library must not break the settings dialog
        return name, kind
    return name, summary[:1].upper() + summary[1:]


def _unit_parts(unit: str | None) -> tuple[str, dict[str, str]]:
    """ "KiB/s, 0 = unlimited" -> ("KiB/s", {"0": "Unlimited"})."""
    if not unit:
        return "", {}
    head, *rest = (part.strip() for part in unit.split(","))
    special: dict[str, str] = {}
    for part in rest:
        m = re.fullmatch(r"(\S+)\s*=\s*(.+)", part)
        if m:
            special[m[1]] = m[2][:1].upper() + m[2][1:]
    return head, special


def _same_number(text: str, value: float) -> bool:
    try:
        return float(text) == value
    except ValueError:
        return False


class SettingField(QWidget):
    """The editor of one setting. `edited` fires on every user change."""

    edited = Signal()
    inline_label = False  # True when the widget shows the setting's label itself

    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setting = setting
        self.setObjectName(f"field:{setting.key}")

    def raw(self) -> object:
        """The value as entered, for `validate`."""
        raise NotImplementedError

    def set_value(self, value: SettingValue) -> None:
        """Show `value` (already validated); does not emit `edited`."""
        raise NotImplementedError

    def mark_items(self, bad: Sequence[int]) -> None:
        """Highlight the items (0-based) that fail validation; only list fields have items."""


class BoolField(SettingField):
    inline_label = True

    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(setting, parent)
        self.box = QCheckBox(setting.label)
        self.box.toggled.connect(lambda _on: self.edited.emit())
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.box)
        lay.addStretch(1)

    def raw(self) -> object:
        return self.box.isChecked()

    def set_value(self, value: SettingValue) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class PercentField(SettingField):
    """A fraction of the machine as a 1 %-step slider with a live "30 %" label."""

    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(setting, parent)
        self._value: float = float(setting.default)  # type: ignore[arg-type]
        _, self._special = _unit_parts(setting.unit)
        lo = round((setting.min or 0.0) * 100)
        hi = round((setting.max if setting.max is not None else 1.0) * 100)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(10)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(10)
        self.slider.setMinimumWidth(260)
        self.slider.setAccessibleName(setting.label)
        self.label = QLabel()
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("Never suspend  "))
        font = self.label.font()
        font.setBold(True)
        self.label.setFont(font)
        self.slider.valueChanged.connect(self._moved)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(12)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        self._show()

    def _moved(self, pos: int) -> None:
        self._value = pos / 100
        self._show()
        self.edited.emit()

    def _show(self) -> None:
        special = next((t for k, t in self._special.items() if _same_number(k, self._value)), None)
        self.label.setText(special or display.format_slider_percent(self._value))

    def raw(self) -> object:
        return self._value

    def set_value(self, value: SettingValue) -> None:
        assert isinstance(value, int | float)
        self._value = float(value)
        self.slider.blockSignals(True)
        self.slider.setValue(round(self._value * 100))
        self.slider.blockSignals(False)
        self._show()


def _machine_memory() -> str:
    try:
        import psutil

        total = psutil.virtual_memory().total
    except Exception:
        return ""
    return labels.machine_memory(total)


# Extra text shown right of a number: key -> value -> text.
SIDE_TEXT: dict[str, Callable[[float], str]] = {
    "idle.min_idle_seconds": labels.idle_after_side,
    "memory_limit_mb": lambda v: _machine_memory(),
}


class NumberField(SettingField):
    """A spin box bounded by the schema, the unit as suffix, special values by name."""

    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(setting, parent)
        suffix, special = _unit_parts(setting.unit)
        suffix = labels.UNIT_SUFFIXES.get(suffix, suffix)
        self.is_int = setting.type is int
        self.spin: QSpinBox | QDoubleSpinBox
        if self.is_int:
            self.spin = QSpinBox()
            self.spin.setRange(int(setting.min or 0), int(setting.max or 2**31 - 1))
            self.spin.setSingleStep(STEPS.get(setting.key, 1))
        else:
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(3)
            self.spin.setRange(setting.min or 0.0, setting.max or 1e12)
            self.spin.setSingleStep(0.05)
        self.spin.setGroupSeparatorShown(True)
        self.spin.setAccelerated(True)
        self.spin.setAccessibleName(setting.label)
        if suffix:
            self.spin.setSuffix(f" {suffix}")
        at_min = special.get(f"{self.spin.minimum():g}") or special.get(str(int(setting.min or 0)))
        if at_min:
            self.spin.setSpecialValueText(at_min)
        self.spin.setMinimumWidth(150)
        self.spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._value: float = float(setting.default)  # type: ignore[arg-type]
        self.side = QLabel()
        self.side.setStyleSheet(f"color: {muted_color(self).name()}")
        self.spin.valueChanged.connect(self._changed)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(10)
        lay.addWidget(self.spin)
        lay.addWidget(self.side)
        lay.addStretch(1)
        self._show_side()

    def _changed(self, value: float) -> None:
        self._value = value
        self._show_side()
        self.edited.emit()

    def _show_side(self) -> None:
        side = SIDE_TEXT.get(self.setting.key)
        self.side.setText(side(self._value) if side else "")

    def raw(self) -> object:
        return int(self._value) if self.is_int else self._value

    def set_value(self, value: SettingValue) -> None:
        assert isinstance(value, int | float)
        self._value = value
        self.spin.blockSignals(True)
        self.spin.setValue(value)  # type: ignore[arg-type]
        self.spin.blockSignals(False)
        self._show_side()


class TextField(SettingField):
    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(setting, parent)
        self.edit = QLineEdit()
        self.edit.setAccessibleName(setting.label)
        self.edit.setClearButtonEnabled(True)
        self.edit.textEdited.connect(lambda _t: self.edited.emit())
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit)

    def raw(self) -> object:
        return self.edit.text()

    def set_value(self, value: SettingValue) -> None:
        self.edit.setText(str(value))


class ComboField(SettingField):
    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(setting, parent)
        self.combo = QComboBox()
        self.combo.addItems(list(setting.choices or ()))
        self.combo.currentIndexChanged.connect(lambda _i: self.edited.emit())
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        lay.addStretch(1)

    def raw(self) -> object:
        return self.combo.currentText()

    def set_value(self, value: SettingValue) -> None:
        self.combo.blockSignals(True)
        self.combo.setCurrentText(str(value))
        self.combo.blockSignals(False)


class ChoicesField(SettingField):
    """A list of choices as check boxes; `describe(choice)` gives (name, description)."""

    def __init__(
        self,
        setting: Setting,
        describe: Callable[[str], tuple[str, str]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(setting, parent)
        self.boxes: dict[str, QCheckBox] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(8)
        choices = setting.choices or ()
        columns = 2 if describe is not None else 3
        rows = (len(choices) + columns - 1) // columns
        for n, choice in enumerate(choices):
            name, text = describe(choice) if describe is not None else (choice, "")
            box = QCheckBox(name)
            box.setObjectName(f"choice:{choice}")
            box.toggled.connect(lambda _on: self.edited.emit())
            self.boxes[choice] = box
            cell = QVBoxLayout()
            cell.setSpacing(1)
            cell.addWidget(box)
            if text:
                box.setToolTip(text)
                note = QLabel(text)
                note.setWordWrap(True)
                note.setStyleSheet(f"color: {muted_color(self).name()}")
                note.setContentsMargins(box.iconSize().width() + 8, 0, 0, 0)
                note.setMinimumWidth(220)
                note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
                cell.addWidget(note)
            grid.addLayout(cell, n % rows, n // rows, Qt.AlignmentFlag.AlignTop)
        for col in range(columns):
            grid.setColumnStretch(col, 1)

    def raw(self) -> object:
        return [choice for choice, box in self.boxes.items() if box.isChecked()]

    def set_value(self, value: SettingValue) -> None:
        chosen = set(value) if isinstance(value, tuple | list) else set()
        for choice, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(choice in chosen)
            box.blockSignals(False)


class LinesField(SettingField):
    """A list of strings, one per line; lines failing the validator are highlighted."""

    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(setting, parent)
        self.edit = QPlainTextEdit()
        self.edit.setAccessibleName(setting.label)
        self.edit.setTabChangesFocus(True)
        self.edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setPlaceholderText(
            labels.LINE_PLACEHOLDERS.get(setting.key, labels.ONE_ITEM_PER_LINE)
        )
        line = self.edit.fontMetrics().lineSpacing()
        self.edit.setFixedHeight(line * 4 + 14)
        self.edit.textChanged.connect(self.edited.emit)
        self._lines: list[int] = []  # item index -> line number
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit)

    def raw(self) -> object:
        items, self._lines = [], []
        for n, line in enumerate(self.edit.toPlainText().split("\n")):
            if line.strip():
                items.append(line.strip())
                self._lines.append(n)
        return items

    def set_value(self, value: SettingValue) -> None:
        self.edit.blockSignals(True)
        self.edit.setPlainText("\n".join(value) if isinstance(value, tuple | list) else "")
        self.edit.blockSignals(False)
        self.raw()

    def mark_items(self, bad: Sequence[int]) -> None:
        selections = []
        doc = self.edit.document()
        color = QColor(error_color(self))
        color.setAlpha(40)
        for item in bad:
            if item >= len(self._lines):
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format = QTextCharFormat()
            sel.format.setBackground(color)
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = self.edit.textCursor()
            sel.cursor.setPosition(doc.findBlockByLineNumber(self._lines[item]).position())
            sel.cursor.clearSelection()
            selections.append(sel)
        self.edit.setExtraSelections(selections)


class ScheduleField(SettingField):
    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(setting, parent)
        self.editor = ScheduleEditor()
        self.editor.edited.connect(self.edited.emit)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.editor)

    def raw(self) -> object:
        return self.editor.text()

    def set_value(self, value: SettingValue) -> None:
        self.editor.set_text(str(value))


def bad_items(setting: Setting, items: Sequence[str]) -> list[int]:
    """The indexes of the items that fail the setting's per-item checks on their own."""
    out = []
    for n, item in enumerate(items):
        try:
            validate(setting.key, [item])
        except SettingsError:
            out.append(n)
        else:
            if item in items[:n]:
                out.append(n)
    return out


def make_field(setting: Setting, parent: QWidget | None = None) -> SettingField:
    """The editor for `setting` (see the module docstring for the choice)."""
    t = setting.type
    if setting.key == "schedule":
        return ScheduleField(setting, parent)
    if setting.key == "task_kinds":
        return ChoicesField(setting, task_kind_text, parent)
    if t is bool:
        return BoolField(setting, parent)
    if t is float and (setting.unit or "").startswith("fraction"):
        if (
            setting.min is not None
            and setting.max is not None
            and 0 <= setting.min < setting.max <= 1
        ):
            return PercentField(setting, parent)
    if t in (int, float):
        return NumberField(setting, parent)
    if t is list:
        return (
            ChoicesField(setting, None, parent) if setting.choices else LinesField(setting, parent)
        )
    if setting.choices:
        return ComboField(setting, parent)
    return TextField(setting, parent)

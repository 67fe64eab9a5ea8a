"""The settings dialog, generated from the one settings schema (`edgenet_app.core.settings`).

Every declared setting gets an editor (`fields.make_field` picks one from its type, bounds
and unit), placed on one of four pages (`pages.layout_settings`: hand-placed where order
matters, by group otherwise; `page_widgets.build_page` lays each page out). A setting added
to the schema therefore appears here without a code change. The dialog's own wording comes
from display.labels.

- **Validation as you type**: each field's value goes through the schema's own `validate`
  after every edit; the schema's message is shown under the field (setting keys replaced by
  their labels) and the cross-field rules (`rule_violations`) under every field they involve.
  While anything is invalid, OK and Apply are disabled and the page is marked in the sidebar.
- **Applying**: nothing changes until Apply or OK. Only the changed keys are sent, through
  `AppModel.apply_settings`, which the node validates, persists (its store) and applies at
  once. The CPU slider deliberately does not apply on release: a half-applied edit would make
  Cancel meaningless, and the in-use limit must never exceed the CPU limit, which only holds
  if both are applied together. If the node refuses (`ControlError`), its message is shown
  and the edits stay in the dialog.
- **Where values come from**: a setting that a `--config` file or a command-line flag sets
  carries a note: changes are saved, but the file or flag wins while it is there.
- **Start at login** is kept by the app itself: after the node accepts `start_at_login`,
  `runtime.platform.autostart.set_enabled` writes or removes the login entry. If the system's entry
  disagrees with the setting (removed by hand, say), the row says so and Apply fixes it.
- **Never blocking**: loading and applying are asyncio tasks on the qasync loop, started with
  `asyncio.ensure_future`; tests await `load()` and `apply()` directly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import EdgenetError, SettingsError
from ...core.settings import SettingValue, defaults, get_setting, rule_violations, validate
from ...runtime.platform import autostart
from .. import display
from ..display import labels
from ..model import AppModel
from ..theme import error_color, muted_color, note_color
from .fields import LinesField, PercentField, SettingField, bad_items
from .page_widgets import SettingRow, build_page, make_sidebar, page_icon
from .pages import DEPENDS, PAGES, humanise, layout_settings

__all__ = ["SettingsDialog"]

log = logging.getLogger(__name__)


def _normalise(values: Mapping[str, Any]) -> dict[str, SettingValue]:
    """The node's answer as validated values (JSON lists -> tuples); unknown keys dropped,
    anything that does not validate here falls back to the default."""
    out = defaults()
    for key, value in values.items():
        if key in out:
            try:
                out[key] = validate(key, value)
            except SettingsError:
                log.warning("setting %s: the node sent %r, which does not validate", key, value)
    return out


class SettingsDialog(QDialog):
    """Edit the node's settings. Non-modal use: `show()`; it loads itself when shown."""

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setWindowTitle(labels.SETTINGS_TITLE)
        self.setObjectName("settings-dialog")
        self.fields: dict[str, SettingField] = {}
        self.rows: dict[str, SettingRow] = {}
        self.page_of: dict[str, int] = {}
        self.baseline: dict[str, SettingValue] = defaults()
        self.sources: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.autostart_enabled: bool | None = None  # what the system says, once loaded
        self.loaded = False
        self.busy = False
        self.pending: asyncio.Future[Any] | None = None
        self._build()
        for key, field in self.fields.items():
            field.set_value(self.baseline[key])
        self._set_status(labels.LOADING)
        model.settingsChanged.connect(self._on_settings_changed)
        self._revalidate()

    # -- building ------------------------------------------------------------------------

    def _build(self) -> None:
        self.resize(900, 700)
        self.setMinimumSize(760, 520)
        self.sidebar = make_sidebar()
        self.stack = QStackedWidget()
        self.restore_buttons: list[QPushButton] = []
        for index, (page, sections) in enumerate(layout_settings()):
            item = QListWidgetItem(page_icon(self, page.key), page.title)
            item.setData(Qt.ItemDataRole.UserRole, page.key)
            self.sidebar.addItem(item)
            built = build_page(self, page, sections)
            built.restore.clicked.connect(lambda _c=False, i=index: self.restore_defaults(i))
            self.restore_buttons.append(built.restore)
            for r in built.rows:
                r.field.edited.connect(self._revalidate)
                self.fields[r.setting.key] = r.field
                self.rows[r.setting.key] = r
                self.page_of[r.setting.key] = index
            self.stack.addWidget(built.scroll)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.sidebar.setCurrentRow(0)

        self.banner = QLabel()
        self.banner.setObjectName("warnings")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(f"color: {note_color(self).name()}; padding: 8px 24px 0 24px;")
        self.banner.hide()

        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.buttons.rejected.connect(self.reject)
        self.ok_button.clicked.connect(self._ok_clicked)
        self.apply_button.clicked.connect(lambda: self.start(self.apply()))

        footer = QHBoxLayout()
        footer.setContentsMargins(24, 10, 16, 14)
        footer.setSpacing(16)
        footer.addWidget(self.status, 1)
        footer.addWidget(self.buttons)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(0)
        right.addWidget(self.banner)
        right.addWidget(self.stack, 1)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.sidebar)
        body.addLayout(right, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addLayout(body, 1)
        outer.addWidget(line)
        outer.addLayout(footer)

    # -- values and validation -----------------------------------------------------------

    def field(self, key: str) -> SettingField:
        return self.fields[key]

    def error_text(self, key: str) -> str:
        """The message shown under `key`'s field ("" when valid)."""
        return self.errors.get(key, "")

    def current_values(self) -> dict[str, SettingValue]:
        """The valid values in the dialog (invalid fields keep the loaded value)."""
        out = dict(self.baseline)
        for key, field in self.fields.items():
            try:
                out[key] = validate(key, field.raw())
            except SettingsError:
                pass
        return out

    def changes(self) -> dict[str, SettingValue]:
        """The settings the user changed, with their validated values."""
        current = self.current_values()
        return {k: v for k, v in current.items() if k in self.fields and v != self.baseline[k]}

    def _autostart_drift(self) -> bool:
        if "start_at_login" not in self.fields or self.autostart_enabled is None:
            return False
        return bool(self.fields["start_at_login"].raw()) != self.autostart_enabled

    def _revalidate(self) -> None:
        errors: dict[str, str] = {}
        for key, field in self.fields.items():
            raw = field.raw()
            try:
                validate(key, raw)
            except SettingsError as exc:
                errors[key] = humanise(str(exc), key)
            if isinstance(field, LinesField) and isinstance(raw, list):
                field.mark_items(bad_items(field.setting, raw))
        current = self.current_values()
        for rule, reason in rule_violations(current):
            if any(k in errors for k in rule.keys):
                continue  # fix the field first
            reason = self._in_field_units(reason, rule.keys, current)
            for k in rule.keys:
                if k in self.fields:
                    errors[k] = humanise(reason, k)
        self.errors = errors
        for key, r in self.rows.items():
            r.set_error(errors.get(key))
            master = DEPENDS.get(key)
            if master in self.fields:
                r.set_enabled(bool(self.fields[master].raw()) or key in errors)
        bad_pages = {self.page_of[k] for k in errors}
        for i in range(self.sidebar.count()):
            item = self.sidebar.item(i)
            page = PAGES[i].title if i < len(PAGES) else item.text()
            item.setText(labels.page_with_problems(page) if i in bad_pages else page)
            item.setForeground(
                QColor(error_color(self)) if i in bad_pages else self.palette().text()
            )
        self._update_buttons()
        if errors and not self.busy:
            order = list(self.fields)
            keys = sorted(errors, key=lambda k: (self.page_of[k], order.index(k)))
            where = [(get_setting(k).label, PAGES[self.page_of[k]].title) for k in keys]
            self._set_status(labels.fix_before_applying(where), error=True)
        elif not self.busy and self.status.property("kind") == "error" and self.loaded:
            self._set_status("")

    def _in_field_units(
        self, message: str, keys: tuple[str, ...], values: Mapping[str, SettingValue]
    ) -> str:
        """A rule's message with the values of percent sliders written as the slider shows
        them ("0.5 must not exceed cpu_limit (0.3)" -> "50 % must not exceed ... (30 %)")."""
        for key in keys:
            value = values.get(key)
            if isinstance(self.fields.get(key), PercentField) and isinstance(value, float):
                number = re.escape(repr(value))
                message = re.sub(
                    rf"(?<![\w.]){number}(?![\w]|\.\d)",
                    display.format_exact_percent(value),
                    message,
                )
        return message

    def _update_buttons(self) -> None:
        ok = not self.errors and not self.busy
        self.ok_button.setEnabled(ok)
        self.apply_button.setEnabled(
            ok and self.loaded and bool(self.changes() or self._autostart_drift())
        )
        for b in self.restore_buttons:
            b.setEnabled(not self.busy)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("kind", "error" if error else "info")
        color = error_color(self) if error else muted_color(self)
        self.status.setStyleSheet(f"color: {color.name()}")

    # -- showing the node's answer -------------------------------------------------------

    def _on_settings_changed(self, answer: dict[str, Any]) -> None:
        """The node's settings changed (here or elsewhere): refresh what the user left alone."""
        if self.loaded and not self.busy:
            self._show_answer(answer, reset=False)

    def _show_answer(self, answer: Mapping[str, Any], *, reset: bool) -> None:
        values = _normalise(answer.get("values", {}))
        for key, field in self.fields.items():
            try:
                untouched = validate(key, field.raw()) == self.baseline[key]
            except SettingsError:
                untouched = False
            if reset or untouched:
                field.set_value(values[key])
        self.baseline = values
        self.sources = dict(answer.get("sources", {}))
        for key, r in self.rows.items():
            notes = []
            source_note = labels.SOURCE_NOTES.get(self.sources.get(key, ""))
            if source_note:
                notes.append(source_note)
            if key == "start_at_login" and self._autostart_drift():
                notes.append(labels.autostart_drift(bool(self.autostart_enabled)))
            r.set_note(" ".join(notes))
        warnings = [str(w) for w in answer.get("warnings", [])]
        self.banner.setText("\n".join(labels.warning_line(w) for w in warnings))
        self.banner.setVisible(bool(warnings))
        self._revalidate()

    # -- actions -------------------------------------------------------------------------

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Run `coro` as a task on the running (qasync) loop; the UI never waits for it."""
        self.pending = asyncio.ensure_future(coro)
        return self.pending

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.loaded and self.pending is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a test that loads by hand)
            self.start(self.load())

    async def load(self) -> None:
        """Fetch the effective settings from the node and show them."""
        self.busy = True
        self._update_buttons()
        try:
            answer = await self.model.load_settings()
        except EdgenetError as exc:
            self._set_status(labels.could_not_load(exc), error=True)
            return
        finally:
            self.busy = False
            self.pending = None
            self._update_buttons()
        try:
            self.autostart_enabled = autostart.is_enabled()
        except Exception as exc:  # unreadable entry: never fail the dialog for it
            log.info("cannot tell whether edgenet starts at login: %s", exc)
            self.autostart_enabled = None
        self.loaded = True
        self._set_status("")
        self._show_answer(answer, reset=True)

    async def apply(self) -> bool:
        """Send the changed settings to the node; True if everything was applied."""
        self._revalidate()
        if self.errors or self.busy:
            return False
        changed = self.changes()
        drift = self._autostart_drift()
        if not changed and not drift:
            self._set_status(labels.NOTHING_TO_APPLY)
            return True
        self.busy = True
        self._update_buttons()
        self._set_status(labels.APPLYING)
        try:
            result: Mapping[str, Any] = {}
            if changed:
                payload = {k: list(v) if isinstance(v, tuple) else v for k, v in changed.items()}
                try:
                    result = await self.model.apply_settings(payload)
                except EdgenetError as exc:
                    self._set_status(labels.not_applied(exc), error=True)
                    return False
            problem = self._apply_autostart(changed, drift)
            if result:
                self._show_answer(result, reset=True)
            shadowed = [
                get_setting(k).label for k in result.get("shadowed", []) if k in self.fields
            ]
            message = labels.saved(shadowed)
            if problem:
                self._set_status(labels.autostart_failed(message, problem), error=True)
                return False
            self._set_status(message)
            return True
        finally:
            self.busy = False
            self.pending = None
            self._update_buttons()

    def _apply_autostart(self, changed: Mapping[str, SettingValue], drift: bool) -> str | None:
        """Make the system's login entry match `start_at_login`; the reason if it failed."""
        if "start_at_login" not in changed and not drift:
            return None
        want = bool(self.fields["start_at_login"].raw())
        try:
            autostart.set_enabled(want)
        except Exception as exc:  # AutostartError or an unexpected OS failure
            return str(exc)
        self.autostart_enabled = want
        return None

    def done(self, result: int) -> None:
        """Closing stops a load still under way (an apply is left to finish: the node may
        already have it, and the dialog only reports on it)."""
        task = self.pending
        if task is not None and not task.done() and not self.loaded:
            task.cancel()
            self.pending = None
        super().done(result)

    def restore_defaults(self, page: int | None = None) -> None:
        """Put the settings of `page` (default: the current one) back to their defaults;
        they apply with Apply or OK like any edit."""
        index = self.stack.currentIndex() if page is None else page
        for key, field in self.fields.items():
            if self.page_of[key] == index:
                field.set_value(get_setting(key).default)
        self._revalidate()

    def _ok_clicked(self) -> None:
        if not (self.changes() or self._autostart_drift()):
            self.accept()
            return

        async def apply_then_close() -> None:
            if await self.apply():
                self.accept()

        self.start(apply_then_close())

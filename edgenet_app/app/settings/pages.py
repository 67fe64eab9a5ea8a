"""What goes on which page of the settings dialog, and the widgets around each field.

`PAGES` hand-places the settings where order and grouping matter; `layout_settings` places
every other setting of the schema by its group (`idle.*` on "When", `network.*` on
"Network", anything else on "System"), under "More settings", so a setting added to the schema
appears in the dialog without a code change. `SettingRow` holds a field's label, help, source
note and error message; `humanise` turns a schema message into the text shown under a field.
"""

from __future__ import annotations

import dataclasses
import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from ...core.settings import SETTINGS, Setting, get_setting
from ..theme import error_color, muted_color, note_color
from .fields import LinesField, SettingField

__all__ = [
    "DEPENDS",
    "PAGES",
    "SOURCE_NOTES",
    "Page",
    "Section",
    "SettingRow",
    "humanise",
    "layout_settings",
]


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    keys: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Page:
    key: str
    title: str
    subtitle: str
    sections: tuple[Section, ...]


PAGES: tuple[Page, ...] = (
    Page(
        "contribution",
        "Contribution",
        "How much of this computer edgenet may lend, and for which kinds of task.",
        (
            Section("Processor", ("cpu_limit",)),
            Section("Memory and network", ("memory_limit_mb", "bandwidth_limit_kib_s")),
            Section("Task kinds", ("task_kinds",)),
            Section("Credits", ("auto_stake",)),
        ),
    ),
    Page(
        "when",
        "When",
        "Contribute while the computer is idle, within the hours you allow.",
        (
            Section(
                "While you use the computer",
                (
                    "idle.min_idle_seconds",
                    "idle.work_while_in_use",
                    "idle.in_use_cpu_limit",
                    "idle.max_other_cpu",
                ),
            ),
            Section("Battery", ("idle.respect_battery", "idle.battery_threshold")),
            Section("Allowed hours", ("schedule",)),
        ),
    ),
    Page(
        "network",
        "Network",
        "How this node finds and reaches its peers.",
        (
            Section("Finding peers", ("network.relays", "network.mdns")),
            Section("Connecting through firewalls", ("network.ice_servers",)),
        ),
    ),
    Page(
        "system",
        "System",
        "Starting with your session, and what edgenet tells you.",
        (
            Section(
                "Desktop",
                ("start_at_login", "notifications", "notify.credits", "notify.errors"),
            ),
        ),
    ),
)

GROUP_PAGES = {"idle": "when", "network": "network", "notifications": "system", "notify": "system"}
MORE = "More settings"

# A setting that only matters while a check box is on: key -> the check box's key.
DEPENDS = {
    "idle.in_use_cpu_limit": "idle.work_while_in_use",
    "idle.battery_threshold": "idle.respect_battery",
}

SOURCE_NOTES = {
    "toml": "Set by the config file; changes here are saved but overridden.",
    "cli": "Set on the command line; changes here are saved but overridden.",
}


def layout_settings(
    settings: tuple[Setting, ...] | None = None,
) -> list[tuple[Page, list[tuple[str, list[Setting]]]]]:
    """Every setting (default: the schema's) placed exactly once:
    [(page, [(section title, [settings])])]."""
    settings = SETTINGS if settings is None else settings
    by_key = {s.key: s for s in settings}
    placed: set[str] = set()
    out: list[tuple[Page, list[tuple[str, list[Setting]]]]] = []
    for page in PAGES:
        sections = []
        for section in page.sections:
            found = [by_key[k] for k in section.keys if k in by_key and k not in placed]
            placed.update(s.key for s in found)
            if found:
                sections.append((section.title, found))
        out.append((page, sections))
    pages = {page.key: sections for page, sections in out}
    for s in settings:
        if s.key in placed:
            continue
        sections = pages[GROUP_PAGES.get(s.group, "system")]
        if not sections or sections[-1][0] != MORE:
            sections.append((MORE, []))
        sections[-1][1].append(s)
    return out


# Keys that read as identifiers (cpu_limit, idle.in_use_cpu_limit); a key that is a plain word
# ("schedule", "notifications") is left alone, since help texts use the word itself.
_KEYS = re.compile(
    r"(?<![\w.])("
    + "|".join(
        re.escape(s.key)
        for s in sorted(SETTINGS, key=lambda s: -len(s.key))
        if "_" in s.key or "." in s.key
    )
    + r")(?!\w|\.\w)"
)


def humanise(message: str, key: str | None = None) -> str:
    """The schema's message for display under `key`'s field: the leading "key: " dropped,
    other setting keys replaced by their labels, the first letter capitalised."""
    if key is not None and message.startswith(f"{key}: "):
        message = message[len(key) + 2 :]
    message = _KEYS.sub(lambda m: get_setting(m[1]).label, message)
    return message[:1].upper() + message[1:]


class SettingRow:
    """The widgets around one field: its label, help, source note and error message."""

    def __init__(self, setting: Setting, field: SettingField, owner: QWidget) -> None:
        self.setting = setting
        self.field = field
        self.label = QLabel("" if field.inline_label else setting.label)
        self.label.setObjectName(f"label:{setting.key}")
        self.label.setBuddy(field)
        extra = " One per line." if isinstance(field, LinesField) else ""
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

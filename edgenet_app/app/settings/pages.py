"""What goes on which page of the settings dialog (no Qt).

`PAGES` hand-places the settings where order and grouping matter (the pages' titles and the
sections' headings come from display.labels); `layout_settings` places every other setting
of the schema by its group (`idle.*` on "When", `network.*` on "Network", anything else on
"System"), under "More settings", so a setting added to the schema appears in the dialog
without a code change. `humanise` turns a schema message into the text shown under a field.
The widgets of a page are built in page_widgets.py.
"""

from __future__ import annotations

import dataclasses
import re

from ...core.settings import SETTINGS, Setting, get_setting
from ..display import labels

__all__ = [
    "DEPENDS",
    "PAGES",
    "Page",
    "Section",
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


def _page(key: str, *sections: tuple[str, tuple[str, ...]]) -> Page:
    """A page with its title and subtitle, and its sections' headings, from display.labels."""
    title, subtitle = labels.SETTINGS_PAGES[key]
    return Page(
        key,
        title,
        subtitle,
        tuple(Section(labels.SETTINGS_SECTIONS[name], keys) for name, keys in sections),
    )


PAGES: tuple[Page, ...] = (
    _page(
        "contribution",
        ("processor", ("cpu_limit",)),
        ("memory", ("memory_limit_mb", "bandwidth_limit_kib_s")),
        ("kinds", ("task_kinds",)),
        ("credits", ("auto_stake",)),
    ),
    _page(
        "when",
        (
            "in_use",
            (
                "idle.min_idle_seconds",
                "idle.work_while_in_use",
                "idle.in_use_cpu_limit",
                "idle.max_other_cpu",
            ),
        ),
        ("battery", ("idle.respect_battery", "idle.battery_threshold")),
        ("hours", ("schedule",)),
    ),
    _page(
        "network",
        ("peers", ("network.relays", "network.mdns")),
        ("firewalls", ("network.ice_servers",)),
    ),
    _page(
        "system",
        ("desktop", ("start_at_login", "notifications", "notify.credits", "notify.errors")),
    ),
)

GROUP_PAGES = {"idle": "when", "network": "network", "notifications": "system", "notify": "system"}
MORE = labels.MORE_SETTINGS

# A setting that only matters while a check box is on: key -> the check box's key.
DEPENDS = {
    "idle.in_use_cpu_limit": "idle.work_while_in_use",
    "idle.battery_threshold": "idle.respect_battery",
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

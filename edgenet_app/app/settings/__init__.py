"""The settings dialog, generated from the one settings schema (`edgenet_app.core.settings`).

- `dialog`: `SettingsDialog`, the dialog itself: validation as you type, loading from and
  applying to the node through the `AppModel`, start at login;
- `pages`: what goes on which page (`PAGES`, `layout_settings`) and `humanise`, which turns
  a schema message into the text shown under a field (no Qt);
- `page_widgets`: the widgets of a page (`SettingRow`, `build_page`) and the page sidebar;
- `fields`: one editing widget per setting, chosen from its type, bounds and unit
  (`make_field`);
- `schedule_editor` and `schedule_grid`: the hour-grid editor of the schedule, and the
  conversion between its 7×24 grid and the schedule grammar's text (no Qt).

The app opens the dialog through `SettingsDialog` (app/shell.py); the names below are the
package's public surface.
"""

from __future__ import annotations

from .dialog import SettingsDialog
from .pages import PAGES, Page, Section, humanise, layout_settings
from .schedule_grid import grid_from_schedule, schedule_from_grid

__all__ = [
    "PAGES",
    "Page",
    "Section",
    "SettingsDialog",
    "grid_from_schedule",
    "humanise",
    "layout_settings",
    "schedule_from_grid",
]

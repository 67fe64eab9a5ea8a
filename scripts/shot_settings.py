"""Render the settings dialog offscreen into docs/screenshots/ (light theme, FakeSource data).

    QT_QPA_PLATFORM=offscreen python scripts/shot_settings.py [OUT_DIR] [--dark]

Writes settings.png (the Contribution page) and one image per other page:
settings-when.png (idle rules and the schedule grid), settings-network.png (with a relay
line that fails validation, to show the message) and settings-system.png.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from edgenet_app.app.fake import FakeSource
from edgenet_app.app.model import AppModel
from edgenet_app.app.settings.dialog import SettingsDialog
from edgenet_app.app.theme import apply_palette
from edgenet_app.runtime.platform import autostart


class ShotSource(FakeSource):
    """FakeSource with a realistic, non-default configuration."""

    def __init__(self) -> None:
        super().__init__()
        self.values.update(
            {
                "cpu_limit": 0.45,
                "memory_limit_mb": 2048,
                "idle.min_idle_seconds": 180,
                "idle.in_use_cpu_limit": 0.15,
                "schedule": "mon-fri 00:00-08:00, 18:00-24:00, sat-sun",
                "network.relays": ("wss://relay.edgenet.example:443", "ws://192.168.1.20:8765"),
                "network.ice_servers": ("stun:stun.edgenet.example:3478",),
                "task_kinds": tuple(
                    k for k in self.values["task_kinds"] if k not in ("custom_wasm",)
                ),
            }
        )

    async def settings(self) -> dict[str, Any]:
        out = await super().settings()
        out["sources"]["bandwidth_limit_kib_s"] = "toml"
        return out


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out_dir = Path(args[0] if args else "docs/screenshots")
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    apply_palette(app, Qt.ColorScheme.Dark if "--dark" in sys.argv else Qt.ColorScheme.Light)
    autostart.is_enabled = lambda **_kw: False
    model = AppModel(ShotSource())
    dialog = SettingsDialog(model)
    dialog.resize(900, 720)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(dialog.load())
    dialog.show()
    app.processEvents()

    def shot(page: int, name: str, height: int = 720) -> None:
        dialog.sidebar.setCurrentRow(page)
        dialog.resize(900, height)
        app.processEvents()
        path = out_dir / name
        dialog.grab().save(str(path))
        print(path)

    shot(0, "settings.png", 840)
    shot(1, "settings-when.png", 980)
    relays = dialog.field("network.relays")
    relays.set_value(("wss://relay.edgenet.example:443", "http://192.168.1.20:8765"))
    dialog._revalidate()
    shot(2, "settings-network.png", 600)
    relays.set_value(dialog.baseline["network.relays"])
    dialog._revalidate()
    shot(3, "settings-system.png", 520)
    loop.close()


if __name__ == "__main__":
    main()

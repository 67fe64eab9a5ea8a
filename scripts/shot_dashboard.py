"""Render the dashboard offscreen, light and dark, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen python scripts/shot_dashboard.py [--out DIR] [--size 960x640]

Uses FakeSource's sample status and history (app/fake.py), so no node is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from edgenet_app.app.dashboard import Dashboard
from edgenet_app.app.fake import FakeSource, sample_history, sample_status
from edgenet_app.app.model import AppModel
from edgenet_app.app.theme import apply_palette
from edgenet_app.core.settings import defaults

ROOT = Path(__file__).resolve().parent.parent


def render(app: QApplication, scheme: Qt.ColorScheme, path: Path, w: int, h: int) -> None:
    apply_palette(app, scheme)
    model = AppModel(FakeSource())
    dash = Dashboard(model)
    dash.cores = 4  # the same picture on every machine
    dash.setWindowTitle("edgenet")
    dash.resize(w, h)
    model.settingsChanged.emit({"values": dict(defaults()), "sources": {}, "warnings": []})
    model.historyChanged.emit(sample_history())
    model.statusChanged.emit(sample_status())
    dash.show()
    app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not dash.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    dash.close()
    dash.deleteLater()
    app.processEvents()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--size", default="960x640", help="WIDTHxHEIGHT in pixels")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    render(app, Qt.ColorScheme.Light, args.out / "dashboard-light.png", w, h)
    render(app, Qt.ColorScheme.Dark, args.out / "dashboard-dark.png", w, h)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where edgenet keeps its files. `--data-dir` (or EDGENET_DATA_DIR) overrides everything."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "edgenet"
KEY_FILE = "identity.key"
STORE_FILE = "edgenet.sqlite3"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: the override, else $EDGENET_DATA_DIR, else the platform default."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("EDGENET_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (owner-only on POSIX) if needed and return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def key_path(base: Path) -> Path:
    return base / KEY_FILE


def store_path(base: Path) -> Path:
    return base / STORE_FILE

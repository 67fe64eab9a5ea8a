"""Schema migrations of the SQLite store.

`MIGRATIONS[i]` takes a database from version ``i`` to version ``i + 1``; ``PRAGMA user_version``
records the version a file is at. Each migration runs in its own transaction together with the
``user_version`` bump, so a crash leaves the file at either the old or the new version, never
between. Append new migrations; never edit or reorder released ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = Sequence[str] | Callable[[sqlite3.Connection], None]

_V1: tuple[str, ...] = (
    """CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE events (
        id          BLOB PRIMARY KEY,
        network     BLOB NOT NULL,
        author      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        ts          INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        raw         BLOB NOT NULL,
        received_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX events_chain ON events (network, author, seq)",
    """CREATE TABLE tasks (
        task_id     TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        role        TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        finished_ms INTEGER,
        cost_micro  INTEGER NOT NULL,
        error       TEXT,
        result_hash BLOB
    )""",
    "CREATE INDEX tasks_created ON tasks (created_ms)",
)

MIGRATIONS: tuple[Migration, ...] = (_V1,)
LATEST_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Bring `conn` (autocommit mode) up to `LATEST_VERSION`; return the versions reached.

    The caller must have checked that the file is not newer than `LATEST_VERSION`.
    Each step is ``BEGIN IMMEDIATE`` … ``COMMIT``; the version is re-read inside the
    transaction so two processes opening the same new file do not both migrate it.
    """
    reached: list[int] = []
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = user_version(conn)
            if version >= LATEST_VERSION:
                conn.execute("COMMIT")
                return reached
            step = MIGRATIONS[version]
            if callable(step):
                step(conn)
            else:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        reached.append(version + 1)

"""The node's SQLite store: settings, node metadata, ledger events and task history.

One connection per `Store`, guarded by a lock (usable from several threads). The file is in
WAL mode with ``synchronous=FULL``; every write is one explicit ``BEGIN IMMEDIATE`` … ``COMMIT``
transaction, so a killed process leaves either all of a batch or none of it. Ledger events are
kept as their raw canonical bytes and re-authenticated (`Event.decode`) whenever they are loaded;
the other columns are only an index.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from edgenet_app.core.errors import EdgenetError, WireError
from edgenet_app.core.events import ZERO_HASH, Event

from . import migrations

log = logging.getLogger(__name__)

SQLITE_MAGIC: Final = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS: Final = 10_000
TASK_ROLES: Final = ("submitted", "executed", "local", "spot-check")
TASK_STATUSES: Final = ("pending", "running", "done", "failed", "cancelled")


class StoreError(EdgenetError):
    """The store file cannot be opened, read or written."""


class StoreVersionError(StoreError):
    """The store file was written by a newer edgenet than this one."""


@dataclass(frozen=True)
class TaskRecord:
    """One line of the task history."""

    task_id: str
    kind: str
    role: str
    status: str
    created_ms: int
    finished_ms: int | None = None
    cost_micro: int = 0
    error: str | None = None
    result_hash: bytes | None = None

    def __post_init__(self) -> None:
        try:
            bytes.fromhex(self.task_id)
        except ValueError:
            raise ValueError(f"task_id must be hex, got {self.task_id!r}") from None
        if not self.task_id:
            raise ValueError("task_id must not be empty")
        if self.role not in TASK_ROLES:
            raise ValueError(f"role must be one of {TASK_ROLES}, got {self.role!r}")
        if self.status not in TASK_STATUSES:
            raise ValueError(f"status must be one of {TASK_STATUSES}, got {self.status!r}")
        if self.cost_micro < 0:
            raise ValueError(f"cost_micro must be >= 0, got {self.cost_micro}")


@dataclass
class StoreReport:
    """What `Store.verify` found. `ok` means: nothing to worry about."""

    integrity: list[str] = field(default_factory=list)  # PRAGMA integrity_check output
    events_total: int = 0
    events_valid: int = 0
    events_invalid: int = 0
    chains: int = 0
    equivocations: int = 0  # extra events at an already-taken (author, seq): evidence, not damage
    problems: list[str] = field(default_factory=list)

    @property
    def integrity_ok(self) -> bool:
        return self.integrity == ["ok"]

    @property
    def ok(self) -> bool:
        return self.integrity_ok and not self.problems


def _fail(path: Path, what: str, exc: BaseException) -> StoreError:
    return StoreError(f"{what} store {path}: {exc}")


def _looks_like_sqlite(path: Path) -> bool:
    """True for a new (missing or empty) file or one starting with the SQLite header."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return True
    return head in (b"", SQLITE_MAGIC)


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    os.close(fd)


class Store:
    """A handle on one store file. Use `Store.open`; close it (or use it as a context manager)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self.skipped_on_load = 0  # rows `load_events` skipped the last time it ran

    # --- lifecycle -----------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating and migrating as needed) the store at `path`."""
        path = Path(path)
        try:
            if path.is_dir():
                raise StoreError(f"cannot open store {path}: it is a directory")
            if not _looks_like_sqlite(path):
                raise StoreError(
                    f"cannot open store {path}: the file is not an edgenet store "
                    "(not a SQLite database); it was left untouched"
                )
            _create_private_file(path)
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except OSError as exc:
            raise _fail(path, "cannot open", exc) from exc
        except sqlite3.Error as exc:
            raise _fail(path, "cannot open", exc) from exc
        try:
            cls._prepare(path, conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, StoreError):
                raise
            if isinstance(exc, sqlite3.Error):
                raise _fail(path, "cannot open", exc) from exc
            raise
        return cls(path, conn)

    @staticmethod
    def _prepare(path: Path, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        # Check the version before anything writes to the file.
        version = migrations.user_version(conn)
        if version > migrations.LATEST_VERSION:
            raise StoreVersionError(
                f"store {path} has schema version {version}, but this edgenet only knows "
                f"versions 0..{migrations.LATEST_VERSION}; it was written by a newer edgenet "
                "(upgrade edgenet, or point it at another data directory)"
            )
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot open store {path}: WAL journal mode refused ({mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        reached = migrations.migrate(conn)
        if reached:
            log.info("store %s migrated from version %d to %d", path, version, reached[-1])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def schema_version(self) -> int:
        with self._reading() as conn:
            return migrations.user_version(conn)

    # --- plumbing ------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise _fail(self._path, "cannot read", exc) from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT`` transaction; rolled back on any error."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _fail(self._path, "cannot write", exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self._path} is closed")
        return self._conn

    # --- settings --------------------------------------------------------------------

    def get_settings(self) -> dict[str, str]:
        """Every stored setting: key -> JSON text."""
        with self._reading() as conn:
            rows = conn.execute("SELECT key, value FROM settings ORDER BY key").fetchall()
        return {str(k): str(v) for k, v in rows}

    def put_setting(self, key: str, json_text: str) -> None:
        try:
            json.loads(json_text)
        except ValueError as exc:
            raise StoreError(f"setting {key!r}: value is not JSON text: {exc}") from None
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json_text),
            )

    def delete_setting(self, key: str) -> None:
        with self._writing() as conn:
            conn.execute("DELETE FROM settings WHERE key = ?", (key,))

    # --- node metadata ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- ledger events ---------------------------------------------------------------

    def append_events(self, events: Iterable[Event]) -> int:
        """Store `events` in one transaction (known ids are ignored); return how many were new."""
        now = time.time_ns() // 1_000_000
        rows = [(e.id, e.network, e.author, e.seq, e.ts, e.kind, e.raw, now) for e in events]
        if not rows:
            return 0
        with self._writing() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events "
                "(id, network, author, seq, ts, kind, raw, received_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def load_events(self, network: bytes | None = None) -> list[Event]:
        """Every stored event (of `network`, if given), in the order they were stored.

        Each row is re-authenticated; a row that does not decode, or whose index columns do
        not match its bytes, is logged and skipped (counted in `skipped_on_load`).
        """
        good: list[Event] = []
        skipped = 0
        for row in self._event_rows(network):
            event, problem = _check_row(row)
            if event is None:
                skipped += 1
                log.warning("store %s: skipping event row: %s", self._path, problem)
            else:
                good.append(event)
        self.skipped_on_load = skipped
        return good

    def event_count(self, network: bytes | None = None) -> int:
        with self._reading() as conn:
            if network is None:
                row = conn.execute("SELECT COUNT(*) FROM events").fetchone()
            else:
                row = conn.execute(
                    "SELECT COUNT(*) FROM events WHERE network = ?", (network,)
                ).fetchone()
        return int(row[0])

    def chain_heads(self, network: bytes) -> dict[bytes, tuple[int, bytes]]:
        """author -> (highest stored seq, id of the event there) for `network`, from the index.

        With equivocation at the top seq the smallest id is reported. This reads index columns
        only; `verify` is what checks them against the signed bytes.
        """
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT author, seq, MIN(id) FROM events AS e "
                "WHERE network = ? AND seq = "
                "(SELECT MAX(seq) FROM events WHERE network = e.network AND author = e.author) "
                "GROUP BY author",
                (network,),
            ).fetchall()
        return {bytes(a): (int(s), bytes(i)) for a, s, i in rows}

    def _event_rows(self, network: bytes | None) -> list[_Row]:
        sql = "SELECT id, network, author, seq, ts, kind, raw FROM events"
        with self._reading() as conn:
            if network is None:
                return conn.execute(sql + " ORDER BY rowid").fetchall()
            return conn.execute(sql + " WHERE network = ? ORDER BY rowid", (network,)).fetchall()

    def verify(self) -> StoreReport:
        """Check the file and every event: integrity, signatures, and each author's chain."""
        report = StoreReport()
        with self._reading() as conn:
            report.integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        if not report.integrity_ok:
            report.problems.extend(f"integrity: {line}" for line in report.integrity)
        rows = self._event_rows(None)
        report.events_total = len(rows)
        chains: dict[tuple[bytes, bytes], dict[int, list[Event]]] = {}
        for row in rows:
            event, problem = _check_row(row)
            if event is None:
                report.events_invalid += 1
                report.problems.append(problem)
                continue
            report.events_valid += 1
            chains.setdefault((event.network, event.author), {}).setdefault(event.seq, []).append(
                event
            )
        report.chains = len(chains)
        for (network, author), by_seq in chains.items():
            report.equivocations += sum(len(v) - 1 for v in by_seq.values())
            report.problems.extend(_chain_problems(network, author, by_seq))
        return report

    # --- task history ----------------------------------------------------------------

    def record_task(self, record: TaskRecord) -> None:
        """Insert or replace the history line of `record.task_id`."""
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO tasks (task_id, kind, role, status, created_ms, finished_ms, "
                "cost_micro, error, result_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (task_id) DO UPDATE SET kind = excluded.kind, "
                "role = excluded.role, status = excluded.status, "
                "created_ms = excluded.created_ms, finished_ms = excluded.finished_ms, "
                "cost_micro = excluded.cost_micro, error = excluded.error, "
                "result_hash = excluded.result_hash",
                (
                    record.task_id,
                    record.kind,
                    record.role,
                    record.status,
                    record.created_ms,
                    record.finished_ms,
                    record.cost_micro,
                    record.error,
                    record.result_hash,
                ),
            )

    def task_history(self, limit: int = 100) -> list[TaskRecord]:
        """The `limit` most recently created tasks, newest first."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT task_id, kind, role, status, created_ms, finished_ms, cost_micro, "
                "error, result_hash FROM tasks ORDER BY created_ms DESC, rowid DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        out: list[TaskRecord] = []
        for tid, kind, role, status, created, finished, cost, error, rhash in rows:
            try:
                out.append(
                    TaskRecord(
                        str(tid),
                        str(kind),
                        str(role),
                        str(status),
                        int(created),
                        None if finished is None else int(finished),
                        int(cost),
                        None if error is None else str(error),
                        None if rhash is None else bytes(rhash),
                    )
                )
            except (ValueError, TypeError) as exc:
                log.warning("store %s: skipping task row %r: %s", self._path, tid, exc)
        return out


_Row = tuple[bytes, bytes, bytes, int, int, str, bytes]


def _check_row(row: _Row) -> tuple[Event | None, str]:
    """Decode one events row and check its index columns; (event, "") or (None, why)."""
    rid, network, author, seq, ts, kind, raw = row
    label = bytes(rid).hex()[:16] if isinstance(rid, bytes) else repr(rid)
    if not isinstance(raw, bytes):
        return None, f"event {label}: raw is {type(raw).__name__}, not bytes"
    try:
        event = Event.decode(raw)
    except WireError as exc:
        return None, f"event {label}: does not decode: {exc}"
    if (event.id, event.network, event.author, event.seq, event.ts, event.kind) != (
        rid,
        network,
        author,
        seq,
        ts,
        kind,
    ):
        return None, f"event {label}: index columns do not match its signed bytes"
    return event, ""


def _chain_problems(network: bytes, author: bytes, by_seq: dict[int, list[Event]]) -> list[str]:
    who = f"author {author[:8].hex()} on network {network[:4].hex()}"
    top = max(by_seq)
    missing = [s for s in range(1, top + 1) if s not in by_seq]
    problems: list[str] = []
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        problems.append(f"{who}: chain has gaps (missing seq {shown}) below seq {top}")
    for seq, events in sorted(by_seq.items()):
        if seq == 1:
            parents = {ZERO_HASH}
        elif seq - 1 in by_seq:
            parents = {e.id for e in by_seq[seq - 1]}
        else:
            continue  # already reported as a gap
        for e in events:
            if e.prev not in parents:
                problems.append(f"{who}: event at seq {seq} does not link to seq {seq - 1}")
    return problems

"""The runtime SQLite store: round trips, idempotent appends, corruption, versions, WAL."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgenet_app.core.events import ZERO_HASH, Event, Transfer
from edgenet_app.core.identity import Identity
from edgenet_app.runtime.store import migrations
from edgenet_app.runtime.store.store import Store, StoreError, StoreVersionError, TaskRecord

NET = hashlib.blake2b(b"test-network", digest_size=32).digest()
OTHER_NET = hashlib.blake2b(b"other-network", digest_size=32).digest()


def ident(n: int) -> Identity:
    return Identity(hashlib.blake2b(b"store-test-%d" % n, digest_size=32).digest())


def chain(
    who: Identity, n: int, network: bytes = NET, start: int = 1, prev: bytes = ZERO_HASH
) -> list[Event]:
    out: list[Event] = []
    for seq in range(start, start + n):
        body = Transfer(to=ident(99).public_key, amount=seq, memo=f"m{seq}")
        e = Event.create(who, network, seq, prev, 1_700_000_000_000 + seq, body)
        out.append(e)
        prev = e.id
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data" / "edgenet.sqlite3")
    yield s
    s.close()


def raw_conn(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# --- open / lifecycle ---------------------------------------------------------------------


def test_open_creates_private_dir_and_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "edgenet.sqlite3"
    with Store.open(path) as s:
        assert s.schema_version == migrations.LATEST_VERSION
    assert path.is_file()
    if os.name == "posix":
        assert (path.parent.stat().st_mode & 0o777) == 0o700
        assert (path.stat().st_mode & 0o077) == 0


def test_wal_mode_and_pragmas(store: Store) -> None:
    with raw_conn(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn = store._connection()
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.db")
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        s.get_settings()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    events = chain(ident(1), 5)
    with Store.open(path) as s:
        s.put_setting("cpu", "50")
        s.set_meta("node", "abc")
        assert s.append_events(events) == 5
    with Store.open(path) as s:
        assert s.get_settings() == {"cpu": "50"}
        assert s.get_meta("node") == "abc"
        assert s.load_events() == events


# --- settings / meta / tasks --------------------------------------------------------------


def test_settings_round_trip(store: Store) -> None:
    assert store.get_settings() == {}
    store.put_setting("cpu_percent", "50")
    store.put_setting("stun", '["stun:a:3478", "stun:b:3478"]')
    store.put_setting("cpu_percent", "75")
    assert store.get_settings() == {"cpu_percent": "75", "stun": '["stun:a:3478", "stun:b:3478"]'}
    store.delete_setting("cpu_percent")
    store.delete_setting("never-set")
    assert store.get_settings() == {"stun": '["stun:a:3478", "stun:b:3478"]'}


def test_setting_must_be_json(store: Store) -> None:
    with pytest.raises(StoreError, match="not JSON"):
        store.put_setting("x", "{nope")
    assert store.get_settings() == {}


def test_meta_round_trip(store: Store) -> None:
    assert store.get_meta("node_id") is None
    store.set_meta("node_id", "ab" * 16)
    store.set_meta("node_id", "cd" * 16)
    store.set_meta("héllo", "wörld ✓")
    assert store.get_meta("node_id") == "cd" * 16
    assert store.get_meta("héllo") == "wörld ✓"


def test_task_history_round_trip_and_order(store: Store) -> None:
    a = TaskRecord("aa" * 16, "hash", "submitted", "pending", created_ms=1000)
    b = TaskRecord(
        "bb" * 16, "matmul", "executed", "done", 2000, 2500, 1234, None, bytes(range(32))
    )
    c = TaskRecord("cc" * 16, "hash", "local", "failed", 3000, 3100, 0, "boom", None)
    for r in (a, b, c):
        store.record_task(r)
    assert store.task_history() == [c, b, a]
    assert store.task_history(limit=2) == [c, b]
    done = TaskRecord("aa" * 16, "hash", "submitted", "done", 1000, 1900, 77, None, b"\x01" * 32)
    store.record_task(done)  # upsert by id
    assert store.task_history() == [c, b, done]
    assert store.task_history(limit=0) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"task_id": "not-hex"},
        {"task_id": ""},
        {"role": "thief"},
        {"status": "lost"},
        {"cost_micro": -1},
    ],
)
def test_task_record_validates(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "task_id": "ab" * 16,
        "kind": "hash",
        "role": "local",
        "status": "done",
        "created_ms": 1,
    }
    base.update(kwargs)
    with pytest.raises(ValueError):
        TaskRecord(**base)  # type: ignore[arg-type]


# --- events -------------------------------------------------------------------------------


def test_append_is_idempotent(store: Store) -> None:
    events = chain(ident(1), 10)
    assert store.append_events(events) == 10
    assert store.append_events(events) == 0
    assert store.append_events(events[5:] + chain(ident(2), 3)) == 3
    assert store.event_count() == 13
    assert store.append_events([]) == 0
    assert store.append_events(iter(events)) == 0


def test_load_returns_what_was_appended(store: Store) -> None:
    a, b = chain(ident(1), 7), chain(ident(2), 4, network=OTHER_NET)
    store.append_events(a)
    store.append_events(b)
    loaded = store.load_events()
    assert loaded == a + b
    assert [e.raw for e in loaded] == [e.raw for e in a + b]
    assert [e.id for e in loaded] == [e.id for e in a + b]
    assert store.load_events(NET) == a
    assert store.load_events(OTHER_NET) == b
    assert store.event_count(NET) == 7
    assert store.event_count(OTHER_NET) == 4
    assert store.event_count(bytes(32)) == 0
    assert store.skipped_on_load == 0


def test_chain_heads(store: Store) -> None:
    a, b = chain(ident(1), 7), chain(ident(2), 2)
    store.append_events(a + b)
    assert store.chain_heads(NET) == {
        ident(1).public_key: (7, a[-1].id),
        ident(2).public_key: (2, b[-1].id),
    }
    assert store.chain_heads(OTHER_NET) == {}


def test_failed_batch_is_all_or_nothing(store: Store) -> None:
    events = chain(ident(1), 5)

    def gen() -> object:
        yield from events[:3]
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError):
        store.append_events(gen())  # type: ignore[arg-type]
    assert store.event_count() == 0
    assert store.append_events(events) == 5


def test_corrupted_row_is_skipped_logged_and_reported(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    events = chain(ident(1), 5)
    store.append_events(events)
    bad = bytearray(events[2].raw)
    bad[-5] ^= 0xFF  # inside the signature
    with raw_conn(store.path) as conn:
        conn.execute("UPDATE events SET raw = ? WHERE id = ?", (bytes(bad), events[2].id))
        conn.execute("UPDATE events SET raw = ? WHERE id = ?", (b"\xff\x00junk", events[4].id))
    with caplog.at_level(logging.WARNING, logger="edgenet_app.runtime.store.store"):
        loaded = store.load_events()
    assert loaded == [events[0], events[1], events[3]]
    assert store.skipped_on_load == 2
    assert sum("skipping event row" in r.getMessage() for r in caplog.records) == 2
    report = store.verify()
    assert report.integrity_ok
    assert (report.events_total, report.events_valid, report.events_invalid) == (5, 3, 2)
    assert not report.ok
    text = "\n".join(report.problems)
    assert events[2].id.hex()[:16] in text and events[4].id.hex()[:16] in text
    assert "gaps" in text  # seq 3 and 5 are gone from the verified chain


def test_index_columns_that_lie_are_caught(store: Store) -> None:
    events = chain(ident(1), 3)
    store.append_events(events)
    with raw_conn(store.path) as conn:
        conn.execute("UPDATE events SET network = ? WHERE id = ?", (OTHER_NET, events[1].id))
    assert store.load_events(OTHER_NET) == []
    assert store.skipped_on_load == 1
    assert any("index columns" in p for p in store.verify().problems)


def test_verify_clean_store_and_equivocation(store: Store) -> None:
    a = chain(ident(1), 6)
    body = Transfer(to=ident(3).public_key, amount=1)
    fork = [Event.create(ident(1), NET, 4, a[2].id, 5, body)]  # a second seq 4 on the same prev
    store.append_events(a + chain(ident(2), 3) + fork)
    report = store.verify()
    assert report.ok, report.problems
    assert (report.events_total, report.chains, report.equivocations) == (10, 2, 1)


def test_verify_reports_gap_and_broken_link(store: Store) -> None:
    a = chain(ident(1), 5)
    stranger = chain(ident(2), 4)
    relinked = Event.create(ident(2), NET, 5, a[3].id, 1, stranger[0].body)  # prev is wrong
    store.append_events([*a[:2], *a[3:], *stranger, relinked])
    report = store.verify()
    assert not report.ok
    assert len(report.problems) == 2
    assert "missing seq 3" in report.problems[0]
    assert "seq 5 does not link to seq 4" in report.problems[1]


def test_threads_share_a_store(store: Store) -> None:
    chains = [chain(ident(i), 20) for i in range(4)]
    errors: list[BaseException] = []

    def work(events: list[Event]) -> None:
        try:
            for i in range(0, len(events), 3):
                store.append_events(events[i : i + 3])
                store.event_count()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in chains]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.event_count() == 80
    assert store.verify().ok


# --- versions and foreign files -----------------------------------------------------------


def test_migrates_empty_file_from_version_zero(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    path.write_bytes(b"")
    with Store.open(path) as s:
        assert s.schema_version == migrations.LATEST_VERSION
        s.put_setting("k", "true")
    with raw_conn(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"settings", "meta", "events", "tasks"} <= tables


def test_migrates_existing_version_zero_database(tmp_path: Path) -> None:
    path = tmp_path / "v0.sqlite3"
    with raw_conn(path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")  # a v0 sqlite file with something in it
    with Store.open(path) as s:
        assert s.schema_version == migrations.LATEST_VERSION


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    broken = (migrations.MIGRATIONS[0], ("CREATE TABLE extra (x)", "THIS IS NOT SQL"))
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    monkeypatch.setattr(migrations, "LATEST_VERSION", 2)
    with pytest.raises(StoreError, match=str(path)):
        Store.open(path)
    with raw_conn(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "extra" not in names


def test_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    future = migrations.LATEST_VERSION + 5
    with raw_conn(path) as conn:
        conn.execute(f"PRAGMA user_version = {future}")
    before = path.read_bytes()
    with pytest.raises(StoreVersionError) as info:
        Store.open(path)
    msg = str(info.value)
    assert str(path) in msg
    assert f"version {future}" in msg and f"0..{migrations.LATEST_VERSION}" in msg
    assert isinstance(info.value, StoreError)
    assert path.read_bytes() == before  # not even switched to WAL


@pytest.mark.parametrize(
    "content",
    [
        os.urandom(4096),
        b"name = 'my notes'\nthis is a text file, not a database\n" * 20,
        b"SQLite",  # shorter than the header
        b"SQLite format 3\x00" + b"\xab" * 4080,  # right magic, garbage after it
    ],
    ids=["random", "text", "short", "bad-body"],
)
def test_foreign_file_is_refused_and_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "edgenet.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edgenet.sqlite3"]


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory"):
        Store.open(tmp_path)


def test_unreadable_file_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    Store.open(path).close()
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    # chmod 0 does not stop root (CI runs as root), so deny the read itself
    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(StoreError, match=re.escape(str(path))):
        Store.open(path)

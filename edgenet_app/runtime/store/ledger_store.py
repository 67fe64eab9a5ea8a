"""A node's ledger, persisted: events live in the SQLite store, state is rebuilt on open."""

from __future__ import annotations

import time
from pathlib import Path

from ...core.events import Body, Event
from ...core.genesis import Genesis
from ...core.identity import Identity
from ...core.ledger import Ledger
from . import paths
from .store import Store


def now_ms() -> int:
    return int(time.time() * 1000)


class LedgerStore:
    """The ledger of one network, loaded from and written through to the store."""

    def __init__(self, store: Store, genesis: Genesis) -> None:
        self.store = store
        self.genesis = genesis
        self.ledger = Ledger(genesis)
        events = store.load_events(genesis.network_id)
        self.skipped = store.skipped_on_load
        self.ledger.add_many(events)

    @classmethod
    def open(cls, data_dir: Path, genesis: Genesis) -> LedgerStore:
        return cls(Store.open(paths.store_path(paths.ensure_private_dir(data_dir))), genesis)

    def append(self, identity: Identity, body: Body, ts_ms: int | None = None) -> Event:
        """Sign, check and persist the next event of `identity`: LedgerError if the rules
        refuse it, StoreError if it cannot be written (a full disk). The event is held in
        memory, and so served to peers, only once the write has committed: a failed write
        leaves nothing behind, and the next append signs the same seq again."""
        event = self.ledger.prepare(identity, body, now_ms() if ts_ms is None else ts_ms)
        self.store.append_events([event])
        self.ledger.add(event)
        return event

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

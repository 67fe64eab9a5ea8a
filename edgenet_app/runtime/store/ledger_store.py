"""A node's ledger, persisted: events live in the SQLite store, state is rebuilt on open."""

from __future__ import annotations

import time
from pathlib import Path

from ...core.errors import LedgerError
from ...core.events import Body, Event
from ...core.genesis import Genesis
from ...core.identity import Identity
from ...core.ledger import Ledger
from . import paths
from .store import Store

WAITING_FOR_HEAD = (
    "this identity's ledger chain is not in this store (a restored key or a new store): "
    "it signs nothing until a peer has shown its latest event, so that it never signs a "
    "second, different event at a number the network already holds"
)


def now_ms() -> int:
    return int(time.time() * 1000)


def _signer_key(author: bytes) -> str:
    return "signer:" + author.hex()


class LedgerStore:
    """The ledger of one network, loaded from and written through to the store."""

    def __init__(self, store: Store, genesis: Genesis) -> None:
        self.store = store
        self.genesis = genesis
        self.ledger = Ledger(genesis)
        events = store.load_events(genesis.network_id)
        self.skipped = store.skipped_on_load
        self.ledger.add_many(events)
        # identities whose chain this store may not hold in full (a restored key, a new
        # store): they sign nothing until a peer has told us their head (`head_learned`)
        self.learning: set[bytes] = set()

    def confirm_own_chain(self, identity: Identity, *, created: bool) -> bool:
        """Whether `identity` may sign here at once: its key was just created, or this
        store has signed for it before (its own events, or a head learned earlier). If not,
        it waits (`learning`) until `head_learned`. Returns True if it may sign now."""
        me = identity.public_key
        key = _signer_key(me)
        if created or self.store.get_meta(key) or self.ledger.held_by(me):
            if not self.store.get_meta(key):
                self.store.set_meta(key, "1")
            self.learning.discard(me)
            return True
        self.learning.add(me)
        return False

    def head_learned(self, author: bytes) -> bool:
        """A peer we are in sync with told us `author`'s head: it may sign from there on.
        Returns True if it was waiting."""
        if author not in self.learning:
            return False
        self.learning.discard(author)
        self.store.set_meta(_signer_key(author), "1")
        return True

    @classmethod
    def open(cls, data_dir: Path, genesis: Genesis) -> LedgerStore:
        return cls(Store.open(paths.store_path(paths.ensure_private_dir(data_dir))), genesis)

    def append(self, identity: Identity, body: Body, ts_ms: int | None = None) -> Event:
        """Sign, check and persist the next event of `identity`: LedgerError if the rules
        refuse it, StoreError if it cannot be written (a full disk). The event is held in
        memory, and so served to peers, only once the write has committed: a failed write
        leaves nothing behind, and the next append signs the same seq again."""
        if identity.public_key in self.learning:
            raise LedgerError(WAITING_FOR_HEAD)
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

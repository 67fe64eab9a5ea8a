"""Where a submitter's vector collections live on the network.

A collection is built by the workers that ran its first `vector_insert` (each keeps it
under the submitter's scope in its own data dir). Later inserts and every search are
announced to those holders only (`TaskAnnounce.only`): inserts to all of them, so the
copies stay equal; searches to as many as the redundancy asks. A holder whose result was
not part of the verified majority stops being a holder (its copy may differ). The map is
kept in the submitter's store so it survives restarts.
"""

from __future__ import annotations

import json
import logging

from ...core.taskmsg import MAX_ONLY
from ..store.store import Store

log = logging.getLogger(__name__)

COLLECTION_KINDS = ("vector_insert", "vector_search")


class Placement:
    def __init__(self, store: Store, network: bytes) -> None:
        self.store = store
        self.key = f"collections:{network.hex()}"
        self._map: dict[str, list[bytes]] = {}
        raw = store.get_meta(self.key)
        if raw:
            try:
                data = json.loads(raw)
                self._map = {
                    str(name): [bytes.fromhex(h) for h in keys][:MAX_ONLY]
                    for name, keys in data.items()
                }
            except (ValueError, TypeError, AttributeError) as exc:
                log.warning("collection placement unreadable, starting afresh: %s", exc)

    def holders(self, collection: str) -> tuple[bytes, ...]:
        return tuple(self._map.get(collection, ()))

    def set_holders(self, collection: str, workers: tuple[bytes, ...]) -> None:
        if workers:
            self._map[collection] = list(workers[:MAX_ONLY])
        else:
            self._map.pop(collection, None)
        self.store.set_meta(
            self.key, json.dumps({n: [k.hex() for k in ks] for n, ks in self._map.items()})
        )

"""Small JSON values a node keeps in its store between runs (a pause, spot-check bars)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ..store.store import Store, StoreError

log = logging.getLogger(__name__)


class MetaValue:
    """One JSON value under `key` in the store's meta table; `what` names it in warnings."""

    def __init__(self, store: Store, key: str, what: str) -> None:
        self.store, self.key, self.what = store, key, what

    def save(self, value: Any) -> None:
        """Keep `value` (a failure is logged: the node goes on)."""
        try:
            self.store.set_meta(self.key, json.dumps(value, sort_keys=True))
        except StoreError as exc:
            log.warning("could not save %s: %s", self.what, exc)

    def load(self) -> Any:
        """The value kept by `save`, or None; ValueError if it is not JSON."""
        raw = self.store.get_meta(self.key)
        return json.loads(raw) if raw else None

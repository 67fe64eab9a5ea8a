"""Notifications a node sends to its listeners (the control API, the tray app, the CLI)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ...core.events import Event, payments
from ...core.identity import node_id_of
from ...core.notifications import CreditNote, LedgerNote, Notification

log = logging.getLogger(__name__)

Listener = Callable[[Notification], None]


class Notifier:
    """Listeners and what is sent to them.

    Notifications are the typed events of `core/notifications.py`: a new ledger event, a
    credit paid to this node, a task run here, a change of state, a relay reconnected, a
    worker that failed a spot-check, an error.
    """

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.me = b""  # this node's key, once it is known: credits are its settlements

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(event)` for every notification; returns an unsubscribe function."""
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback) if callback in self.listeners else None

    def emit(self, note: Notification) -> None:
        for cb in list(self.listeners):
            try:
                cb(note)
            except Exception:  # a listener's bug must not stop the node
                log.exception("listener failed on %s", note.EVENT)

    def ledger_events(self, events: list[Event]) -> None:
        """New ledger events (ours or a peer's): one "ledger" each, and a "credit" for
        each settlement paying this node."""
        for ev in events:
            self.emit(LedgerNote(ev.body.KIND, ev.id.hex(), node_id_of(ev.author)))
            for pay in payments(ev.body):
                if pay.worker == self.me:
                    self.emit(CreditNote(pay.amount, pay.task.hex(), node_id_of(ev.author)))

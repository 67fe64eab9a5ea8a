"""Notifications a node sends to its listeners (the control API, the tray app, the CLI)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ...core import economics as econ
from ...core.events import Event, Settlement
from ...core.identity import node_id_of

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]


class Notifier:
    """Listeners and what is sent to them.

    Events are dicts with an "event" key: "ledger" (any new ledger event: kind, id,
    author), "credit" (a settlement paying this node: amount, task, payer), "task"
    (this node ran a task as a worker: kind, ok, ms, error), "state" (contributing or
    not, and why), "relay", "spot_check_failed", "error" (message).
    """

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.me = b""  # this node's key, once it is known: credits are its settlements

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(event)` for every notification; returns an unsubscribe function."""
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback) if callback in self.listeners else None

    def emit(self, event: dict[str, Any]) -> None:
        for cb in list(self.listeners):
            try:
                cb(event)
            except Exception:  # a listener's bug must not stop the node
                log.exception("listener failed on %s", event.get("event"))

    def ledger_events(self, events: list[Event]) -> None:
        """New ledger events (ours or a peer's): one "ledger" each, and a "credit" for
        each settlement paying this node."""
        for ev in events:
            self.emit(
                {
                    "event": "ledger",
                    "kind": ev.body.KIND,
                    "id": ev.id.hex(),
                    "author": node_id_of(ev.author),
                }
            )
            body = ev.body
            if isinstance(body, Settlement) and body.worker == self.me:
                self.emit(
                    {
                        "event": "credit",
                        "amount": econ.format_credits(body.amount),
                        "amount_micro": body.amount,
                        "task": body.task.hex(),
                        "payer": node_id_of(ev.author),
                    }
                )

"""What the desktop app talks to: a node, through its control API.

The tray app either hosts a node in its own process (and serves the control API for it,
so `edgenet status` works too) or attaches to a node already running for the data dir.
Either way the UI sees one `NodeSource` — in practice a `ControlClient` — and never the
`Node` object itself, so both cases run exactly the same UI code. Tests and screenshots
use `FakeSource` (app/fake.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from ..core.notifications import Notification
from ..core.status import NodeHistory, NodeStatus


class NodeSource(Protocol):
    async def status(self) -> NodeStatus:
        """Node.stats() (core/status.py)."""
        ...

    async def history(self, limit: int = 50) -> NodeHistory:
        """Recent tasks and this node's earnings over time (core/status.py)."""
        ...

    async def peers(self) -> list[dict[str, Any]]: ...

    async def pause(self) -> NodeStatus: ...

    async def resume(self) -> NodeStatus: ...

    async def snooze(self, seconds: float) -> NodeStatus:
        """Pause for `seconds`, then resume by itself."""
        ...

    async def finish_then_pause(self) -> NodeStatus:
        """Take no new tasks; pause once the running ones are done."""
        ...

    async def settings(self) -> dict[str, Any]:
        """{"values": {key: value}, "sources": {key: "default"|"store"|...}, "warnings": []}."""
        ...

    async def set_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validate, persist and apply; raises ControlError with a precise message."""
        ...

    def events(self) -> AsyncIterator[Notification]:
        """Live notifications (core/notifications.py)."""
        ...

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


class NodeSource(Protocol):
    async def status(self) -> dict[str, Any]:
        """Node.stats(): credits, tasks, uptime, reputation, multiplier, network_cpu_hours,
        rank [n, m], peers, cpu_donated_s, state, reason, node_id, network."""
        ...

    async def history(self, limit: int = 50) -> dict[str, Any]:
        """{"tasks": [{task, kind, role, status, created_ms, finished_ms, credits, error}],
        "earnings": [[ts_ms, cumulative micro-credits], ...]}."""
        ...

    async def peers(self) -> list[dict[str, Any]]: ...

    async def pause(self) -> dict[str, Any]: ...

    async def resume(self) -> dict[str, Any]: ...

    async def snooze(self, seconds: float) -> dict[str, Any]:
        """Pause for `seconds`, then resume by itself."""
        ...

    async def finish_then_pause(self) -> dict[str, Any]:
        """Take no new tasks; pause once the running ones are done."""
        ...

    async def settings(self) -> dict[str, Any]:
        """{"values": {key: value}, "sources": {key: "default"|"store"|...}, "warnings": []}."""
        ...

    async def set_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validate, persist and apply; raises ControlError with a precise message."""
        ...

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """Live notifications: {"event": "credit"|"task"|"state"|"ledger"|"error", ...}."""
        ...

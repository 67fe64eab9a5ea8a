"""A stand-in node for UI tests and screenshots: plausible numbers, every call recorded.

It speaks the `NodeSource` protocol (app/source.py) with the same shapes a real node's
control API returns, validates settings with the real schema, and lets a test push
notifications and change the state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

from ..core.errors import SettingsError
from ..core.notifications import Notification
from ..core.settings import defaults, rule_violations, validate
from ..core.status import Credits, NodeHistory, NodeStatus, TaskEntry
from ..runtime.control.client import ControlError

KINDS = ("embedding", "vector_search", "encryption", "semantic_match", "compression")


def sample_status(state: str = "contributing") -> NodeStatus:
    reasons = {
        "contributing": "accepting tasks (30% of the machine)",
        "paused": "paused by the user",
        "waiting_for_idle": "the computer is in use (idle 12 s of 60 s)",
        "on_battery": "on battery at 42% (threshold 50%)",
        "offline": "no peer connected",
    }
    return NodeStatus(
        node_id="q4mzx7k2lfw3nb6hd5tc8yrp",
        network="edgenet",
        network_id="ab" * 32,
        state=state,
        reason=reasons.get(state, state),
        credits=Credits(1_284_513_000, 36_200_000, 100_000_000),
        tasks_completed=847,
        tasks_submitted=12,
        uptime_s=3600 * 37 + 1260,
        reputation=0.97,
        multiplier=9.6184,
        network_cpu_hours=41_250.0,
        rank=(12, 340),
        peers=tuple(f"peer{i:02d}xxxxxxxxxxxxxxxxxx"[:24] for i in range(8)),
        cpu_donated_s=3600 * 5.2,
        idle_source="X11 XScreenSaver",
    )


def sample_history(now_ms: int | None = None) -> NodeHistory:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    tasks = []
    for i in range(20):
        kind = KINDS[i % len(KINDS)]
        created = now - i * 97_000
        tasks.append(
            TaskEntry(
                task=f"{i:032x}",
                kind=kind,
                role="executed" if i % 6 else "submitted",
                status="failed" if i == 7 else "done",
                created_ms=created,
                finished_ms=created + 40 + 13 * i,
                credits=150_000 + 9_000 * i,
                error="timeout: the task ran past its limit" if i == 7 else None,
            )
        )
    earnings, total = [], 0
    for h in range(7 * 24, 0, -1):  # a week, hourly, busier in the evenings
        hour = (h // 1) % 24
        total += (2_000_000 if 18 <= hour <= 23 else 600_000) + 37_000 * (h % 5)
        earnings.append((now - h * 3_600_000, total))
    return NodeHistory(tuple(tasks), tuple(earnings))


class FakeSource:
    def __init__(self, state: str = "contributing") -> None:
        self.current = sample_status(state)
        self.hist = sample_history()
        self.values: dict[str, Any] = dict(defaults())
        self.calls: list[tuple[str, Any]] = []
        self.fail_next: str | None = None  # make the next call raise ControlError(this)
        self._events: asyncio.Queue[Notification] = asyncio.Queue()

    def _call(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        if self.fail_next is not None:
            message, self.fail_next = self.fail_next, None
            raise ControlError(message, 503)

    def set_state(self, state: str, reason: str | None = None) -> None:
        why = reason or sample_status(state).reason
        self.current = dataclasses.replace(self.current, state=state, reason=why)

    def push(self, note: Notification) -> None:
        """Deliver a notification to whoever listens to events()."""
        self._events.put_nowait(note)

    async def status(self) -> NodeStatus:
        self._call("status")
        return self.current

    async def history(self, limit: int = 50) -> NodeHistory:
        self._call("history", limit)
        return NodeHistory(self.hist.tasks[:limit], self.hist.earnings)

    async def peers(self) -> list[dict[str, Any]]:
        self._call("peers")
        return [{"node_id": p, "open": True} for p in self.current.peers]

    async def pause(self) -> NodeStatus:
        self._call("pause")
        self.set_state("paused")
        return self.current

    async def resume(self) -> NodeStatus:
        self._call("resume")
        self.set_state("contributing")
        return self.current

    async def snooze(self, seconds: float) -> NodeStatus:
        self._call("snooze", seconds)
        until = time.strftime("%H:%M", time.localtime(time.time() + seconds))
        self.set_state("paused", f"snoozed until {until}")
        return self.current

    async def finish_then_pause(self) -> NodeStatus:
        self._call("finish_then_pause")
        self.set_state("paused", "finishing 1 task, then pausing")
        return self.current

    async def settings(self) -> dict[str, Any]:
        self._call("settings")
        return {
            "values": dict(self.values),
            "sources": {k: "default" for k in self.values},
            "warnings": [],
        }

    async def set_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        self._call("set_settings", dict(values))
        merged = dict(self.values)
        try:
            for key, value in values.items():
                merged[key] = defaults()[key] if value is None else validate(key, value)
        except (SettingsError, KeyError) as exc:
            raise ControlError(str(exc), 400) from None
        broken = rule_violations(merged)
        if broken:
            raise ControlError(broken[0][1], 400)
        changed = sorted(k for k in values if merged[k] != self.values[k])
        self.values = merged
        out = await self.settings()
        return {**out, "changed": changed, "shadowed": []}

    async def events(self) -> AsyncIterator[Notification]:
        while True:
            yield await self._events.get()

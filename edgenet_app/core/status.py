"""What a node tells the outside about itself: its status, its task history and its
notifications. One contract for the node, the control API (as JSON), the control client,
the Python API and the desktop app.

Credits are integer micro-credits everywhere (`economics.MICRO` per credit); they are
formatted only where they are shown. `to_json()` gives JSON-ready values; `from_json()`
reads them back and raises `WireError` naming the field on anything else (a control API
answer is outside input too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import WireError

T = TypeVar("T")
MAX_INT = 2**63 - 1  # counts, micro-credits and timestamps fit in a signed 64-bit integer


def _get(d: Mapping[str, Any], key: str, typ: type[T] | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise WireError(f"{where}.{key}: missing")
    value = d[key]
    if isinstance(value, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,)):
        raise WireError(f"{where}.{key}: expected {typ}, got {value!r}")
    if not isinstance(value, typ):
        raise WireError(f"{where}.{key}: expected {typ}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise WireError(f"{where}.{key}: not a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise WireError(f"{where}.{key}: {str(value)[:20]}… is out of range")
    return value


def _count(d: Mapping[str, Any], key: str, where: str, what: str = "") -> int:
    """A whole number ≥ 0 (`what` names its unit in the refusal)."""
    value = _get(d, key, int, where)
    if value < 0:
        raise WireError(f"{where}.{key}: {what + ' ' if what else ''}must be ≥ 0, got {value}")
    return int(value)


def _micro(d: Mapping[str, Any], key: str, where: str) -> int:
    return _count(d, key, where, "micro-credits")


def _number(d: Mapping[str, Any], key: str, where: str) -> float:
    return float(_get(d, key, (int, float), where))


def _optional(d: Mapping[str, Any], key: str, typ: tuple[type, ...], where: str) -> Any:
    if d.get(key) is None:
        return None
    value = _get(d, key, typ, where)
    return float(value) if float in typ else value


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireError(f"{where}: expected an object, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Credits:
    """A node's own balance, in micro-credits."""

    available: int = 0  # spendable now
    locked: int = 0  # earned, still in the payout lock
    staked: int = 0  # held as stake

    def to_json(self) -> dict[str, int]:
        return {"available": self.available, "locked": self.locked, "staked": self.staked}

    @classmethod
    def from_json(cls, value: object, where: str = "credits") -> Credits:
        d = _mapping(value, where)
        return cls(
            _micro(d, "available", where), _micro(d, "locked", where), _micro(d, "staked", where)
        )


@dataclass(frozen=True)
class NodeStatus:
    """A snapshot of a node (`edgenet status`, GET /v1/status, the tray)."""

    node_id: str | None  # None before the node has started
    network: str  # its name
    network_id: str  # hex
    state: str  # contributing, paused, waiting_for_idle, on_battery, offline...
    reason: str  # why, in words
    credits: Credits = field(default_factory=Credits)
    tasks_completed: int = 0  # tasks run here for others and finished
    tasks_submitted: int = 0
    uptime_s: float = 0.0
    reputation: float = 0.0
    multiplier: float = 10.0  # the contribution multiplier now
    network_cpu_hours: float = 0.0
    rank: tuple[int, int] = (0, 0)  # (#N, of M) by total credits
    peers: tuple[str, ...] = ()  # node ids of the open links
    cpu_donated_s: float = 0.0
    idle_source: str | None = None  # where the user's idle time comes from
    idle_s: float | None = None
    other_cpu: float | None = None  # other programs' share of the machine

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "network": self.network,
            "network_id": self.network_id,
            "state": self.state,
            "reason": self.reason,
            "credits": self.credits.to_json(),
            "tasks_completed": self.tasks_completed,
            "tasks_submitted": self.tasks_submitted,
            "uptime_s": self.uptime_s,
            "reputation": self.reputation,
            "multiplier": self.multiplier,
            "network_cpu_hours": self.network_cpu_hours,
            "rank": list(self.rank),
            "peers": list(self.peers),
            "cpu_donated_s": self.cpu_donated_s,
            "idle_source": self.idle_source,
            "idle_s": self.idle_s,
            "other_cpu": self.other_cpu,
        }

    @classmethod
    def from_json(cls, value: object, where: str = "status") -> NodeStatus:
        d = _mapping(value, where)
        rank = _get(d, "rank", list, where)
        ok = len(rank) == 2 and all(
            isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_INT for x in rank
        )
        if not ok:
            raise WireError(f"{where}.rank: expected [n, of], got {str(rank)[:40]}")
        peers = _get(d, "peers", list, where)
        if not all(isinstance(p, str) for p in peers):
            raise WireError(f"{where}.peers: expected node ids")
        return cls(
            node_id=_optional(d, "node_id", (str,), where),
            network=_get(d, "network", str, where),
            network_id=_get(d, "network_id", str, where),
            state=_get(d, "state", str, where),
            reason=_get(d, "reason", str, where),
            credits=Credits.from_json(d.get("credits"), f"{where}.credits"),
            tasks_completed=_count(d, "tasks_completed", where),
            tasks_submitted=_count(d, "tasks_submitted", where),
            uptime_s=_number(d, "uptime_s", where),
            reputation=_number(d, "reputation", where),
            multiplier=_number(d, "multiplier", where),
            network_cpu_hours=_number(d, "network_cpu_hours", where),
            rank=(rank[0], rank[1]),
            peers=tuple(peers),
            cpu_donated_s=_number(d, "cpu_donated_s", where),
            idle_source=_optional(d, "idle_source", (str,), where),
            idle_s=_optional(d, "idle_s", (int, float), where),
            other_cpu=_optional(d, "other_cpu", (int, float), where),
        )


@dataclass(frozen=True)
class TaskEntry:
    """One task in a node's history: run here for others, submitted, or a spot-check."""

    task: str  # id, hex
    kind: str
    role: str  # executed, submitted, spot-check
    status: str  # done, failed
    created_ms: int
    finished_ms: int | None
    credits: int  # micro-credits: the price (executed) or what was paid (submitted)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "kind": self.kind,
            "role": self.role,
            "status": self.status,
            "created_ms": self.created_ms,
            "finished_ms": self.finished_ms,
            "credits": self.credits,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, value: object, where: str = "task") -> TaskEntry:
        d = _mapping(value, where)
        return cls(
            _get(d, "task", str, where),
            _get(d, "kind", str, where),
            _get(d, "role", str, where),
            _get(d, "status", str, where),
            _count(d, "created_ms", where),
            None if d.get("finished_ms") is None else _count(d, "finished_ms", where),
            _micro(d, "credits", where),
            _optional(d, "error", (str,), where),
        )


@dataclass(frozen=True)
class NodeHistory:
    """Recent tasks (newest first) and this node's earnings over time: cumulative
    micro-credits paid to it by settlements, as (ts_ms, total) points."""

    tasks: tuple[TaskEntry, ...] = ()
    earnings: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "tasks": [t.to_json() for t in self.tasks],
            "earnings": [[ts, total] for ts, total in self.earnings],
        }

    @classmethod
    def from_json(cls, value: object, where: str = "history") -> NodeHistory:
        d = _mapping(value, where)
        tasks = _get(d, "tasks", list, where)
        points = _get(d, "earnings", list, where)
        earnings = []
        for i, p in enumerate(points):
            ok = isinstance(p, list | tuple) and len(p) == 2
            if not ok or not all(
                isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_INT for x in p
            ):
                raise WireError(f"{where}.earnings[{i}]: expected [ts_ms, micro-credits]")
            earnings.append((p[0], p[1]))
        return cls(
            tuple(TaskEntry.from_json(t, f"{where}.tasks[{i}]") for i, t in enumerate(tasks)),
            tuple(earnings),
        )

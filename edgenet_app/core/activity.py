"""Whether a node contributes right now, why, and at what CPU limit (pure logic).

The runtime samples the machine (`runtime/platform/probe.py`: idle time, battery, other programs'
CPU load) and the clock; `decide` turns those facts and the user's settings into one
`Activity`. The rules, first match wins, in the order a user reads them in the tray:

| rule | state | CPU limit | reason (example) |
|---|---|---|---|
| paused by the user | paused | 0 | paused by the user |
| snoozed until a time | paused | 0 | snoozed until 14:30 |
| finishing, then pausing | paused | as below, no new tasks | finishing 2 tasks, then pausing |
| outside the schedule | paused | 0 | outside the schedule (mon-fri 18:00-08:00) |
| on battery at or below the threshold | on_battery | 0 | on battery at 35% (threshold 50%) |
| other programs busy | waiting_for_idle | 0 | other programs are using 80% of the machine ... |
| in use, work_while_in_use off | waiting_for_idle | 0 | the computer is in use (idle 4 s of 60 s) |
| in use, work_while_in_use on | contributing | in-use limit | the computer is in use: reduced ... |
| no peer | offline | as above | no peer connected |
| otherwise | contributing | cpu_limit | accepting tasks (30% of the machine) |

A snooze is a pause that ends by itself, so it shows as paused. Other programs being busy
is, like the user being active, a reason to wait until the machine is free, so it shows as
waiting_for_idle. A limit of 0 also stops the running tasks: the runtime suspends them
and, if that lasts, hands them back (runtime/node/). "Finish current tasks, then pause"
(draining) keeps the running tasks' CPU limit but accepts no new task; with no task left
it is a plain pause. When a rule
below it already stops contributing (schedule, battery, ...), that rule is shown.
Unknown idle time counts as idle and unknown load as no load: a headless machine
contributes at its limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .schedule import parse_schedule
from .settings import get_setting

STATES = ("contributing", "paused", "waiting_for_idle", "on_battery", "offline")
MIN_CPU_LIMIT = 0.05  # the smallest limit a contributing node runs at (settings' lower bound)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Conditions:
    """What the runtime observed."""

    paused: bool = False
    peers: int = 0
    weekday: int = 0  # 0 = Monday, local time
    minute_of_day: int = 0
    idle_s: float | None = None  # seconds since the last keyboard/mouse input; None = unknown
    on_battery: bool = False
    battery_percent: float | None = None
    other_cpu: float | None = None  # share of the machine used by other programs; None = unknown
    now_ms: int = 0  # wall clock, ms since the epoch (only the snooze rule reads it)
    utc_offset_s: int = 0  # local time = UTC + this (to show the snooze's end)
    snoozed_until_ms: int | None = None
    draining: bool = False  # "finish current tasks, then pause"
    running_tasks: int = 0


# settings keys (core/settings.py) → the Policy fields they set
POLICY_SETTINGS: dict[str, str] = {
    "cpu_limit": "cpu_limit",
    "idle.min_idle_seconds": "min_idle_s",
    "idle.work_while_in_use": "work_while_in_use",
    "idle.in_use_cpu_limit": "in_use_cpu_limit",
    "idle.respect_battery": "respect_battery",
    "idle.battery_threshold": "battery_threshold",
    "schedule": "schedule",
    "idle.max_other_cpu": "max_other_cpu",
}


def _default(key: str) -> Any:
    return get_setting(key).default


@dataclass(frozen=True)
class Policy:
    """The settings that decide, defaults from the settings schema (`core/settings.py`)."""

    cpu_limit: float = _default("cpu_limit")
    min_idle_s: float = _default("idle.min_idle_seconds")
    work_while_in_use: bool = _default("idle.work_while_in_use")
    in_use_cpu_limit: float = _default("idle.in_use_cpu_limit")
    respect_battery: bool = _default("idle.respect_battery")
    battery_threshold: int = _default("idle.battery_threshold")
    schedule: str = _default("schedule")
    max_other_cpu: float = _default("idle.max_other_cpu")  # 1.0: never wait for other programs

    def updated(self, values: Mapping[str, Any]) -> Policy:
        """This policy with the settings among `values` (validated keys → values) applied."""
        changes = {f: values[k] for k, f in POLICY_SETTINGS.items() if k in values}
        return replace(self, **changes) if changes else self


@dataclass(frozen=True)
class Activity:
    state: str
    reason: str
    cpu_limit: float  # what the worker pool may use now (0 when not contributing)
    draining: bool = False  # running tasks finish at cpu_limit; no new task is taken

    @property
    def accepts_tasks(self) -> bool:
        """Offline still accepts: the state lags the first links by up to one review."""
        return self.cpu_limit > 0 and not self.draining


def local_clock(ms: int, utc_offset_s: int) -> tuple[int, str]:
    """(local day number, "HH:MM") of a wall-clock time in ms since the epoch."""
    seconds = ms // 1000 + utc_offset_s
    day, second = divmod(seconds, 86400)
    return day, f"{second // 3600:02d}:{second % 3600 // 60:02d}"


def _snooze_end(c: Conditions, until_ms: int) -> str:
    today, _ = local_clock(c.now_ms, c.utc_offset_s)
    day, hhmm = local_clock(until_ms, c.utc_offset_s)
    if day == today:
        return hhmm
    return f"{_DAYS[(day + 3) % 7]} {hhmm}"  # 1970-01-01 was a Thursday


def decide(c: Conditions, p: Policy) -> Activity:
    if c.paused:
        return Activity("paused", "paused by the user", 0.0)
    if c.snoozed_until_ms is not None and c.snoozed_until_ms > c.now_ms:
        return Activity("paused", f"snoozed until {_snooze_end(c, c.snoozed_until_ms)}", 0.0)
    if c.draining:
        if c.running_tasks <= 0:
            return Activity("paused", "paused by the user", 0.0)
        below = _decide_unpaused(c, p)
        if below.cpu_limit <= 0:
            return replace(below, draining=True)
        n = c.running_tasks
        why = f"finishing {n} task{'s' if n != 1 else ''}, then pausing"
        return Activity("paused", why, below.cpu_limit, draining=True)
    return _decide_unpaused(c, p)


def _decide_unpaused(c: Conditions, p: Policy) -> Activity:
    if not parse_schedule(p.schedule).allows(c.weekday, c.minute_of_day):
        return Activity("paused", f"outside the schedule ({p.schedule})", 0.0)
    if p.respect_battery and c.on_battery:
        pct = c.battery_percent
        if pct is None or pct <= p.battery_threshold:
            shown = "unknown" if pct is None else f"{pct:.0f}%"
            return Activity(
                "on_battery", f"on battery at {shown} (threshold {p.battery_threshold}%)", 0.0
            )
    if c.other_cpu is not None and p.max_other_cpu < 1.0 and c.other_cpu > p.max_other_cpu:
        return Activity(
            "waiting_for_idle",
            f"other programs are using {c.other_cpu:.0%} of the machine "
            f"(limit {p.max_other_cpu:.0%})",
            0.0,
        )
    limit = p.cpu_limit
    in_use = c.idle_s is not None and c.idle_s < p.min_idle_s
    if in_use:
        if not p.work_while_in_use:
            return Activity(
                "waiting_for_idle",
                f"the computer is in use (idle {c.idle_s:.0f} s of {p.min_idle_s:.0f} s)",
                0.0,
            )
        limit = min(p.cpu_limit, p.in_use_cpu_limit)
    if c.peers == 0:
        return Activity("offline", "no peer connected", limit)
    why = "the computer is in use: reduced CPU limit" if in_use else "accepting tasks"
    return Activity("contributing", f"{why} ({limit:.0%} of the machine)", limit)

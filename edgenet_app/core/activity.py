"""Whether a node contributes right now, why, and at what CPU limit (pure logic).

The runtime samples the machine (`runtime/probe.py`: idle time, battery) and the clock;
this module turns those facts and the user's settings into one `Activity`. The order of
the rules is the order a user reads them in the tray: a pause by the user wins, then the
schedule, then the battery, then idleness, then the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schedule import parse_schedule

STATES = ("contributing", "paused", "waiting_for_idle", "on_battery", "offline")


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


@dataclass(frozen=True)
class Policy:
    """The settings that decide (keys of `core/settings.py`)."""

    cpu_limit: float = 0.3
    min_idle_s: float = 60.0
    work_while_in_use: bool = True
    in_use_cpu_limit: float = 0.1
    respect_battery: bool = True
    battery_threshold: int = 50
    schedule: str = "always"


@dataclass(frozen=True)
class Activity:
    state: str
    reason: str
    cpu_limit: float  # what the worker pool may use now (0 when not contributing)

    @property
    def accepts_tasks(self) -> bool:
        """Offline still accepts: the state lags the first links by up to one review."""
        return self.cpu_limit > 0


def decide(c: Conditions, p: Policy) -> Activity:
    if c.paused:
        return Activity("paused", "paused by the user", 0.0)
    if not parse_schedule(p.schedule).allows(c.weekday, c.minute_of_day):
        return Activity("paused", f"outside the schedule ({p.schedule})", 0.0)
    if p.respect_battery and c.on_battery:
        pct = c.battery_percent
        if pct is None or pct <= p.battery_threshold:
            shown = "unknown" if pct is None else f"{pct:.0f}%"
            return Activity(
                "on_battery", f"on battery at {shown} (threshold {p.battery_threshold}%)", 0.0
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

"""Idle and power probes: what the node needs to know about the machine it runs on.

`Probe` is the interface the node polls (every 2 s, on its event loop, so every part is
cheap). `SystemProbe` combines the user's idle time (`runtime/platform/idle.py`: X11, D-Bus,
Windows, macOS, or none on a headless machine, which then contributes at its CPU limit), the
battery (psutil) and the CPU load of other programs (`LoadProbe`). `FixedProbe` reports what
it is told (tests). `observe` turns a sample and the clock into the `Conditions` that
`core/activity.decide` judges."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

import psutil

from ...core.activity import Conditions
from .idle import NO_SOURCE, IdleMonitor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeSample:
    idle_s: float | None = None  # seconds since the last keyboard/mouse input; None: unknown
    on_battery: bool = False
    battery_percent: float | None = None
    other_cpu: float | None = None  # share of the machine other programs use, smoothed
    idle_source: str = NO_SOURCE


class Probe(Protocol):
    def sample(self, our_pids: Collection[int] = ()) -> ProbeSample:
        """`our_pids`: this node's processes (its workers); they are not "other programs"."""
        ...


def _system_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, summed over every CPU."""
    t = psutil.cpu_times()
    fields: dict[str, float] = t._asdict()
    total = sum(fields.values())
    # Linux counts guest time inside user and nice already (psutil's cpu_percent does this too)
    total -= fields.get("guest", 0.0) + fields.get("guest_nice", 0.0)
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    return total - idle, total


class LoadProbe:
    """The share of the whole machine (0.0–1.0) that programs other than ours use, smoothed.

    System CPU time (psutil) minus the CPU time of our processes (the pids the caller
    passes, plus this process), over the time since the previous reading, smoothed with an
    exponentially weighted moving average of time constant `tau_s`. Readings closer than
    `min_interval_s` return the current value without measuring. A process of ours that
    started after the previous reading counts whole; one already running when first seen
    only from then on (its earlier CPU time is not in the interval).
    """

    def __init__(
        self,
        *,
        tau_s: float = 10.0,
        min_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        system_times: Callable[[], tuple[float, float]] = _system_times,
        process: Callable[[int], Any] = psutil.Process,
    ) -> None:
        self.tau_s, self.min_interval_s = tau_s, min_interval_s
        self.clock, self.wall_clock = clock, wall_clock
        self.system_times, self.process = system_times, process
        self.value: float | None = None
        self._last: tuple[float, float, float, float] | None = None  # mono, wall, busy, total
        self._procs: dict[int, Any] = {}  # pid -> psutil.Process (kept: cheap re-reads)
        self._cpu: dict[int, float] = {}  # pid -> CPU seconds at the previous reading

    def _cpu_seconds(self, pid: int) -> tuple[float, float] | None:
        """(CPU seconds, start time) of `pid`, or None if it is gone or not readable."""
        try:
            p = self._procs.get(pid)
            if p is None:
                p = self._procs[pid] = self.process(pid)
            t = p.cpu_times()
            return float(t.user + t.system), float(p.create_time())
        except (psutil.Error, OSError):
            self._procs.pop(pid, None)
            return None

    def sample(self, our_pids: Collection[int] = ()) -> float | None:
        now = self.clock()
        if self._last is not None and now - self._last[0] < self.min_interval_s:
            return self.value
        wall = self.wall_clock()
        busy, total = self.system_times()
        pids = {os.getpid(), *our_pids}
        ours = 0.0
        cpu: dict[int, float] = {}
        for pid in pids:
            got = self._cpu_seconds(pid)
            if got is None:
                continue
            cpu[pid], started = got
            if pid in self._cpu:
                ours += max(0.0, cpu[pid] - self._cpu[pid])
            elif self._last is not None and started >= self._last[1]:
                ours += cpu[pid]  # born inside the interval: all its CPU time is in it
        for pid in set(self._procs) - pids:
            del self._procs[pid]
        last, self._last, self._cpu = self._last, (now, wall, busy, total), cpu
        if last is None or total - last[3] <= 0:
            return self.value
        other = (busy - last[2] - ours) / (total - last[3])
        other = min(1.0, max(0.0, other))
        if self.value is None:
            self.value = other
        else:
            alpha = 1.0 - math.exp(-(now - last[0]) / self.tau_s)
            self.value += alpha * (other - self.value)
        return self.value


def _battery() -> tuple[bool, float | None]:
    """(on battery, percent); (False, None) on machines without one."""
    try:
        battery = psutil.sensors_battery()
    except (OSError, NotImplementedError, AttributeError) as exc:  # no sensor support
        log.debug("no battery information: %s", exc)
        battery = None
    if battery is None:
        return False, None
    return battery.power_plugged is False, float(battery.percent)


class SystemProbe:
    """The user's idle time, the battery and other programs' CPU load of this machine."""

    def __init__(
        self,
        idle: IdleMonitor | None = None,
        load: LoadProbe | None = None,
        battery: Callable[[], tuple[bool, float | None]] = _battery,
    ) -> None:
        self.idle = idle if idle is not None else IdleMonitor()  # opens nothing yet
        self.load = load if load is not None else LoadProbe()
        self.battery = battery

    def sample(self, our_pids: Collection[int] = ()) -> ProbeSample:
        idle_s = self.idle.idle_seconds()
        on_battery, percent = self.battery()
        return ProbeSample(idle_s, on_battery, percent, self.load.sample(our_pids), self.idle.name)

    def close(self) -> None:
        """Release the idle source (an X display, a D-Bus connection)."""
        self.idle.close()


class FixedProbe:
    """A probe that reports what it is told (tests, and `--assume-idle` style overrides)."""

    def __init__(self, sample: ProbeSample | None = None) -> None:
        self.current = sample or ProbeSample()
        self.our_pids: frozenset[int] = frozenset()  # what the last caller passed

    def sample(self, our_pids: Collection[int] = ()) -> ProbeSample:
        self.our_pids = frozenset(our_pids)
        return self.current

    def close(self) -> None:
        pass


def observe(
    sample: ProbeSample,
    *,
    now: float,
    paused: bool = False,
    peers: int = 0,
    snoozed_until_ms: int | None = None,
    draining: bool = False,
    running_tasks: int = 0,
) -> Conditions:
    """The `Conditions` for `core/activity.decide`: `sample` and the wall clock `now`
    (seconds since the epoch) read in local time, plus the node's own state."""
    t = time.localtime(now)
    return Conditions(
        paused=paused,
        peers=peers,
        weekday=t.tm_wday,
        minute_of_day=t.tm_hour * 60 + t.tm_min,
        idle_s=sample.idle_s,
        on_battery=sample.on_battery,
        battery_percent=sample.battery_percent,
        other_cpu=sample.other_cpu,
        now_ms=int(now * 1000),
        utc_offset_s=t.tm_gmtoff,
        snoozed_until_ms=snoozed_until_ms,
        draining=draining,
        running_tasks=running_tasks,
    )

"""Idle and power probes: what the node needs to know about the machine it runs on.

`Probe` is the interface the node polls. `SystemProbe` reads the battery through psutil
and knows no idle time (headless machines have no user to wait for: kiosks and lab
machines contribute at their CPU limit). The desktop app supplies a probe that also
measures keyboard/mouse idle time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import psutil

log = logging.getLogger("edgenet.probe")


@dataclass(frozen=True)
class ProbeSample:
    idle_s: float | None = None  # None: unknown (treated as idle)
    on_battery: bool = False
    battery_percent: float | None = None


class Probe(Protocol):
    def sample(self) -> ProbeSample: ...


class SystemProbe:
    """Battery from psutil; idle time unknown."""

    def sample(self) -> ProbeSample:
        try:
            battery = psutil.sensors_battery()
        except (OSError, NotImplementedError, AttributeError) as exc:  # no sensor support
            log.debug("no battery information: %s", exc)
            battery = None
        if battery is None:
            return ProbeSample()
        return ProbeSample(None, battery.power_plugged is False, float(battery.percent))


class FixedProbe:
    """A probe that reports what it is told (tests, and `--assume-idle` style overrides)."""

    def __init__(self, sample: ProbeSample | None = None) -> None:
        self.current = sample or ProbeSample()

    def sample(self) -> ProbeSample:
        return self.current

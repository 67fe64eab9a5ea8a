"""The schedule grammar: when contributing is allowed (local time).

    schedule := "always" | "never" | entry ((";" | ",")? entry)*
    entry    := days* times*        days: mon | mon-fri | fri-mon (wraps), lists with ","
                                    times: HH:MM-HH:MM (24 h; 24:00 allowed as an end)

"," separates items and entries alike; ";" always ends an entry ("sat; sun 10:00-12:00").
Days and keywords are case-insensitive. An entry without days means every day, without times
the whole day. A window whose end is not after its start crosses midnight into the next day
("sun 22:00-02:00" ends Monday 02:00).

`parse_schedule` turns the text into a `Schedule`, a sorted set of same-day `Window`s, or raises
`ScheduleError` (a `SettingsError`) naming the offending token, its column and the reason. The
`schedule` setting (`edgenet_app.core.settings`) validates with it and prefixes the key.

Pure logic: no I/O, no clocks; the caller passes the weekday and minute to `Schedule.allows`.
"""

from __future__ import annotations

import dataclasses
import re

from .errors import SettingsError

__all__ = [
    "DAYS",
    "MINUTES_PER_DAY",
    "Schedule",
    "ScheduleError",
    "Window",
    "parse_schedule",
]


class ScheduleError(SettingsError):
    """A schedule text does not follow the grammar; the message names the token and column."""


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 1440

_TOKEN = re.compile(r"[,;]|[^\s,;]+")
_TIME_RANGE = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})")


@dataclasses.dataclass(frozen=True, order=True)
class Window:
    """Minutes [start, end) of one weekday (0 = Monday)."""

    day: int
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When contributing is allowed: a sorted set of same-day windows."""

    windows: tuple[Window, ...]

    def allows(self, weekday: int, minute_of_day: int) -> bool:
        """Whether minute `minute_of_day` (0–1439) of `weekday` (0 = Monday) is inside."""
        if not 0 <= weekday < 7 or not 0 <= minute_of_day < MINUTES_PER_DAY:
            raise ValueError(f"weekday {weekday} / minute {minute_of_day} out of range")
        return any(w.day == weekday and w.start <= minute_of_day < w.end for w in self.windows)


def _bad(token: str, col: int, why: str) -> ScheduleError:
    return ScheduleError(f"{token[:40]!r} at column {col}: {why}")


def _day(name: str, col: int, token: str) -> int:
    if name in DAYS:
        return DAYS.index(name)
    if name.isascii() and name.isalpha():
        raise _bad(token, col, f"unknown day {name[:20]!r}; days are {', '.join(DAYS)}")
    raise _bad(token, col, "expected a day (mon..sun), days (mon-fri) or times (HH:MM-HH:MM)")


def _days(token: str, col: int) -> list[int]:
    low = token.lower()
    first, dash, last = low.partition("-")
    a = _day(first, col, token)
    if not dash:
        return [a]
    b = _day(last, col, token)
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


def _minute(hh: str, mm: str, token: str, col: int, *, end: bool) -> int:
    h, m = int(hh), int(mm)
    if m > 59:
        raise _bad(token, col, f"minutes must be 00–59, got {mm}")
    if h > 23 and not (end and h == 24 and m == 0):
        raise _bad(token, col, f"hours must be 00–23 (24:00 only as an end), got {hh}")
    return h * 60 + m


def _times(token: str, col: int) -> tuple[int, int]:
    m = _TIME_RANGE.fullmatch(token)
    if m is None:
        raise _bad(token, col, "expected a time window HH:MM-HH:MM")
    start = _minute(m[1], m[2], token, col, end=False)
    end = _minute(m[3], m[4], token, col, end=True)
    if start == end:
        raise _bad(token, col, "the window is empty (start equals end)")
    return start, end


def _windows(days: list[int], times: list[tuple[int, int]]) -> list[Window]:
    out: list[Window] = []
    for day in days or range(7):
        for start, end in times or [(0, MINUTES_PER_DAY)]:
            if start < end:
                out.append(Window(day, start, end))
            else:
                out.append(Window(day, start, MINUTES_PER_DAY))
                if end:
                    out.append(Window((day + 1) % 7, 0, end))
    return out


def parse_schedule(text: str) -> Schedule:
    """Parse a schedule; errors name the offending token, its column and the reason."""
    tokens = [(m.group(), m.start() + 1) for m in _TOKEN.finditer(text)]
    if not tokens:
        raise ScheduleError("the schedule is empty; use 'always', 'never' or day/time windows")
    if len(tokens) == 1 and tokens[0][0].lower() in ("always", "never"):
        full = [Window(d, 0, MINUTES_PER_DAY) for d in range(7)]
        return Schedule(tuple(full) if tokens[0][0].lower() == "always" else ())
    windows: list[Window] = []
    days: list[int] = []
    times: list[tuple[int, int]] = []
    after_sep = True
    for token, col in tokens:
        if token in (",", ";"):
            if after_sep:
                raise _bad(token, col, "separator with nothing before it")
            if token == ";":
                windows += _windows(days, times)
                days, times = [], []
            after_sep = True
            continue
        after_sep = False
        if token.lower() in ("always", "never"):
            raise _bad(token, col, f"{token.lower()!r} must be the whole schedule")
        if token[:1].isdigit() or ":" in token:
            times.append(_times(token, col))
            continue
        if times:
            windows += _windows(days, times)
            days, times = [], []
        days += _days(token, col)
    if after_sep:
        token, col = tokens[-1]
        raise _bad(token, col, "dangling separator at the end")
    windows += _windows(days, times)
    return Schedule(tuple(sorted(set(windows))))

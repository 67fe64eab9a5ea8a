"""The schedule as a 7×24 grid of allowed hours, to and from the schedule grammar's text.

`grid[day][hour]` is True when contributing is allowed during that hour (day 0 = Monday).
`schedule_from_grid` writes the shortest natural text for a grid ("always", "never",
"mon-fri 18:00-24:00, sat-sun"); `grid_from_schedule` reads any schedule text back. A schedule
with windows that do not start and end on the hour cannot be shown on the grid exactly:
`grid_from_schedule` raises `OffGridError` for it (the dialog then shows it as text) and
`coverage` gives the allowed share of every hour, so the grid can still draw it, read-only.

Round trip: `grid_from_schedule(schedule_from_grid(g)) == g` for every grid (property-tested).

Pure logic: no Qt, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...core.errors import EdgenetError
from ...core.schedule import DAYS, MINUTES_PER_DAY, Schedule, parse_schedule
from ..display import labels

__all__ = [
    "EMPTY_GRID",
    "FULL_GRID",
    "PRESETS",
    "Grid",
    "OffGridError",
    "coverage",
    "grid_from_schedule",
    "schedule_from_grid",
]

HOURS = 24
Grid = tuple[tuple[bool, ...], ...]  # 7 days × 24 hours

FULL_GRID: Grid = tuple(tuple(True for _ in range(HOURS)) for _ in DAYS)
EMPTY_GRID: Grid = tuple(tuple(False for _ in range(HOURS)) for _ in DAYS)

# name (its button's label) -> schedule text; every preset fits the grid.
PRESETS: dict[str, str] = {
    labels.PRESET_ALWAYS: "always",
    labels.PRESET_NEVER: "never",
    labels.PRESET_EVENINGS: "mon-fri 18:00-24:00, sat-sun",
}


class OffGridError(EdgenetError, ValueError):
    """The schedule has windows that do not begin and end on the hour."""


def _check(grid: Sequence[Sequence[bool]]) -> Grid:
    if len(grid) != len(DAYS) or any(len(row) != HOURS for row in grid):
        raise ValueError(f"a schedule grid has {len(DAYS)} rows of {HOURS} hours")
    return tuple(tuple(bool(cell) for cell in row) for row in grid)


def _runs(row: Sequence[bool]) -> tuple[tuple[int, int], ...]:
    """The allowed hours of one day as [start, end) hour ranges."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for hour, on in enumerate([*row, False]):
        if on and start is None:
            start = hour
        elif not on and start is not None:
            out.append((start, hour))
            start = None
    return tuple(out)


def _days_text(days: Sequence[int]) -> str:
    """Days as the grammar writes them: "mon-fri", "sat-mon" (wrapping), "mon,wed"."""
    chosen = set(days)
    if len(chosen) == len(DAYS):
        return ""
    first = next(d for d in range(len(DAYS)) if d not in chosen)  # a gap to start after
    runs: list[list[int]] = []
    for i in range(1, len(DAYS) + 1):
        day = (first + i) % len(DAYS)
        if day not in chosen:
            continue
        if runs and (runs[-1][-1] + 1) % len(DAYS) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    runs.sort(key=lambda run: run[0])
    parts = [DAYS[r[0]] if len(r) == 1 else f"{DAYS[r[0]]}-{DAYS[r[-1]]}" for r in runs]
    return ",".join(parts)


def _hhmm(hour: int) -> str:
    return f"{hour:02d}:00"


def schedule_from_grid(grid: Sequence[Sequence[bool]]) -> str:
    """The schedule text for a grid of allowed hours (see the module docstring)."""
    rows = _check(grid)
    if rows == FULL_GRID:
        return "always"
    if rows == EMPTY_GRID:
        return "never"
    groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for day, row in enumerate(rows):
        runs = _runs(row)
        if runs:
            groups.setdefault(runs, []).append(day)
    whole_day = ((0, HOURS),)
    entries: list[tuple[int, str, bool]] = []
    for runs, days in groups.items():
        times = "" if runs == whole_day else ", ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in runs)
        text = " ".join(part for part in (_days_text(days), times) if part)
        entries.append((min(days), text, not times))
    entries.sort()
    out = ""
    for n, (_, text, whole) in enumerate(entries):
        out += text
        if n < len(entries) - 1:
            # "," would add the next entry's days to a whole-day entry's list; ";" ends it.
            out += "; " if whole else ", "
    return out


def coverage(schedule: Schedule | str) -> tuple[tuple[float, ...], ...]:
    """The allowed share (0.0–1.0) of every hour of every day."""
    sched = parse_schedule(schedule) if isinstance(schedule, str) else schedule
    minutes = [[0] * HOURS for _ in DAYS]
    allowed = [bytearray(MINUTES_PER_DAY) for _ in DAYS]
    for w in sched.windows:
        allowed[w.day][w.start : w.end] = b"\x01" * (w.end - w.start)
    for day in range(len(DAYS)):
        for hour in range(HOURS):
            minutes[day][hour] = sum(allowed[day][hour * 60 : hour * 60 + 60])
    return tuple(tuple(m / 60 for m in row) for row in minutes)


def grid_from_schedule(text: str) -> Grid:
    """The grid for a schedule text. Raises `ScheduleError` if the text does not follow the
    grammar and `OffGridError` if a window does not begin and end on the hour."""
    sched = parse_schedule(text)
    odd = [w for w in sched.windows if w.start % 60 or w.end % 60]
    if odd:
        w = odd[0]
        raise OffGridError(
            f"{DAYS[w.day]} {w.start // 60:02d}:{w.start % 60:02d}-"
            f"{w.end // 60:02d}:{w.end % 60:02d} does not begin and end on the hour"
        )
    cells = [[False] * HOURS for _ in DAYS]
    for w in sched.windows:
        for hour in range(w.start // 60, w.end // 60):
            cells[w.day][hour] = True
    return _check(cells)

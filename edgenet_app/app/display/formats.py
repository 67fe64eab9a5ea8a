"""Numbers, credits, times and percentages as short text, and values mapped onto chart axes
(pure: no Qt, no clock read).

Values from the node's status and history (`Node.stats()`, `Node.history()`) become the
short strings the widgets show ('1 d 13 h', '1,284.51', '#12 of 340', '30 %'); the chart
axes get their ticks here, so the widgets only lay out and paint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from ...core import economics as econ

MINUTE_S = 60
HOUR_S = 3600
DAY_S = 86400
UNKNOWN = "—"  # a value not known (yet)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- numbers -------------------------------------------------------------------------------


def format_uptime(seconds: float) -> str:
    """37 h 21 min -> '1 d 13 h'; 5 h 3 min -> '5 h 3 min'; 42 s -> '42 s'."""
    s = max(0, int(seconds))
    if s < MINUTE_S:
        return f"{s} s"
    if s < HOUR_S:
        return f"{s // MINUTE_S} min"
    if s < DAY_S:
        h, m = divmod(s // MINUTE_S, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // HOUR_S, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def format_cpu_time(seconds: float) -> str:
    """CPU time donated: '42 min', '5.2 h', '1,234 h'."""
    s = max(0.0, float(seconds))
    if s < HOUR_S:
        return f"{s / MINUTE_S:.0f} min"
    hours = s / HOUR_S
    return f"{hours:.1f} h" if hours < 100 else f"{hours:,.0f} h"


def format_multiplier(multiplier: float) -> str:
    return f"{multiplier:.2f}×"


def format_axis_multiplier(multiplier: float) -> str:
    """A multiplier axis label: '10×'."""
    return f"{multiplier:.0f}×"


def format_percent(fraction: float) -> str:
    return f"{round(fraction * 100):.0f}%"


def format_slider_percent(fraction: float) -> str:
    """A percent slider's label: 0.3 -> '30 %', 0.125 -> '12.5 %'."""
    pct = round(fraction * 100, 4)
    return f"{pct:.0f} %" if pct == round(pct) else f"{pct:.1f} %"


def format_exact_percent(fraction: float) -> str:
    """A fraction as a percentage with every digit it needs: 0.5 -> '50 %'."""
    return f"{fraction * 100:g} %"


def format_duration(seconds: int) -> str:
    """3725 -> '1 h 2 min 5 s'; 0 -> 'at once'."""
    if seconds == 0:
        return "at once"
    parts = []
    for size, name in ((3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            parts.append(f"{seconds // size} {name}")
            seconds %= size
    return " ".join(parts)


def format_count(count: int) -> str:
    """1234 -> '1,234'."""
    return f"{count:,}"


def format_rank(rank: Sequence[int] | None) -> str:
    """[12, 340] -> '#12 of 340'; unknown -> '—'."""
    if not rank or len(rank) != 2 or rank[0] <= 0:
        return UNKNOWN
    return f"#{rank[0]:,} of {rank[1]:,}"


def format_compact(value: float) -> str:
    """Axis labels: 0, 2.5, 40, 1.5K, 41K, 1.2M, 10M."""
    v = abs(value)
    sign = "-" if value < 0 else ""
    for unit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K"), (1.0, "")):
        if v >= unit or unit == 1.0:
            scaled = v / unit
            if scaled >= 10 or scaled == int(scaled):
                return f"{sign}{scaled:.0f}{suffix}"
            return f"{sign}{scaled:.1f}".rstrip("0").rstrip(".") + suffix
    raise AssertionError("unreachable")


def format_micro(micro: int) -> str:
    """Micro-credits as credits to 0.001 ('1,284.513')."""
    return econ.format_credits(round(int(micro), -3))


def donated_share(cpu_donated_s: float, uptime_s: float, cores: int) -> float:
    """The average share of this machine given to tasks since the node started (0..1)."""
    if uptime_s <= 0 or cores <= 0:
        return 0.0
    return min(1.0, max(0.0, cpu_donated_s / (uptime_s * cores)))


def kind_label(kind: str) -> str:
    return kind.replace("_", " ")


def sentence(text: str) -> str:
    """`text` stripped, its first letter capitalised."""
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


STATUS_TONES = {
    "done": "good",
    "failed": "bad",
    "running": "accent",
    "pending": "muted",
    "cancelled": "muted",
}


def status_tone(status: str) -> str:
    return STATUS_TONES.get(status, "muted")


# -- the contribution curve ---------------------------------------------------------------

CURVE_MAX_X = 10_000_000.0  # CPU-hours at the right edge (the bonus is gone by then)
CURVE_KNEE = 1_000.0  # below this the axis is about linear, above it logarithmic
CURVE_TICKS = (0.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)
_CURVE_SPAN = math.log10(1 + CURVE_MAX_X / CURVE_KNEE)


def curve_fraction(cpu_hours: float) -> float:
    """Where network CPU-hours sit on the curve's x axis, 0..1 (a log axis that starts at 0)."""
    x = min(max(0.0, float(cpu_hours)), CURVE_MAX_X)
    return math.log10(1 + x / CURVE_KNEE) / _CURVE_SPAN


def curve_hours(fraction: float) -> float:
    """The inverse of `curve_fraction`."""
    f = min(max(0.0, fraction), 1.0)
    return float(CURVE_KNEE * (10 ** (f * _CURVE_SPAN) - 1))


def curve_point(cpu_hours: float, multiplier: float | None = None) -> tuple[float, float]:
    """(x, y) fractions of the plot for the network's position; y 0 = 1×, 1 = 10×."""
    m = econ.contribution_multiplier(max(0.0, cpu_hours)) if multiplier is None else multiplier
    lo, hi = 1.0, float(econ.MAX_MULTIPLIER)
    return curve_fraction(cpu_hours), min(max(0.0, (m - lo) / (hi - lo)), 1.0)


def network_stage(cpu_hours: float) -> str:
    """The seed's stages of the contribution curve."""
    for limit, name in (
        (100_000, "Very early"),
        (500_000, "Early"),
        (1_000_000, "Early majority"),
        (5_000_000, "Maturing"),
    ):
        if cpu_hours < limit:
            return name
    return "Established"


# -- chart axes ----------------------------------------------------------------------------


def nice_step(span: float, target: int) -> float:
    """A 1-2-2.5-5 ×10^k step giving about `target` intervals over `span`."""
    if span <= 0 or target <= 0:
        return 1.0
    raw = span / target
    base = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * base >= raw * 0.999:
            return m * base
    return 10 * base


def nice_ticks(lo: float, hi: float, target: int = 4) -> list[float]:
    """Round tick values covering [lo, hi]: the first ≤ lo, the last ≥ hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    step = nice_step(hi - lo, target)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    n = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(n + 1)]


_TIME_STEPS_S = (
    60,
    5 * 60,
    10 * 60,
    15 * 60,
    30 * 60,
    HOUR_S,
    2 * HOUR_S,
    3 * HOUR_S,
    6 * HOUR_S,
    12 * HOUR_S,
    DAY_S,
    2 * DAY_S,
    7 * DAY_S,
    14 * DAY_S,
    30 * DAY_S,
    91 * DAY_S,
    365 * DAY_S,
)


def _local(ms: int, tz: tzinfo | None) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz) if tz else datetime.fromtimestamp(ms / 1000)


def time_ticks(
    start_ms: int, end_ms: int, target: int = 6, tz: tzinfo | None = None
) -> list[tuple[int, str]]:
    """Time-axis ticks (ms, label) at round local times: '14:00' within a day or two,
    'Tue 4' over days, 'Jun 3' over months. `tz` None means the local time zone."""
    if end_ms <= start_ms:
        return [(start_ms, _clock(_local(start_ms, tz)))]
    span_s = (end_ms - start_ms) / 1000
    step = next((s for s in _TIME_STEPS_S if span_s / s <= max(1, target)), _TIME_STEPS_S[-1])
    first = _local(start_ms, tz)
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    ticks: list[tuple[int, str]] = []
    if step < DAY_S:
        offset = (first - midnight).total_seconds()
        t = midnight + timedelta(seconds=math.ceil(offset / step) * step)
    elif step < 30 * DAY_S:
        t = midnight if first == midnight else midnight + timedelta(days=1)
        if step == 7 * DAY_S:
            t += timedelta(days=(7 - t.weekday()) % 7)  # weeks start on Monday
    else:
        t = midnight.replace(day=1)
        if t < first:
            t = _add_months(t, 1)
    while True:
        ms = int(t.timestamp() * 1000)
        if ms > end_ms:
            break
        if step < DAY_S:
            label = _day(t) if (t.hour, t.minute) == (0, 0) else _clock(t)
        elif span_s > 60 * DAY_S:
            label = f"{_MONTHS[t.month - 1]} {t.day}"
        else:
            label = _day(t)
        ticks.append((ms, label))
        if step < DAY_S:
            t = t + timedelta(seconds=step)
        elif step >= 30 * DAY_S:
            t = _add_months(t, step // (30 * DAY_S))
        else:
            t = t + timedelta(days=step // DAY_S)
    return ticks


def _add_months(t: datetime, months: int) -> datetime:
    year, month = divmod(t.month - 1 + months, 12)
    return t.replace(year=t.year + year, month=month + 1, day=1)


def _clock(t: datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def _day(t: datetime) -> str:
    return f"{WEEKDAYS[t.weekday()]} {t.day}"


def format_when(ms: int, now_ms: int, tz: tzinfo | None = None) -> str:
    """A task's time: '14:02' today, 'Tue 14:02' this week, 'Jun 3' before."""
    t, now = _local(ms, tz), _local(now_ms, tz)
    if t.date() == now.date():
        return _clock(t)
    if abs((now - t).total_seconds()) < 6 * DAY_S:
        return f"{WEEKDAYS[t.weekday()]} {_clock(t)}"
    return f"{_MONTHS[t.month - 1]} {t.day}"


def format_moment(ms: int, tz: tzinfo | None = None) -> str:
    """A full local time for tooltips: 'Tue 4 Jun, 14:02'."""
    t = _local(ms, tz)
    return f"{WEEKDAYS[t.weekday()]} {t.day} {_MONTHS[t.month - 1]}, {_clock(t)}"


def short_credits(micro: int) -> str:
    """Credits for a label, the tray and notifications: to 0.01, never rounded up
    ('1,284.51', '3.2', '100'); '<0.01' for a crumb, '0' for nothing."""
    if micro <= 0:
        return "0"
    if micro < 10_000:
        return "<0.01"
    hundredths = micro // 10_000
    text = f"{hundredths // 100:,}.{hundredths % 100:02d}".rstrip("0").rstrip(".")
    return text


def plain_credits(micro: int) -> str:
    """Credits to 0.001 ('36.2', '1,284.514')."""
    return format_micro(micro)

"""The schedule grammar (`edgenet_app.core.schedule`): forms, errors and a brute-force model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgenet_app.core import settings as settings_module
from edgenet_app.core.errors import SettingsError
from edgenet_app.core.schedule import (
    DAYS,
    MINUTES_PER_DAY,
    Schedule,
    ScheduleError,
    Window,
    parse_schedule,
)

PROPS = settings(max_examples=200, deadline=None)

# --- forms and errors -----------------------------------------------------------------------

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def test_schedule_example() -> None:
    s = parse_schedule("mon-fri 09:00-17:30, sat 10:00-12:00; sun 22:00-02:00")
    assert s.allows(MON, hm("09:00")) and s.allows(FRI, hm("17:29"))
    assert not s.allows(FRI, hm("17:30")) and not s.allows(MON, hm("08:59"))
    assert s.allows(SAT, hm("11:00")) and not s.allows(SAT, hm("12:00"))
    # Sunday's window crosses midnight into Monday.
    assert s.allows(SUN, hm("23:59")) and s.allows(MON, hm("00:00")) and s.allows(MON, hm("01:59"))
    assert not s.allows(MON, hm("02:00")) and not s.allows(SUN, hm("01:00"))


def test_schedule_forms() -> None:
    always, never = parse_schedule("always"), parse_schedule(" NEVER ")
    assert all(always.allows(d, m) for d in range(7) for m in (0, 700, 1439))
    assert not any(never.allows(d, m) for d in range(7) for m in (0, 700, 1439))
    weekend = parse_schedule("sat,sun")
    assert weekend.allows(SAT, 0) and weekend.allows(SUN, 1439) and not weekend.allows(FRI, 1439)
    assert parse_schedule("Sat, Sun") == weekend == parse_schedule("sat-sun")
    wrap = parse_schedule("fri-mon")
    assert [d for d in range(7) if wrap.allows(d, 0)] == [MON, FRI, SAT, SUN]
    daily = parse_schedule("09:00-10:00")
    assert all(daily.allows(d, hm("09:30")) for d in range(7))
    two = parse_schedule("mon 09:00-10:00, 11:00-12:00 tue 13:00-14:00")
    assert two.allows(MON, hm("11:30")) and two.allows(TUE, hm("13:00"))
    assert not two.allows(TUE, hm("11:30"))
    semi = parse_schedule("sat; sun 10:00-12:00")
    assert semi.allows(SAT, 0) and not semi.allows(SUN, 0) and semi.allows(SUN, hm("10:00"))
    comma = parse_schedule("sat, sun 10:00-12:00")
    assert not comma.allows(SAT, 0) and comma.allows(SAT, hm("10:00"))
    late = parse_schedule("mon 22:00-24:00, tue 00:00-06:00")
    assert late == parse_schedule("mon 22:00-06:00")
    assert parse_schedule("sun 23:00-00:00") == parse_schedule("sun 23:00-24:00")
    with pytest.raises(ValueError, match="out of range"):
        always.allows(7, 0)
    with pytest.raises(ValueError, match="out of range"):
        always.allows(0, 1440)


@pytest.mark.parametrize(
    ("text", "token", "why"),
    [
        ("", None, "the schedule is empty"),
        ("   ", None, "the schedule is empty"),
        ("mox-fri 09:00-17:00", "'mox-fri' at column 1", "unknown day 'mox'"),
        ("mon-fry", "'mon-fry' at column 1", "unknown day 'fry'"),
        ("mon 25:00-26:00", "'25:00-26:00' at column 5", "hours must be 00–23"),
        ("mon 09:60-10:00", "'09:60-10:00' at column 5", "minutes must be 00–59"),
        ("mon 24:00-10:00", "'24:00-10:00' at column 5", "24:00 only as an end"),
        ("mon 9-17", "'9-17' at column 5", "expected a time window HH:MM-HH:MM"),
        ("mon 09:00", "'09:00' at column 5", "expected a time window"),
        ("mon 10:00-10:00", "'10:00-10:00' at column 5", "the window is empty"),
        ("mon always", "'always' at column 5", "must be the whole schedule"),
        (", mon", "',' at column 1", "nothing before it"),
        ("mon;; tue", "';' at column 5", "nothing before it"),
        ("mon 09:00-10:00,", "',' at column 16", "dangling separator"),
        ("mon @ 09:00-10:00", "'@' at column 5", "expected a day (mon..sun)"),
    ],
)
def test_schedule_errors_name_the_token(text: str, token: str | None, why: str) -> None:
    with pytest.raises(ScheduleError) as exc:
        parse_schedule(text)
    assert why in str(exc.value)
    if token is not None:
        assert str(exc.value).startswith(token)


def test_settings_re_exports_the_grammar() -> None:
    assert settings_module.parse_schedule is parse_schedule
    assert settings_module.Schedule is Schedule
    assert issubclass(ScheduleError, SettingsError) and issubclass(ScheduleError, ValueError)
    assert parse_schedule("mon 00:00-01:00").windows == (Window(0, 0, 60),)
    assert len(parse_schedule("always").windows) == 7 and MINUTES_PER_DAY == 1440


# --- properties -----------------------------------------------------------------------------

_time = st.integers(0, 1439)
_entry = st.tuples(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6) | st.none()), max_size=3),
    st.lists(st.tuples(_time, st.integers(1, 1440)).filter(lambda w: w[0] != w[1]), max_size=3),
)
Entry = tuple[list[tuple[int, int | None]], list[tuple[int, int]]]


def _render(entries: list[Entry], commas: list[bool], upper: bool) -> str:
    parts: list[str] = []
    for i, (days, times) in enumerate(entries):
        items = [DAYS[a] + (f"-{DAYS[b]}" if b is not None else "") for a, b in days]
        spans = [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in times]
        text = " ".join(x for x in (",".join(items), ", ".join(spans)) if x) or "mon-sun"
        if i:
            prev_has_times = bool(entries[i - 1][1])
            comma = commas[i % len(commas)] and prev_has_times and bool(days)
            parts.append(", " if comma else "; ")
        parts.append(text)
    text = "".join(parts)
    return text.upper() if upper else text


def _reference(entries: list[Entry]) -> bytearray:
    """Allowed minutes of the week (index day * 1440 + minute), by brute force."""
    week = bytearray(10080)
    for days, times in entries:
        expanded: list[int] = []
        for a, b in days:
            expanded += [a] if b is None else [(a + i) % 7 for i in range((b - a) % 7 + 1)]
        for day in expanded or range(7):
            for start, end in times or [(0, 1440)]:
                lo, hi = day * 1440 + start, day * 1440 + (end if end > start else end + 1440)
                week[lo : min(hi, 10080)] = bytes([1]) * (min(hi, 10080) - lo)
                week[0 : max(hi - 10080, 0)] = bytes([1]) * max(hi - 10080, 0)
    return week


@PROPS
@given(
    st.lists(_entry, min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=1),
    st.booleans(),
    st.lists(st.integers(0, 10079), max_size=40),
)
def test_schedule_matches_brute_force(
    entries: list[Entry], commas: list[bool], upper: bool, probes: list[int]
) -> None:
    schedule = parse_schedule(_render(entries, commas, upper))
    reference = _reference(entries)
    points = set(probes) | {0, 10079}
    for w in schedule.windows:  # every boundary of the parsed windows and its neighbours
        for m in (w.start - 1, w.start, w.end - 1, w.end):
            points.add((w.day * 1440 + m) % 10080)
    for m in range(10080):  # and every edge of the reference
        if reference[m] != reference[m - 1]:
            points.update((m, (m - 1) % 10080))
    for p in points:
        assert schedule.allows(p // 1440, p % 1440) == bool(reference[p]), p


def schedule_texts() -> st.SearchStrategy[str]:
    """Valid schedule texts (also used by the settings round-trip property in test_settings)."""
    return st.builds(
        _render, st.lists(_entry, min_size=1, max_size=3), st.just([True]), st.booleans()
    ) | st.sampled_from(["always", "never"])


@PROPS
@given(schedule_texts())
def test_valid_texts_parse(text: str) -> None:
    assert parse_schedule(text) == parse_schedule(text.upper()) == parse_schedule(f"  {text}  ")


_junk = st.text() | st.text(alphabet="monthuwedfrisatsun0123456789:-,;% ")


@PROPS
@given(_junk)
def test_parsing_junk_only_raises_schedule_error(text: str) -> None:
    try:
        schedule = parse_schedule(text)
    except ScheduleError:
        return
    for w in schedule.windows:
        assert 0 <= w.day < 7 and 0 <= w.start < w.end <= MINUTES_PER_DAY
    assert list(schedule.windows) == sorted(set(schedule.windows))

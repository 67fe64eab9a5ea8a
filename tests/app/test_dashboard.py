"""The dashboard: pure wording and axis helpers, and the widget fed by AppModel signals.

The widget tests emit the model's signals directly with FakeSource's sample data, so no
event loop (and no node) is needed; images are rendered offscreen.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from edgenet_app.app import display
from edgenet_app.core import economics as econ
from edgenet_app.core.activity import STATES
from edgenet_app.core.status import Credits, NodeHistory, NodeStatus

# -- pure helpers (no Qt) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (42.9, "42 s"),
        (60, "1 min"),
        (59 * 60 + 59, "59 min"),
        (3600, "1 h"),
        (5 * 3600 + 3 * 60, "5 h 3 min"),
        (86400, "1 d"),
        (3600 * 37 + 1260, "1 d 13 h"),
        (-5, "0 s"),
    ],
)
def test_format_uptime(seconds: float, text: str) -> None:
    assert display.format_uptime(seconds) == text


def test_format_numbers() -> None:
    assert display.format_cpu_time(0) == "0 min"
    assert display.format_cpu_time(3600 * 5.2) == "5.2 h"
    assert display.format_cpu_time(3600 * 1234) == "1,234 h"
    assert display.format_multiplier(9.6184) == "9.62×"
    assert display.format_percent(0.97) == "97%"
    assert display.format_rank([12, 340]) == "#12 of 340"
    assert display.format_rank([1234, 50000]) == "#1,234 of 50,000"
    assert display.format_rank([0, 0]) == "—"
    assert display.format_rank(None) == "—"
    # one short form of credits (the tray, the dashboard, notifications): to 0.01, never up
    assert display.short_credits(1_284_513_000) == "1,284.51"
    assert display.short_credits(1_284_500_000) == "1,284.5"
    assert display.short_credits(2_000_000_000) == "2,000"
    assert display.short_credits(3_199_999) == "3.19"
    assert display.short_credits(0) == "0"
    assert display.short_credits(1_000) == "<0.01"
    assert display.plain_credits(36_200_000) == "36.2"
    assert display.plain_credits(1_123_456) == "1.123"
    assert display.kind_label("vector_search") == "vector search"
    assert display.status_tone("done") == "good"
    assert display.status_tone("failed") == "bad"
    assert display.status_tone("???") == "muted"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (2.5, "2.5"),
        (40, "40"),
        (1500, "1.5K"),
        (41_250, "41K"),
        (100_000, "100K"),
        (1_200_000, "1.2M"),
        (10_000_000, "10M"),
        (-1500, "-1.5K"),
    ],
)
def test_format_compact(value: float, text: str) -> None:
    assert display.format_compact(value) == text


def test_donated_share_is_average_share_of_the_machine() -> None:
    assert display.donated_share(3600, 3600, 4) == pytest.approx(0.25)
    assert display.donated_share(0, 3600, 4) == 0.0
    assert display.donated_share(100, 0, 4) == 0.0  # just started
    assert display.donated_share(10**9, 1, 1) == 1.0  # clamped


@pytest.mark.parametrize(
    ("lo", "hi"), [(0, 172.03), (0, 1), (0, 0.3), (0, 7), (0, 123_456), (5, 5)]
)
def test_nice_ticks_cover_the_range_with_round_steps(lo: float, hi: float) -> None:
    ticks = display.nice_ticks(lo, hi, 4)
    assert ticks[0] <= lo and ticks[-1] >= hi
    assert 2 <= len(ticks) <= 8
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    assert round(mantissa, 6) in (1.0, 2.0, 2.5, 5.0)


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def test_time_ticks_use_hours_within_a_day() -> None:
    ticks = display.time_ticks(_ms(2025, 6, 3, 9, 17), _ms(2025, 6, 3, 14, 40), 6, UTC)
    assert [label for _, label in ticks] == ["10:00", "11:00", "12:00", "13:00", "14:00"]
    assert ticks[0][0] == _ms(2025, 6, 3, 10)


def test_time_ticks_use_days_over_a_week() -> None:
    ticks = display.time_ticks(_ms(2025, 6, 2, 9), _ms(2025, 6, 9, 9), 7, UTC)
    labels = [label for _, label in ticks]
    assert labels[0] == "Tue 3" and labels[-1] == "Mon 9"
    assert all(ms % 86_400_000 == 0 for ms, _ in ticks)  # at midnight


def test_time_ticks_use_months_over_a_year_and_survive_degenerate_spans() -> None:
    ticks = display.time_ticks(_ms(2024, 6, 15), _ms(2025, 6, 15), 6, UTC)
    assert [label for _, label in ticks] == ["Jul 1", "Oct 1", "Jan 1", "Apr 1"]
    assert display.time_ticks(_ms(2025, 6, 3, 9), _ms(2025, 6, 3, 9), 6, UTC) == [
        (_ms(2025, 6, 3, 9), "09:00")
    ]


def test_time_ticks_show_the_day_at_midnight() -> None:
    ticks = display.time_ticks(_ms(2025, 6, 3, 20), _ms(2025, 6, 4, 6), 6, UTC)
    assert ("Wed 4" in [label for _, label in ticks]) and ("22:00" in dict(ticks).values())


def test_format_when() -> None:
    now = _ms(2025, 6, 5, 15)
    assert display.format_when(_ms(2025, 6, 5, 14, 2), now, UTC) == "14:02"
    assert display.format_when(_ms(2025, 6, 3, 14, 2), now, UTC) == "Tue 14:02"
    assert display.format_when(_ms(2025, 5, 1, 14, 2), now, UTC) == "May 1"
    assert display.format_moment(_ms(2025, 6, 3, 14, 2), UTC) == "Tue 3 Jun, 14:02"


def test_curve_axis_mapping() -> None:
    assert display.curve_fraction(0) == 0.0
    assert display.curve_fraction(display.CURVE_MAX_X) == pytest.approx(1.0)
    assert display.curve_fraction(10 * display.CURVE_MAX_X) == pytest.approx(1.0)  # clamped
    assert display.curve_fraction(-5) == 0.0
    xs = [0, 1, 1_000, 41_250, 100_000, 1_000_000, 5_000_000]
    fracs = [display.curve_fraction(x) for x in xs]
    assert fracs == sorted(fracs) and len(set(fracs)) == len(fracs)
    # the seed-era network (41K CPU-hours) sits well inside the plot, not squashed at 0
    assert 0.3 < display.curve_fraction(41_250) < 0.5
    for x in xs:
        assert display.curve_hours(display.curve_fraction(x)) == pytest.approx(x, abs=1e-6)


def test_curve_point_moves_with_network_cpu_hours() -> None:
    young, grown = display.curve_point(41_250), display.curve_point(3_000_000)
    assert grown[0] > young[0]  # further right
    assert grown[1] < young[1]  # and lower: the bonus decays
    assert display.curve_point(0) == (0.0, 1.0)  # genesis: 10×, at the left edge
    _, y = display.curve_point(1_000_000)
    assert y == pytest.approx((econ.contribution_multiplier(1_000_000) - 1) / 9)
    assert display.curve_point(41_250, 9.6184)[1] == pytest.approx(8.6184 / 9)


def test_network_stage() -> None:
    assert display.network_stage(41_250) == "Very early"
    assert display.network_stage(600_000) == "Early majority"
    assert display.network_stage(20_000_000) == "Established"


WHY = [
    ("contributing", "accepting tasks (30% of the machine)",
     "Earning: accepting tasks (30% of the machine)", "good", True),
    ("contributing", "the computer is in use: reduced CPU limit (10% of the machine)",
     "Earning: the computer is in use: reduced CPU limit (10% of the machine)", "good", True),
    ("paused", "paused by the user",
     "Not earning: paused by you — Resume from the tray menu", "warn", False),
    ("paused", "snoozed until 14:30",
     "Not earning: snoozed until 14:30 — Resume from the tray menu to start sooner", "warn",
     False),
    ("paused", "finishing 2 tasks, then pausing",
     "Finishing 2 tasks, then pausing — no new tasks", "warn", True),
    ("paused", "outside the schedule (mon-fri 18:00-08:00)",
     "Not earning: outside the schedule (mon-fri 18:00-08:00) — change the hours in Settings",
     "muted", False),
    ("on_battery", "on battery at 42% (threshold 50%)",
     "Not earning: on battery at 42% (threshold 50%) — plug in to resume", "warn", False),
    ("waiting_for_idle", "the computer is in use (idle 12 s of 60 s)",
     "Not earning: the computer is in use (idle 12 s of 60 s) — work resumes once the "
     "computer is idle", "warn", False),
    ("waiting_for_idle", "other programs are using 80% of the machine (limit 50%)",
     "Not earning: other programs are using 80% of the machine (limit 50%) — work resumes "
     "when they quieten down", "warn", False),
    ("offline", "no peer connected",
     "Not earning: no peer connected — checking the network…", "bad", False),
]  # fmt: skip


@pytest.mark.parametrize(("state", "reason", "text", "tone", "earning"), WHY)
def test_why_line(state: str, reason: str, text: str, tone: str, earning: bool) -> None:
    line = display.why_line(state, reason)
    assert (line.text, line.tone, line.earning) == (text, tone, earning)


def test_why_line_covers_every_state_and_the_edges() -> None:
    assert {state for state, *_ in WHY} == set(STATES)
    for state in STATES:  # a missing reason still reads as a sentence
        assert display.why_line(state, "").text.startswith(("Earning", "Not earning"))
    assert display.why_line("paused", "").text == (
        "Not earning: paused by you — Resume from the tray menu"
    )
    assert display.why_line(None, None).text == "Connecting to the node…"
    lost = display.why_line("contributing", "accepting tasks", connected=False)
    assert lost.tone == "bad" and "lost contact" in lost.text
    assert display.why_line("mystery", "a new reason").text == "Not earning: a new reason"


# -- the widget ------------------------------------------------------------------------------

QtCore = pytest.importorskip("PySide6.QtCore")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication, QTreeWidget, QTreeWidgetItem, QWidget  # noqa: E402

from edgenet_app.app.charts import CurveChart, EarningsChart  # noqa: E402
from edgenet_app.app.dashboard import Dashboard  # noqa: E402
from edgenet_app.app.fake import FakeSource, sample_history, sample_status  # noqa: E402
from edgenet_app.app.model import AppModel  # noqa: E402
from edgenet_app.app.theme import DARK, LIGHT, Theme, apply_palette  # noqa: E402


@pytest.fixture
def light(qapp: QApplication) -> Iterator[QApplication]:
    """Light palette for the test, the application's own restored after."""
    before = QGuiApplication.palette()
    apply_palette(qapp, Qt.ColorScheme.Light)
    yield qapp
    qapp.setPalette(before)


@pytest.fixture
def model(light: QApplication) -> AppModel:
    return AppModel(FakeSource())


@pytest.fixture
def dash(qtbot: Any, model: AppModel) -> Dashboard:
    d = Dashboard(model)
    qtbot.addWidget(d)
    d.resize(960, 640)
    return d


def render(widget: QWidget, w: int = 480, h: int = 240) -> QImage:
    widget.resize(w, h)
    return widget.grab().toImage()


def row(tree: QTreeWidget, i: int) -> QTreeWidgetItem:
    item = tree.topLevelItem(i)
    assert item is not None
    return item


def distinct_pixels(img: QImage) -> int:
    """How many pixels differ from the top-left one (0 = a blank image)."""
    first = img.pixel(0, 0)
    return sum(
        1
        for y in range(0, img.height(), 2)
        for x in range(0, img.width(), 2)
        if img.pixel(x, y) != first
    )


def test_labels_show_the_status(dash: Dashboard, model: AppModel) -> None:
    model.statusChanged.emit(sample_status())
    assert dash.credits.value.text() == "1,284.51"
    assert "36.2 locked" in dash.credits.detail.text()
    assert "100 staked" in dash.credits.detail.text()
    assert "one hour" in dash.credits.toolTip() and "Staked" in dash.credits.toolTip()
    assert dash.tasks.value.text() == "847"
    assert dash.rank.value.text() == "#12"
    assert dash.rank.detail.text() == "of 340 contributors"
    assert "#12 of 340" in dash.rank.toolTip()
    assert dash.uptime.value.text() == "1 d 13 h"
    assert dash.reputation.value.text() == "97%"
    assert dash.multiplier.text() == "9.62×"
    assert dash.peers_value.text() == "8"
    assert dash.cpu_value.text() == "5.2 h"
    assert dash.why.text() == "Earning: accepting tasks (30% of the machine)"
    assert dash.curve.cpu_hours == 41_250.0


def test_a_new_status_updates_the_labels(dash: Dashboard, model: AppModel) -> None:
    model.statusChanged.emit(sample_status())
    later = dataclasses.replace(
        sample_status("on_battery"),
        credits=Credits(2_000_000_000, 1_500_000, 100_000_000),
        tasks_completed=900,
        rank=(3, 341),
        uptime_s=3600 * 50,
        multiplier=4.31,
        network_cpu_hours=1_000_000.0,
        peers=("a",),
    )
    model.statusChanged.emit(later)
    assert dash.credits.value.text() == "2,000"
    assert dash.tasks.value.text() == "900"
    assert dash.rank.value.text() == "#3"
    assert dash.uptime.value.text() == "2 d 2 h"
    assert dash.multiplier.text() == "4.31×"
    assert dash.peers_value.text() == "1"
    assert dash.why.text().startswith("Not earning: on battery at 42%")
    assert dash.curve.cpu_hours == 1_000_000.0


def test_missing_numbers_read_as_not_yet_known(dash: Dashboard, model: AppModel) -> None:
    model.statusChanged.emit(
        NodeStatus(None, "edgenet", "00", "offline", "no peer connected", multiplier=0.0)
    )
    assert dash.rank.value.text() == "—"
    assert dash.multiplier.text() == "—"
    assert dash.credits.value.text() == "0"
    assert dash.why.text() == "Not earning: no peer connected — checking the network…"


def test_connection_and_cpu_limit(dash: Dashboard, model: AppModel) -> None:
    model.statusChanged.emit(sample_status())
    model.connectedChanged.emit(False)
    assert "lost contact" in dash.why.text()
    model.connectedChanged.emit(True)
    assert dash.why.text().startswith("Earning")
    model.settingsChanged.emit({"values": {"cpu_limit": 0.3}})
    assert dash.cpu_meter.mark == pytest.approx(0.3)
    assert "limit 30%" in dash.cpu_detail.text()


def test_a_model_that_already_has_data_is_shown_at_once(qtbot: Any, model: AppModel) -> None:
    model.status = sample_status("paused")
    model.history = sample_history()
    d = Dashboard(model)
    qtbot.addWidget(d)
    assert d.tasks.value.text() == "847"
    assert d.why.text() == "Not earning: paused by you — Resume from the tray menu"
    assert d.recent.topLevelItemCount() == 20


def test_recent_tasks_fill_newest_first(dash: Dashboard, model: AppModel) -> None:
    history = sample_history()
    tasks = list(history.tasks)
    random.Random(5).shuffle(tasks)
    model.historyChanged.emit(NodeHistory(tuple(tasks), history.earnings))
    tree = dash.recent
    assert tree.topLevelItemCount() == len(tasks)
    assert not tree.isHidden() and dash.empty_tasks.isHidden()
    newest = max(tasks, key=lambda t: t.created_ms)
    first = row(tree, 0)
    assert first.text(1) == display.kind_label(newest.kind)
    assert first.text(2) == newest.role
    assert first.text(4) == display.plain_credits(newest.credits)
    statuses = [row(tree, i).text(3) for i in range(tree.topLevelItemCount())]
    order = sorted(tasks, key=lambda t: t.created_ms, reverse=True)
    assert statuses == [t.status for t in order]
    failed = next(i for i, t in enumerate(order) if t.status == "failed")
    assert "timeout" in row(tree, failed).toolTip(0)
    assert not row(tree, 0).icon(3).isNull()  # the coloured status dot

    model.historyChanged.emit(NodeHistory())
    assert tree.topLevelItemCount() == 0
    assert tree.isHidden() and not dash.empty_tasks.isHidden()


def test_earnings_chart_handles_empty_one_and_many_points(light: QApplication) -> None:
    chart = EarningsChart()
    chart.set_theme(LIGHT)
    now = 1_750_000_000_000
    sizes = {}
    for n in (0, 1, 2, 500):
        chart.set_points([[now - (n - i) * 600_000, (i + 1) * 250_000] for i in range(n)])
        img = render(chart)
        assert not img.isNull()
        sizes[n] = distinct_pixels(img)
        assert sizes[n] > 50, f"{n} points rendered blank"
    assert sizes[500] > sizes[1]  # the area under a real series is filled
    chart.set_points([[now, 0], [now + 1, 0]])  # all zero, all at once
    assert distinct_pixels(render(chart)) > 50


def test_earnings_chart_ranges_and_hover(qtbot: Any, light: QApplication) -> None:
    chart = EarningsChart()
    qtbot.addWidget(chart)
    points = sample_history().earnings
    chart.set_points(list(reversed(points)))  # sorted by time whatever the input order
    assert chart.points[0][0] < chart.points[-1][0]
    t0, t1, y0, y1 = chart.ranges()
    assert (t0, t1) == (points[0][0], points[-1][0])
    assert y0 == 0 and y1 >= points[-1][1] / econ.MICRO
    chart.resize(480, 240)
    chart.show()
    qtbot.waitExposed(chart)
    chart.grab()
    qtbot.mouseMove(chart, QPoint(470, 120))
    assert chart._hover == len(points) - 1


def test_curve_marker_moves_with_the_network(light: QApplication) -> None:
    chart = CurveChart()
    chart.set_theme(LIGHT)
    chart.set_position(41_250, 9.6184)
    render(chart, 360, 200)
    young = chart.marker
    chart.set_position(3_000_000)
    render(chart, 360, 200)
    grown = chart.marker
    assert grown.x() > young.x() and grown.y() > young.y()  # right and down
    assert "CPU-hours" in chart.toolTip()


def test_theme_follows_the_palette_and_changes_the_colours(
    dash: Dashboard, model: AppModel, light: QApplication
) -> None:
    model.statusChanged.emit(sample_status())
    model.historyChanged.emit(sample_history())
    assert dash.theme == LIGHT and dash.earnings.theme == LIGHT
    light_img = dash.grab().toImage()
    apply_palette(light, Qt.ColorScheme.Dark)
    dash.follow_system()  # what colorSchemeChanged / a palette change event triggers
    assert dash.theme == DARK
    assert dash.earnings.theme == DARK and dash.curve.theme == DARK
    dark_img = dash.grab().toImage()
    assert dark_img != light_img
    # the background really is dark now, and light again after switching back
    assert dark_img.pixelColor(3, 3).lightnessF() < 0.3 < light_img.pixelColor(3, 3).lightnessF()
    apply_palette(light, Qt.ColorScheme.Light)
    dash.follow_system()
    assert dash.theme == LIGHT


def test_palette_change_alone_switches_the_theme(
    qtbot: Any, dash: Dashboard, light: QApplication
) -> None:
    apply_palette(light, Qt.ColorScheme.Dark)
    qtbot.waitUntil(lambda: dash.theme == DARK, timeout=2000)


def test_theme_choice() -> None:
    assert Theme.for_scheme(Qt.ColorScheme.Dark) is DARK
    assert Theme.for_scheme(Qt.ColorScheme.Light) is LIGHT
    assert Theme.for_scheme(Qt.ColorScheme.Unknown) is LIGHT
    for role in ("background", "card", "text", "muted", "accent", "good", "warn", "bad"):
        assert getattr(LIGHT, role) != getattr(DARK, role)
    assert LIGHT.color("accent", 0.5).alphaF() == pytest.approx(0.5, abs=0.01)


def test_the_idle_source_is_shown(qtbot: Any) -> None:
    from edgenet_app.app.dashboard import Dashboard
    from edgenet_app.app.fake import FakeSource, sample_status
    from edgenet_app.app.model import AppModel

    model = AppModel(FakeSource())
    board = Dashboard(model)
    qtbot.addWidget(board)
    model.statusChanged.emit(
        dataclasses.replace(sample_status(), idle_source="GNOME Mutter IdleMonitor")
    )
    assert board.idle_value.text() == "GNOME Mutter IdleMonitor"
    model.statusChanged.emit(
        dataclasses.replace(sample_status(), idle_source="none (no idle source)")
    )
    assert board.idle_value.text() == "none (no idle source)"

"""The app's wording (app/display/): pure and Qt-free, the one place widgets take text from;
and the public surface of the settings package (app/settings/).

The display tests need no Qt; the last ones build widgets offscreen.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys

import pytest

from edgenet_app.app import display
from edgenet_app.app.display import labels
from edgenet_app.core.status import Credits, NodeStatus, TaskEntry

# -- the package -----------------------------------------------------------------------------


@pytest.mark.slow
def test_display_imports_no_qt() -> None:
    code = (
        "import sys\n"
        "import edgenet_app.app.display as d\n"
        "assert d.labels.PAUSE and d.why_line\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_display_reexports_formats_and_status() -> None:
    from edgenet_app.app.display import formats, status

    for name in display.__all__:
        assert hasattr(display, name), name
    assert display.why_line is status.why_line
    assert display.format_uptime is formats.format_uptime
    assert display.labels is labels


# -- formats ---------------------------------------------------------------------------------


def test_percent_and_duration_formats() -> None:
    assert display.format_slider_percent(0.3) == "30 %"
    assert display.format_slider_percent(0.125) == "12.5 %"
    assert display.format_slider_percent(0.333) == "33.3 %"
    assert display.format_exact_percent(0.5) == "50 %"
    assert display.format_exact_percent(0.125) == "12.5 %"
    assert display.format_duration(0) == "at once"
    assert display.format_duration(180) == "3 min"
    assert display.format_duration(3725) == "1 h 2 min 5 s"
    assert display.format_axis_multiplier(10.0) == "10×"
    assert display.format_count(1234567) == "1,234,567"


def test_short_credits_and_sentence() -> None:
    assert display.short_credits(1_284_500_000) == "1,284.5"
    assert display.short_credits(3_250_000) == "3.25"
    assert display.short_credits(150_000) == "0.15"
    assert display.short_credits(3_000_000) == "3"
    assert display.sentence("  lost contact ") == "Lost contact"
    assert display.sentence("") == ""


# -- the status in words -----------------------------------------------------------------------


def test_state_and_tray_lines() -> None:
    status = NodeStatus(
        "n", "edgenet", "00", "paused", "paused by the user", Credits(available=3_200_000)
    )
    assert display.state_of(status, True) == "paused"
    assert display.state_of(status, False) == "offline"
    assert display.state_of(dataclasses.replace(status, state="dreaming"), True) == "offline"
    assert display.state_of(None, True) == "offline"
    assert display.STATE_TITLES["waiting_for_idle"] == "Waiting for idle"
    assert display.reason_text(status, True) == "Paused by the user"
    assert display.reason_text(None, False) == "Connecting to the node…"
    assert display.reason_text(status, False) == "Lost contact with the node"
    ranked = dataclasses.replace(status, rank=(12, 340))
    assert display.credits_line(ranked) == "3.2 credits · rank #12 of 340"
    assert display.credits_line(status) == "3.2 credits"
    assert display.credits_line(None) == "Credits unknown"
    assert display.tray_tooltip(status, True) == "edgenet — paused · 3.2 credits"
    assert display.tray_tooltip(status, False) == "edgenet — offline"


def test_dashboard_stat_lines() -> None:
    credits = Credits(1_284_513_000, 36_200_000, 100_000_000)
    assert display.credits_detail(credits) == "36.2 locked · 100 staked"
    assert display.credits_available(credits) == "1,284.513 credits available"
    assert display.tasks_detail(0) == "for other people"
    assert display.tasks_detail(1234) == "1,234 submitted by you"
    assert display.rank_texts([12, 3400]) == ("#12", "of 3,400 contributors")
    assert display.rank_texts([]) == ("—", "not ranked yet")
    assert display.rank_texts([0, 10]) == ("—", "not ranked yet")
    assert display.rank_tip([12, 340]) == "By total credits: #12 of 340"
    assert display.stage_line(41_250) == "Very early network · 41K CPU-hours so far"
    assert display.cpu_detail(0.03, 0.3) == "3% of this machine on average since start · limit 30%"
    assert display.cpu_detail(0.5, None) == "50% of this machine on average since start"


def test_ids_and_sources_are_cut_where_the_dashboard_cuts_them() -> None:
    assert display.short_node_id("") == "—"
    assert display.short_node_id("a" * 12) == "a" * 12
    assert display.short_node_id("a" * 13) == "a" * 12 + "…"
    assert display.node_banner("q4mzx7k2lfw3") == "node q4mzx7k2"
    assert display.node_banner("") == ""
    assert display.idle_source_label("x" * 30) == "x" * 30
    assert display.idle_source_label("x" * 31) == "x" * 29 + "…"
    assert display.idle_source_tip("logind") == "How edgenet knows you are away: logind"


def test_task_and_chart_tips() -> None:
    done = TaskEntry("0123456789abcdef0123", "embedding", "executed", "done", 0, 1, 0)
    assert display.task_tip(done) == "task 0123456789abcdef…"
    failed = display.task_tip(dataclasses.replace(done, task="ab", error="timeout"))
    assert failed == "task ab…\ntimeout"
    assert display.earned_total(172_032_000) == "172.032 credits in total"
    assert display.earned_point_tip(0, 1_500_000).endswith("\n1.5 credits earned")
    assert display.curve_tip(41_250).startswith("The network has contributed 41,250 CPU-hours")
    assert display.curve_marker_lines(41_250) == ("network now", "41K CPU-hours")


def test_credit_notification_sentence() -> None:
    assert display.credits_earned(150_000, 1) == "You earned 0.15 credits for 1 task"
    assert display.credits_earned(3_200_000, 1400) == "You earned 3.2 credits for 1,400 tasks"


# -- fixed wording -----------------------------------------------------------------------------


def test_labels_with_a_value() -> None:
    assert labels.snooze_until(dt.time(8, 0)) == "Until tomorrow, 08:00"
    assert labels.cpu_share(30) == "30 % of this computer's processor"
    assert labels.page_with_problems("Network") == "Network  ⚠"
    assert (
        labels.fix_before_applying([("Relays", "Network"), ("CPU limit", "Contribution")])
        == "Fix before applying: Relays (Network), CPU limit (Contribution)."
    )
    assert labels.saved([]) == "Saved and applied."
    assert labels.saved(["CPU limit"]) == (
        "Saved and applied. Still overridden by the config file or command line: CPU limit."
    )
    assert labels.autostart_failed("Saved.", "no entry") == (
        "Saved. But start at login could not be changed: no entry"
    )
    assert "currently starts edgenet" in labels.autostart_drift(True)
    assert "currently does not start edgenet" in labels.autostart_drift(False)
    assert labels.warning_line("odd key") == "⚠ odd key"
    assert labels.idle_after_side(59) == ""
    assert labels.idle_after_side(3725) == "= 1 h 2 min 5 s"
    assert labels.machine_memory(16 * 1024**3) == "of 16.0 GB on this computer"
    assert labels.hour_label(9) == "09"
    assert labels.hour_tip(0, 9, 1.0) == "Mon 09:00–10:00: allowed"
    assert labels.hour_tip(6, 23, 0.5) == "Sun 23:00–24:00: part allowed"
    assert labels.hour_tip(2, 0, 0.0) == "Wed 00:00–01:00: off"


def test_settings_pages_and_presets_take_their_words_from_labels() -> None:
    from edgenet_app.app.settings.pages import PAGES
    from edgenet_app.app.settings.schedule_grid import PRESETS

    assert [p.key for p in PAGES] == list(labels.SETTINGS_PAGES)
    for page in PAGES:
        assert (page.title, page.subtitle) == labels.SETTINGS_PAGES[page.key]
    headings = [s.title for p in PAGES for s in p.sections]
    assert headings == list(labels.SETTINGS_SECTIONS.values())
    names = [labels.PRESET_ALWAYS, labels.PRESET_NEVER, labels.PRESET_EVENINGS]
    assert list(PRESETS) == names


# -- widgets that use them (offscreen) ---------------------------------------------------------

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.mark.usefixtures("qapp")
def test_first_run_has_a_badge_for_every_point() -> None:
    from edgenet_app.app.first_run import BADGES, FirstRunDialog

    assert [glyph for glyph, _ in BADGES] == list(labels.WELCOME_POINTS)
    dialog = FirstRunDialog()
    assert dialog.windowTitle() == labels.WELCOME
    assert dialog.agree.text() == labels.AGREE and dialog.not_now.text() == labels.NOT_NOW


def test_settings_package_surface() -> None:
    import edgenet_app.app.settings as settings
    from edgenet_app.app.settings import dialog, pages, schedule_grid

    assert settings.SettingsDialog is dialog.SettingsDialog
    assert settings.layout_settings is pages.layout_settings
    assert settings.schedule_from_grid is schedule_grid.schedule_from_grid
    for name in settings.__all__:
        assert hasattr(settings, name), name


@pytest.mark.usefixtures("qapp")
def test_build_page_makes_a_row_per_setting_in_order() -> None:
    from PySide6.QtWidgets import QWidget

    from edgenet_app.app.settings import layout_settings
    from edgenet_app.app.settings.page_widgets import build_page

    owner = QWidget()
    page, sections = layout_settings()[0]
    built = build_page(owner, page, sections)
    keys = [s.key for _, group in sections for s in group]
    assert [r.setting.key for r in built.rows] == keys
    assert all(r.field.setting is r.setting for r in built.rows)
    assert built.restore.text() == labels.RESTORE_DEFAULTS
    assert built.restore.objectName() == f"restore:{page.key}"
    content = built.scroll.widget()
    assert content is not None and content.objectName() == f"page:{page.key}"
    assert all(content.isAncestorOf(r.field) for r in built.rows)

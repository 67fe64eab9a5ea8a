"""The settings dialog (app/settings/): generated from the schema, validated as you
type, applied live through the model, and the schedule grid <-> text converter.

Runs offscreen with FakeSource (which validates with the real schema); coroutines run on a
qasync loop, as in the app.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is loaded

import qasync  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QDialog, QScrollArea

from edgenet_app.app.fake import FakeSource
from edgenet_app.app.model import AppModel
from edgenet_app.app.settings import SettingsDialog, humanise, layout_settings
from edgenet_app.app.settings import fields as sf
from edgenet_app.app.settings.schedule_grid import (
    EMPTY_GRID,
    FULL_GRID,
    PRESETS,
    OffGridError,
    coverage,
    grid_from_schedule,
    schedule_from_grid,
)
from edgenet_app.core.errors import SettingsError
from edgenet_app.core.schedule import DAYS, ScheduleError, parse_schedule
from edgenet_app.core.settings import SETTINGS, Setting, defaults, get_setting, validate
from edgenet_app.runtime.platform import autostart

pytestmark = pytest.mark.usefixtures("qapp")


# --- harness --------------------------------------------------------------------------------


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    lp = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()
    asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def login_entry(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Never touch the real login entry: record set_enabled calls, report "not enabled"."""
    calls: list[bool] = []
    state = {"enabled": False}

    def set_enabled(enabled: bool, *args: Any, **kwargs: Any) -> None:
        calls.append(enabled)
        state["enabled"] = enabled

    monkeypatch.setattr(autostart, "set_enabled", set_enabled)
    monkeypatch.setattr(autostart, "is_enabled", lambda **_kw: state["enabled"])
    return calls


class Harness:
    def __init__(self, loop: qasync.QEventLoop, source: FakeSource, qtbot: Any) -> None:
        self.loop = loop
        self.source = source
        self.model = AppModel(source)
        self.dialog = SettingsDialog(self.model)
        qtbot.addWidget(self.dialog)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def load(self) -> None:
        self.run(self.dialog.load())

    def click(self, button: Any) -> None:
        """Click in a running loop (the dialog starts a task) and wait for that task."""

        async def go() -> None:
            button.click()
            if self.dialog.pending is not None:
                await self.dialog.pending

        self.run(go())

    def set_calls(self) -> list[dict[str, Any]]:
        return [arg for name, arg in self.source.calls if name == "set_settings"]


@pytest.fixture
def h(loop: qasync.QEventLoop, qtbot: Any) -> Harness:
    harness = Harness(loop, FakeSource(), qtbot)
    harness.load()
    return harness


def schema_reason(key: str, value: object) -> str:
    """The schema's message for an invalid value, without the leading key."""
    with pytest.raises(SettingsError) as info:
        validate(key, value)
    return humanise(str(info.value), key)


# --- built from the schema ------------------------------------------------------------------


def test_every_setting_has_a_widget(h: Harness) -> None:
    assert set(h.dialog.fields) == {s.key for s in SETTINGS}
    placed = [s.key for _, sections in layout_settings() for _, group in sections for s in group]
    assert sorted(placed) == sorted(s.key for s in SETTINGS)  # each exactly once
    for s in SETTINGS:
        field = h.dialog.field(s.key)
        assert field.setting is s
        page = h.dialog.stack.widget(h.dialog.page_of[s.key])
        assert page is not None and page.isAncestorOf(field), s.key
        validate(s.key, field.raw())  # every field shows a valid value after loading


NEW_SETTINGS = (
    Setting("notify.sound", bool, True, "Play a sound.", "Sound"),
    Setting("idle.grace_s", int, 5, "Grace.", "Grace", min=0, max=60, unit="seconds"),
    Setting("gpu_limit", float, 0.2, "GPU.", "GPU", min=0.0, max=1.0, unit="fraction of x"),
    Setting("ratio", float, 1.5, "Ratio.", "Ratio", min=1.0, max=4.0),
    Setting("nickname", str, "", "Name.", "Nickname"),
    Setting("mode", str, "a", "Mode.", "Mode", choices=("a", "b")),
    Setting("network.peers", list, (), "Peers.", "Peers", min=0, max=4),
    Setting("colors", list, ("r",), "Colors.", "Colors", choices=("r", "g")),
)


def test_new_settings_get_a_default_widget_per_type() -> None:
    kinds = [type(sf.make_field(s)).__name__ for s in NEW_SETTINGS]
    assert kinds == [
        "BoolField",
        "NumberField",
        "PercentField",
        "NumberField",
        "TextField",
        "ComboField",
        "LinesField",
        "ChoicesField",
    ]
    pages = {
        s.key: page.key
        for page, sections in layout_settings(NEW_SETTINGS)
        for _, group in sections
        for s in group
    }
    assert pages["idle.grace_s"] == "when" and pages["network.peers"] == "network"
    assert pages["nickname"] == "system" and pages["notify.sound"] == "system"
    for s in NEW_SETTINGS:
        field = sf.make_field(s)
        field.set_value(s.default)
        raw = field.raw()
        assert (tuple(raw) if isinstance(raw, list) else raw) == s.default


def test_a_setting_added_to_the_schema_appears_and_applies(
    loop: qasync.QEventLoop, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgenet_app.app.settings import pages as settings_pages
    from edgenet_app.core import settings as schema

    added = (*SETTINGS, NEW_SETTINGS[1], NEW_SETTINGS[6])
    monkeypatch.setattr(schema, "SETTINGS", added)
    monkeypatch.setattr(schema, "_BY_KEY", {s.key: s for s in added})
    monkeypatch.setattr(settings_pages, "SETTINGS", added)
    h = Harness(loop, FakeSource(), qtbot)
    h.load()
    d = h.dialog
    assert {"idle.grace_s", "network.peers"} <= set(d.fields)
    when = d.stack.widget(1)
    assert isinstance(when, QScrollArea)
    assert d.rows["idle.grace_s"].label.parentWidget() is when.widget()  # under "More settings"
    d.field("idle.grace_s").spin.setValue(70)  # type: ignore[attr-defined]
    assert d.field("idle.grace_s").raw() == 60  # clamped to the schema's bounds
    d.field("network.peers").edit.setPlainText("peer-a\npeer-a")  # type: ignore[attr-defined]
    assert "duplicate" in d.error_text("network.peers")
    d.field("network.peers").edit.setPlainText("peer-a")  # type: ignore[attr-defined]
    h.run(d.apply())
    assert h.set_calls() == [{"idle.grace_s": 60, "network.peers": ["peer-a"]}]


def test_hand_tuned_widgets(h: Harness) -> None:
    cpu = h.dialog.field("cpu_limit")
    assert isinstance(cpu, sf.PercentField)
    assert (cpu.slider.minimum(), cpu.slider.maximum()) == (10, 100)
    cpu.slider.setValue(55)
    assert cpu.label.text() == "55 %" and cpu.raw() == 0.55
    kinds = h.dialog.field("task_kinds")
    assert isinstance(kinds, sf.ChoicesField)
    assert kinds.boxes["embedding"].text() == "Text embeddings"
    assert "MiniLM" in kinds.boxes["embedding"].toolTip()  # the registry's summary
    bandwidth = h.dialog.field("bandwidth_limit_kib_s")
    assert isinstance(bandwidth, sf.NumberField)
    assert bandwidth.spin.specialValueText() == "Unlimited"
    assert isinstance(h.dialog.field("schedule"), sf.ScheduleField)
    assert isinstance(h.dialog.field("network.relays"), sf.LinesField)


# --- loading --------------------------------------------------------------------------------


def test_loading_shows_current_values(loop: qasync.QEventLoop, qtbot: Any) -> None:
    source = FakeSource()
    source.values.update(
        {
            "cpu_limit": 0.45,
            "memory_limit_mb": 2048,
            "task_kinds": ("embedding", "encryption"),
            "network.relays": ("wss://a.example", "ws://10.0.0.2:8765"),
            "schedule": "mon-fri 18:00-24:00, sat-sun",
            "idle.respect_battery": False,
        }
    )
    h = Harness(loop, source, qtbot)
    assert not h.dialog.loaded and not h.dialog.apply_button.isEnabled()
    h.load()
    d = h.dialog
    assert d.loaded and d.field("cpu_limit").raw() == 0.45
    assert d.field("cpu_limit").label.text() == "45 %"  # type: ignore[attr-defined]
    assert d.field("memory_limit_mb").raw() == 2048
    assert d.field("task_kinds").raw() == ["embedding", "encryption"]
    assert d.field("network.relays").raw() == ["wss://a.example", "ws://10.0.0.2:8765"]
    grid = d.field("schedule").editor.grid.grid()  # type: ignore[attr-defined]
    assert grid[0][18] and not grid[0][17] and all(grid[5])
    assert not d.rows["idle.battery_threshold"].field.isEnabled()  # depends on the check box
    assert d.changes() == {} and not d.apply_button.isEnabled() and d.ok_button.isEnabled()


def test_load_failure_is_shown(loop: qasync.QEventLoop, qtbot: Any) -> None:
    source = FakeSource()
    source.fail_next = "cannot reach the node at 127.0.0.1:7311"
    h = Harness(loop, source, qtbot)
    h.load()
    assert not h.dialog.loaded
    assert "cannot reach the node" in h.dialog.status.text()


def test_showing_the_dialog_loads_without_blocking(loop: qasync.QEventLoop, qtbot: Any) -> None:
    h = Harness(loop, FakeSource(), qtbot)

    async def show() -> None:
        h.dialog.show()
        task = h.dialog.pending
        assert task is not None and not task.done()  # loading runs as a task
        await task

    h.run(show())
    assert h.dialog.loaded


def test_closing_while_loading_stops_the_load(loop: qasync.QEventLoop, qtbot: Any) -> None:
    h = Harness(loop, FakeSource(), qtbot)

    async def show_and_close() -> None:
        h.dialog.show()
        task = h.dialog.pending
        assert task is not None
        h.dialog.reject()
        await asyncio.sleep(0)
        assert task.cancelled()

    h.run(show_and_close())
    assert not h.dialog.loaded and h.dialog.pending is None


def test_source_notes_for_overridden_settings(loop: qasync.QEventLoop, qtbot: Any) -> None:
    class Overridden(FakeSource):
        async def settings(self) -> dict[str, Any]:
            out = await super().settings()
            out["sources"].update(cpu_limit="toml", memory_limit_mb="cli")
            out["warnings"] = ["stored setting 'x' is not a known setting; ignored"]
            return out

    h = Harness(loop, Overridden(), qtbot)
    h.load()
    rows = h.dialog.rows
    assert rows["cpu_limit"].note.text().startswith("Set by the config file")
    assert "saved but overridden" in rows["cpu_limit"].note.text()
    assert rows["memory_limit_mb"].note.text().startswith("Set on the command line")
    assert rows["bandwidth_limit_kib_s"].note.isHidden()
    assert not h.dialog.banner.isHidden() and "not a known setting" in h.dialog.banner.text()


# --- validation as you type -----------------------------------------------------------------


def test_invalid_relay_shows_the_schema_message_and_disables_apply(h: Harness) -> None:
    d = h.dialog
    relays = d.field("network.relays")
    assert isinstance(relays, sf.LinesField)
    relays.edit.setPlainText("wss://ok.example\nhttp://x")
    reason = schema_reason("network.relays", ["wss://ok.example", "http://x"])
    assert "scheme must be ws:// or wss://" in reason
    assert d.error_text("network.relays") == reason
    assert d.rows["network.relays"].error.text() == reason
    assert not d.rows["network.relays"].error.isHidden()
    assert len(relays.edit.extraSelections()) == 1  # only the bad line is marked
    assert not d.apply_button.isEnabled() and not d.ok_button.isEnabled()
    assert "⚠" in d.sidebar.item(d.page_of["network.relays"]).text()
    assert "Relays (Network)" in d.status.text()
    relays.edit.setPlainText("wss://ok.example\nws://x:8765")
    assert d.error_text("network.relays") == "" and d.rows["network.relays"].error.isHidden()
    assert d.apply_button.isEnabled() and "⚠" not in d.sidebar.item(2).text()


def test_ice_server_and_schedule_text_validate_as_you_type(h: Harness) -> None:
    d = h.dialog
    ice = d.field("network.ice_servers")
    assert isinstance(ice, sf.LinesField)
    ice.edit.setPlainText("stun://host")
    assert d.error_text("network.ice_servers") == schema_reason(
        "network.ice_servers", ["stun://host"]
    )
    ice.edit.setPlainText("")
    editor = d.field("schedule").editor  # type: ignore[attr-defined]
    editor.text_button.setChecked(True)
    editor.text_edit.setText("mon-fri 25:00-26:00")
    editor.text_edit.textEdited.emit("mon-fri 25:00-26:00")
    assert d.error_text("schedule") == schema_reason("schedule", "mon-fri 25:00-26:00")
    assert "hours must be 00–23" in d.error_text("schedule")
    assert not d.apply_button.isEnabled()


def test_cross_field_rule_is_reported(h: Harness) -> None:
    d = h.dialog
    in_use = d.field("idle.in_use_cpu_limit")
    assert isinstance(in_use, sf.PercentField)
    in_use.slider.setValue(50)  # above the CPU limit of 30 %
    msg = d.error_text("idle.in_use_cpu_limit")
    assert "must not exceed" in msg and "CPU limit" in msg
    assert "cpu_limit" not in msg  # keys are shown as labels
    assert msg == "50 % must not exceed CPU limit (30 %)"  # in the sliders' units
    assert d.error_text("cpu_limit") != ""  # both fields of the rule say so
    assert not d.apply_button.isEnabled()
    d.field("cpu_limit").slider.setValue(60)  # type: ignore[attr-defined]
    assert d.errors == {} and d.apply_button.isEnabled()


def test_task_kinds_cannot_be_empty(h: Harness) -> None:
    kinds = h.dialog.field("task_kinds")
    assert isinstance(kinds, sf.ChoicesField)
    for box in kinds.boxes.values():
        box.setChecked(False)
    assert h.dialog.error_text("task_kinds") == schema_reason("task_kinds", [])
    assert not h.dialog.ok_button.isEnabled()


# --- applying -------------------------------------------------------------------------------


def test_apply_sends_only_the_changed_keys(h: Harness) -> None:
    d = h.dialog
    d.field("cpu_limit").slider.setValue(50)  # type: ignore[attr-defined]
    d.field("network.relays").edit.setPlainText("wss://relay.example")  # type: ignore[attr-defined]
    assert d.apply_button.isEnabled()
    h.click(d.apply_button)
    assert h.set_calls() == [{"cpu_limit": 0.5, "network.relays": ["wss://relay.example"]}]
    assert h.source.values["cpu_limit"] == 0.5
    assert h.source.values["network.relays"] == ("wss://relay.example",)
    assert d.changes() == {} and not d.apply_button.isEnabled()
    assert "Saved and applied" in d.status.text()
    h.click(d.apply_button)  # disabled: nothing more is sent
    assert len(h.set_calls()) == 1


def test_a_value_the_widget_cannot_show_exactly_is_not_a_change(
    loop: qasync.QEventLoop, qtbot: Any
) -> None:
    source = FakeSource()
    source.values["cpu_limit"] = 0.333
    h = Harness(loop, source, qtbot)
    h.load()
    assert h.dialog.changes() == {}
    h.dialog.field("memory_limit_mb").spin.setValue(1024)  # type: ignore[attr-defined]
    h.run(h.dialog.apply())
    assert h.set_calls() == [{"memory_limit_mb": 1024}]


def test_node_refusal_is_shown_and_edits_stay(h: Harness) -> None:
    d = h.dialog
    d.field("memory_limit_mb").spin.setValue(4096)  # type: ignore[attr-defined]
    h.source.fail_next = "the store is read-only: disk full"
    assert h.run(d.apply()) is False
    assert "the store is read-only: disk full" in d.status.text()
    assert d.status.property("kind") == "error"
    assert d.changes() == {"memory_limit_mb": 4096} and d.apply_button.isEnabled()
    assert h.source.values["memory_limit_mb"] == 512
    assert h.run(d.apply()) is True  # the node accepts it the second time
    assert h.source.values["memory_limit_mb"] == 4096


def test_ok_applies_then_closes(h: Harness) -> None:
    d = h.dialog
    d.show()
    d.field("auto_stake").box.setChecked(False)  # type: ignore[attr-defined]
    h.click(d.ok_button)
    assert h.set_calls() == [{"auto_stake": False}]
    assert d.result() == QDialog.DialogCode.Accepted


def test_ok_with_a_refusal_keeps_the_dialog_open(h: Harness) -> None:
    d = h.dialog
    d.show()
    d.field("auto_stake").box.setChecked(False)  # type: ignore[attr-defined]
    h.source.fail_next = "refused"
    h.click(d.ok_button)
    assert d.isVisible() and "refused" in d.status.text()


def test_restore_defaults_per_page(loop: qasync.QEventLoop, qtbot: Any) -> None:
    source = FakeSource()
    source.values.update({"cpu_limit": 0.8, "memory_limit_mb": 1024, "idle.min_idle_seconds": 300})
    h = Harness(loop, source, qtbot)
    h.load()
    d = h.dialog
    contribution = d.page_of["cpu_limit"]
    d.restore_buttons[contribution].click()
    assert d.field("cpu_limit").raw() == get_setting("cpu_limit").default
    assert d.field("memory_limit_mb").raw() == 512
    assert d.field("idle.min_idle_seconds").raw() == 300  # another page: untouched
    h.run(d.apply())
    assert h.set_calls() == [{"cpu_limit": 0.3, "memory_limit_mb": 512}]
    assert h.source.values == {**defaults(), "idle.min_idle_seconds": 300}


def test_settings_changed_elsewhere_refresh_untouched_fields(h: Harness) -> None:
    d = h.dialog
    d.field("memory_limit_mb").spin.setValue(777)  # type: ignore[attr-defined]
    values = {**defaults(), "cpu_limit": 0.9, "memory_limit_mb": 1024}
    h.model.settingsChanged.emit({"values": values, "sources": {}, "warnings": []})
    assert d.field("cpu_limit").raw() == 0.9  # the user left it alone
    assert d.field("memory_limit_mb").raw() == 777  # the user's edit stays
    assert d.changes() == {"memory_limit_mb": 777}


# --- start at login -------------------------------------------------------------------------


def test_start_at_login_calls_autostart(h: Harness, login_entry: list[bool]) -> None:
    d = h.dialog
    d.field("start_at_login").box.setChecked(True)  # type: ignore[attr-defined]
    h.click(d.apply_button)
    assert h.set_calls() == [{"start_at_login": True}]
    assert login_entry == [True]
    d.field("start_at_login").box.setChecked(False)  # type: ignore[attr-defined]
    h.click(d.apply_button)
    assert login_entry == [True, False]
    d.field("memory_limit_mb").spin.setValue(1024)  # type: ignore[attr-defined]
    h.click(d.apply_button)
    assert login_entry == [True, False]  # not touched by other changes


def test_start_at_login_failure_is_shown(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(enabled: bool, *a: Any, **kw: Any) -> None:
        raise autostart.AutostartError("cannot write /home/x/.config/autostart: read-only")

    monkeypatch.setattr(autostart, "set_enabled", refuse)
    h.dialog.field("start_at_login").box.setChecked(True)  # type: ignore[attr-defined]
    assert h.run(h.dialog.apply()) is False
    assert "read-only" in h.dialog.status.text()


def test_login_entry_drift_is_noted_and_fixed(
    loop: qasync.QEventLoop, qtbot: Any, monkeypatch: pytest.MonkeyPatch, login_entry: list[bool]
) -> None:
    monkeypatch.setattr(autostart, "is_enabled", lambda **_kw: True)  # but the setting is off
    h = Harness(loop, FakeSource(), qtbot)
    h.load()
    d = h.dialog
    assert "currently starts edgenet at login" in d.rows["start_at_login"].note.text()
    assert d.changes() == {} and d.apply_button.isEnabled()
    h.click(d.apply_button)
    assert login_entry == [False] and h.set_calls() == []
    assert not d.apply_button.isEnabled()


# --- the schedule editor --------------------------------------------------------------------


def test_schedule_presets_and_grid_clicks(h: Harness, qtbot: Any) -> None:
    d = h.dialog
    field = d.field("schedule")
    editor = field.editor  # type: ignore[attr-defined]
    editor.preset_buttons["Weekday evenings & weekends"].click()
    assert field.raw() == PRESETS["Weekday evenings & weekends"]
    assert d.changes() == {"schedule": "mon-fri 18:00-24:00, sat-sun"}
    grid = editor.grid
    grid.resize(grid.sizeHint())
    rect = grid.cell_rect(0, 9)  # Monday 09:00, off
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert field.raw() == "mon 09:00-10:00, 18:00-24:00, tue-fri 18:00-24:00, sat-sun"
    # drag from Tue 10:00 to Thu 11:00: a rectangle switched on
    start = grid.cell_rect(1, 10).center().toPoint()
    end = grid.cell_rect(3, 11).center().toPoint()
    qtbot.mousePress(grid, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(grid, end)
    qtbot.mouseRelease(grid, Qt.MouseButton.LeftButton, pos=end)
    g = grid_from_schedule(str(field.raw()))
    assert all(g[day][hour] for day in (1, 2, 3) for hour in (10, 11)) and not g[4][10]
    # a day name fills the whole day, then clears it
    monday = QPoint(2, int(rect.center().y()))
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=monday)
    assert all(grid_from_schedule(str(field.raw()))[0])
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=monday)
    assert not any(grid_from_schedule(str(field.raw()))[0])
    # an hour label toggles that hour on every day
    noon = QPoint(int(grid.cell_rect(0, 12).center().x()), 2)
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=noon)
    assert all(row[12] for row in grid_from_schedule(str(field.raw())))
    # the keyboard: arrows move the focus cell, Space toggles it
    editor.preset_buttons["Always"].click()
    assert field.raw() == "always" and d.changes() == {}
    day, hour = grid.focus_cell  # the last cell clicked: Tue 10:00
    assert (day, hour) == (1, 10)
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    qtbot.keyClick(grid, Qt.Key.Key_Down)
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert not grid.grid()[2][11] and sum(map(sum, grid.grid())) == 7 * 24 - 1
    assert d.changes() == {"schedule": str(field.raw())}


def test_minute_precision_schedule_falls_back_to_text(loop: qasync.QEventLoop, qtbot: Any) -> None:
    source = FakeSource()
    source.values["schedule"] = "mon-fri 09:00-17:30, sat 10:00-12:00"
    h = Harness(loop, source, qtbot)
    h.load()
    editor = h.dialog.field("schedule").editor  # type: ignore[attr-defined]
    assert editor.text_mode and editor.grid.read_only
    assert editor.text_edit.text() == "mon-fri 09:00-17:30, sat 10:00-12:00"
    assert not editor.note.isHidden() and "not on the hour" in editor.note.text()
    assert not editor.text_button.isEnabled()  # cannot go back to the grid like this
    assert h.dialog.changes() == {}
    # editing the text to whole hours gives the grid back
    editor.text_edit.setText("mon-fri 09:00-17:00")
    editor.text_edit.textEdited.emit("mon-fri 09:00-17:00")
    assert not editor.grid.read_only and editor.note.isHidden()
    assert editor.text_button.isEnabled()
    assert h.dialog.changes() == {"schedule": "mon-fri 09:00-17:00"}
    editor.text_button.setChecked(False)
    assert not editor.text_mode


# --- grid <-> text converter ----------------------------------------------------------------

grids = st.lists(st.lists(st.booleans(), min_size=24, max_size=24), min_size=7, max_size=7)


def allowed_hours(text: str) -> list[list[bool]]:
    """Brute force from the grammar's own parser: is every minute of the hour allowed?"""
    sched = parse_schedule(text)
    return [
        [all(sched.allows(d, h * 60 + m) for m in range(60)) for h in range(24)] for d in range(7)
    ]


@pytest.mark.slow  # long-running: real network or UI round trips, seconds each
@settings(max_examples=300, deadline=None)
@given(grids)
def test_grid_round_trip(grid: list[list[bool]]) -> None:
    text = schedule_from_grid(grid)
    assert grid_from_schedule(text) == tuple(tuple(row) for row in grid)
    assert allowed_hours(text) == grid  # the text means the grid under the real parser
    validate("schedule", text)


@settings(max_examples=200, deadline=None)
@given(grids)
def test_grid_text_is_canonical(grid: list[list[bool]]) -> None:
    text = schedule_from_grid(grid)
    assert schedule_from_grid(grid_from_schedule(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "always",
        "never",
        "NEVER",
        "sat,sun",
        "Sat, Sun",
        "sat-sun",
        "fri-mon",
        "09:00-10:00",
        "mon 09:00-10:00, 11:00-12:00 tue 13:00-14:00",
        "sat; sun 10:00-12:00",
        "sat, sun 10:00-12:00",
        "mon 22:00-24:00, tue 00:00-06:00",
        "sun 22:00-02:00",
        "mon-fri 18:00-24:00, sat-sun",
        "00:00-07:00, 22:00-24:00",
    ],
)
def test_grammar_texts_on_the_grid(text: str) -> None:
    grid = grid_from_schedule(text)
    assert [list(row) for row in grid] == allowed_hours(text)
    assert grid_from_schedule(schedule_from_grid(grid)) == grid


def test_known_texts() -> None:
    assert schedule_from_grid(FULL_GRID) == "always"
    assert schedule_from_grid(EMPTY_GRID) == "never"
    weekend = grid_from_schedule("sat-sun")
    assert schedule_from_grid(weekend) == "sat-sun"
    assert schedule_from_grid(grid_from_schedule("fri-mon")) == "fri-mon"
    assert schedule_from_grid(grid_from_schedule("sat; sun 10:00-12:00")) == (
        "sat; sun 10:00-12:00"
    )
    assert schedule_from_grid(grid_from_schedule("09:00-17:00")) == "09:00-17:00"
    for name, text in PRESETS.items():
        assert schedule_from_grid(grid_from_schedule(text)) == text, name


@pytest.mark.parametrize(
    "text", ["mon-fri 09:00-17:30, sat 10:00-12:00", "12:15-13:00", "sun 22:30-02:00"]
)
def test_minute_precision_is_off_grid(text: str) -> None:
    with pytest.raises(OffGridError):
        grid_from_schedule(text)
    cover = coverage(text)
    sched = parse_schedule(text)
    for d in range(len(DAYS)):
        for hour in range(24):
            minutes = sum(sched.allows(d, hour * 60 + m) for m in range(60))
            assert cover[d][hour] == minutes / 60


def test_bad_input() -> None:
    with pytest.raises(ScheduleError):
        grid_from_schedule("mon-fri 9-5")
    with pytest.raises(ValueError):
        schedule_from_grid([[True] * 24] * 6)
    with pytest.raises(ValueError):
        schedule_from_grid([[True] * 23] * 7)

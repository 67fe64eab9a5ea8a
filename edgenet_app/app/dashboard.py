"""The contributor dashboard: credits, progress, the contribution curve, recent work.

`Dashboard` only listens to the `AppModel` signals (statusChanged, historyChanged,
settingsChanged, connectedChanged) and repaints; it never awaits or blocks. Layout:

    [● why am I (not) earning ........................................ node id]
    [credits available] [tasks completed] [rank] [uptime] [reputation]
    [credits earned over time (3 columns)    ] [multiplier + curve (2 columns)]
    [recent tasks (3 columns)                ] [this computer (2 columns)     ]

Colours come from one `Theme` that follows the system's light or dark scheme live; the
cards are built from app/cards.py and every word comes from app/display.
"""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QSize, Qt, Slot
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.status import NodeHistory, NodeStatus
from . import display
from .cards import Card, ElidedLabel, EmptyNote, StatCard, StatusDot, role_label, scaled_font
from .charts import CurveChart, EarningsChart, Meter
from .display import labels
from .model import AppModel
from .theme import Theme

_SPACING = 14


class Dashboard(QWidget):
    """The contribution dashboard, fed by an `AppModel`'s signals."""

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = Theme.system()
        self.status: NodeStatus | None = None
        self.history = NodeHistory()
        self.connected = True
        self.cores = os.cpu_count() or 1
        self.cpu_limit: float | None = None
        self._banner_tone = ""
        self._icons: dict[str, QIcon] = {}  # status dots in the current theme's colours
        self.setObjectName("dashboard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._build()
        self._apply_theme()

        model.statusChanged.connect(self.set_status)
        model.historyChanged.connect(self.set_history)
        model.settingsChanged.connect(self.set_settings)
        model.connectedChanged.connect(self.set_connected)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self.follow_system)
        if model.settings:
            self.set_settings(model.settings)
        if model.history.tasks or model.history.earnings:
            self.set_history(model.history)
        if model.status is not None:
            self.set_status(model.status)
        else:
            self._show_why()

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        base = QFont(self.font())
        root = QVBoxLayout(self)
        root.setContentsMargins(20, 18, 20, 20)
        root.setSpacing(_SPACING)

        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(12, 8, 14, 8)
        row.setSpacing(8)
        self.dot = StatusDot()
        self.why = ElidedLabel("", scaled_font(base, 1.05, QFont.Weight.Medium))
        self.node_label = role_label("", "detail", scaled_font(base, 0.92))
        row.addWidget(self.dot)
        row.addWidget(self.why, 1)
        row.addWidget(self.node_label)
        root.addWidget(self.banner)

        grid = QGridLayout()
        grid.setHorizontalSpacing(_SPACING)
        grid.setVerticalSpacing(_SPACING)
        self.credits = StatCard(labels.CREDITS_CAPTION, base)
        self.credits.setToolTip(labels.CREDITS_TIP)
        self.tasks = StatCard(labels.TASKS_CAPTION, base)
        self.rank = StatCard(labels.RANK_CAPTION, base)
        self.uptime = StatCard(labels.UPTIME_CAPTION, base)
        self.reputation = StatCard(labels.REPUTATION_CAPTION, base)
        self.reputation.setToolTip(labels.REPUTATION_TIP)
        for col, card in enumerate(
            (self.credits, self.tasks, self.rank, self.uptime, self.reputation)
        ):
            grid.addWidget(card, 0, col)
            grid.setColumnStretch(col, 1)

        self.earn_card = Card(labels.EARNED_CAPTION, base)
        self.earnings = EarningsChart()
        self.earn_card.box.addSpacing(6)
        self.earn_card.box.addWidget(self.earnings, 1)
        grid.addWidget(self.earn_card, 1, 0, 1, 3)

        self.mult_card = Card(labels.MULTIPLIER_CAPTION, base)
        self.multiplier = role_label(
            display.UNKNOWN, "accent", scaled_font(base, 2.0, QFont.Weight.DemiBold)
        )
        self.multiplier.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.stage = ElidedLabel("detail", scaled_font(base, 0.92))
        self.mult_card.note.hide()
        self.mult_card.titles.addWidget(self.stage)
        self.mult_card.header.addWidget(self.multiplier)
        self.curve = CurveChart()
        self.mult_card.box.addSpacing(4)
        self.mult_card.box.addWidget(self.curve, 1)
        grid.addWidget(self.mult_card, 1, 3, 1, 2)

        self.recent_card = Card(labels.RECENT_CAPTION, base)
        self.recent = QTreeWidget()
        self.recent.setColumnCount(5)
        self.recent.setHeaderLabels(list(labels.TASK_COLUMNS))
        self.recent.headerItem().setTextAlignment(
            4, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.recent.setRootIsDecorated(False)
        self.recent.setUniformRowHeights(True)
        self.recent.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.recent.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.recent.setIconSize(QSize(10, 10))
        self.recent.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        head = self.recent.header()
        head.setStretchLastSection(False)
        head.setSectionsClickable(False)
        head.setFont(scaled_font(base, 0.85, QFont.Weight.DemiBold))
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.empty_tasks = EmptyNote(labels.NO_TASKS, labels.NO_TASKS_LINE, base)
        self.recent_card.box.addSpacing(2)
        self.recent_card.box.addWidget(self.recent, 1)
        self.recent_card.box.addWidget(self.empty_tasks, 1)
        grid.addWidget(self.recent_card, 2, 0, 1, 3)

        self.machine_card = Card(labels.COMPUTER_CAPTION, base)
        self.cpu_value = role_label(
            display.UNKNOWN, "", scaled_font(base, 1.0, QFont.Weight.DemiBold)
        )
        self.cpu_meter = Meter("accent")
        self.cpu_detail = role_label("", "detail", scaled_font(base, 0.92))
        self.cpu_detail.setWordWrap(True)
        self.machine_card.box.addSpacing(4)
        self.machine_card.box.addLayout(self._pair(labels.CPU_DONATED, self.cpu_value, base))
        self.machine_card.box.addWidget(self.cpu_meter)
        self.machine_card.box.addWidget(self.cpu_detail)
        self.machine_card.box.addSpacing(10)
        self.peers_value = role_label(
            display.UNKNOWN, "", scaled_font(base, 1.0, QFont.Weight.DemiBold)
        )
        self.machine_card.box.addLayout(self._pair(labels.PEERS_CONNECTED, self.peers_value, base))
        self.network_value = role_label(display.UNKNOWN, "", scaled_font(base, 1.0))
        self.machine_card.box.addLayout(self._pair(labels.NETWORK, self.network_value, base))
        self.node_value = role_label(display.UNKNOWN, "", scaled_font(base, 1.0))
        self.machine_card.box.addLayout(self._pair(labels.NODE, self.node_value, base))
        self.idle_value = role_label(display.UNKNOWN, "", scaled_font(base, 1.0))
        self.machine_card.box.addLayout(self._pair(labels.IDLE_DETECTION, self.idle_value, base))
        self.machine_card.box.addStretch(1)
        grid.addWidget(self.machine_card, 2, 3, 1, 2)

        grid.setRowStretch(0, 0)
        grid.setRowStretch(1, 5)
        grid.setRowStretch(2, 4)
        root.addLayout(grid, 1)

    def _pair(self, name: str, value: QLabel, base: QFont) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setContentsMargins(0, 2, 0, 2)
        row.setSpacing(8)
        row.addWidget(role_label(name, "", scaled_font(base, 1.0)))
        row.addStretch(1)
        value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(value)
        return row

    def sizeHint(self) -> QSize:
        return QSize(960, 640)

    # -- data --------------------------------------------------------------------------------

    @Slot(object)
    def set_status(self, status: NodeStatus) -> None:
        self.status = s = status
        credits = s.credits
        self.credits.set(display.short_credits(credits.available), display.credits_detail(credits))
        self.credits.value.setToolTip(display.credits_available(credits))
        self.tasks.set(
            display.format_count(s.tasks_completed),
            display.tasks_detail(s.tasks_submitted),
        )
        rank = s.rank
        self.rank.set(*display.rank_texts(rank))
        self.rank.setToolTip(display.rank_tip(rank))
        self.uptime.set(display.format_uptime(s.uptime_s), labels.UPTIME_DETAIL)
        self.reputation.set(display.format_percent(s.reputation), labels.REPUTATION_DETAIL)

        hours = s.network_cpu_hours
        mult = s.multiplier
        self.multiplier.setText(display.format_multiplier(float(mult)) if mult else display.UNKNOWN)
        self.stage.setText(display.stage_line(hours))
        self.curve.set_position(hours, float(mult) if mult else None)

        share = display.donated_share(s.cpu_donated_s, s.uptime_s, self.cores)
        self.cpu_value.setText(display.format_cpu_time(s.cpu_donated_s))
        self.cpu_meter.set_value(share, self.cpu_limit)
        self.cpu_detail.setText(display.cpu_detail(share, self.cpu_limit))
        self.peers_value.setText(str(len(s.peers)))
        self.network_value.setText(s.network or display.UNKNOWN)
        node = s.node_id or ""
        self.node_value.setText(display.short_node_id(node))
        self.node_value.setToolTip(node)
        source = s.idle_source or display.UNKNOWN
        self.idle_value.setText(display.idle_source_label(source))
        self.idle_value.setToolTip(display.idle_source_tip(source))
        self.node_label.setText(display.node_banner(node))
        self._show_why()

    @Slot(object)
    def set_history(self, history: NodeHistory) -> None:
        self.history = history
        earnings = [list(p) for p in history.earnings]
        self.earnings.set_points(earnings)
        self.earn_card.note.setText(display.earned_total(int(earnings[-1][1])) if earnings else "")
        self._fill_tasks()

    @Slot(dict)
    def set_settings(self, settings: dict[str, Any]) -> None:
        limit = (settings.get("values") or {}).get("cpu_limit")
        self.cpu_limit = float(limit) if isinstance(limit, (int, float)) else None
        if self.status is not None:
            self.set_status(self.status)

    @Slot(bool)
    def set_connected(self, connected: bool) -> None:
        self.connected = connected
        self._show_why()

    def _show_why(self) -> None:
        s = self.status
        line = display.why_line(
            s.state if s else None, s.reason if s else None, connected=self.connected
        )
        self.why.setText(line.text)
        self._banner_tone = line.tone
        self._style_banner()

    def _fill_tasks(self) -> None:
        now_ms = int(time.time() * 1000)
        tasks = sorted(self.history.tasks, key=lambda t: t.created_ms, reverse=True)
        self.recent.clear()
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for t in tasks:
            status = t.status
            item = QTreeWidgetItem(
                [
                    display.format_when(t.created_ms, now_ms),
                    display.kind_label(t.kind),
                    t.role,
                    status,
                    display.plain_credits(t.credits),
                ]
            )
            item.setIcon(3, self._status_icon(display.status_tone(status)))
            item.setTextAlignment(4, right)
            tip = display.task_tip(t)
            for col in range(5):
                item.setToolTip(col, tip)
            item.setData(0, Qt.ItemDataRole.UserRole, status)
            self.recent.addTopLevelItem(item)
        self.recent.setVisible(bool(tasks))
        self.empty_tasks.setVisible(not tasks)

    def _status_icon(self, tone: str) -> QIcon:
        icon = self._icons.get(tone)
        if icon is None:
            icon = self._icons[tone] = self._paint_dot_icon(self.theme.color(tone))
        return icon

    @staticmethod
    def _paint_dot_icon(colour: QColor) -> QIcon:
        pm = QPixmap(20, 20)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawEllipse(QPointF(10, 10), 6.0, 6.0)
        p.end()
        return QIcon(pm)

    # -- theme -------------------------------------------------------------------------------

    @Slot()
    def follow_system(self) -> None:
        """Pick the theme the system asks for now (connected to colorSchemeChanged)."""
        theme = Theme.system()
        if theme != self.theme:
            self.theme = theme
            self._apply_theme()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            self.follow_system()
        super().changeEvent(event)

    def _apply_theme(self) -> None:
        t = self.theme
        head_h = self.recent.header().sizeHint().height()
        self.setStyleSheet(
            f"""
            QWidget#dashboard {{ background: {t.background}; }}
            QFrame#card {{ background: {t.card}; border: 1px solid {t.border};
                           border-radius: 12px; }}
            QLabel {{ color: {t.text}; background: transparent; border: none; }}
            QLabel[role="caption"], QLabel[role="detail"] {{ color: {t.muted}; }}
            QLabel[role="accent"] {{ color: {t.accent}; }}
            QTreeWidget {{ background: transparent; border: none; color: {t.text};
                           outline: 0; }}
            QTreeWidget::item {{ padding: 2px 10px 2px 0px; border: none; }}
            QHeaderView {{ background: transparent; border: none; }}
            QHeaderView::section {{ background: transparent; color: {t.muted}; border: none;
                                    border-bottom: 1px solid {t.border};
                                    padding: 0px 13px 5px 3px; }}
            QTreeWidget QScrollBar:vertical {{ margin-top: {head_h}px; }}
            QScrollBar:vertical {{ background: transparent; width: 12px; margin: 0px 0px 0px 4px; }}
            QScrollBar::handle:vertical {{ background: {t.border}; border-radius: 4px;
                                           min-height: 24px; }}
            QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{ height: 0px; }}
            QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical {{ background: none; }}
            """
        )
        for chart in (self.earnings, self.curve, self.cpu_meter):
            chart.set_theme(t)
        self._icons.clear()
        self._style_banner()
        self._fill_tasks()

    def _style_banner(self) -> None:
        t = self.theme
        tone = self._banner_tone or "muted"
        c = t.color(tone)
        rgb = f"{c.red()}, {c.green()}, {c.blue()}"
        fill = 0.14 if t.dark else 0.09
        self.banner.setStyleSheet(
            f"QFrame#banner {{ background: rgba({rgb}, {fill}); "
            f"border: 1px solid rgba({rgb}, 0.35); border-radius: 10px; }}"
        )
        self.dot.set_colour(c)

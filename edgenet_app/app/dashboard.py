"""The contributor dashboard: credits, progress, the contribution curve, recent work.

`Dashboard` only listens to the `AppModel` signals (statusChanged, historyChanged,
settingsChanged, connectedChanged) and repaints; it never awaits or blocks. Layout:

    [● why am I (not) earning ........................................ node id]
    [credits available] [tasks completed] [rank] [uptime] [reputation]
    [credits earned over time (3 columns)    ] [multiplier + curve (2 columns)]
    [recent tasks (3 columns)                ] [this computer (2 columns)     ]

Colours come from one `Theme` that follows the system's light or dark scheme live.
"""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QSize, Qt, Slot
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import display
from .charts import CurveChart, EarningsChart, Meter
from .model import AppModel
from .theme import Theme

CREDITS_TIP = (
    "Available: yours to spend on the network's compute.\n"
    "Locked: received within the last hour. Payouts unlock one hour after they are\n"
    "recorded, so a result found wrong in the meantime can still be slashed.\n"
    "Staked: a 100-credit deposit held while you contribute; 10 credits are slashed,\n"
    "with the evidence in the ledger, for each result the other workers outvote."
)
_SPACING = 14
_PAD = 16


def _font(base: QFont, scale: float, weight: QFont.Weight | None = None) -> QFont:
    f = QFont(base)
    f.setPointSizeF(base.pointSizeF() * scale)
    if weight is not None:
        f.setWeight(weight)
    return f


def _label(text: str = "", role: str = "", font: QFont | None = None) -> QLabel:
    lab = QLabel(text)
    if role:
        lab.setProperty("role", role)
    if font is not None:
        lab.setFont(font)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    return lab


class _Elided(QLabel):
    """A one-line label that ends in "…" when it does not fit (the full text in a tooltip)."""

    def __init__(self, role: str, font: QFont) -> None:
        super().__init__()
        self.setProperty("role", role)
        self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        r = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, r.width())
        p.drawText(r, int(self.alignment()), text)
        p.end()


class _EmptyNote(QWidget):
    """A centred headline and a muted line under it, for an empty panel."""

    def __init__(self, headline: str, line: str, base: QFont) -> None:
        super().__init__()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addStretch(1)
        for text, role, scale in ((headline, "", 1.0), (line, "detail", 0.85)):
            lab = _label(text, role, _font(base, scale))
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setWordWrap(True)
            box.addWidget(lab)
        box.addStretch(1)


class _Dot(QWidget):
    """A status dot with a soft halo."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colour = QColor("#888888")
        self.setFixedSize(16, 16)

    def set_colour(self, colour: QColor) -> None:
        self.colour = colour
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        halo = QColor(self.colour)
        halo.setAlphaF(0.25)
        c = QPointF(self.width() / 2, self.height() / 2)
        p.setBrush(halo)
        p.drawEllipse(c, 7.0, 7.0)
        p.setBrush(self.colour)
        p.drawEllipse(c, 4.0, 4.0)
        p.end()


class Card(QFrame):
    """A rounded panel with a caption line (left) and an optional note (right)."""

    def __init__(self, caption: str, base: QFont, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(_PAD, _PAD - 2, _PAD, _PAD - 2)
        self.box.setSpacing(4)
        self.header = QHBoxLayout()
        self.header.setSpacing(8)
        cap = _font(base, 0.82, QFont.Weight.DemiBold)
        cap.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0.6)
        self.caption = _label(caption.upper(), "caption", cap)
        self.note = _label("", "detail", _font(base, 0.92))
        self.note.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.titles = QVBoxLayout()
        self.titles.setSpacing(4)
        self.titles.addWidget(self.caption)
        self.header.addLayout(self.titles, 1)
        self.header.addWidget(self.note)
        self.box.addLayout(self.header)


class StatCard(Card):
    """Caption, a big number, a small line under it."""

    def __init__(self, caption: str, base: QFont, parent: QWidget | None = None) -> None:
        super().__init__(caption, base, parent)
        self.value = _label("—", "value", _font(base, 2.0, QFont.Weight.DemiBold))
        self.detail = _label("", "detail", _font(base, 0.92))
        self.box.addSpacing(2)
        self.box.addWidget(self.value)
        self.box.addWidget(self.detail)
        self.box.addStretch(1)

    def set(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)


class Dashboard(QWidget):
    """The contribution dashboard, fed by an `AppModel`'s signals."""

    def __init__(self, model: AppModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.theme = Theme.system()
        self.status: dict[str, Any] = {}
        self.history: dict[str, Any] = {"tasks": [], "earnings": []}
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
        if model.history.get("tasks") or model.history.get("earnings"):
            self.set_history(model.history)
        if model.status:
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
        self.dot = _Dot()
        self.why = _Elided("", _font(base, 1.05, QFont.Weight.Medium))
        self.node_label = _label("", "detail", _font(base, 0.92))
        row.addWidget(self.dot)
        row.addWidget(self.why, 1)
        row.addWidget(self.node_label)
        root.addWidget(self.banner)

        grid = QGridLayout()
        grid.setHorizontalSpacing(_SPACING)
        grid.setVerticalSpacing(_SPACING)
        self.credits = StatCard("Credits available", base)
        self.credits.setToolTip(CREDITS_TIP)
        self.tasks = StatCard("Tasks completed", base)
        self.rank = StatCard("Rank", base)
        self.uptime = StatCard("Uptime", base)
        self.reputation = StatCard("Reputation", base)
        self.reputation.setToolTip(
            "How often this computer's results matched the network's (a wrong result\n"
            "weighs five right ones; a new computer starts at 50%). A proven computer\n"
            "is trusted to run tasks on its own, without replicas."
        )
        for col, card in enumerate(
            (self.credits, self.tasks, self.rank, self.uptime, self.reputation)
        ):
            grid.addWidget(card, 0, col)
            grid.setColumnStretch(col, 1)

        self.earn_card = Card("Credits earned", base)
        self.earnings = EarningsChart()
        self.earn_card.box.addSpacing(6)
        self.earn_card.box.addWidget(self.earnings, 1)
        grid.addWidget(self.earn_card, 1, 0, 1, 3)

        self.mult_card = Card("Reward multiplier", base)
        self.multiplier = _label("—", "accent", _font(base, 2.0, QFont.Weight.DemiBold))
        self.multiplier.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.stage = _Elided("detail", _font(base, 0.92))
        self.mult_card.note.hide()
        self.mult_card.titles.addWidget(self.stage)
        self.mult_card.header.addWidget(self.multiplier)
        self.curve = CurveChart()
        self.mult_card.box.addSpacing(4)
        self.mult_card.box.addWidget(self.curve, 1)
        grid.addWidget(self.mult_card, 1, 3, 1, 2)

        self.recent_card = Card("Recent tasks", base)
        self.recent = QTreeWidget()
        self.recent.setColumnCount(5)
        self.recent.setHeaderLabels(["When", "Task", "Role", "Status", "Credits"])
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
        head.setFont(_font(base, 0.85, QFont.Weight.DemiBold))
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.empty_tasks = _EmptyNote(
            "No tasks yet",
            "Work done on this computer and tasks you submit show up here.",
            base,
        )
        self.recent_card.box.addSpacing(2)
        self.recent_card.box.addWidget(self.recent, 1)
        self.recent_card.box.addWidget(self.empty_tasks, 1)
        grid.addWidget(self.recent_card, 2, 0, 1, 3)

        self.machine_card = Card("This computer", base)
        self.cpu_value = _label("—", "", _font(base, 1.0, QFont.Weight.DemiBold))
        self.cpu_meter = Meter("accent")
        self.cpu_detail = _label("", "detail", _font(base, 0.92))
        self.cpu_detail.setWordWrap(True)
        self.machine_card.box.addSpacing(4)
        self.machine_card.box.addLayout(self._pair("CPU donated", self.cpu_value, base))
        self.machine_card.box.addWidget(self.cpu_meter)
        self.machine_card.box.addWidget(self.cpu_detail)
        self.machine_card.box.addSpacing(10)
        self.peers_value = _label("—", "", _font(base, 1.0, QFont.Weight.DemiBold))
        self.machine_card.box.addLayout(self._pair("Peers connected", self.peers_value, base))
        self.network_value = _label("—", "", _font(base, 1.0))
        self.machine_card.box.addLayout(self._pair("Network", self.network_value, base))
        self.node_value = _label("—", "", _font(base, 1.0))
        self.machine_card.box.addLayout(self._pair("Node", self.node_value, base))
        self.idle_value = _label("—", "", _font(base, 1.0))
        self.machine_card.box.addLayout(self._pair("Idle detection", self.idle_value, base))
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
        row.addWidget(_label(name, "", _font(base, 1.0)))
        row.addStretch(1)
        value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(value)
        return row

    def sizeHint(self) -> QSize:
        return QSize(960, 640)

    # -- data --------------------------------------------------------------------------------

    @Slot(dict)
    def set_status(self, status: dict[str, Any]) -> None:
        self.status = dict(status)
        s = self.status
        credits = s.get("credits") or {}
        self.credits.set(
            display.short_credits(credits.get("available")),
            f"{display.plain_credits(credits.get('locked'))} locked · "
            f"{display.plain_credits(credits.get('staked'))} staked",
        )
        self.credits.value.setToolTip(
            f"{display.plain_credits(credits.get('available'))} credits available"
        )
        submitted = int(s.get("tasks_submitted") or 0)
        self.tasks.set(
            f"{int(s.get('tasks_completed') or 0):,}",
            f"{submitted:,} submitted by you" if submitted else "for other people",
        )
        rank = s.get("rank") or []
        if len(rank) == 2 and rank[0] > 0:
            self.rank.set(f"#{rank[0]:,}", f"of {rank[1]:,} contributors")
        else:
            self.rank.set("—", "not ranked yet")
        self.rank.setToolTip(f"By total credits: {display.format_rank(rank)}")
        self.uptime.set(
            display.format_uptime(float(s.get("uptime") or 0)), "since the node started"
        )
        self.reputation.set(
            display.format_percent(float(s.get("reputation") or 0)), "from verified results"
        )

        hours = float(s.get("network_cpu_hours") or 0.0)
        mult = s.get("multiplier")
        self.multiplier.setText(display.format_multiplier(float(mult)) if mult else "—")
        self.stage.setText(
            f"{display.network_stage(hours)} network · "
            f"{display.format_compact(hours)} CPU-hours so far"
        )
        self.curve.set_position(hours, float(mult) if mult else None)

        cpu_s = float(s.get("cpu_donated_s") or 0.0)
        share = display.donated_share(cpu_s, float(s.get("uptime") or 0), self.cores)
        self.cpu_value.setText(display.format_cpu_time(cpu_s))
        self.cpu_meter.set_value(share, self.cpu_limit)
        limit = f" · limit {display.format_percent(self.cpu_limit)}" if self.cpu_limit else ""
        self.cpu_detail.setText(
            f"{display.format_percent(share)} of this machine on average since start{limit}"
        )
        self.peers_value.setText(str(display.peer_count(s.get("peers"))))
        self.network_value.setText(str(s.get("network") or "—"))
        node = str(s.get("node_id") or "")
        self.node_value.setText(node[:12] + "…" if len(node) > 12 else node or "—")
        self.node_value.setToolTip(node)
        source = str(s.get("idle_source") or "—")
        self.idle_value.setText(source if len(source) <= 30 else source[:29] + "…")
        self.idle_value.setToolTip(f"How edgenet knows you are away: {source}")
        self.node_label.setText(f"node {node[:8]}" if node else "")
        self._show_why()

    @Slot(dict)
    def set_history(self, history: dict[str, Any]) -> None:
        self.history = dict(history)
        earnings = list(history.get("earnings") or [])
        self.earnings.set_points(earnings)
        self.earn_card.note.setText(
            f"{display.format_micro(int(earnings[-1][1]))} credits in total" if earnings else ""
        )
        self._fill_tasks()

    @Slot(dict)
    def set_settings(self, settings: dict[str, Any]) -> None:
        limit = (settings.get("values") or {}).get("cpu_limit")
        self.cpu_limit = float(limit) if isinstance(limit, (int, float)) else None
        if self.status:
            self.set_status(self.status)

    @Slot(bool)
    def set_connected(self, connected: bool) -> None:
        self.connected = connected
        self._show_why()

    def _show_why(self) -> None:
        line = display.why_line(
            self.status.get("state"), self.status.get("reason"), connected=self.connected
        )
        self.why.setText(line.text)
        self._banner_tone = line.tone
        self._style_banner()

    def _fill_tasks(self) -> None:
        now_ms = int(time.time() * 1000)
        tasks = sorted(
            self.history.get("tasks") or [],
            key=lambda t: int(t.get("created_ms") or 0),
            reverse=True,
        )
        self.recent.clear()
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for t in tasks:
            status = str(t.get("status") or "")
            item = QTreeWidgetItem(
                [
                    display.format_when(int(t.get("created_ms") or 0), now_ms),
                    display.kind_label(str(t.get("kind") or "")),
                    str(t.get("role") or ""),
                    status,
                    display.plain_credits(t.get("credits")),
                ]
            )
            item.setIcon(3, self._status_icon(display.status_tone(status)))
            item.setTextAlignment(4, right)
            tip = f"task {str(t.get('task') or '')[:16]}…"
            if t.get("error"):
                tip += f"\n{t['error']}"
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

"""The fixed wording of the app's widgets (pure: no Qt).

Window and toolbar, tray menu, notifications, dashboard and charts, the first-run dialog and
the settings dialog take their labels, tooltips, menu texts, notes and messages from here:
constants for fixed texts, small functions where one value goes into a sentence. The labels
and help of the settings themselves come from the settings schema (core/settings.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .formats import WEEKDAYS, format_duration

APP_NAME = "edgenet"  # the window's title, the notifications' title

# -- actions: the tray menu and the window's toolbar ----------------------------------------

PAUSE = "Pause"
RESUME = "Resume"
SNOOZE = "Snooze"
SNOOZE_BUTTON = "Snooze ▾"
SNOOZE_FOR_15_MIN = "For 15 minutes"
SNOOZE_FOR_1_HOUR = "For 1 hour"
FINISH_THEN_PAUSE = "Finish current tasks, then pause"
FINISH_THEN_PAUSE_SHORT = "Finish tasks, then pause"  # the toolbar button
OPEN_DASHBOARD = "Open dashboard"
SETTINGS = "Settings…"
QUIT_APP = "Quit edgenet"
QUIT = "Quit"
TOOLBAR = "Actions"


def snooze_until(at: dt.time) -> str:
    """'Until tomorrow, 08:00'."""
    return f"Until tomorrow, {at:%H:%M}"


# -- the window and notifications ----------------------------------------------------------

NO_TRAY_NOTICE = (
    "Your desktop has no system tray; edgenet runs in this window. Closing it quits edgenet."
)
DISMISS = "Dismiss"
DISMISS_GLYPH = "✕"
NODE_ERROR = "the node reported an error"  # an error event that came without a message

# -- the dashboard -----------------------------------------------------------------------------

CREDITS_TIP = (
    "Available: yours to spend on the network's compute.\n"
    "Locked: received within the last hour. Payouts unlock one hour after they are\n"
    "recorded, so a result found wrong in the meantime can still be slashed.\n"
    "Staked: a 100-credit deposit held while you contribute; 10 credits are slashed,\n"
    "with the evidence in the ledger, for each result the other workers outvote."
)
REPUTATION_TIP = (
    "How often this computer's results matched the network's (a wrong result\n"
    "weighs five right ones; a new computer starts at 50%). A proven computer\n"
    "is trusted to run tasks on its own, without replicas."
)
CREDITS_CAPTION = "Credits available"
TASKS_CAPTION = "Tasks completed"
RANK_CAPTION = "Rank"
UPTIME_CAPTION = "Uptime"
REPUTATION_CAPTION = "Reputation"
EARNED_CAPTION = "Credits earned"
MULTIPLIER_CAPTION = "Reward multiplier"
RECENT_CAPTION = "Recent tasks"
COMPUTER_CAPTION = "This computer"
TASK_COLUMNS = ("When", "Task", "Role", "Status", "Credits")
NO_TASKS = "No tasks yet"
NO_TASKS_LINE = "Work done on this computer and tasks you submit show up here."
UPTIME_DETAIL = "since the node started"
REPUTATION_DETAIL = "from verified results"
CPU_DONATED = "CPU donated"
PEERS_CONNECTED = "Peers connected"
NETWORK = "Network"
NODE = "Node"
IDLE_DETECTION = "Idle detection"
NO_EARNINGS = "No credits earned yet"
NO_EARNINGS_LINE = "Your first verified task will show up here."

# -- the first-run dialog ----------------------------------------------------------------------

WELCOME = "Welcome to edgenet"
WELCOME_LEDE = (
    "edgenet lends your computer's spare time to a peer-to-peer network that runs "
    "other people's small computing tasks, and pays you for it in credits."
)
# What edgenet shares, by the glyph of its badge: (headline, text).
WELCOME_POINTS: dict[str, tuple[str, str]] = {
    "cpu": (
        "Spare processor time",
        "Up to the limit below, mostly while you are away. When you use the computer, on "
        "battery or outside your schedule, edgenet steps back.",
    ),
    "bandwidth": (
        "A little network bandwidth",
        "To receive tasks from other peers and send the results back.",
    ),
    "sandbox": (
        "Never your personal files",
        "Tasks run sandboxed, in separate low-priority processes, and see only the data that "
        "came with them.",
    ),
    "credits": (
        "Credits in return",
        "Verified work earns credits in a signed ledger shared by every peer. Credits buy the "
        "network's compute for your own tasks.",
    ),
}
USE_AT_MOST = "<b>Use at most</b>"
START_AT_LOGIN = "Start edgenet when I log in"
CHANGE_LATER = "You can change these choices in Settings, and pause edgenet at any time."
NOT_NOW = "Not now"
AGREE = "Agree and start"


def cpu_share(percent: int) -> str:
    """The first-run slider's label: '30 % of this computer's processor'."""
    return f"{percent} % of this computer's processor"


# -- the settings dialog: pages and messages ---------------------------------------------------

SETTINGS_TITLE = "edgenet settings"
# page key -> (title, subtitle)
SETTINGS_PAGES: dict[str, tuple[str, str]] = {
    "contribution": (
        "Contribution",
        "How much of this computer edgenet may lend, and for which kinds of task.",
    ),
    "when": ("When", "Contribute while the computer is idle, within the hours you allow."),
    "network": ("Network", "How this node finds and reaches its peers."),
    "system": ("System", "Starting with your session, and what edgenet tells you."),
}
# section id -> heading
SETTINGS_SECTIONS: dict[str, str] = {
    "processor": "Processor",
    "memory": "Memory and network",
    "kinds": "Task kinds",
    "credits": "Credits",
    "in_use": "While you use the computer",
    "battery": "Battery",
    "hours": "Allowed hours",
    "peers": "Finding peers",
    "firewalls": "Connecting through firewalls",
    "desktop": "Desktop",
}
MORE_SETTINGS = "More settings"  # the section of settings no page places by hand
# where a setting's value comes from -> the note under its field
SOURCE_NOTES = {
    "toml": "Set by the config file; changes here are saved but overridden.",
    "cli": "Set on the command line; changes here are saved but overridden.",
}
ONE_PER_LINE = " One per line."  # added to the help of a list edited line by line
RESTORE_DEFAULTS = "Restore defaults"
RESTORE_DEFAULTS_TIP = "Put every setting on this page back to its default (then Apply)"
LOADING = "Loading settings…"
APPLYING = "Applying…"
NOTHING_TO_APPLY = "Nothing to apply."
SAVED = "Saved and applied."


def page_with_problems(title: str) -> str:
    """A sidebar entry whose page has an invalid field."""
    return f"{title}  ⚠"


def fix_before_applying(places: Sequence[tuple[str, str]]) -> str:
    """The status line while fields are invalid; `places` are (setting label, page title)."""
    where = [f"{label} ({page})" for label, page in places]
    return f"Fix before applying: {', '.join(where)}."


def could_not_load(reason: object) -> str:
    return f"Could not load the settings: {reason}"


def not_applied(reason: object) -> str:
    return f"Not applied: {reason}"


def saved(shadowed: Sequence[str]) -> str:
    """'Saved and applied.', naming the settings a config file or flag still overrides."""
    if not shadowed:
        return SAVED
    return f"{SAVED} Still overridden by the config file or command line: {', '.join(shadowed)}."


def autostart_failed(message: str, problem: str) -> str:
    return f"{message} But start at login could not be changed: {problem}"


def autostart_drift(enabled: bool) -> str:
    """The note under "start at login" when the system's login entry disagrees with it."""
    system = "starts" if enabled else "does not start"
    return f"Your system currently {system} edgenet at login; Apply to make it match."


def warning_line(warning: str) -> str:
    return f"⚠ {warning}"


# -- the settings dialog: fields ---------------------------------------------------------------

# Human names for the task kinds; the one-line descriptions come from the task registry.
TASK_KIND_NAMES: dict[str, str] = {
    "vector_insert": "Vector indexing",
    "vector_search": "Vector search",
    "embedding": "Text embeddings",
    "semantic_match": "Semantic matching",
    "neural_inference": "Spiking neural networks",
    "encryption": "Encryption",
    "compression": "Vector compression",
    "custom_wasm": "WebAssembly programs",
}
LINE_PLACEHOLDERS: dict[str, str] = {
    "network.relays": "wss://relay.example.org\nws://192.168.1.20:8765",
    "network.ice_servers": "stun:stun.example.org:3478\nturn:turn.example.org?transport=tcp",
}
ONE_ITEM_PER_LINE = "One item per line"
UNIT_SUFFIXES = {"seconds": "s"}  # a schema unit -> the spin box's suffix


def idle_after_side(seconds: float) -> str:
    """Right of the idle-time spin box: '= 3 min' (nothing under a minute)."""
    return f"= {format_duration(int(seconds))}" if seconds >= 60 else ""


def machine_memory(total_bytes: int) -> str:
    """Right of the memory limit: 'of 15.5 GB on this computer'."""
    return f"of {total_bytes / 1024**3:.1f} GB on this computer"


# -- the settings dialog: the schedule editor ------------------------------------------------

PRESET_ALWAYS = "Always"
PRESET_NEVER = "Never"
PRESET_EVENINGS = "Weekday evenings & weekends"
HOUR_GRID = "Allowed hours per weekday"  # its accessible name
ALLOWED = "Allowed"
NOT_ALLOWED = "Not allowed"
GRID_HINT = "Click or drag across hours; click a day or an hour to toggle it all."
AS_TEXT = "As text:"
EDIT_AS_TEXT = "Edit as text"
DONE = "Done"
SCHEDULE_PLACEHOLDER = "always | never | mon-fri 09:00-17:30, sat 10:00-12:00"
SCHEDULE_AS_TEXT = "Schedule as text"  # the text field's accessible name
OFF_GRID_NOTE = (
    "This schedule has times that are not on the hour, so the grid shows it "
    "read-only. Edit the text, or pick a preset to start again in whole hours."
)
OFF_GRID_TIP = "The grid shows whole hours only: edit the text, or pick a preset"


def hour_label(hour: int) -> str:
    """The grid's hour axis: '09'."""
    return f"{hour:02d}"


def hour_tip(day: int, hour: int, share: float) -> str:
    """A grid cell's tooltip: 'Mon 09:00–10:00: allowed' (`share` of the hour allowed)."""
    span = f"{WEEKDAYS[day]} {hour:02d}:00–{hour + 1:02d}:00"
    return f"{span}: {'allowed' if share == 1 else 'part allowed' if share else 'off'}"

"""Checking the Python API's arguments before anything is written or connected.

`init`'s contribution and idle arguments become settings overrides (their ranges are the
settings schema's, `core/settings.py`, so the API, `edgenet config` and the command-line flags
accept the same values); `submit`'s options are checked against `SubmitRequest`'s rules
(`core/submit.py`, shared by every entry point) and its refusals reworded in the API's own
names and units (`options['timeout']` is in milliseconds, as in the seed). A bad argument
raises `ApiError` naming it and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core import economics as econ
from ..core.errors import RequestError, SettingsError
from ..core.genesis import Genesis
from ..core.settings import SettingValue, validate
from ..core.submit import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S, MIN_TIMEOUT_S, SubmitRequest
from ..core.taskmsg import MAX_REDUNDANCY, PRIORITIES
from .errors import ApiError

__all__ = [
    "SubmitOptions",
    "batch_requests",
    "check_callback",
    "check_site_id",
    "genesis_of",
    "init_overrides",
    "show",
    "site_data_dir",
    "submit_options",
    "task_request",
]

_SITE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(1, 10)]
    + [f"lpt{i}" for i in range(1, 10)]
)


def _unknown(where: str, key: object, known: Sequence[str]) -> ApiError:
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ApiError(f"{where}: unknown key {key!r}; {hint}known: {', '.join(known)}")


def show(value: object) -> str:
    """`value` as a refusal quotes it: its repr (cut at 60 characters) and its type."""
    return f"{repr(value)[:60]} ({type(value).__name__})"


def _number(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ApiError(f"{where}: expected a number, got {show(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ApiError(f"{where}: expected a finite number, got {value!r}")
    return number


def _whole(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"{where}: expected a whole number, got {show(value)}")
    return value


def check_site_id(site_id: object) -> str:
    """`site_id` if it can name a data directory on every platform, else `ApiError`."""
    if not isinstance(site_id, str):
        raise ApiError(f"site_id: expected text, got {show(site_id)}")
    allowed = "use 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-'"
    if not 1 <= len(site_id) <= 64:
        raise ApiError(f"site_id {site_id[:80]!r} is {len(site_id)} characters long; {allowed}")
    if not _SITE_ID.fullmatch(site_id):
        bad = next(c for c in site_id if not _SITE_ID.fullmatch(c))
        raise ApiError(f"site_id {site_id!r} contains {bad!r}; {allowed}")
    if site_id.endswith("."):
        raise ApiError(f"site_id {site_id!r}: must not end with '.' (it names a directory)")
    if site_id.split(".")[0].lower() in _WINDOWS_DEVICES:
        raise ApiError(f"site_id {site_id!r}: is a reserved device name on Windows")
    return site_id


def site_data_dir(
    site_id: str | None = None, data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """The data directory `init` uses: `data_dir` if given; else, with a `site_id`,
    `<platform data dir or $EDGENET_DATA_DIR>/sites/<site_id>` (one identity per site);
    else the platform data dir itself (the identity the `edgenet` command uses)."""
    from ..runtime.store import paths

    if data_dir is not None:
        return paths.data_dir(data_dir)
    if site_id is not None:
        return paths.data_dir() / "sites" / check_site_id(site_id)
    return paths.data_dir()


def _bytes_in(unit: int) -> Callable[[str, object], object]:
    def convert(where: str, value: object) -> object:
        n = _whole(where, value)
        if n < 0:
            raise ApiError(f"{where}: expected bytes ≥ 0, got {n}")
        return n // unit  # rounded down to whole units, then range-checked as the setting

    return convert


_TASK_ALIASES = {  # the seed's names for groups of kinds
    "vectors": ("vector_insert", "vector_search"),
    "embeddings": ("embedding",),
}


def _task_kinds(where: str, value: object) -> object:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ApiError(f"{where}: expected a list of task kinds, got {show(value)}")
    if not all(isinstance(item, str) for item in value):
        return value  # the settings check names the bad item
    expanded = [kind for item in value for kind in _TASK_ALIASES.get(item, (item,))]
    return list(dict.fromkeys(expanded))


def _same(where: str, value: object) -> object:
    return value


def _not(where: str, value: object) -> object:
    if not isinstance(value, bool):
        raise ApiError(f"{where}: expected True or False, got {show(value)}")
    return not value


def _ms_to_s(where: str, value: object) -> object:
    ms = _number(where, value)
    if ms < 0:
        raise ApiError(f"{where}: expected milliseconds ≥ 0, got {value!r}")
    return math.ceil(ms / 1000)


Converter = Callable[[str, object], object]

# user key -> (setting key, conversion); snake_case keys are the settings' own names and
# units, camelCase keys are the seed's (memory and bandwidth in bytes, times in ms).
_CONTRIBUTION: dict[str, tuple[str, Converter]] = {
    "cpu_limit": ("cpu_limit", _same),
    "memory_limit_mb": ("memory_limit_mb", _same),
    "bandwidth_limit_kib_s": ("bandwidth_limit_kib_s", _same),
    "task_kinds": ("task_kinds", _task_kinds),
    "cpuLimit": ("cpu_limit", _same),
    "memoryLimit": ("memory_limit_mb", _bytes_in(1 << 20)),
    "bandwidthLimit": ("bandwidth_limit_kib_s", _bytes_in(1024)),
    "tasks": ("task_kinds", _task_kinds),
}
_IDLE: dict[str, tuple[str, Converter]] = {
    "min_idle_seconds": ("idle.min_idle_seconds", _same),
    "work_while_in_use": ("idle.work_while_in_use", _same),
    "in_use_cpu_limit": ("idle.in_use_cpu_limit", _same),
    "respect_battery": ("idle.respect_battery", _same),
    "battery_threshold": ("idle.battery_threshold", _same),
    "max_other_cpu": ("idle.max_other_cpu", _same),
    "minIdleTime": ("idle.min_idle_seconds", _ms_to_s),
    "focusRequired": ("idle.work_while_in_use", _not),
    "inUseCpuLimit": ("idle.in_use_cpu_limit", _same),
    "respectBattery": ("idle.respect_battery", _same),
    "batteryThreshold": ("idle.battery_threshold", _same),
}


def _settings_from(
    name: str, given: Mapping[str, object], table: Mapping[str, tuple[str, Converter]]
) -> dict[str, SettingValue]:
    out: dict[str, SettingValue] = {}
    origin: dict[str, str] = {}
    for key, value in given.items():
        if key not in table:
            raise _unknown(name, key, list(table))
        setting, convert = table[key]
        where = f"{name}[{key!r}]"
        if setting in origin:
            raise ApiError(f"{name}: {origin[setting]!r} and {key!r} set the same thing; give one")
        try:
            out[setting] = validate(setting, convert(where, value))
        except SettingsError as exc:
            raise ApiError(f"{where}: {exc}") from None
        origin[setting] = key
    return out


def _contribution(contribution: object) -> dict[str, SettingValue]:
    if contribution is None:
        return {}
    if isinstance(contribution, int | float | Decimal) and not isinstance(contribution, bool):
        contribution = {"cpu_limit": float(contribution)}  # the seed's `contribution: 0.3`
    if not isinstance(contribution, Mapping):
        raise ApiError(
            f"contribution: expected a dict (cpu_limit, memory_limit_mb, task_kinds, ...) or "
            f"a CPU fraction, got {show(contribution)}"
        )
    return _settings_from("contribution", contribution, _CONTRIBUTION)


def _idle(idle: object) -> dict[str, SettingValue]:
    if idle is None:
        return {}
    if not isinstance(idle, Mapping):
        raise ApiError(f"idle: expected a dict, got {show(idle)}")
    return _settings_from("idle", idle, _IDLE)


def _relays(relays: object) -> dict[str, SettingValue]:
    if relays is None:
        return {}
    if isinstance(relays, str):
        relays = [relays]
    try:
        return {"network.relays": validate("network.relays", relays)}
    except SettingsError as exc:
        raise ApiError(f"relays: {exc}") from None


def genesis_of(network: object) -> Genesis:
    """The network `init` joins: a network file, a `Genesis`, or None (the built-in one)."""
    from ..runtime.store.networks import load_network

    if isinstance(network, Genesis):
        return network
    if network is None or isinstance(network, str | os.PathLike):
        return load_network(network)
    raise ApiError(f"network: expected a network file path or a Genesis, got {show(network)}")


def init_overrides(contribution: object, idle: object, relays: object) -> dict[str, SettingValue]:
    """`init`'s contribution, idle and relays as settings overrides, each value checked."""
    return {**_contribution(contribution), **_idle(idle), **_relays(relays)}


def check_callback(name: str, callback: object) -> None:
    if callback is not None and not callable(callback):
        raise ApiError(f"{name}: expected a function or None, got {show(callback)}")


# ------------------------------------------------------------------------------ submit


@dataclass(frozen=True)
class SubmitOptions:
    """Checked submit options (`redundancy` workers, `max_credits` in micro-credits)."""

    priority: str = "normal"
    redundancy: int = econ.DEFAULT_REDUNDANCY
    max_credits: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    def request(self, kind: str, payload: Any) -> SubmitRequest:
        """One task with these options; `SubmitRequest` checks it (`RequestError`)."""
        return SubmitRequest(
            kind,
            payload,
            redundancy=self.redundancy,
            priority=self.priority,
            timeout_s=self.timeout_s,
            max_credits=self.max_credits,
        )


_OPTION_KEYS = ("priority", "redundancy", "maxCredits", "max_credits", "timeout", "timeout_s")
_ANY_KIND = econ.TASK_KINDS[0]  # options alone are checked as a task of any kind would be


def submit_options(options: object, where: str = "options") -> SubmitOptions:
    """Check the seed's submit options: priority ('low'|'normal'|'high'), redundancy (1–7),
    maxCredits or max_credits (credits: a number or a decimal string), timeout (milliseconds,
    as in the seed) or timeout_s (seconds); from 1 s to one day. The ranges are
    `SubmitRequest`'s."""
    if options is None:
        return SubmitOptions()
    if not isinstance(options, Mapping):
        raise ApiError(f"{where}: expected a dict, got {show(options)}")
    for key in options:
        if key not in _OPTION_KEYS:
            raise _unknown(where, key, _OPTION_KEYS)
    for a, b in (("maxCredits", "max_credits"), ("timeout", "timeout_s")):
        if a in options and b in options:
            raise ApiError(f"{where}: give {a!r} or {b!r}, not both")
    out: dict[str, Any] = {}
    given: dict[str, tuple[str, object]] = {}  # SubmitRequest field -> (key, value as given)
    if "priority" in options:
        out["priority"] = options["priority"]
        given["priority"] = ("priority", options["priority"])
    if "redundancy" in options:
        out["redundancy"] = _whole(f"{where}['redundancy']", options["redundancy"])
        given["redundancy"] = ("redundancy", options["redundancy"])
    for key in ("maxCredits", "max_credits"):
        if key in options:
            out["max_credits"] = _credits(f"{where}[{key!r}]", options[key])
            given["max_credits"] = (key, options[key])
    for key, scale in (("timeout", 1000.0), ("timeout_s", 1.0)):
        if key in options:
            out["timeout_s"] = _number(f"{where}[{key!r}]", options[key]) / scale
            given["timeout"] = (key, options[key])
    checked = SubmitOptions(**out)
    try:
        checked.request(_ANY_KIND, None)
    except RequestError as exc:
        raise _refused(where, exc, given) from None
    return checked


def _refused(where: str, exc: RequestError, given: Mapping[str, tuple[str, object]]) -> ApiError:
    """`SubmitRequest`'s refusal in the API's words: the key the caller used, in its unit."""
    key, value = given.get(exc.field, (exc.field, None))
    at = f"{where}[{key!r}]"
    if exc.field == "redundancy":
        return ApiError(f"{at}: {value} workers; allowed 1–{MAX_REDUNDANCY}")
    if exc.field == "priority":
        return ApiError(
            f"{at}: expected one of {', '.join(map(repr, PRIORITIES))}, got {show(value)}"
        )
    if exc.field == "timeout":
        unit, scale = ("ms", 1000) if key == "timeout" else ("s", 1)
        low, high = _amount(MIN_TIMEOUT_S * scale), _amount(MAX_TIMEOUT_S * scale)
        return ApiError(f"{at}: {value!r} {unit} is out of range; allowed {low}–{high} {unit}")
    return ApiError(f"{at}: {exc.reason}")


def _amount(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:g}"


def _credits(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ApiError(f"{where}: expected credits as a number or text, got {show(value)}")
    try:
        return econ.parse_credits(repr(value) if isinstance(value, float) else str(value))
    except ValueError as exc:
        raise ApiError(f"{where}: {exc}") from None


def _kind(where: str, kind: object) -> str:
    if not isinstance(kind, str) or kind not in econ.TASK_KINDS:
        raise ApiError(
            f"{where}: unknown task kind {show(kind)}; known: {', '.join(econ.TASK_KINDS)}"
        )
    return kind


def task_request(kind: object, payload: Any, options: object, where: str = "") -> SubmitRequest:
    """One task (`type`, `payload`, `options`) as a checked `SubmitRequest`; `where` names
    the task in refusals (`tasks[2]`)."""
    kind = _kind(f"{where}['type']" if where else "type", kind)
    opts = submit_options(options, f"{where}['options']" if where else "options")
    try:
        return opts.request(kind, payload)
    except RequestError as exc:  # the kind and options were checked: not expected
        raise ApiError(f"{where or 'submit'}: {exc}") from None


_TASK_KEYS = ("type", "payload", "options")


def batch_requests(tasks: object) -> list[SubmitRequest]:
    """Every item of `submit_batch`'s list as a checked `SubmitRequest`; a bad one raises
    `ApiError` naming its index."""
    if isinstance(tasks, str | bytes | Mapping) or not isinstance(tasks, Sequence):
        raise ApiError(
            f"tasks: expected a list of {{type, payload, options}} dicts, got {show(tasks)}"
        )
    out = []
    for n, task in enumerate(tasks):
        where = f"tasks[{n}]"
        if not isinstance(task, Mapping):
            raise ApiError(
                f"{where}: expected a dict with type, payload and options, got {show(task)}"
            )
        for key in task:
            if key not in _TASK_KEYS:
                raise _unknown(where, key, _TASK_KEYS)
        for key in ("type", "payload"):
            if key not in task:
                raise ApiError(f"{where}: missing {key!r}")
        out.append(task_request(task["type"], task["payload"], task.get("options"), where))
    return out

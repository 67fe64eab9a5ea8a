"""The Python API: the seed design's `EdgeNet.init` / `submit` / `submitBatch`, in Python.

    node = await edgenet_app.init(site_id="my-site", contribution={"cpu_limit": 0.3})
    out = await edgenet_app.submit(type="embedding", payload={"texts": ["Hello"]},
                                   options={"redundancy": 3, "timeout": 30_000})
    node.stats(); node.pause(); node.resume(); await node.disconnect()

`init` starts a `runtime.node.Node` (contributor and submitter at once) and returns an
`EdgeNode` handle; `submit` and `submit_batch` use the node of the most recent `init` in this
process (or call them on the handle). Arguments are checked before anything is written or
connected: a bad one raises `ApiError` (a `ValueError` and an `EdgenetError`) naming it
and what is allowed. Option ranges come from the settings schema (`core/settings.py`), so the
API, `edgenet config` and the command-line flags accept exactly the same values.

Importing this module is cheap: the node, WebRTC, SQLite and the task kinds are imported when
`init` or `submit` runs.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .core import economics as econ
from .core.errors import EdgenetError, SettingsError
from .core.genesis import Genesis
from .core.settings import SettingValue, validate
from .core.submit import SubmitRequest
from .core.taskmsg import MAX_REDUNDANCY

if TYPE_CHECKING:
    from .runtime.node import Node

__all__ = [
    "ApiError",
    "DisconnectedError",
    "EdgeNode",
    "NodeReportedError",
    "SubmitOptions",
    "check_site_id",
    "init",
    "site_data_dir",
    "submit",
    "submit_batch",
    "submit_options",
]

log = logging.getLogger("edgenet.api")

CreditCallback = Callable[[float, float], Any]
TaskCallback = Callable[[dict[str, Any]], Any]
ErrorCallback = Callable[[BaseException], Any]
BatchResult = dict[str, Any] | BaseException

DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 86_400.0
PEER_WAIT_S = 30.0  # how long submit waits for `redundancy` peers before announcing anyway
CALLBACK_GRACE_S = 5.0  # disconnect lets running coroutine callbacks finish this long

_SITE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(1, 10)]
    + [f"lpt{i}" for i in range(1, 10)]
)


class ApiError(EdgenetError, ValueError):
    """An argument of the Python API is not valid, or the API is used out of order."""


class DisconnectedError(EdgenetError):
    """The node was disconnected while a submitted task was still running."""


class NodeReportedError(EdgenetError):
    """A problem the running node reported; `on_error` receives it. `event` is the raw dict."""

    def __init__(self, message: str, event: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.event = dict(event)


# ------------------------------------------------------------------------------ checking


def _unknown(where: str, key: object, known: Sequence[str]) -> ApiError:
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ApiError(f"{where}: unknown key {key!r}; {hint}known: {', '.join(known)}")


def _show(value: object) -> str:
    return f"{repr(value)[:60]} ({type(value).__name__})"


def _number(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ApiError(f"{where}: expected a number, got {_show(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ApiError(f"{where}: expected a finite number, got {value!r}")
    return number


def _whole(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"{where}: expected a whole number, got {_show(value)}")
    return value


def check_site_id(site_id: object) -> str:
    """`site_id` if it can name a data directory on every platform, else `ApiError`."""
    if not isinstance(site_id, str):
        raise ApiError(f"site_id: expected text, got {_show(site_id)}")
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
    from .runtime.store import paths

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
        raise ApiError(f"{where}: expected a list of task kinds, got {_show(value)}")
    if not all(isinstance(item, str) for item in value):
        return value  # the settings check names the bad item
    expanded = [kind for item in value for kind in _TASK_ALIASES.get(item, (item,))]
    return list(dict.fromkeys(expanded))


def _same(where: str, value: object) -> object:
    return value


def _not(where: str, value: object) -> object:
    if not isinstance(value, bool):
        raise ApiError(f"{where}: expected True or False, got {_show(value)}")
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
            f"a CPU fraction, got {_show(contribution)}"
        )
    return _settings_from("contribution", contribution, _CONTRIBUTION)


def _idle(idle: object) -> dict[str, SettingValue]:
    if idle is None:
        return {}
    if not isinstance(idle, Mapping):
        raise ApiError(f"idle: expected a dict, got {_show(idle)}")
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


def _genesis(network: object) -> Genesis:
    from .runtime.store.networks import load_network

    if isinstance(network, Genesis):
        return network
    if network is None or isinstance(network, str | os.PathLike):
        return load_network(network)
    raise ApiError(f"network: expected a network file path or a Genesis, got {_show(network)}")


@dataclass(frozen=True)
class SubmitOptions:
    """Checked submit options (`redundancy` workers, `max_credits` in micro-credits)."""

    priority: str = "normal"
    redundancy: int = econ.DEFAULT_REDUNDANCY
    max_credits: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S


_OPTION_KEYS = ("priority", "redundancy", "maxCredits", "max_credits", "timeout", "timeout_s")


def submit_options(options: object, where: str = "options") -> SubmitOptions:
    """Check the seed's submit options: priority ('low'|'normal'|'high'), redundancy (1–7),
    maxCredits or max_credits (credits: a number or a decimal string), timeout (milliseconds,
    as in the seed) or timeout_s (seconds); at most one day."""
    if options is None:
        return SubmitOptions()
    if not isinstance(options, Mapping):
        raise ApiError(f"{where}: expected a dict, got {_show(options)}")
    for key in options:
        if key not in _OPTION_KEYS:
            raise _unknown(where, key, _OPTION_KEYS)
    for a, b in (("maxCredits", "max_credits"), ("timeout", "timeout_s")):
        if a in options and b in options:
            raise ApiError(f"{where}: give {a!r} or {b!r}, not both")
    out: dict[str, Any] = {}
    if "priority" in options:
        priority = options["priority"]
        if not isinstance(priority, str) or priority not in econ.PRIORITY_FACTOR:
            raise ApiError(
                f"{where}['priority']: expected one of "
                f"{', '.join(map(repr, econ.PRIORITY_FACTOR))}, got {_show(priority)}"
            )
        out["priority"] = priority
    if "redundancy" in options:
        redundancy = _whole(f"{where}['redundancy']", options["redundancy"])
        if not 1 <= redundancy <= MAX_REDUNDANCY:
            raise ApiError(
                f"{where}['redundancy']: {redundancy} workers; allowed 1–{MAX_REDUNDANCY}"
            )
        out["redundancy"] = redundancy
    for key in ("maxCredits", "max_credits"):
        if key in options:
            out["max_credits"] = _credits(f"{where}[{key!r}]", options[key])
    for key, unit, scale in (("timeout", "ms", 1000.0), ("timeout_s", "s", 1.0)):
        if key in options:
            seconds = _number(f"{where}[{key!r}]", options[key]) / scale
            if not 0 < seconds <= MAX_TIMEOUT_S:
                raise ApiError(
                    f"{where}[{key!r}]: {options[key]!r} {unit} is out of range; allowed "
                    f"more than 0 and at most {MAX_TIMEOUT_S * scale:g} {unit} (one day)"
                )
            out["timeout_s"] = seconds
    return SubmitOptions(**out)


def _credits(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ApiError(f"{where}: expected credits as a number or text, got {_show(value)}")
    try:
        return econ.parse_credits(repr(value) if isinstance(value, float) else str(value))
    except ValueError as exc:
        raise ApiError(f"{where}: {exc}") from None


def _kind(where: str, kind: object) -> str:
    if not isinstance(kind, str) or kind not in econ.TASK_KINDS:
        raise ApiError(
            f"{where}: unknown task kind {_show(kind)}; known: {', '.join(econ.TASK_KINDS)}"
        )
    return kind


_TASK_KEYS = ("type", "payload", "options")


def _batch(tasks: object) -> list[tuple[str, Any, SubmitOptions]]:
    if isinstance(tasks, str | bytes | Mapping) or not isinstance(tasks, Sequence):
        raise ApiError(
            f"tasks: expected a list of {{type, payload, options}} dicts, got {_show(tasks)}"
        )
    out = []
    for n, task in enumerate(tasks):
        where = f"tasks[{n}]"
        if not isinstance(task, Mapping):
            raise ApiError(
                f"{where}: expected a dict with type, payload and options, got {_show(task)}"
            )
        for key in task:
            if key not in _TASK_KEYS:
                raise _unknown(where, key, _TASK_KEYS)
        for key in ("type", "payload"):
            if key not in task:
                raise ApiError(f"{where}: missing {key!r}")
        kind = _kind(f"{where}['type']", task["type"])
        out.append(
            (kind, task["payload"], submit_options(task.get("options"), f"{where}['options']"))
        )
    return out


# ------------------------------------------------------------------------------ the handle


class EdgeNode:
    """A running node started by `init`: contributes CPU and submits tasks.

    `stats()`, `pause()`, `resume()`, `await disconnect()`, `await submit(...)`,
    `await submit_batch(...)`; `async with` disconnects on exit. `node` is the underlying
    `runtime.node.Node`, `settings` the effective settings it was started with.
    """

    def __init__(
        self,
        node: Node,
        *,
        site_id: str | None,
        settings: Mapping[str, SettingValue],
        on_credit: CreditCallback | None = None,
        on_task: TaskCallback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.node = node
        self.site_id = site_id
        self.settings = dict(settings)
        self._on_credit = on_credit
        self._on_task = on_task
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._callbacks: set[asyncio.Future[Any]] = set()
        self._unsubscribe: Callable[[], object] | None = None
        self._stopping: asyncio.Future[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def _start(self) -> None:
        self._unsubscribe = self.node.subscribe(self._on_event)
        try:
            await self.node.start()
        except BaseException:
            self._unsubscribe()
            try:
                await self.node.stop()
            except Exception:
                log.exception("cleaning up after a failed start")
            raise

    async def disconnect(self) -> None:
        """Stop the node (links, worker pool, store). Calling it again does nothing."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        global _current
        try:
            if self._unsubscribe is not None:
                self._unsubscribe()
            await self.node.stop()
        finally:
            if _current is self:
                _current = None
            pending = self._callbacks - {asyncio.current_task()}
            if pending:
                _, late = await asyncio.wait(pending, timeout=CALLBACK_GRACE_S)
                for fut in late:
                    fut.cancel()

    @property
    def disconnected(self) -> bool:
        return self._stopping is not None

    async def __aenter__(self) -> EdgeNode:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # -- status ---------------------------------------------------------------------------

    @property
    def node_id(self) -> str:
        assert self.node.identity is not None
        return self.node.identity.node_id

    @property
    def data_dir(self) -> Path:
        return self.node.data_dir

    def stats(self) -> dict[str, Any]:
        """node_id, credits {available, locked, staked}, tasks_completed, tasks_submitted,
        uptime (s), reputation, multiplier, peers, cpu_donated_s, state, reason."""
        return self.node.stats()

    def pause(self) -> None:
        """Stop taking new tasks (running ones finish); submitting still works."""
        self.node.pause()

    def resume(self) -> None:
        self.node.resume()

    def __repr__(self) -> str:
        who = self.node.identity.node_id if self.node.identity else "?"
        state = "disconnected" if self.disconnected else self.node.state()[0]
        return f"<EdgeNode {who} site={self.site_id!r} {state}>"

    # -- callbacks ------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "credit" and self._on_credit is not None:
            amount = int(event["amount_micro"])
            self._call("on_credit", self._on_credit, amount / econ.MICRO, self._total())
        elif kind == "task" and self._on_task is not None:
            self._call("on_task", self._on_task, {"type": event.get("kind"), **event})
        elif kind == "error" and self._on_error is not None:
            self._call("on_error", self._on_error, _as_exception(event))

    def _total(self) -> float:
        credits = self.node.stats()["credits"]
        micro = econ.parse_credits(credits["available"]) + econ.parse_credits(credits["locked"])
        return micro / econ.MICRO

    def _call(self, name: str, callback: Callable[..., Any], *args: Any) -> None:
        try:
            result = callback(*args)
        except Exception:
            log.exception("the %s callback failed", name)
            return
        if inspect.isawaitable(result):
            fut = asyncio.ensure_future(result)
            self._callbacks.add(fut)
            fut.add_done_callback(lambda f: self._callback_done(name, f))

    def _callback_done(self, name: str, fut: asyncio.Future[Any]) -> None:
        self._callbacks.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.error("the %s callback failed", name, exc_info=fut.exception())

    # -- submitting -----------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self.disconnected:
            raise ApiError("this node is disconnected; start one with `await edgenet_app.init()`")
        if asyncio.get_running_loop() is not self._loop:
            raise ApiError(
                "this node runs in another event loop; call init() in the loop that submits"
            )

    async def submit(
        self, type: str, payload: Any, options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one task on the network and pay the workers whose results agreed.

        Returns {"result", "cost" (credits, float), "cost_micro", "workers" (node ids),
        "verified", "reason"}. A result that could not be verified is returned with
        verified False and the reason; a bad payload, too few credits or no verdict before the
        timeout raise. Options: see `submit_options` (`timeout` is in milliseconds, like the
        seed's; `timeout_s` in seconds; default 60 s).
        """
        self._check_usable()
        kind = _kind("type", type)
        return await self._submit(kind, payload, submit_options(options))

    async def submit_batch(self, tasks: Sequence[Mapping[str, Any]]) -> list[BatchResult]:
        """Run several tasks concurrently; the results come back in order.

        Every item is `{"type", "payload", "options"?}`, all checked before any task starts
        (a bad item raises `ApiError` naming its index). A task that then fails does not
        cancel the others: its slot holds the exception (like `asyncio.gather(...,
        return_exceptions=True)`), so check `isinstance(r, BaseException)`.
        """
        self._check_usable()
        specs = _batch(tasks)
        runs = [self._submit(kind, payload, opts) for kind, payload, opts in specs]
        return list(await asyncio.gather(*runs, return_exceptions=True))

    async def _submit(self, kind: str, payload: Any, opts: SubmitOptions) -> dict[str, Any]:
        waited = await self._wait_for_peers(kind, payload, opts)
        try:
            out = await self.node.submit(
                SubmitRequest(
                    kind,
                    payload,
                    redundancy=opts.redundancy,
                    priority=opts.priority,
                    timeout_s=opts.timeout_s - waited,
                    max_credits=opts.max_credits,
                )
            )
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if self.disconnected and me is not None and not me.cancelling():
                raise DisconnectedError(
                    "the node was disconnected before the task finished"
                ) from None
            raise
        result = out.as_dict()
        result["cost"] = out.cost / econ.MICRO
        return result

    async def _wait_for_peers(self, kind: str, payload: Any, opts: SubmitOptions) -> float:
        """Right after start, give the mesh time to reach `redundancy` peers (at most half the
        timeout, and PEER_WAIT_S), so the announcement finds its workers. A bad payload is
        reported before waiting. Returns the seconds waited."""
        if len(self.node.stats()["peers"]) >= opts.redundancy:
            return 0.0
        from .tasks.registry import get_kind

        get_kind(kind).parse(payload)
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + min(opts.timeout_s / 2, PEER_WAIT_S)
        while len(self.node.stats()["peers"]) < opts.redundancy and loop.time() < deadline:
            await asyncio.sleep(0.1)
        return loop.time() - start


def _as_exception(event: Mapping[str, Any]) -> BaseException:
    exc = event.get("exception")
    if isinstance(exc, BaseException):
        return exc
    message = event.get("message") or event.get("error") or "the node reported an error"
    return NodeReportedError(str(message), event)


# ------------------------------------------------------------------------------ module API

_current: EdgeNode | None = None


def _check_callback(name: str, callback: object) -> None:
    if callback is not None and not callable(callback):
        raise ApiError(f"{name}: expected a function or None, got {_show(callback)}")


async def init(
    site_id: str | None = None,
    contribution: Mapping[str, Any] | float | None = None,
    idle: Mapping[str, Any] | None = None,
    relays: Sequence[str] | str | None = None,
    network: str | os.PathLike[str] | Genesis | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    on_credit: CreditCallback | None = None,
    on_task: TaskCallback | None = None,
    on_error: ErrorCallback | None = None,
    loopback: bool = False,
    passphrase: str | None = None,
) -> EdgeNode:
    """Start a node and return its handle; later `submit` calls use it.

    - `site_id`: a label (1–64 of A–Z a–z 0–9 . _ -); without `data_dir` it picks the data
      dir `<data dir>/sites/<site_id>`, so each site keeps its own identity.
    - `contribution`: {cpu_limit, memory_limit_mb, bandwidth_limit_kib_s, task_kinds}, or the
      seed's {cpuLimit, memoryLimit (bytes), bandwidthLimit (bytes/s), tasks}, or a bare CPU
      fraction. `idle`: {min_idle_seconds, work_while_in_use, in_use_cpu_limit,
      respect_battery, battery_threshold} or the seed's {minIdleTime (ms), focusRequired,
      respectBattery}. They override the settings stored in the data dir for this run.
    - `relays`: ws:// or wss:// URLs (default: the settings', then the network's).
    - `network`: a network file or a `Genesis` (default: the built-in network).
    - `on_credit(credits, total)`: this node was paid `credits`; `total` is its available
      plus locked credits. `on_task(task)`: it ran a task (type, task, ok, cpu_ms, error).
      `on_error(exception)`. Plain or `async` functions; their exceptions are logged.
    - `loopback`: WebRTC over 127.0.0.1 only (tests, one-machine demos).
    - `passphrase`: for a passphrase-protected key (default: $EDGENET_PASSPHRASE); a new
      identity is created with it if the data dir has none.
    """
    global _current
    if site_id is not None:
        check_site_id(site_id)
    overrides = {**_contribution(contribution), **_idle(idle), **_relays(relays)}
    for name, cb in (("on_credit", on_credit), ("on_task", on_task), ("on_error", on_error)):
        _check_callback(name, cb)
    if not isinstance(loopback, bool):
        raise ApiError(f"loopback: expected True or False, got {_show(loopback)}")
    if passphrase is not None and not isinstance(passphrase, str):
        raise ApiError(f"passphrase: expected text, got {_show(passphrase)}")
    genesis = _genesis(network)
    base = site_data_dir(site_id, data_dir)

    from .runtime.node import Node, NodeOptions
    from .runtime.store import keystore, paths
    from .runtime.store.config import effective_settings
    from .runtime.store.store import Store

    store = Store.open(paths.store_path(paths.ensure_private_dir(base)))
    try:
        eff = effective_settings(store, None, overrides).values
    except SettingsError as exc:  # a cross-field rule, e.g. in_use_cpu_limit > cpu_limit
        raise ApiError(str(exc).replace("the command line", "init()")) from None
    finally:
        store.close()
    options = NodeOptions.from_settings(
        eff,
        loopback=loopback,
        passphrase=passphrase if passphrase is not None else keystore.read_passphrase(),
    )
    handle = EdgeNode(
        Node(base, genesis, options),
        site_id=site_id,
        settings=eff,
        on_credit=on_credit,
        on_task=on_task,
        on_error=on_error,
    )
    await handle._start()
    _current = handle
    return handle


def _node() -> EdgeNode:
    if _current is None:
        raise ApiError(
            "no node to submit with: call `node = await edgenet_app.init(...)` first "
            "(or the previous node was disconnected)"
        )
    return _current


async def submit(
    type: str, payload: Any, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`EdgeNode.submit` on the node of the most recent `init` in this process."""
    return await _node().submit(type, payload, options)


async def submit_batch(tasks: Sequence[Mapping[str, Any]]) -> list[BatchResult]:
    """`EdgeNode.submit_batch` on the node of the most recent `init` in this process."""
    return await _node().submit_batch(tasks)

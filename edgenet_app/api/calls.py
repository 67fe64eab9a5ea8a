"""The module-level API: `init` starts a node and makes it this process's current one;
`submit` and `submit_batch` use the node of the most recent `init` (until it disconnects)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import SettingsError
from ..core.genesis import Genesis
from .arguments import (
    batch_requests,
    check_callback,
    check_site_id,
    genesis_of,
    init_overrides,
    show,
    site_data_dir,
    task_request,
)
from .errors import ApiError
from .node import BatchResult, CreditCallback, EdgeNode, ErrorCallback, TaskCallback

__all__ = ["init", "submit", "submit_batch"]

_current: EdgeNode | None = None


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
    overrides = init_overrides(contribution, idle, relays)
    for name, cb in (("on_credit", on_credit), ("on_task", on_task), ("on_error", on_error)):
        check_callback(name, cb)
    if not isinstance(loopback, bool):
        raise ApiError(f"loopback: expected True or False, got {show(loopback)}")
    if passphrase is not None and not isinstance(passphrase, str):
        raise ApiError(f"passphrase: expected text, got {show(passphrase)}")
    genesis = genesis_of(network)
    base = site_data_dir(site_id, data_dir)

    from ..runtime import node as runtime_node
    from ..runtime.launch import node_options
    from ..runtime.store import keystore

    try:
        options, settings = node_options(
            base,
            overrides=overrides,
            loopback=loopback,
            passphrase=passphrase if passphrase is not None else keystore.read_passphrase(),
        )
    except SettingsError as exc:  # a cross-field rule, e.g. in_use_cpu_limit > cpu_limit
        raise ApiError(str(exc).replace("the command line", "init()")) from None
    handle = EdgeNode(
        runtime_node.Node(base, genesis, options),  # looked up now: tests put a stand-in there
        site_id=site_id,
        settings=settings,
        on_credit=on_credit,
        on_task=on_task,
        on_error=on_error,
    )
    await handle._start()
    _current = handle
    return handle


def _node() -> EdgeNode:
    global _current
    if _current is not None and _current.disconnected:
        _current = None
    if _current is None:
        raise ApiError(
            "no node to submit with: call `node = await edgenet_app.init(...)` first "
            "(or the previous node was disconnected)"
        )
    return _current


async def submit(
    type: str, payload: Any, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`EdgeNode.submit` on the node of the most recent `init` in this process; the
    arguments are checked first, so a bad one is named even with no node."""
    task_request(type, payload, options)
    return await _node().submit(type, payload, options)


async def submit_batch(tasks: Sequence[Mapping[str, Any]]) -> list[BatchResult]:
    """`EdgeNode.submit_batch` on the node of the most recent `init` in this process; the
    tasks are checked first, so a bad one is named even with no node."""
    batch_requests(tasks)
    return await _node().submit_batch(tasks)

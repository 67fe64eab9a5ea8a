"""The node's local control API (like BOINC's GUI RPC): HTTP + JSON on 127.0.0.1 only.

`ControlServer` listens on an OS-chosen port and writes `control.json` (port, a random bearer
token, pid; mode 0600, atomically) into the data dir; it removes the file when it stops.
Every request must carry `Authorization: Bearer <token>`. Bodies are JSON (at most 16 MiB);
every input is validated, and a refusal is `{"error": "<precise message>"}` with a 4xx status,
never a traceback. `edgenet status/peers/pause/resume/submit` and the tray app use it through
`runtime/control/client.py`.

    GET  /v1/status     node.stats() (core/status.py NodeStatus; credits in micro-credits)
    GET  /v1/peers      [{node_id, open, bytes_in, bytes_out}]
    GET  /v1/history    {tasks: recent task lines, earnings: [[ts_ms, cumulative µcr]]} ?limit=
    POST /v1/pause      stop accepting tasks; returns the new status
    POST /v1/resume     accept tasks again; returns the new status
    POST /v1/snooze     {seconds: 1–604800}: pause, then resume by itself
    POST /v1/drain      take no new tasks; pause once the running ones are done
    GET  /v1/settings   effective settings: {values, sources, warnings}
    PUT  /v1/settings   {key: value|null, ...}: validate, store, apply; + {changed, shadowed}
    POST /v1/submit     {type, payload, redundancy?, priority?, max_credits?, timeout?}
    GET  /v1/events     newline-delimited JSON notifications (core/notifications.py, plus "t")
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from ..._fs import atomic_write
from ..._json import jsonable
from ...core import economics as econ
from ...core import notifications as notes
from ...core.errors import EdgenetError, RequestError, SettingsError
from ...core.identity import node_id_of
from ...core.notifications import Notification
from ...core.settings import SettingValue, get_setting, validate
from ...core.submit import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S, MIN_TIMEOUT_S, SubmitRequest
from ...core.taskmsg import MAX_REDUNDANCY, PRIORITIES
from ..net.relay_client import RelayError
from ..net.webrtc import DialError, LinkClosed
from ..node import Node, NodeError
from ..store.config import EffectiveSettings, SettingsStore, effective_settings, store_setting
from ..store.store import StoreError
from .client import HOST, ControlClient, control_path, read_control_file

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024
MAX_QUEUED_EVENTS = 10_000
KEEPALIVE_S = 15.0
SUBMIT_FIELDS = ("type", "payload", "redundancy", "priority", "max_credits", "timeout")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_dumps = functools.partial(json.dumps, default=jsonable, ensure_ascii=False)


MAX_SNOOZE_S = 7 * 24 * 3600


class Refused(EdgenetError):
    """A request the API refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": message}, status=status, headers=headers or None, dumps=_dumps
    )


def _reply(data: Any) -> web.Response:
    return web.json_response(data, dumps=_dumps)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()  # HTTPRequestEntityTooLarge past MAX_BODY
    if not raw.strip():
        raise Refused(400, "the request body is empty; expected a JSON object")
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise Refused(
            400, f"the body is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except (ValueError, RecursionError) as exc:  # bad UTF-8, NaN, absurd nesting or integers
        raise Refused(400, f"the body cannot be read as JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Refused(400, f"the body must be a JSON object, got {_json_type(body)}")
    return body


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    return f"{_json_type(value)} ({json.dumps(value)[:40]})"


# -- submit arguments -------------------------------------------------------------------------


def submit_request(body: Mapping[str, Any]) -> SubmitRequest:
    """The task of a /v1/submit body, checked: the fields' types here, their ranges by
    `SubmitRequest` (the rules every entry point shares), refused in this API's names and
    units (`timeout` in seconds, `max_credits` a decimal string of credits)."""
    unknown = sorted(set(body) - set(SUBMIT_FIELDS))
    if unknown:
        raise Refused(400, f"unknown field {unknown[0]!r}; allowed: {', '.join(SUBMIT_FIELDS)}")
    kind = body.get("type")
    if kind is None:
        raise Refused(400, f"missing field 'type' (one of {', '.join(econ.TASK_KINDS)})")
    if kind not in econ.TASK_KINDS:
        raise Refused(
            400, f"type: {repr(kind)[:60]} is not a task kind; known: {', '.join(econ.TASK_KINDS)}"
        )
    if "payload" not in body:
        raise Refused(400, "missing field 'payload' (the task's JSON payload)")
    redundancy = body.get("redundancy", econ.DEFAULT_REDUNDANCY)
    if isinstance(redundancy, bool) or not isinstance(redundancy, int):
        raise Refused(
            400, f"redundancy: expected a whole number 1–{MAX_REDUNDANCY}, got {_show(redundancy)}"
        )
    max_credits = body.get("max_credits")
    if max_credits is not None:
        if not isinstance(max_credits, str):
            raise Refused(
                400, f'max_credits: expected a decimal string like "2.5", got {_show(max_credits)}'
            )
        try:
            max_credits = econ.parse_credits(max_credits)
        except ValueError as exc:
            raise Refused(400, f"max_credits: {exc}") from None
    timeout = body.get("timeout", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise Refused(400, f"timeout: expected a number of seconds, got {_show(timeout)}")
    try:
        return SubmitRequest(
            kind,
            body["payload"],
            redundancy=redundancy,
            priority=body.get("priority", "normal"),
            timeout_s=float(timeout),
            max_credits=max_credits,
        )
    except RequestError as exc:
        raise Refused(400, _refusal(exc, body)) from None


def _refusal(exc: RequestError, body: Mapping[str, Any]) -> str:
    """`SubmitRequest`'s refusal in this API's words: the field as sent, in its unit."""
    value = body.get(exc.field)
    if exc.field == "redundancy":
        return f"redundancy: {value} is out of range; allowed 1–{MAX_REDUNDANCY}"
    if exc.field == "priority":
        return f"priority: expected one of {', '.join(PRIORITIES)}, got {_show(value)}"
    if exc.field == "timeout":
        return f"timeout: {value} is out of range; allowed {MIN_TIMEOUT_S:g}–{MAX_TIMEOUT_S:g} s"
    return f"{exc.field}: {exc.reason}"


# -- settings ---------------------------------------------------------------------------------


class _Staged:
    """An in-memory copy of the stored settings, to try changes before writing any."""

    def __init__(self, rows: dict[str, str]) -> None:
        self.rows = rows

    def get_settings(self) -> dict[str, str]:
        return dict(self.rows)

    def put_setting(self, key: str, json_text: str) -> None:
        self.rows[key] = json_text

    def delete_setting(self, key: str) -> None:
        self.rows.pop(key, None)


def _store_all(store: SettingsStore, changes: Mapping[str, SettingValue | None]) -> None:
    """Store every change with `store_setting` (the path `edgenet config set` takes). Two keys
    of one cross-field rule may change together, so a key a rule refuses is retried after the
    others; nothing is written unless every change is accepted."""
    staged, order, pending = _Staged(store.get_settings()), list[str](), list(changes)
    while pending:
        refusal: SettingsError | None = None
        accepted = len(order)
        for key in list(pending):
            try:
                store_setting(staged, key, changes[key])
            except SettingsError as exc:
                refusal = refusal or exc
                continue
            pending.remove(key)
            order.append(key)
        if refusal is not None and len(order) == accepted:
            raise refusal
    for key in order:
        store_setting(store, key, changes[key])


def _settings_view(eff: EffectiveSettings) -> dict[str, Any]:
    return {"values": eff.values, "sources": eff.sources, "warnings": list(eff.warnings)}


# -- the server -------------------------------------------------------------------------------


class ControlServer:
    """The control API of one running node. `start()` after the node started, `stop()` before
    the node stops. `config_file` and `overrides` are the node's `--config` file and settings
    flags, so that the effective settings are the node's own."""

    def __init__(
        self,
        node: Node,
        data_dir: Path,
        *,
        config_file: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, SettingValue] | None = None,
    ) -> None:
        self.node = node
        self.data_dir = Path(data_dir)
        self.config_file = config_file
        self.overrides = dict(overrides or {})
        self.port = 0
        self._token = secrets.token_hex(32)
        self._runner: web.AppRunner | None = None
        self._streams: set[asyncio.Queue[dict[str, Any] | None]] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen on 127.0.0.1 (OS-chosen port), write control.json; returns the port."""
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._guard])
        app.add_routes(
            [
                web.get("/v1/status", self._status),
                web.get("/v1/peers", self._peers),
                web.get("/v1/history", self._history),
                web.post("/v1/pause", self._pause),
                web.post("/v1/resume", self._resume),
                web.post("/v1/snooze", self._snooze),
                web.post("/v1/drain", self._drain),
                web.get("/v1/settings", self._get_settings),
                web.put("/v1/settings", self._put_settings),
                web.post("/v1/submit", self._submit),
                web.get("/v1/events", self._events),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = next(  # the port the OS chose
            int(a[1]) for a in self._runner.addresses if isinstance(a, tuple) and len(a) >= 2
        )
        info = {"port": self.port, "token": self._token, "pid": os.getpid()}
        try:
            atomic_write(control_path(self.data_dir), json.dumps(info).encode(), 0o600)
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise EdgenetError(f"cannot write {control_path(self.data_dir)}: {exc}") from None
        return self.port

    def client(self) -> ControlClient:
        """A client of this server (the tray app's UI talks to the node it hosts through it)."""
        if self._runner is None:
            raise EdgenetError("the control API is not serving")
        return ControlClient(self.port, self._token, os.getpid())

    async def stop(self) -> None:
        """Remove control.json (if it is still ours), end event streams, close the server."""
        if read_control_file(self.data_dir) == (self.port, self._token, os.getpid()):
            control_path(self.data_dir).unlink(missing_ok=True)
        for queue in list(self._streams):
            queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- every request ------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expected = self._token.encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(
                401,
                "missing or wrong bearer token (the token is in control.json in the node's "
                "data dir)",
                **{"WWW-Authenticate": "Bearer"},
            )
        try:
            return await handler(request)
        except Refused as exc:
            return _error(exc.status, str(exc))
        except (StoreError, LinkClosed, DialError, RelayError) as exc:  # the node's trouble
            log.warning("control API: %s %s: %s", request.method, request.path, exc)
            return _error(503, f"the node could not do it now: {exc}")
        except EdgenetError as exc:  # the request's trouble (bad settings, payload...)
            return _error(400, str(exc))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, self._http_message(request, exc))
        except Exception:  # a bug: logged here, never a traceback to the client
            log.exception("control API: %s %s failed", request.method, request.path)
            return _error(500, "internal error; see the node's log")

    @staticmethod
    def _http_message(request: web.Request, exc: web.HTTPException) -> str:
        if exc.status == 404:
            return f"no such endpoint: {request.path}"
        if exc.status == 405:
            return f"{request.method} is not allowed on {request.path}"
        if exc.status == 413:
            return f"the request body is larger than {MAX_BODY >> 20} MiB"
        return exc.reason

    # -- endpoints ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self.node.stats().to_json()

    async def _status(self, request: web.Request) -> web.Response:
        return _reply(self.status())

    async def _peers(self, request: web.Request) -> web.Response:
        links = self.node.mesh.hub.links if self.node.mesh is not None else {}
        peers = [
            {
                "node_id": node_id_of(key),
                "open": link.open,
                "bytes_in": link.bytes_in,
                "bytes_out": link.bytes_out,
            }
            for key, link in links.items()
        ]
        return _reply(sorted(peers, key=lambda p: str(p["node_id"])))

    async def _history(self, request: web.Request) -> web.Response:
        raw = request.query.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise Refused(400, f"limit must be an integer 1–1000, got {raw!r}")
        return _reply(self.node.history(int(raw)).to_json())

    async def _pause(self, request: web.Request) -> web.Response:
        self.node.pause()
        return _reply(self.status())

    async def _snooze(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        seconds = body.get("seconds")
        unknown = sorted(set(body) - {"seconds"})
        if unknown:
            raise Refused(400, f"unknown field {unknown[0]!r}; allowed: seconds")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 1 <= seconds <= MAX_SNOOZE_S
        ):
            raise Refused(400, f"seconds: expected a number 1–{MAX_SNOOZE_S}, got {_show(seconds)}")
        self.node.snooze(float(seconds))
        return _reply(self.status())

    async def _drain(self, request: web.Request) -> web.Response:
        self.node.finish_then_pause()
        return _reply(self.status())

    async def _resume(self, request: web.Request) -> web.Response:
        self.node.resume()
        return _reply(self.status())

    def _effective(self) -> EffectiveSettings:
        store = self.node.store
        return effective_settings(store, self.config_file, self.overrides)

    async def _get_settings(self, request: web.Request) -> web.Response:
        return _reply(_settings_view(self._effective()))

    async def _put_settings(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        if not body:
            raise Refused(400, 'no settings given; send {"key": value, ...} (null: the default)')
        if self.node.store is None:
            raise Refused(503, "the node is not started")
        store = self.node.store
        changes: dict[str, SettingValue | None] = {}
        for key, value in body.items():
            key = get_setting(key).key  # SettingsError names the closest keys
            changes[key] = None if value is None else validate(key, value)
        before = self._effective()
        _store_all(store, changes)
        after = self._effective()
        changed = {k: v for k, v in after.values.items() if before.values[k] != v}
        self.node.apply_settings(changed)
        shadowed = [k for k in changes if after.sources[k] in ("toml", "cli")]
        return _reply({**_settings_view(after), "changed": sorted(changed), "shadowed": shadowed})

    async def _submit(self, request: web.Request) -> web.Response:
        task = submit_request(await _json_object(request))
        try:
            out = await self.node.submit(task)
        except NodeError as exc:  # e.g. not enough credits, over max_credits
            raise Refused(402, str(exc)) from None
        except TimeoutError:
            raise Refused(504, f"the task did not finish within {task.timeout_s:g} s") from None
        return _reply(out.as_dict())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def deliver(note: Notification) -> None:
            if queue.qsize() < MAX_QUEUED_EVENTS:
                queue.put_nowait({**notes.to_json(note), "t": time.time()})
            elif queue.qsize() == MAX_QUEUED_EVENTS:  # the reader is stuck: end its stream
                queue.put_nowait(None)

        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        unsubscribe = self.node.subscribe(deliver)
        self._streams.add(queue)
        last_write = time.monotonic()
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), 1.0)
                except TimeoutError:  # the reader may be gone: aiohttp does not cancel us
                    if request.transport is None or request.transport.is_closing():
                        break
                    if time.monotonic() - last_write > KEEPALIVE_S:
                        await response.write(b"\n")
                        last_write = time.monotonic()
                    continue
                if item is None:
                    break
                await response.write(_dumps(item).encode() + b"\n")
                last_write = time.monotonic()
        except ConnectionError:
            pass
        finally:
            unsubscribe()
            self._streams.discard(queue)
        return response

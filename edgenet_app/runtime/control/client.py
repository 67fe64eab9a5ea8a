"""Client of a running node's local control API (see `runtime/control/server.py`).

A running node writes `control.json` (port, bearer token, pid; mode 0600) into its data dir.
`ControlClient.discover(data_dir)` reads it and returns a client only if that node is alive
and listening. Every call is one HTTP request to 127.0.0.1; a refusal or an unreachable node
is a `ControlError` carrying the node's message. The methods are coroutines; the CLI runs
them with `client.sync(client.status())`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import psutil

from ...core import notifications as notes
from ...core.errors import EdgenetError, WireError
from ...core.notifications import Notification
from ...core.status import NodeHistory, NodeStatus

log = logging.getLogger(__name__)

CONTROL_FILE = "control.json"
HOST = "127.0.0.1"
CALL_TIMEOUT_S = 15.0

T = TypeVar("T")


class ControlError(EdgenetError):
    """The control API refused a request, or the node could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _status(value: object) -> NodeStatus:
    try:
        return NodeStatus.from_json(value)
    except WireError as exc:
        raise ControlError(f"the node sent an unreadable status: {exc}") from None


def _notification(line: bytes) -> Notification | None:
    """One line of the event stream, or None for a keep-alive or a line to skip."""
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as exc:
        log.warning("skipped an unreadable notification: %s", str(exc)[:200])
        return None
    try:
        return notes.from_json(value)
    except WireError as exc:
        known = isinstance(value, dict) and value.get("event") in notes.KINDS
        (log.warning if known else log.debug)("skipped a notification: %s", exc)
        return None


def control_path(data_dir: Path) -> Path:
    return Path(data_dir) / CONTROL_FILE


def read_control_file(data_dir: Path) -> tuple[int, str, int] | None:
    """(port, token, pid) from the data dir's control file, or None if absent or unusable."""
    try:
        info = json.loads(control_path(data_dir).read_text(encoding="utf-8"))
        port, token, pid = info["port"], info["token"], info["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ok = isinstance(port, int) and 0 < port < 65536 and isinstance(token, str) and token
    return (port, token, pid) if ok and isinstance(pid, int) and pid > 0 else None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


class ControlClient:
    def __init__(self, port: int, token: str, pid: int | None = None) -> None:
        self.port = port
        self.pid = pid
        self._auth = {"Authorization": f"Bearer {token}"}
        self.base = f"http://{HOST}:{port}"
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> aiohttp.ClientSession:
        """One keep-alive session per event loop (a poller reuses its connection)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(headers=self._auth)
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    @classmethod
    def discover(cls, data_dir: Path) -> ControlClient | None:
        """A client for the node running with `data_dir`, or None if no node runs there (no
        or unreadable control file, its process is gone, or its port does not answer)."""
        found = read_control_file(data_dir)
        if found is None:
            return None
        port, token, pid = found
        if not psutil.pid_exists(pid) or not _listening(port):
            return None
        return cls(port, token, pid)

    def sync(self, call: Coroutine[Any, Any, T]) -> T:
        """Run one call to completion from synchronous code (the CLI)."""

        async def run() -> T:
            try:
                return await call
            finally:
                await self.close()

        return asyncio.run(run())

    async def request(
        self, method: str, path: str, body: Any = None, *, timeout_s: float = CALL_TIMEOUT_S
    ) -> Any:
        """One API call; returns the decoded JSON answer, raises ControlError on refusal."""
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with self._http().request(
                method, self.base + path, json=body, timeout=timeout
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
                if resp.status >= 400:
                    message = data.get("error") if isinstance(data, dict) else None
                    raise ControlError(message or f"HTTP {resp.status} {resp.reason}", resp.status)
                return data
        except aiohttp.ClientError as exc:
            raise ControlError(f"cannot reach the node at {self.base}: {exc}") from None
        except TimeoutError:
            raise ControlError(f"the node at {self.base} did not answer in {timeout_s} s") from None

    async def status(self) -> NodeStatus:
        return _status(await self.request("GET", "/v1/status"))

    async def peers(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = await self.request("GET", "/v1/peers")
        return out

    async def history(self, limit: int = 50) -> NodeHistory:
        out = await self.request("GET", f"/v1/history?limit={int(limit)}")
        try:
            return NodeHistory.from_json(out)
        except WireError as exc:
            raise ControlError(f"the node sent an unreadable history: {exc}") from None

    async def pause(self) -> NodeStatus:
        return _status(await self.request("POST", "/v1/pause"))

    async def snooze(self, seconds: float) -> NodeStatus:
        return _status(await self.request("POST", "/v1/snooze", {"seconds": seconds}))

    async def finish_then_pause(self) -> NodeStatus:
        return _status(await self.request("POST", "/v1/drain"))

    async def resume(self) -> NodeStatus:
        return _status(await self.request("POST", "/v1/resume"))

    async def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = await self.request("GET", "/v1/settings")
        return out

    async def set_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """Store and apply settings ({key: JSON value}; null resets a key to its default)."""
        out: dict[str, Any] = await self.request("PUT", "/v1/settings", values)
        return out

    async def submit(
        self,
        kind: str,
        payload: Any,
        *,
        redundancy: int | None = None,
        priority: str | None = None,
        max_credits: str | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Run a task through the node; returns SubmitResult.as_dict() (bytes as base64)."""
        body: dict[str, Any] = {"type": kind, "payload": payload}
        optional = {
            "redundancy": redundancy,
            "priority": priority,
            "max_credits": max_credits,
            "timeout": timeout_s,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        wait = (timeout_s if timeout_s is not None else 60.0) + 30.0
        out: dict[str, Any] = await self.request("POST", "/v1/submit", body, timeout_s=wait)
        return out

    async def events(self) -> AsyncIterator[Notification]:
        """The node's notifications as they happen, until the node closes the stream.
        An event this client does not know (newer than it) is skipped; a known one that
        does not read is skipped with a warning. Any other failure is a ControlError."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CALL_TIMEOUT_S)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, headers=self._auth) as session,
                session.get(self.base + "/v1/events") as resp,
            ):
                if resp.status >= 400:
                    raise ControlError(f"HTTP {resp.status} {resp.reason}", resp.status)
                async for line in resp.content:
                    note = _notification(line)
                    if note is not None:
                        yield note
        except aiohttp.ClientError as exc:
            raise ControlError(f"cannot reach the node at {self.base}: {exc}") from None
        except ValueError as exc:  # a line over aiohttp's limit
            raise ControlError(f"the node's event stream broke: {exc}") from None

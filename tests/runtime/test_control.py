"""The local control API: in-process for the API's shape, and against real `edgenet node`
processes for the CLI (`status`, `peers`, `pause`, `resume`, `submit`, `--headless`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edgenet_app.cli import expand_headless
from edgenet_app.cli.demo_cmd import same_machine_node_options
from edgenet_app.core import economics as econ
from edgenet_app.core.activity import Policy
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.core.notifications import Notification, StateNote, TaskNote
from edgenet_app.core.status import Credits, NodeHistory, TaskEntry
from edgenet_app.core.submit import MAX_TIMEOUT_S, MIN_TIMEOUT_S, SubmitRequest
from edgenet_app.runtime.control.client import (
    ControlClient,
    ControlError,
    control_path,
    read_control_file,
)
from edgenet_app.runtime.control.server import MAX_BODY, ControlServer, Refused, submit_request
from edgenet_app.runtime.net.relay import serve
from edgenet_app.runtime.node import Node, NodeOptions
from edgenet_app.runtime.store import keystore
from edgenet_app.runtime.store.networks import write_network

EDGENET = [sys.executable, "-m", "edgenet_app"]
PAYLOAD = {  # AES-256-GCM of "hello" with an all-zero key and nonce
    "op": "encrypt",
    "key": "A" * 43 + "=",
    "nonce": "A" * 16,
    "data": "aGVsbG8=",
}


def _genesis(name: str, funded: Identity | None = None) -> Genesis:
    grants = ((funded.node_id, 1000 * econ.MICRO),) if funded else ()
    return Genesis.create(
        Identity(b"\x46" * 32), name, int(time.time() * 1000) - 3_600_000, grants=grants
    )


# -- in process -------------------------------------------------------------------------------


class Api:
    """A started node with its control server, and a raw HTTP helper."""

    def __init__(self, node: Node, server: ControlServer, session: aiohttp.ClientSession):
        self.node, self.server, self.session = node, server, session
        port, token, _ = read_control_file(node.data_dir) or (0, "", 0)
        self.base = f"http://127.0.0.1:{port}"
        self.auth = {"Authorization": f"Bearer {token}"}
        self.client = ControlClient(port, token)

    async def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        async with self.session.request(
            method, self.base + path, data=body, headers=self.auth if headers is None else headers
        ) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    genesis = _genesis("control-test")
    runner, port = await serve(genesis, "127.0.0.1", 0)
    node = Node(
        tmp_path / "node",
        genesis,
        NodeOptions(
            relays=(f"ws://127.0.0.1:{port}/ws",),
            loopback=True,
            spot_check_rate=0.0,
            policy=Policy(max_other_cpu=1.0),
        ),
    )
    await node.start()
    server = ControlServer(node, node.data_dir, overrides={"memory_limit_mb": 256})
    await server.start()
    async with aiohttp.ClientSession() as session:
        yield Api(node, server, session)
    await server.stop()
    await node.stop()
    await runner.cleanup()


async def test_the_control_file_is_private_and_removed_on_stop(api: Api) -> None:
    path = control_path(api.node.data_dir)
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
    info = json.loads(path.read_text())
    assert set(info) == {"port", "token", "pid"}
    assert info["pid"] == os.getpid() and info["port"] == api.server.port
    assert len(bytes.fromhex(info["token"])) == 32
    found = ControlClient.discover(api.node.data_dir)
    assert found is not None and found.port == api.server.port
    await api.server.stop()
    assert not path.exists()
    assert ControlClient.discover(api.node.data_dir) is None


async def test_a_control_file_of_another_server_is_left_alone(api: Api) -> None:
    path = control_path(api.node.data_dir)
    path.write_text(json.dumps({"port": 1, "token": "other", "pid": os.getpid()}))
    await api.server.stop()
    assert path.exists()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
async def test_requests_without_the_token_get_401(api: Api, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/v1/status"), ("POST", "/v1/pause"), ("GET", "/v1/nope")):
        status, body = await api.call(method, path, headers=headers)
        assert status == 401 and "bearer token" in body["error"]
    assert not api.node.paused


async def test_status_peers_pause_and_resume(api: Api) -> None:
    st = await api.client.status()
    assert st.node_id == api.node.identity.node_id  # type: ignore[union-attr]
    assert st.network_id == api.node.genesis.network_id.hex()
    assert st.credits == Credits(0, 0, 0)
    _, raw = await api.call("GET", "/v1/status")  # on the wire: micro-credits, not text
    assert raw["credits"] == {"available": 0, "locked": 0, "staked": 0}
    assert await api.client.peers() == []
    paused = await api.client.pause()
    assert paused.state == "paused" and api.node.paused
    resumed = await api.client.resume()
    assert resumed.state != "paused" and not api.node.paused


BAD_SUBMITS = [
    (b"", "the request body is empty"),
    (b'{"type": ', "the body is not valid JSON (line 1, column 10"),
    (b"[1, 2]", "the body must be a JSON object, got a list"),
    (b'{"payload": {}}', "missing field 'type'"),
    (b'{"type": "mining", "payload": {}}', "type: 'mining' is not a task kind"),
    (b'{"type": "encryption"}', "missing field 'payload'"),
    (b'{"type": "encryption", "payload": {}, "redundancy": "3"}', "redundancy: expected a whole"),
    (b'{"type": "encryption", "payload": {}, "redundancy": true}', "redundancy: expected a whole"),
    (b'{"type": "encryption", "payload": {}, "redundancy": 9}', "redundancy: 9 is out of range"),
    (b'{"type": "encryption", "payload": {}, "priority": "urgent"}', "priority: expected one of"),
    (b'{"type": "encryption", "payload": {}, "max_credits": 2.5}', "max_credits: expected a"),
    (b'{"type": "encryption", "payload": {}, "max_credits": "-1"}', "max_credits: '-1' is not"),
    (b'{"type": "encryption", "payload": {}, "timeout": "60"}', "timeout: expected a number"),
    (b'{"type": "encryption", "payload": {}, "timeout": 0}', "0 is out of range; allowed 1–"),
    (
        b'{"type": "encryption", "payload": {}, "timeout": 0.5}',
        "timeout: 0.5 is out of range; allowed 1–86400 s",
    ),
    (b'{"type": "encryption", "payload": {}, "timeout": 1e999}', "timeout: inf is out of range"),
    (
        b'{"type": "encryption", "payload": {}, "redundancy": 0}',
        "redundancy: 0 is out of range; allowed 1–7",
    ),
    (b'{"type": "encryption", "payload": {}, "timeout": NaN}', "NaN is not a JSON number"),
    (b'{"type": "encryption", "payload": {}, "colour": 1}', "unknown field 'colour'"),
    (b'{"type": "encryption", "payload": {"op": "rot13"}}', "encryption.op"),
]


@pytest.mark.parametrize(("body", "message"), BAD_SUBMITS)
async def test_bad_submits_get_400_with_a_precise_message(
    api: Api, body: bytes, message: str
) -> None:
    status, answer = await api.call("POST", "/v1/submit", body)
    assert status == 400, answer
    assert message in answer["error"]
    assert (await api.client.status()).node_id  # the node keeps working


def test_a_submit_body_becomes_a_checked_submit_request() -> None:
    assert submit_request({"type": "encryption", "payload": PAYLOAD}) == SubmitRequest(
        "encryption", PAYLOAD
    )
    body = {"type": "encryption", "payload": PAYLOAD, "redundancy": 7, "priority": "high"}
    body |= {"max_credits": "2.5", "timeout": 1}
    assert submit_request(body) == SubmitRequest(
        "encryption", PAYLOAD, 7, "high", MIN_TIMEOUT_S, 2_500_000
    )
    assert submit_request({**body, "timeout": MAX_TIMEOUT_S}).timeout_s == MAX_TIMEOUT_S
    for field, value in (("timeout", 0.5), ("timeout", MAX_TIMEOUT_S + 1), ("redundancy", 8)):
        with pytest.raises(Refused) as err:  # SubmitRequest's ranges, in this API's words
            submit_request({**body, field: value})
        assert err.value.status == 400
        assert str(err.value).startswith(f"{field}: {value} is out of range; allowed 1–")


async def test_a_submit_without_credits_is_refused_with_402(api: Api) -> None:
    with pytest.raises(ControlError, match="0 are available") as err:
        await api.client.submit("encryption", PAYLOAD, redundancy=1)
    assert err.value.status == 402


async def test_http_errors_are_json(api: Api) -> None:
    assert await api.call("GET", "/v1/nope") == (404, {"error": "no such endpoint: /v1/nope"})
    assert await api.call("DELETE", "/v1/status") == (
        405,
        {"error": "DELETE is not allowed on /v1/status"},
    )
    status, body = await api.call("PUT", "/v1/settings", b"{" + b" " * MAX_BODY + b"}")
    assert status == 413 and "larger than 16 MiB" in body["error"]


async def test_settings_are_validated_stored_and_applied(api: Api) -> None:
    got = await api.client.settings()
    assert got["values"]["memory_limit_mb"] == 256 and got["sources"]["memory_limit_mb"] == "cli"
    out = await api.client.set_settings({"cpu_limit": 0.5, "task_kinds": ["encryption"]})
    assert out["values"]["cpu_limit"] == 0.5 and out["sources"]["cpu_limit"] == "store"
    assert out["changed"] == ["cpu_limit", "task_kinds"] and out["shadowed"] == []
    assert api.node.options.policy.cpu_limit == 0.5 and api.node.options.kinds == ("encryption",)
    assert api.node.ledger is not None
    assert json.loads(api.node.store.get_settings()["cpu_limit"]) == 0.5
    # a flag given to the node wins over the store: stored, reported, not applied
    out = await api.client.set_settings({"memory_limit_mb": 1024})
    assert out["shadowed"] == ["memory_limit_mb"] and out["changed"] == []
    # null goes back to the default
    out = await api.client.set_settings({"cpu_limit": None})
    assert out["values"]["cpu_limit"] == 0.3 and out["sources"]["cpu_limit"] == "default"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cpu_limit": "fast"}, "cpu_limit: expected a number, got 'fast'"),
        ({"cpu_limit": 5}, "cpu_limit: 5.0 is out of range"),
        ({"cpu_limt": 0.5}, "unknown setting 'cpu_limt'; did you mean cpu_limit?"),
        ({"task_kinds": ["mining"]}, "task_kinds: item 1 'mining' is not a known choice"),
        ({"cpu_limit": 0.2, "idle.in_use_cpu_limit": 0.5}, "must not exceed cpu_limit"),
        ({}, "no settings given"),
    ],
)
async def test_bad_settings_get_400_and_change_nothing(
    api: Api, values: dict[str, Any], message: str
) -> None:
    assert api.node.ledger is not None
    before = api.node.store.get_settings()
    status, body = await api.call("PUT", "/v1/settings", json.dumps(values).encode())
    assert status == 400 and message in body["error"], body
    assert api.node.store.get_settings() == before
    assert api.node.options.policy.cpu_limit == 0.3


async def test_two_keys_of_one_rule_change_together(api: Api) -> None:
    # cpu_limit 0.15 alone would break the rule with the stored in_use limit 0.2, and
    # in_use 0.1 first is fine: the order of the keys in the body must not matter
    await api.client.set_settings({"cpu_limit": 0.5, "idle.in_use_cpu_limit": 0.2})
    out = await api.client.set_settings({"cpu_limit": 0.15, "idle.in_use_cpu_limit": 0.1})
    assert out["values"]["cpu_limit"] == 0.15 and out["values"]["idle.in_use_cpu_limit"] == 0.1


async def test_events_stream_notifications_and_unsubscribe(api: Api) -> None:
    got: list[Notification] = []

    async def read() -> None:
        async for event in api.client.events():
            got.append(event)

    listeners = len(api.node.notifier.listeners)
    reader = asyncio.create_task(read())
    assert await _until(lambda: len(api.node.notifier.listeners) == listeners + 1)
    note = TaskNote("encryption", "ab" * 16, True, 12)
    api.node.notifier.emit(note)
    assert await _until(lambda: len(got) == 1)
    assert got == [note]  # typed on both ends
    reader.cancel()
    # the disconnect unsubscribes
    assert await _until(lambda: len(api.node.notifier.listeners) == listeners)


async def _until(cond: Callable[[], bool], timeout: float = 10) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.slow
def test_discover_ignores_absent_stale_and_garbage_files(tmp_path: Path) -> None:
    assert ControlClient.discover(tmp_path) is None
    path = control_path(tmp_path)
    for text in ("", "not json", "[]", '{"port": "x", "token": "t", "pid": 1}'):
        path.write_text(text)
        assert ControlClient.discover(tmp_path) is None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"port": 1, "token": "t", "pid": dead.pid}))
    assert ControlClient.discover(tmp_path) is None  # its process is gone
    path.write_text(json.dumps({"port": 1, "token": "t", "pid": os.getpid()}))
    assert ControlClient.discover(tmp_path) is None  # alive, but nothing listens


def test_headless_is_node() -> None:
    assert expand_headless(["--headless", "--relay", "U", "--loopback"]) == [
        "node",
        "--relay",
        "U",
        "--loopback",
    ]
    assert expand_headless(["--data-dir", "D", "--headless", "--cpu-limit", "0.5"]) == [
        "--data-dir",
        "D",
        "node",
        "--cpu-limit",
        "0.5",
    ]
    assert expand_headless(["--headless", "--data-dir", "D", "-v", "--network", "F"]) == [
        "--data-dir",
        "D",
        "-v",
        "node",
        "--network",
        "F",
    ]
    assert expand_headless(["status", "--headless"]) == ["status", "--headless"]


# -- real processes ---------------------------------------------------------------------------


class Proc:
    """A process whose stdout JSON lines are collected by a thread (never a full pipe)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.lines: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.log = log
        self.popen = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.text.append(line)
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def wait_for(self, pred: Callable[[str], bool], timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.text):
                if pred(line):
                    return line
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no such output; log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.terminate()
        try:
            return self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return None


def edgenet(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EDGENET, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def until(cond: Callable[[], bool], timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_the_cli_against_running_node_processes(tmp_path: Path) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    me = keystore.create_identity(a_dir, ops=1, mem=8192)
    net = tmp_path / "test.net"
    write_network(_genesis("control-processes", me), net)
    procs: list[Proc] = []
    try:
        relay = Proc([*EDGENET, "relay", "--port", "0", "--network", str(net)], tmp_path / "r.log")
        procs.append(relay)
        url = relay.wait_for(lambda s: "ws://" in s).strip().rsplit(" ", 1)[-1]
        common = same_machine_node_options(net, url)
        # the submitter through the --headless alias, the worker through `edgenet node`
        a = Proc([*EDGENET, "--headless", "--data-dir", str(a_dir), *common], tmp_path / "a.log")
        procs.append(a)
        ready = json.loads(a.wait_for(lambda s: '"ready"' in s))
        assert ready["control_port"] == json.loads(control_path(a_dir).read_text())["port"]
        b = Proc([*EDGENET, "--data-dir", str(b_dir), "node", *common], tmp_path / "b.log")
        procs.append(b)
        b_id = json.loads(b.wait_for(lambda s: '"ready"' in s))["node_id"]

        again = edgenet("--data-dir", str(a_dir), "node", *common)
        assert again.returncode == 1 and "a node is already running for" in again.stderr

        out = edgenet("--data-dir", str(a_dir), "status", "--json")
        assert out.returncode == 0, out.stderr
        st = json.loads(out.stdout)
        assert st["node_id"] == me.node_id and st["network"] == "control-processes"
        assert edgenet("--data-dir", str(a_dir), "pause").stdout.startswith("paused")
        human = edgenet("--data-dir", str(a_dir), "status").stdout
        assert human.splitlines()[0].split() == ["state", "paused", "(paused", "by", "the", "user)"]
        assert "credits available" in human and "CPU donated" in human
        assert edgenet("--data-dir", str(a_dir), "resume").returncode == 0
        assert (
            json.loads(edgenet("--data-dir", str(a_dir), "status", "--json").stdout)["state"]
            != "paused"
        )

        def peers() -> list[dict[str, Any]]:
            out = edgenet("--data-dir", str(a_dir), "peers", "--json")
            assert out.returncode == 0, out.stderr
            result: list[dict[str, Any]] = json.loads(out.stdout)
            return result

        assert until(lambda: any(p["node_id"] == b_id and p["open"] for p in peers()))

        _raw_requests_against(a_dir)

        payload = tmp_path / "p.json"
        payload.write_text(json.dumps(PAYLOAD))
        sub = edgenet(
            "--data-dir", str(a_dir), "submit", "--network", str(net),
            "--type", "encryption", "--payload-file", str(payload),
            "--redundancy", "1", "--timeout", "30", "--json",
            timeout=90,
        )  # fmt: skip
        assert sub.returncode == 0, sub.stderr
        result = json.loads(sub.stdout)
        assert result["verified"] is True and result["workers"] == [b_id]
        assert result["result"]["data"] == "psIsUSKLkI9/Yv/Opqkvq+85v02T"
        # the node's stdout carries the settlement as a structured line with its time
        assert until(
            lambda: any(
                line.get("event") == "ledger" and line.get("kind") == "settlements"
                for line in a.lines
            )
        )
        settled = next(line for line in a.lines if line.get("kind") == "settlements")
        assert settled["author"] == me.node_id and abs(settled["t"] - time.time()) < 120
        assert (
            json.loads(edgenet("--data-dir", str(a_dir), "status", "--json").stdout)[
                "tasks_submitted"
            ]
            == 1
        )

        assert a.stop() == 0
        assert not control_path(a_dir).exists()
        gone = edgenet("--data-dir", str(a_dir), "status")
        assert gone.returncode == 1
        assert gone.stderr.strip() == (
            f"edgenet: error: no node is running for {a_dir} (start one with: edgenet node)"
        )
    finally:
        for p in reversed(procs):  # the nodes first: a relay waits for its open websockets
            p.stop()


def _raw_requests_against(data_dir: Path) -> None:
    """401 without or with a wrong token; 400 with a precise message on bad input; the node
    keeps answering."""
    info = json.loads(control_path(data_dir).read_text())
    base = f"http://127.0.0.1:{info['port']}"

    async def run() -> None:
        async with aiohttp.ClientSession() as s:
            for headers in ({}, {"Authorization": "Bearer " + "0" * 64}):
                async with s.get(base + "/v1/status", headers=headers) as r:
                    assert r.status == 401 and "error" in await r.json()
            auth = {"Authorization": f"Bearer {info['token']}"}
            for body, message in (
                (b"{oops", "the body is not valid JSON"),
                (b'{"cpu_limit": "lots"}', "cpu_limit: expected a number"),
            ):
                async with s.put(base + "/v1/settings", data=body, headers=auth) as r:
                    assert r.status == 400 and message in (await r.json())["error"]
            async with s.post(base + "/v1/submit", data=b'{"type": 7}', headers=auth) as r:
                assert r.status == 400 and "type: 7 is not a task kind" in (await r.json())["error"]
            async with s.get(base + "/v1/status", headers=auth) as r:
                assert r.status == 200 and (await r.json())["node_id"]

    asyncio.run(run())


@pytest.mark.slow
def test_status_without_a_running_node_exits_1(tmp_path: Path) -> None:
    for command in ("status", "peers", "pause", "resume"):
        out = edgenet("--data-dir", str(tmp_path), command)
        assert out.returncode == 1
        assert out.stderr == (
            f"edgenet: error: no node is running for {tmp_path} (start one with: edgenet node)\n"
        )


async def test_history_lists_recent_tasks_and_checks_its_limit(tmp_path: Path) -> None:
    node = FakeHistoryNode()
    server = ControlServer(node, tmp_path)  # type: ignore[arg-type]
    await server.start()
    try:
        client = ControlClient.discover(tmp_path)
        assert client is not None
        assert await client.history(5) == FakeHistoryNode.HISTORY
        assert node.asked == [5]
        with pytest.raises(ControlError, match="limit must be an integer 1–1000"):
            await client.request("GET", "/v1/history?limit=0")
    finally:
        await server.stop()


class FakeHistoryNode:
    HISTORY = NodeHistory(
        (TaskEntry("ab" * 16, "embedding", "executed", "done", 1, 2, 150_000),), ((2, 150_000),)
    )

    def __init__(self) -> None:
        self.asked: list[int] = []

    def history(self, limit: int) -> NodeHistory:
        self.asked.append(limit)
        return self.HISTORY

    def subscribe(self, cb: object) -> object:
        return lambda: None


def test_the_event_stream_skips_lines_it_cannot_read(caplog: pytest.LogCaptureFixture) -> None:
    from edgenet_app.runtime.control.client import _notification

    assert _notification(b"\n") is None  # keep-alive
    assert _notification(b'{"event": "telepathy", "t": 1}') is None  # newer than this client
    with caplog.at_level(logging.WARNING):
        assert _notification(b"[" * 100_000) is None  # too deep for json: not a crash
        assert _notification(b'{"event": "credit", "amount": "1.5"}') is None  # a broken one
    assert "skipped a notification: notification credit.amount" in caplog.text
    note = _notification(b'{"event": "state", "state": "paused", "reason": "r", "t": 1.5}')
    assert note == StateNote("paused", "r")

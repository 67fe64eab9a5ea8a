"""The Python API (`edgenet_app.init`, `submit`, `submit_batch`): argument checks, the
mapping onto the node, callbacks, and a real network on loopback WebRTC."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edgenet_app import api
from edgenet_app.core import economics as econ
from edgenet_app.core.activity import Policy
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.core.notifications import CreditNote, ErrorNote, LedgerNote, Notification, TaskNote
from edgenet_app.core.status import Credits, NodeStatus
from edgenet_app.core.submit import MAX_TIMEOUT_S, MIN_TIMEOUT_S, SubmitRequest
from edgenet_app.core.taskmsg import MAX_REDUNDANCY
from edgenet_app.runtime.net.relay import serve
from edgenet_app.runtime.node import Node, NodeOptions, SubmitResult
from edgenet_app.runtime.store import keystore, paths
from edgenet_app.runtime.store.config import store_setting
from edgenet_app.runtime.store.networks import NetworkFileError, write_network
from edgenet_app.runtime.store.store import Store
from edgenet_app.tasks.base import Limits, PayloadError

KEY, NONCE = bytes(range(32)), bytes(12)


def encrypt(data: bytes) -> dict[str, Any]:
    return {"op": "encrypt", "key": KEY, "nonce": NONCE, "data": data}


async def until(cond: Callable[[], bool], timeout: float = 20) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture(autouse=True)
def fresh_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No node from another test, and the platform data dir inside tmp_path."""
    monkeypatch.setattr(api.calls, "_current", None)
    monkeypatch.setenv("EDGENET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(keystore.PASSPHRASE_ENV, raising=False)
    yield tmp_path / "data"


# ---------------------------------------------------------------------- a node stand-in


class FakeNode:
    """Records what init() built; submit answers at once."""

    instances: ClassVar[list[FakeNode]] = []

    def __init__(self, data_dir: Path, genesis: Genesis, options: NodeOptions) -> None:
        self.data_dir, self.genesis, self.options = data_dir, genesis, options
        self.identity = None
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.started = self.stopped = 0
        self.paused = False
        self.submits: list[tuple[str, Any, dict[str, Any]]] = []
        self.hanging: asyncio.Future[None] | None = None
        FakeNode.instances.append(self)

    def subscribe(self, cb: Callable[[Notification], None]) -> Callable[[], None]:
        self.listeners.append(cb)
        return lambda: self.listeners.remove(cb)

    def emit(self, event: Notification) -> None:
        for cb in list(self.listeners):
            cb(event)

    async def start(self) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1
        if self.hanging is not None:
            self.hanging.cancel()  # as Node.stop cancels the submits in flight

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def state(self) -> tuple[str, str]:
        return ("paused", "") if self.paused else ("contributing", "")

    def stats(self) -> NodeStatus:
        credits = Credits(1_000_000_000, 2_500_000, 100_000_000)
        state = self.state()[0]
        return NodeStatus("n", "edgenet", "00", state, "", credits, peers=("p",) * 7)

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        kind, payload = request.kind, request.payload
        fields = ("redundancy", "priority", "timeout_s", "max_credits")
        kw = {f: getattr(request, f) for f in fields}
        self.submits.append((kind, payload, kw))
        if payload == "hang":
            self.hanging = asyncio.get_running_loop().create_future()
            await self.hanging
        if payload == "boom":
            raise PayloadError("encryption.key: boom")
        return SubmitResult({"echo": payload}, 1_500_000, ["w1"], True, "majority")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeNode]:
    import edgenet_app.runtime.node as node_mod

    FakeNode.instances = []
    monkeypatch.setattr(node_mod, "Node", FakeNode)
    return FakeNode


# ---------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    ("site_id", "message"),
    [
        ("", "site_id '' is 0 characters long; use 1–64 characters from A–Z"),
        ("a" * 65, "is 65 characters long"),
        ("../escape", "site_id '../escape' contains '/'; use 1–64 characters"),
        ("a\\b", "contains '\\\\'"),
        ("my site", "contains ' '"),
        ("café", "contains 'é'"),
        ("..", "must not end with '.'"),
        ("site.", "must not end with '.'"),
        ("NUL.txt", "reserved device name on Windows"),
        (42, "site_id: expected text, got 42 (int)"),
    ],
)
async def test_a_bad_site_id_is_refused_before_anything_is_written(
    fresh_api: Path, site_id: Any, message: str
) -> None:
    with pytest.raises(api.ApiError, match="site_id") as err:
        await api.init(site_id=site_id)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)
    assert not fresh_api.exists()


def test_each_site_id_has_its_own_data_dir(fresh_api: Path, tmp_path: Path) -> None:
    assert api.site_data_dir("shop-1") == fresh_api / "sites" / "shop-1"
    assert api.site_data_dir("shop-2") != api.site_data_dir("shop-1")
    assert api.site_data_dir() == fresh_api
    assert api.site_data_dir("shop-1", tmp_path / "own") == tmp_path / "own"


@pytest.mark.parametrize(
    ("contribution", "message"),
    [
        ({"cpu_limit": 1.5}, "contribution['cpu_limit']: cpu_limit: 1.5 is out of range; "
         "allowed 0.1–1.0"),
        (0.05, "contribution['cpu_limit']: cpu_limit: 0.05 is out of range"),
        ({"cpuLimit": "half"}, "cpu_limit: expected a number, got 'half' (str)"),
        ({"memoryLimit": 10 * 2**20}, "contribution['memoryLimit']: memory_limit_mb: 10 is "
         "out of range; allowed 64–65536"),
        ({"memoryLimit": 1.5}, "contribution['memoryLimit']: expected a whole number"),
        ({"tasks": ["vectors", "bitcoin"]}, "item 3 'bitcoin' is not a known choice"),
        ({"task_kinds": []}, "the list is empty"),
        ({"cpu_limt": 0.5}, "unknown key 'cpu_limt'; did you mean 'cpu_limit'?"),
        ({"cpuLimit": 0.5, "cpu_limit": 0.5}, "'cpuLimit' and 'cpu_limit' set the same thing"),
        ("lots", "contribution: expected a dict"),
        (True, "contribution: expected a dict"),
    ],
)  # fmt: skip
async def test_a_bad_contribution_names_the_key_and_the_allowed_range(
    fresh_api: Path, contribution: Any, message: str
) -> None:
    with pytest.raises(api.ApiError) as err:
        await api.init(site_id="shop", contribution=contribution)
    assert message in str(err.value)
    assert not fresh_api.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"idle": {"minIdleTime": -5}}, "idle['minIdleTime']: expected milliseconds ≥ 0"),
        ({"idle": {"battery_threshold": 101}}, "idle.battery_threshold: 101 is out of range"),
        ({"idle": {"focusRequired": "no"}}, "idle['focusRequired']: expected True or False"),
        ({"relays": ["http://relay.example"]}, "scheme must be ws:// or wss://"),
        ({"network": 7}, "network: expected a network file path or a Genesis"),
        ({"on_credit": "print"}, "on_credit: expected a function or None"),
        ({"loopback": "yes"}, "loopback: expected True or False"),
        (
            {"contribution": 0.2, "idle": {"inUseCpuLimit": 0.5}},
            "idle.in_use_cpu_limit: 0.5 must not exceed cpu_limit (0.2) "
            "[idle.in_use_cpu_limit from init(), cpu_limit from init()]",
        ),
    ],
)
async def test_other_bad_init_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(api.ApiError) as err:
        await api.init(**kwargs)
    assert message in str(err.value)


async def test_a_missing_network_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError, match="no network file"):
        await api.init(network=tmp_path / "nope.net")


async def test_submit_before_init_says_to_call_init() -> None:
    with pytest.raises(api.ApiError, match=r"call `node = await edgenet_app.init\("):
        await api.submit(type="encryption", payload=encrypt(b"x"))
    with pytest.raises(api.ApiError, match="init"):
        await api.submit_batch([{"type": "encryption", "payload": encrypt(b"x")}])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priorty": "high"}, "options: unknown key 'priorty'; did you mean 'priority'?"),
        ({"retries": 2}, "unknown key 'retries'"),
        ({"priority": "urgent"}, "options['priority']: expected one of 'low', 'normal', 'high'"),
        ({"priority": ["high"]}, "got ['high'] (list)"),
        ({"redundancy": 8}, "options['redundancy']: 8 workers; allowed 1–7"),
        ({"redundancy": True}, "options['redundancy']: expected a whole number"),
        ({"maxCredits": "-1"}, "options['maxCredits']: '-1' is not a non-negative number"),
        ({"max_credits": 0.0000001}, "more than 6 decimal places"),
        ({"maxCredits": 1, "max_credits": 1}, "give 'maxCredits' or 'max_credits', not both"),
        ({"timeout": 0}, "options['timeout']: 0 ms is out of range"),
        ({"timeout": 500}, "options['timeout']: 500 ms is out of range; allowed 1000–86400000 ms"),
        ({"timeout": 86_400_001}, "86400001 ms is out of range; allowed 1000–86400000 ms"),
        ({"timeout_s": 0.5}, "options['timeout_s']: 0.5 s is out of range; allowed 1–86400 s"),
        ({"redundancy": 0}, "options['redundancy']: 0 workers; allowed 1–7"),
        ({"timeout_s": float("inf")}, "expected a finite number"),
        ({"timeout": 30_000, "timeout_s": 30}, "not both"),
        ("fast", "options: expected a dict"),
    ],
)
def test_bad_submit_options(options: Any, message: str) -> None:
    with pytest.raises(api.ApiError) as err:
        api.submit_options(options)
    assert message in str(err.value)


def test_submit_options_units() -> None:
    assert api.submit_options(None) == api.SubmitOptions("normal", 3, None, 60.0)
    opts = api.submit_options(
        {"priority": "high", "redundancy": 1, "maxCredits": 0.5, "timeout": 30_000}
    )
    assert opts == api.SubmitOptions("high", 1, 500_000, 30.0)
    assert api.submit_options({"max_credits": "1,000.25", "timeout_s": 2}).max_credits == (
        1_000_250_000
    )
    assert api.submit_options({"timeout_s": 2}).timeout_s == 2.0
    # the bounds are SubmitRequest's, in the API's units
    assert api.submit_options({"timeout": MIN_TIMEOUT_S * 1000}).timeout_s == MIN_TIMEOUT_S
    assert api.submit_options({"timeout_s": MAX_TIMEOUT_S}).timeout_s == MAX_TIMEOUT_S
    assert api.submit_options({"redundancy": MAX_REDUNDANCY}).redundancy == MAX_REDUNDANCY


# ---------------------------------------------------------------------- mapping onto the node


async def test_init_maps_seed_style_arguments_onto_node_options(
    fake: type[FakeNode], fresh_api: Path
) -> None:
    node = await api.init(
        site_id="shop",
        contribution={
            "cpuLimit": 0.5,
            "memoryLimit": 256 * 1024 * 1024,
            "bandwidthLimit": 1024 * 1024,
            "tasks": ["vectors", "embeddings", "encryption"],
        },
        idle={"focusRequired": True, "minIdleTime": 5_500, "respectBattery": False},
        relays="ws://127.0.0.1:9/ws",
        loopback=True,
    )
    n = fake.instances[-1]
    assert n.started == 1 and n.data_dir == fresh_api / "sites" / "shop"
    o = n.options
    assert o.policy.cpu_limit == 0.5 and o.limits.memory_mb == 256
    assert o.kinds == ("vector_insert", "vector_search", "embedding", "encryption")
    assert (o.policy.work_while_in_use, o.policy.min_idle_s, o.policy.respect_battery) == (
        False,
        6.0,
        False,
    )
    assert o.relays == ("ws://127.0.0.1:9/ws",) and o.loopback is True
    assert node.settings["bandwidth_limit_kib_s"] == 1024
    assert n.genesis.name == "edgenet"  # the built-in network
    await node.disconnect()


async def test_settings_stored_in_the_data_dir_apply_and_arguments_win(
    fake: type[FakeNode], tmp_path: Path
) -> None:
    data = tmp_path / "site"
    with Store.open(paths.store_path(paths.ensure_private_dir(data))) as store:
        store_setting(store, "cpu_limit", 0.8)
        store_setting(store, "idle.battery_threshold", 80)
    node = await api.init(data_dir=data, contribution=0.4)
    o = fake.instances[-1].options
    assert o.policy.cpu_limit == 0.4 and o.policy.battery_threshold == 80
    assert fake.instances[-1].data_dir == data
    await node.disconnect()


async def test_submit_uses_the_latest_node_and_returns_cost_in_credits(
    fake: type[FakeNode],
) -> None:
    first = await api.init(site_id="a")
    second = await api.init(site_id="b")
    out = await api.submit(
        type="encryption", payload="p", options={"redundancy": 2, "timeout": 5000}
    )
    assert out["cost"] == 1.5 and out["cost_micro"] == 1_500_000
    assert out["verified"] is True and out["workers"] == ["w1"] and out["result"] == {"echo": "p"}
    assert fake.instances[1].submits == [
        (
            "encryption",
            "p",
            {"redundancy": 2, "priority": "normal", "timeout_s": 5.0, "max_credits": None},
        )
    ]
    assert not fake.instances[0].submits
    with pytest.raises(api.ApiError, match="unknown task kind 'embeddings'"):
        await api.submit(type="embeddings", payload="p")
    with pytest.raises(api.ApiError, match="options: unknown key 'retries'"):
        await second.submit("encryption", "p", {"retries": 1})
    await second.disconnect()
    with pytest.raises(api.ApiError, match="init"):  # not the older node
        await api.submit(type="encryption", payload="p")
    with pytest.raises(api.ApiError, match="disconnected"):
        await second.submit("encryption", "p")
    await first.disconnect()


async def test_bad_arguments_are_named_even_without_a_node(fake: type[FakeNode]) -> None:
    with pytest.raises(api.ApiError, match=r"options\['timeout'\]: 500 ms is out of range"):
        await api.submit(type="encryption", payload="p", options={"timeout": 500})
    with pytest.raises(api.ApiError, match=r"tasks\[0\]\['options'\]: unknown key"):
        await api.submit_batch([{"type": "encryption", "payload": 1, "options": {"x": 1}}])
    with pytest.raises(api.ApiError, match="no node to submit with"):  # good ones reach this
        await api.submit(type="encryption", payload="p", options={"timeout": 1000})
    assert not fake.instances


async def test_a_timeout_out_of_range_is_refused_before_the_node_sees_it(
    fake: type[FakeNode],
) -> None:
    node = await api.init()
    n = fake.instances[-1]
    with pytest.raises(api.ApiError) as err:
        await api.submit(type="encryption", payload="p", options={"timeout": 500})
    assert str(err.value) == (
        "options['timeout']: 500 ms is out of range; allowed 1000–86400000 ms"
    )
    with pytest.raises(api.ApiError, match=r"options\['timeout_s'\]: 0.5 s is out of range"):
        await node.submit("encryption", "p", {"timeout_s": 0.5})
    with pytest.raises(api.ApiError, match=r"tasks\[1\]\['options'\]\['timeout'\]: 999 ms"):
        await node.submit_batch(
            [
                {"type": "encryption", "payload": 1},
                {"type": "encryption", "payload": 2, "options": {"timeout": 999}},
            ]
        )
    assert n.submits == []  # refused before any node was involved
    await api.submit(type="encryption", payload="p", options={"timeout": 1000})
    assert n.submits[-1][2]["timeout_s"] == 1.0  # the least SubmitRequest allows
    await node.disconnect()


async def test_waiting_for_peers_never_leaves_less_than_the_least_timeout(
    fake: type[FakeNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = await api.init()
    n = fake.instances[-1]
    alone = dataclasses.replace(n.stats(), peers=())
    monkeypatch.setattr(n, "stats", lambda: alone)  # no peer ever comes
    await node.submit("encryption", encrypt(b"x"), {"timeout": 1500, "redundancy": 1})
    assert n.submits[-1][2]["timeout_s"] == MIN_TIMEOUT_S  # waited up to 0.75 s of 1.5 s
    await node.disconnect()


async def test_submit_batch_keeps_order_and_puts_failures_in_their_slot(
    fake: type[FakeNode],
) -> None:
    node = await api.init()
    out = await api.submit_batch(
        [
            {"type": "encryption", "payload": 1},
            {"type": "encryption", "payload": "boom"},
            {"type": "compression", "payload": 3, "options": {"priority": "low"}},
        ]
    )
    assert out[0]["result"] == {"echo": 1} and out[2]["result"] == {"echo": 3}
    assert isinstance(out[1], PayloadError)
    assert await api.submit_batch([]) == []
    n = fake.instances[-1]
    before = len(n.submits)
    with pytest.raises(api.ApiError, match=r"tasks\[1\]\['options'\]: unknown key"):
        await node.submit_batch(
            [
                {"type": "encryption", "payload": 1},
                {"type": "encryption", "payload": 2, "options": {"redundnacy": 2}},
            ]
        )
    with pytest.raises(api.ApiError, match=r"tasks\[0\]: missing 'payload'"):
        await node.submit_batch([{"type": "encryption"}])
    with pytest.raises(api.ApiError, match=r"tasks\[0\]: unknown key 'kind'"):
        await node.submit_batch([{"kind": "encryption", "payload": 1}])
    with pytest.raises(api.ApiError, match="tasks: expected a list"):
        await node.submit_batch({"type": "encryption", "payload": 1})  # type: ignore[arg-type]
    assert len(n.submits) == before  # nothing started
    await node.disconnect()


async def test_disconnecting_fails_the_submits_in_flight_clearly(fake: type[FakeNode]) -> None:
    node = await api.init()
    pending = asyncio.ensure_future(api.submit(type="encryption", payload="hang"))
    assert await until(lambda: fake.instances[-1].hanging is not None, 2)
    await node.disconnect()
    with pytest.raises(api.DisconnectedError, match="disconnected before the task finished"):
        await pending


async def test_callbacks_plain_and_async_and_failing_ones_are_logged(
    fake: type[FakeNode], caplog: pytest.LogCaptureFixture
) -> None:
    credits: list[tuple[float, float]] = []
    tasks: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    async def on_task(task: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        tasks.append(task)

    async with await api.init(
        on_credit=lambda c, t: credits.append((c, t)), on_task=on_task, on_error=errors.append
    ) as node:
        n = fake.instances[-1]
        n.emit(CreditNote(1_500_000, "ab", "payer"))
        n.emit(TaskNote("encryption", "ab", True, 3))
        n.emit(ErrorNote("lost the relay connection; reconnecting"))
        n.emit(LedgerNote("transfer", "cd", "author"))
        assert await until(lambda: bool(tasks), 2)
        assert credits == [(1.5, 1002.5)]  # total: available + locked
        assert tasks[0]["type"] == "encryption" and tasks[0]["ok"] is True
        assert isinstance(errors[0], api.NodeReportedError)
        assert "lost the relay" in str(errors[0])

        node._on_credit = lambda c, t: 1 / 0  # a buggy callback

        async def bad_task(task: dict[str, Any]) -> None:
            raise RuntimeError("callback bug")

        node._on_task = bad_task
        with caplog.at_level(logging.ERROR, "edgenet_app.api"):
            n.emit(CreditNote(1, "ab", "payer"))
            n.emit(TaskNote("encryption", "ab", True, 1))
            await asyncio.sleep(0.05)
        assert "the on_credit callback failed" in caplog.text
        assert "the on_task callback failed" in caplog.text
        node.pause()
        assert node.stats()["state"] == "paused"
        node.resume()
    assert n.stopped == 1 and node.disconnected
    await node.disconnect()  # idempotent
    assert n.stopped == 1 and not n.listeners


@pytest.mark.slow
def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, edgenet_app\n"
        "heavy = ('aiortc', 'aiohttp', 'numpy', 'sqlite3', 'PySide6', 'asyncio', 'hnswlib')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
        "import edgenet_app.api as api\n"
        "assert edgenet_app.init is api.init and edgenet_app.submit is api.submit\n"
        "assert edgenet_app.submit_batch is api.submit_batch\n"
        "assert edgenet_app.EdgeNode is api.EdgeNode and edgenet_app.ApiError is api.ApiError\n"
        "print('aiortc' in sys.modules)\n"
    )
    root = Path(api.__file__).parents[2]  # the package itself, whatever the install
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.split("\n")[:2] == ["", "False"], out.stdout


# ---------------------------------------------------------------------- a real network


@pytest.fixture
async def network(
    tmp_path: Path, fresh_api: Path
) -> AsyncIterator[tuple[Genesis, str, Node, Identity]]:
    """A relay, one plain worker node, and a funded identity for the site 'buyer'."""
    buyer = keystore.create_identity(api.site_data_dir("buyer"), ops=1, mem=8192)
    genesis = Genesis.create(
        Identity(b"\x44" * 32),
        "api-test",
        int(time.time() * 1000) - 3_600_000,
        grants=((buyer.node_id, 1000 * econ.MICRO),),
    )
    runner, port = await serve(genesis, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{port}/ws"
    worker = Node(
        tmp_path / "w0",
        genesis,
        NodeOptions(
            relays=(url,),
            loopback=True,
            limits=Limits(timeout_s=30),
            spot_check_rate=0.0,
            policy=Policy(cpu_limit=1.0, max_other_cpu=1.0),
        ),
    )
    await worker.start()
    yield genesis, url, worker, buyer
    await worker.stop()
    await runner.cleanup()


@pytest.mark.slow
async def test_init_submit_and_submit_batch_on_a_real_network(
    network: tuple[Genesis, str, Node, Identity], tmp_path: Path
) -> None:
    genesis, url, plain, buyer = network
    net_file = tmp_path / "api-test.net"
    write_network(genesis, net_file)
    credits: list[tuple[float, float]] = []
    tasks: list[dict[str, Any]] = []

    async def on_task(task: dict[str, Any]) -> None:
        tasks.append(task)

    worker = await api.init(
        site_id="worker",
        contribution={"cpu_limit": 1.0, "tasks": ["encryption"]},
        idle={"max_other_cpu": 1.0, "min_idle_seconds": 0},
        relays=[url],
        network=net_file,
        loopback=True,
        on_credit=lambda c, t: credits.append((c, t)),
        on_task=on_task,
    )
    node = await api.init(site_id="buyer", relays=[url], network=genesis, loopback=True)
    try:
        assert node.node_id == buyer.node_id and worker.node_id != buyer.node_id
        assert worker.data_dir == api.site_data_dir("worker")
        assert await until(lambda: len(node.stats()["peers"]) == 2)
        ids = {plain.identity.node_id, worker.node_id}  # type: ignore[union-attr]
        price = econ.task_price_micro("encryption", 5)

        out = await api.submit(
            type="encryption", payload=encrypt(b"hello"), options={"redundancy": 1}
        )
        assert out["verified"] is True, out["reason"]
        assert out["result"]["data"] == AESGCM(KEY).encrypt(NONCE, b"hello", None)
        assert out["cost"] == price / econ.MICRO > 0 and len(out["workers"]) == 1
        assert set(out["workers"]) <= ids

        batch = await api.submit_batch(
            [
                {"type": "encryption", "payload": encrypt(b"one"), "options": {"redundancy": 1}},
                {"type": "encryption", "payload": {**encrypt(b"two"), "key": b"short"}},
                {
                    "type": "encryption",
                    "payload": encrypt(b"six"),
                    "options": {"redundancy": 2, "timeout": 30_000},
                },
            ]
        )
        assert batch[0]["verified"] and batch[0]["result"]["data"] == AESGCM(KEY).encrypt(
            NONCE, b"one", None
        )
        assert isinstance(batch[1], PayloadError) and "key" in str(batch[1])
        # redundancy 2 on two workers: both ran it, so the init() worker's callbacks fired
        assert batch[2]["verified"] and set(batch[2]["workers"]) == ids
        assert await until(lambda: bool(credits) and bool(tasks))
        assert credits[-1][0] == price / econ.MICRO and credits[-1][1] >= credits[-1][0]
        assert any(t["type"] == "encryption" and t["ok"] for t in tasks)
        assert worker.stats()["tasks_completed"] >= 1
        assert node.stats()["tasks_submitted"] == 3

        worker.pause()
        assert worker.stats()["state"] == "paused"
        worker.resume()
    finally:
        await node.disconnect()
        await worker.disconnect()
        await worker.disconnect()

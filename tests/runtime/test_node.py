"""Nodes for real: a relay, worker nodes and a submitter on loopback WebRTC."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edgenet_app.core import economics as econ
from edgenet_app.core.activity import Policy
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity
from edgenet_app.core.spotcheck import KnownAnswer
from edgenet_app.core.status import TaskEntry
from edgenet_app.core.submit import SubmitRequest
from edgenet_app.runtime.net.relay import serve
from edgenet_app.runtime.node import Node, NodeOptions
from edgenet_app.runtime.node import activity as activity_module
from edgenet_app.runtime.node import spotchecks as spotchecks_module
from edgenet_app.runtime.store import keystore, paths
from edgenet_app.runtime.store.store import Store
from edgenet_app.tasks.base import Limits

KEY, NONCE = bytes(range(32)), bytes(12)


async def until(cond, timeout: float = 15) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[tuple[list[Node], Node, Genesis]]:
    submitter_dir = tmp_path / "submitter"
    keystore.create_identity(submitter_dir, ops=1, mem=8192)
    me = keystore.load_identity(submitter_dir)
    genesis = Genesis.create(
        Identity(b"\x42" * 32),
        "node-test",
        int(time.time() * 1000) - 3_600_000,
        grants=((me.node_id, 1000 * econ.MICRO),),
    )
    runner, port = await serve(genesis, "127.0.0.1", 0)
    opts = NodeOptions(
        relays=(f"ws://127.0.0.1:{port}/ws",),
        loopback=True,
        limits=Limits(timeout_s=30, wasm_fuel=10**12),  # room for a task that spins
        spot_check_rate=0.0,  # exact accounting; the spot-check tests turn them on
        policy=Policy(cpu_limit=1.0, max_other_cpu=1.0),
    )
    workers = []
    for i in range(3):
        n = Node(tmp_path / f"w{i}", genesis, opts)
        await n.start()
        workers.append(n)
    submitter = Node(submitter_dir, genesis, opts)
    await submitter.start()
    assert submitter.ledger is not None and submitter.identity is not None
    yield workers, submitter, genesis
    for n in [*workers, submitter]:
        await n.stop()
    await runner.cleanup()


@pytest.mark.slow
async def test_a_task_runs_on_three_workers_is_verified_and_paid(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    workers, submitter, _ = network
    assert await until(lambda: len(submitter.stats().peers) == 3)
    payload = {
        "op": "encrypt",
        "key": base64.b64encode(KEY).decode(),
        "nonce": base64.b64encode(NONCE).decode(),
        "data": base64.b64encode(b"hello network").decode(),
    }
    out = await submitter.submit(SubmitRequest("encryption", payload, redundancy=3, timeout_s=30))
    assert out.verified, out.reason
    assert out.result["data"] == AESGCM(KEY).encrypt(NONCE, b"hello network", None)
    assert sorted(out.workers) == sorted(w.identity.node_id for w in workers)  # type: ignore[union-attr]
    price = econ.task_price_micro("encryption", 13)
    assert out.cost == 3 * price
    # every node's ledger agrees on the payments
    root = submitter.ledger.ledger.state_root()  # type: ignore[union-attr]
    assert await until(lambda: all(w.ledger.ledger.state_root() == root for w in workers))  # type: ignore[union-attr]
    for w in workers:
        assert w.ledger is not None and w.identity is not None
        bal = w.ledger.ledger.balance(w.identity.public_key, int(time.time() * 1000))
        assert bal.locked == price  # paid, locked for an hour (unstaked: no bonus)
    state = submitter.ledger.ledger.state  # type: ignore[union-attr]
    assert state.total_supply == state.total_minted - state.burned
    # the dashboard's view: task history on both sides, earnings, rank
    sub_hist = submitter.history()
    assert [(t.role, t.status, t.kind) for t in sub_hist.tasks] == [
        ("submitted", "done", "encryption")
    ]
    assert sub_hist.tasks[0].credits == 3 * price
    for w in workers:
        h = w.history()
        assert [(t.role, t.status) for t in h.tasks] == [("executed", "done")]
        assert [p[1] for p in h.earnings] == [price]
        assert w.stats().rank[1] == 4  # the submitter and three workers hold credits
    assert submitter.stats().rank == (1, 4)


LOOP_WAT = (Path(__file__).parents[2] / "examples" / "wasm" / "infinite_loop.wat").read_text()


def _worker_cpu_s(node: Node) -> float:
    assert node.pool is not None
    total = 0.0
    for pid in node.pool.worker_pids():
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


async def _spinning_on_one_worker(
    workers: list[Node], submitter: Node
) -> tuple[asyncio.Future[Any], Any, Node]:
    """A task that spins until cancelled, assigned to one worker (redundancy 1)."""
    assert await until(lambda: len(submitter.stats().peers) == 3)
    spin = {"wat": LOOP_WAT, "input": "", "fuel": 10**11, "timeout_s": 60}  # ~25 s, 100 credits
    job = asyncio.ensure_future(
        submitter.submit(SubmitRequest("custom_wasm", spin, redundancy=1, timeout_s=60))
    )
    flows: list[Any] = []

    def assigned() -> bool:
        flows[:] = [f for f, _ in submitter.submitter.flows.values() if f.assigned]
        return bool(flows)

    assert await until(assigned)
    by_key = {w.identity.public_key: w for w in workers if w.identity is not None}
    worker = by_key[next(iter(flows[0].assigned))]
    assert await until(lambda: bool(worker.contributor.running) and _worker_cpu_s(worker) > 0.2)
    return job, flows[0], worker


@pytest.mark.slow
async def test_pausing_suspends_a_running_task_at_once_and_resuming_continues_it(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    workers, submitter, _ = network
    job, flow, worker = await _spinning_on_one_worker(workers, submitter)
    try:
        assert worker.pool is not None
        worker.pause()
        assert worker.pool.held and worker.stats().state == "paused"
        await asyncio.sleep(0.3)  # the suspension is immediate; let a last time slice pass
        before = _worker_cpu_s(worker)
        await asyncio.sleep(1.0)
        assert _worker_cpu_s(worker) - before < 0.05, "a paused node's task kept using CPU"
        worker.resume()  # within the hand-back grace: the same task goes on, same worker
        assert not worker.pool.held
        before = _worker_cpu_s(worker)
        await asyncio.sleep(1.0)
        assert _worker_cpu_s(worker) - before > 0.3, "the resumed task did not run again"
        assert worker.identity is not None
        assert list(flow.assigned) == [worker.identity.public_key] and not flow.failed
    finally:
        job.cancel()


@pytest.mark.slow
async def test_a_task_suspended_too_long_is_handed_back_and_reassigned(
    network: tuple[list[Node], Node, Genesis], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activity_module, "HAND_BACK_AFTER_MS", 1_000)
    workers, submitter, _ = network
    job, flow, worker = await _spinning_on_one_worker(workers, submitter)
    try:
        assert worker.identity is not None and worker.pool is not None
        t0 = time.monotonic()
        worker.pause()
        # given back at the first review after the grace (reviews every 2 s), not at the
        # assignment deadline (30 s here): another worker has the task
        assert await until(lambda: worker.identity.public_key in flow.failed, 10)  # type: ignore[union-attr]
        assert time.monotonic() - t0 < 10  # the assignment deadline is 30 s away
        assert await until(lambda: bool(flow.assigned))
        assert worker.identity.public_key not in flow.assigned
        assert await until(lambda: not worker.contributor.running and not worker.pool.held)  # type: ignore[union-attr]
        assert worker.contributor.works[flow.task].state == "abandoned"
    finally:
        job.cancel()


ENCRYPT = {
    "op": "encrypt",
    "key": base64.b64encode(KEY).decode(),
    "nonce": base64.b64encode(NONCE).decode(),
    "data": base64.b64encode(b"hello spot-check").decode(),
}


def _spot_checks(node: Node) -> list[TaskEntry]:
    return [t for t in node.history().tasks if t.role == "spot-check"]


@pytest.mark.slow
async def test_a_unanimous_task_is_followed_by_a_spot_check_that_honest_workers_pass(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    workers, submitter, _ = network
    submitter.options.spot_check_rate = 1.0  # read live, as a settings change would be
    assert await until(lambda: len(submitter.stats().peers) == 3)
    # all three prove themselves (paid once): a check goes only to workers known to work
    first = {**ENCRYPT, "data": base64.b64encode(b"all three").decode()}
    assert (
        await submitter.submit(SubmitRequest("encryption", first, redundancy=3, timeout_s=30))
    ).verified
    out = await submitter.submit(SubmitRequest("encryption", ENCRYPT, redundancy=2, timeout_s=30))
    assert out.verified
    # not the task its workers just ran, nor the first: all three computed that one
    assert not _spot_checks(submitter)
    other = {**ENCRYPT, "data": base64.b64encode(b"another message").decode()}
    out = await submitter.submit(SubmitRequest("encryption", other, redundancy=2, timeout_s=30))
    assert out.verified
    # the first task's answer, sent again as a task like any other, in the background, to
    # the one worker that did not compute it (the others could recognise the payload)
    assert await until(lambda: any(t.status == "done" for t in _spot_checks(submitter)))
    check = _spot_checks(submitter)[0]
    price = econ.task_price_micro("encryption", len(b"hello spot-check"))
    assert check.kind == "encryption" and check.credits == price
    assert submitter.stats().tasks_submitted == 3  # the check is not the user's task
    assert not submitter.submitter.spot_checks.bars
    # the worker cannot tell: it executed it as an ordinary task and was paid
    assert await until(lambda: sum(len(w.history().tasks) for w in workers) == 8)


@pytest.mark.slow
async def test_workers_that_fail_a_spot_check_are_barred_and_it_is_remembered(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    workers, submitter, _ = network
    assert await until(lambda: len(submitter.stats().peers) == 3)
    assert submitter.ledger is not None and submitter.identity is not None
    first = {**ENCRYPT, "data": base64.b64encode(b"all three").decode()}
    assert (
        await submitter.submit(SubmitRequest("encryption", first, redundancy=3, timeout_s=30))
    ).verified
    # a planted known answer no honest worker can match stands for a lying worker
    wrong = {"data": base64.b64encode(b"not the ciphertext").decode()}
    balance = submitter.ledger.ledger.balance(
        submitter.identity.public_key, int(time.time() * 1000)
    )
    await submitter.submitter.spot_checks.check(
        KnownAnswer.of("encryption", ENCRYPT, wrong, 2, "normal", 30)
    )
    failed = _spot_checks(submitter)
    assert [t.status for t in failed] == ["failed"] and failed[0].credits == 0
    now = int(time.time() * 1000)
    assert submitter.ledger.ledger.balance(submitter.identity.public_key, now) == balance
    bad = set(submitter.submitter.spot_checks.bars)
    assert len(bad) == 2 and all(not submitter.submitter.trusted(w) for w in bad)
    saved = json.loads(submitter.store.get_meta(spotchecks_module.BARS_META) or "{}")
    assert {bytes.fromhex(k) for k in saved} == bad  # survives a restart
    # the next task goes to the one worker that was not caught
    out = await submitter.submit(SubmitRequest("encryption", ENCRYPT, redundancy=1, timeout_s=30))
    assert out.verified
    honest = [w for w in workers if w.identity is not None and w.identity.public_key not in bad]
    assert [w.identity.node_id for w in honest] == out.workers  # type: ignore[union-attr]


async def test_a_pause_or_snooze_outlives_a_restart(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    workers, _, genesis = network
    paused, snoozed, resumed = workers
    paused.pause()
    snoozed.snooze(3600)
    resumed.pause()
    resumed.resume()
    for node in workers:
        await node.stop()
    again = [Node(n.data_dir, genesis, n.options) for n in workers]
    try:
        for n in again:
            await n.start()
        states = [(n.stats().state, n.paused, n.snoozed_until_ms > 0) for n in again]
        assert states[0] == ("paused", True, False)
        assert states[1][0] == "paused" and states[1][2]
        assert states[2][:2] == ("offline", False) or states[2][:2] == ("contributing", False)
    finally:
        for n in again:
            await n.stop()


async def test_unreadable_saved_pause_or_bars_are_ignored_not_fatal(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    workers, _, genesis = network
    node = workers[0]
    await node.stop()
    store = Store.open(paths.store_path(node.data_dir))
    try:
        store.set_meta(activity_module.PAUSE_META, "{not json")
        store.set_meta(spotchecks_module.BARS_META, '{"%s": 1e999}' % ("ab" * 32))
    finally:
        store.close()
    again = Node(node.data_dir, genesis, node.options)
    try:
        await again.start()  # warnings logged; the node starts and contributes
        assert not again.paused and again.submitter.spot_checks.bars == {}
        assert again.stats().state in ("contributing", "offline")
    finally:
        await again.stop()


async def test_a_task_assigned_after_the_node_paused_is_given_back_at_once(
    network: tuple[list[Node], Node, Genesis],
) -> None:
    """A claim made while contributing, its assignment arriving after a pause: the node
    hands it back at once (Abandon) and never starts it."""
    from edgenet_app.core.taskflow import Execute, WorkerFlow
    from edgenet_app.core.taskmsg import Assign, TaskAnnounce, seal_payload

    workers, submitter, genesis = network
    worker = workers[0]
    assert worker.identity is not None and submitter.identity is not None
    me, sub = worker.identity, submitter.identity
    now = int(time.time() * 1000)
    task = b"\x07" * 16
    price = econ.task_price_micro("encryption", 13)
    fields = {"network": genesis.network_id, "task": task, "ts": now, "kind": "encryption"}
    announce = TaskAnnounce.create(
        sub, **fields, size=13, priority="normal", price=price, redundancy=1,
        deadline_ms=now + 30_000,
    )  # fmt: skip
    flow = WorkerFlow(me, genesis.network_id)
    assert flow.on_announce(announce, now)  # claimed while contributing
    worker.pause()
    assign = Assign.create(
        sub, **fields, worker=me.public_key, deadline_ms=now + 20_000,
        payload=seal_payload(sub, me.public_key, {"op": "encrypt", "data": "aGk="}),
    )  # fmt: skip
    [action] = flow.on_assign(assign, now)
    assert isinstance(action, Execute)
    await worker.contributor.execute(flow, action)
    assert flow.state == "abandoned" and not worker.contributor.running
    assert worker.pool is not None and not worker.pool.worker_pids()  # never started


def _encrypt(data: bytes) -> SubmitRequest:
    payload = {
        "op": "encrypt",
        "key": base64.b64encode(KEY).decode(),
        "nonce": base64.b64encode(NONCE).decode(),
        "data": base64.b64encode(data).decode(),
    }
    return SubmitRequest("encryption", payload, redundancy=3, timeout_s=30)


@pytest.mark.slow
async def test_a_key_restored_into_an_empty_data_dir_learns_its_chain_before_signing(
    network: tuple[list[Node], Node, Genesis], tmp_path: Path
) -> None:
    """The documented export/import: the restored node signs nothing (not even its genesis
    grant again) until a peer has shown its chain, then goes on from the next seq."""
    workers, submitter, genesis = network
    assert await until(lambda: len(submitter.stats().peers) == 3)
    assert (await submitter.submit(_encrypt(b"before"))).verified
    assert submitter.identity is not None and submitter.ledger is not None
    me = submitter.identity.public_key
    before = submitter.ledger.ledger.head(me)
    assert before is not None and before.seq >= 2  # the grant, a stake, a settlement
    keystore.export_keyfile(submitter.data_dir, tmp_path / "backup.key")
    await submitter.stop()
    restored = Node(tmp_path / "restored", genesis, submitter.options)
    keystore.import_keyfile(restored.data_dir, tmp_path / "backup.key")
    await restored.start()
    try:
        assert restored.ledger is not None
        assert me not in restored.ledger.learning  # learned during start
        head = restored.ledger.ledger.head(me)
        assert head is not None and head.id == before.id  # shown by a peer, not re-signed
        assert await until(lambda: len(restored.stats().peers) == 3)
        assert (await restored.submit(_encrypt(b"after"))).verified
        after = restored.ledger.ledger.head(me)
        assert after is not None and after.seq == before.seq + 1 and after.prev == before.id
        for n in [restored, *workers]:
            assert n.ledger is not None
            assert await until(lambda n=n: n.ledger.ledger.head(me) == after)  # type: ignore[misc]
            assert n.ledger.ledger.equivocations() == []
    finally:
        await restored.stop()

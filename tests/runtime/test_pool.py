"""The worker pool, for real: processes, crashes, timeouts, cancellation, throttling."""

from __future__ import annotations

import base64
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edgenet_app.runtime.work.pool import WorkerPool
from edgenet_app.tasks.base import Limits, PayloadError, TaskError

LOOP_WAT = (Path(__file__).parents[2] / "examples" / "wasm" / "infinite_loop.wat").read_text()
KEY = bytes(range(32))


def enc(data: bytes, nonce: bytes = bytes(12)) -> dict[str, str]:
    return {
        "op": "encrypt",
        "key": base64.b64encode(KEY).decode(),
        "nonce": base64.b64encode(nonce).decode(),
        "data": base64.b64encode(data).decode(),
    }


def busy(fuel: int = 10**12, timeout_s: float = 60) -> dict[str, object]:
    return {"wat": LOOP_WAT, "input": "", "fuel": fuel, "timeout_s": timeout_s}


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[WorkerPool]:
    p = WorkerPool(
        tmp_path,
        cpu_limit=1.0,
        idle_timeout_s=30,
        limits=Limits(timeout_s=60, wasm_fuel=10**12),
    )
    yield p
    p.shutdown()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_results_match_the_library_and_many_tasks_flow(pool: WorkerPool) -> None:
    payloads = [enc(os.urandom(n), nonce=n.to_bytes(12, "big")) for n in range(1, 200)]
    tasks = [pool.submit("encryption", p) for p in payloads]
    for n, (task, p) in enumerate(zip(tasks, payloads, strict=True), start=1):
        out = task.result(timeout=30)
        assert out.ok, out.error
        expect = AESGCM(KEY).encrypt(n.to_bytes(12, "big"), base64.b64decode(p["data"]), None)
        assert out.result["data"] == expect
    assert pool.completed == len(payloads)
    assert 1 <= len(pool.worker_pids()) <= pool.max_workers


def test_bad_payload_is_refused_before_any_worker_starts(pool: WorkerPool) -> None:
    with pytest.raises(PayloadError, match=r"encryption\.key: must decode to exactly 32 bytes"):
        pool.submit("encryption", {**enc(b"x"), "key": base64.b64encode(b"short").decode()})
    with pytest.raises(PayloadError, match="unknown task kind"):
        pool.submit("mining", {})
    assert pool.worker_pids() == []


@pytest.mark.slow
def test_scopes_keep_submitters_collections_apart(pool: WorkerPool) -> None:
    alice, bob = "a" * 24, "b" * 24
    insert = {"collection": "docs", "vectors": [[1.0, 0.0], [0.0, 1.0]], "ids": [1, 2]}
    assert pool.run_sync("vector_insert", insert, scope=alice).ok
    search = {"collection": "docs", "query": [1.0, 0.0], "k": 1}
    found = pool.run_sync("vector_search", search, scope=alice)
    assert found.ok and found.result["results"][0][0]["id"] == 1
    other = pool.run_sync("vector_search", search, scope=bob)  # same name, other submitter
    assert not other.ok and other.error_code == "no_collection", other.error
    assert not pool.run_sync("vector_search", search).ok  # nor the local user's
    with pytest.raises(ValueError, match="invalid task scope"):
        pool.submit("vector_search", search, scope="../../etc")


@pytest.mark.slow
def test_killing_a_worker_fails_only_its_task(pool: WorkerPool) -> None:
    task = pool.submit("custom_wasm", busy())
    assert wait_for(lambda: pool.throttle.is_busy(next(iter(pool.worker_pids()), -1)))
    pid = pool.worker_pids()[0]
    os.kill(pid, signal.SIGKILL)
    out = task.result(timeout=20)
    assert not out.ok and out.error_code == "worker_crashed"
    assert "died" in (out.error or "")
    again = pool.run_sync("encryption", enc(b"after the crash"))
    assert again.ok
    assert pid not in pool.worker_pids()


@pytest.mark.slow
def test_timeout_kills_the_task_and_the_pool_recovers(tmp_path: Path) -> None:
    with WorkerPool(tmp_path, cpu_limit=1.0, limits=Limits(timeout_s=0.5, wasm_fuel=10**12)) as p:
        # the wasm kind's own wall clock is set higher than the pool's limit on purpose
        out = p.run_sync("custom_wasm", busy(timeout_s=0.5))
        assert not out.ok and out.error_code in ("timeout",)
        assert p.run_sync("encryption", enc(b"next")).ok


@pytest.mark.slow
def test_cancel_running_and_queued_tasks(tmp_path: Path) -> None:
    with WorkerPool(
        tmp_path, cpu_limit=0.5, max_workers=1, limits=Limits(timeout_s=60, wasm_fuel=10**12)
    ) as p:
        running = p.submit("custom_wasm", busy())
        queued = p.submit("encryption", enc(b"never runs"))
        assert wait_for(lambda: bool(p.worker_pids()) and p.throttle.is_busy(p.worker_pids()[0]))
        queued.cancel()
        running.cancel()
        assert running.result(timeout=10).error_code == "cancelled"
        assert queued.result(timeout=10).error_code == "cancelled"
        assert p.run_sync("encryption", enc(b"still works")).ok


@pytest.mark.slow
def test_workers_scale_to_zero_when_idle(tmp_path: Path) -> None:
    with WorkerPool(tmp_path, cpu_limit=1.0, idle_timeout_s=0.5) as p:
        assert p.run_sync("encryption", enc(b"x")).ok
        pid = p.worker_pids()[0]
        assert wait_for(lambda: p.worker_pids() == [], timeout=10)
        assert wait_for(lambda: gone(pid), timeout=5)
        assert p.run_sync("encryption", enc(b"y")).ok  # and start again on demand


def test_cpu_limit_changes_take_effect(tmp_path: Path) -> None:
    with WorkerPool(tmp_path, cpu_limit=1.0) as p:
        cpus = p.cpus
        assert p.max_workers == cpus
        p.set_cpu_limit(0.1)
        assert p.max_workers == 1 and p.throttle.limit == 0.1
        with pytest.raises(ValueError, match="cpu_limit"):
            p.set_cpu_limit(1.5)


def _worker_cpu(p: WorkerPool, seconds: float) -> float:
    procs = [psutil.Process(pid) for pid in p.worker_pids()]
    c0 = sum(sum(x.cpu_times()[:2]) for x in procs)
    t0 = time.perf_counter()
    time.sleep(seconds)
    c1 = sum(sum(x.cpu_times()[:2]) for x in procs)
    return (c1 - c0) / (time.perf_counter() - t0)


@pytest.mark.slow
def test_throttle_really_limits_a_busy_worker(tmp_path: Path) -> None:
    """A worker spinning in wasm uses ~1 core unthrottled; at a limit of 0.2 core-equivalents
    it is suspended most of the time (precise adherence is measured in benchmarks/tasks.py)."""
    limits = Limits(timeout_s=120, wasm_fuel=10**12)
    with WorkerPool(tmp_path, cpu_limit=1.0, max_workers=1, limits=limits) as p:
        task = p.submit("custom_wasm", busy())
        assert wait_for(lambda: bool(p.worker_pids()))
        time.sleep(0.3)
        free = _worker_cpu(p, 1.5)
        p.set_cpu_limit(0.2 / p.cpus)  # 0.2 of one core, at once
        time.sleep(0.5)
        limited = _worker_cpu(p, 2.0)
        task.cancel()
    assert free > 0.5, f"the busy worker only got {free:.2f} cores unthrottled"
    assert limited < 0.45, f"throttled worker used {limited:.2f} cores (limit 0.2)"
    assert limited < free / 2


@pytest.mark.slow
def test_shutdown_cancels_everything_and_stops_workers(tmp_path: Path) -> None:
    p = WorkerPool(tmp_path, cpu_limit=1.0, limits=Limits(timeout_s=60, wasm_fuel=10**12))
    running = p.submit("custom_wasm", busy())
    assert wait_for(lambda: bool(p.worker_pids()))
    pids = p.worker_pids()
    p.shutdown()
    assert running.result(timeout=10).error_code == "cancelled"
    assert all(gone(x) for x in pids)
    with pytest.raises(TaskError, match="shut down"):
        p.submit("encryption", enc(b"late"))


@pytest.mark.slow
async def test_async_api(pool: WorkerPool) -> None:
    out = await pool.run("encryption", enc(b"async"))
    assert out.ok and out.unwrap()["data"]


@pytest.mark.slow
def test_wasm_failures_through_the_pool_then_the_next_task_runs(pool: WorkerPool) -> None:
    examples = Path(__file__).parents[2] / "examples" / "wasm"
    pool.run_sync("encryption", enc(b"warm up"))
    t = time.perf_counter()
    loop = pool.run_sync("custom_wasm", {"wat": LOOP_WAT, "input": "", "fuel": 2_000_000_000})
    took = time.perf_counter() - t
    assert loop.error_code == "out_of_fuel"
    assert took < 5, f"the infinite loop took {took:.2f} s to stop"  # ~0.5 s when idle
    grow = pool.run_sync(
        "custom_wasm",
        {"wat": (examples / "grow_memory.wat").read_text(), "input": "", "memory_mb": 4},
    )
    assert grow.error_code == "out_of_memory", grow.error
    echo = pool.run_sync(
        "custom_wasm",
        {"wat": (examples / "echo.wat").read_text(), "input": base64.b64encode(b"hi").decode()},
    )
    assert echo.ok and echo.result["output"] in (b"hi", base64.b64encode(b"hi").decode())


@pytest.mark.slow
async def test_cancelling_the_awaiting_coroutine_cancels_the_task(tmp_path: Path) -> None:
    import asyncio

    limits = Limits(timeout_s=60, wasm_fuel=10**12)
    with WorkerPool(tmp_path, cpu_limit=0.5, max_workers=1, limits=limits) as p:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(p.run("custom_wasm", busy()), timeout=1.0)
        t = time.perf_counter()
        out = await p.run("encryption", enc(b"next"))
        assert out.ok
        assert time.perf_counter() - t < 10  # not stuck behind the abandoned 60 s task


@pytest.mark.slow
def test_raising_the_cpu_limit_adds_workers_for_queued_tasks(tmp_path: Path) -> None:
    if (psutil.cpu_count() or 1) < 2:
        pytest.skip("needs two CPUs")
    limits = Limits(timeout_s=60, wasm_fuel=10**12)
    with WorkerPool(tmp_path, cpu_limit=0.25, limits=limits) as p:
        assert p.max_workers == 1
        a, b = p.submit("custom_wasm", busy()), p.submit("custom_wasm", busy())
        assert wait_for(lambda: len(p.worker_pids()) == 1)
        p.set_cpu_limit(1.0)
        assert wait_for(lambda: len(p.worker_pids()) == 2, timeout=15)
        a.cancel()
        b.cancel()


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        Limits(timeout_s=float("nan"))
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=0)


ORPHAN_PARENT = r"""
import sys, time
from pathlib import Path
from edgenet_app.runtime.work.pool import WorkerPool
from edgenet_app.tasks.base import Limits
if __name__ == "__main__":
    wat = Path(sys.argv[2]).read_text()
    limits = Limits(timeout_s=600, wasm_fuel=10**12)
    p = WorkerPool(Path(sys.argv[1]), cpu_limit=0.05, limits=limits)
    p.submit("custom_wasm", {"wat": wat, "input": "", "fuel": 10**12, "timeout_s": 600})
    while not p.worker_pids():
        time.sleep(0.05)
    print(p.worker_pids()[0], flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
@pytest.mark.slow
def test_workers_die_with_a_killed_node_even_while_suspended(tmp_path: Path) -> None:
    script = tmp_path / "node.py"
    script.write_text(ORPHAN_PARENT)
    wat = Path(__file__).parents[2] / "examples" / "wasm" / "infinite_loop.wat"
    node = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), str(wat)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert node.stdout is not None
        worker = int(node.stdout.readline())
        time.sleep(1.0)  # the throttle keeps it suspended ~95% of the time
        node.kill()
        node.wait(timeout=10)
        assert wait_for(lambda: gone(worker), timeout=10)
    finally:
        node.kill()


@pytest.mark.slow
def test_holding_suspends_running_work_and_held_time_is_not_charged(tmp_path: Path) -> None:
    """hold(): the node stopped contributing; the worker stops at once, keeps its task, and
    the time held does not count against the task's time limit."""
    limits = Limits(timeout_s=1.5, wasm_fuel=10**12)
    with WorkerPool(tmp_path, cpu_limit=1.0, max_workers=1, limits=limits) as p:
        task = p.submit("custom_wasm", busy())
        assert wait_for(lambda: bool(p.worker_pids()) and p.throttle.is_busy(p.worker_pids()[0]))
        time.sleep(0.3)
        p.hold()
        assert p.held
        time.sleep(0.2)
        held = _worker_cpu(p, 2.0)  # longer than the task's whole time limit
        assert held < 0.05, f"a held worker used {held:.2f} cores"
        assert not task.future.done(), "time spent held was charged to the task"
        p.release()
        assert not p.held
        running = _worker_cpu(p, 0.5)
        assert running > 0.3, f"the released worker only got {running:.2f} cores"
        out = task.result(timeout=10)  # its own time limit still applies once running
        assert out.error_code == "timeout"


@pytest.mark.slow
def test_unvalidated_submissions_are_validated_by_the_worker(pool: WorkerPool) -> None:
    """validate=False (a node running a peer's task): the worker process still refuses a
    bad payload with the same precise error, and a good one runs."""
    bad = pool.run_sync("encryption", {"op": "encrypt", "key": "short"}, validate=False)
    assert bad.error_code == "bad_payload" and "key" in (bad.error or "")
    good = pool.run_sync("encryption", enc(b"fine"), validate=False)
    assert good.ok


@pytest.mark.slow
def test_every_suspension_is_paired_with_one_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows counts suspensions: a worker suspended twice needs two resumes. Held for many
    periods, while the duty cycle runs, a worker is suspended once and resumed once."""
    from edgenet_app.runtime.work import throttle as th

    calls: list[str] = []
    monkeypatch.setattr(th, "_suspend", lambda p: calls.append("s"))
    monkeypatch.setattr(th, "_resume", lambda p: calls.append("r"))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    t = th.Throttle(0.05, cpus=1, period_s=0.02)
    try:
        t.add(child.pid)
        t.set_busy(child.pid, True)  # duty ~5 %: suspended most of each period
        time.sleep(0.2)
        t.hold()
        time.sleep(0.3)  # fifteen periods held
        depth = calls.count("s") - calls.count("r")
        assert depth == 1, f"held worker suspended {depth} times over"
        t.release()
        time.sleep(0.05)
        t.close()
        assert calls.count("s") == calls.count("r"), calls[-10:]
        assert all(a != b for a, b in itertools.pairwise(calls)), "unpaired"
    finally:
        t.close()
        child.kill()
        child.wait()

"""Child processes for benchmarks/network.py: a relay and `edgenet node` processes.

Each process's standard output is read line by line by a thread for as long as it runs: a
node prints one JSON line per notification and would block on a full pipe otherwise. A
node's "ledger" lines are kept as {event id: "t"} (the wall-clock time at which the node
added the event). Standard error goes to a log file in the process's directory.

`stop_all` ends every process given and their descendants (the nodes' workers): SIGTERM,
then SIGKILL for whatever is still alive after the grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

import psutil

from edgenet_app.cli.demo_cmd import same_machine_node_options

CMD = (sys.executable, "-m", "edgenet_app")


class Proc:
    """A child process whose standard output a daemon thread drains."""

    def __init__(self, name: str, args: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log_path, "wb")  # closed in stop_all
        self.t_spawn = time.perf_counter()
        self.popen = subprocess.Popen(
            [*CMD, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.pid = self.popen.pid
        self.first_line: str | None = None
        self.t_first = 0.0  # perf_counter() when the first line arrived
        self._first = threading.Event()
        self.tail: deque[str] = deque(maxlen=20)
        self._thread = threading.Thread(target=self._drain, name=f"drain-{name}", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        try:
            for line in self.popen.stdout:
                if self.first_line is None:
                    self.first_line = line.strip()
                    self.t_first = time.perf_counter()
                    self._first.set()
                self.tail.append(line.rstrip("\n"))
                self.on_line(line)
        except (OSError, ValueError):  # the pipe was closed under us at shutdown
            pass
        finally:
            self._first.set()  # EOF: wake anyone waiting for a first line

    def on_line(self, line: str) -> None:
        pass

    def wait_first_line(self, timeout_s: float) -> str:
        if not self._first.wait(timeout_s) or self.first_line is None:
            raise RuntimeError(
                f"{self.name} (pid {self.pid}) printed nothing in {timeout_s:.0f} s "
                f"(exit code {self.popen.poll()}; stderr tail: {self.stderr_tail()!r})"
            )
        return self.first_line

    def stderr_tail(self, n: int = 400) -> str:
        with contextlib.suppress(OSError):
            self._log.flush()
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    def log_count(self, needle: str) -> int:
        """How many lines of the process's standard error contain `needle`."""
        with contextlib.suppress(OSError):
            self._log.flush()
            with open(self.log_path, errors="replace") as f:
                return sum(needle in line for line in f)
        return 0

    def worker_pids(self) -> set[int]:
        """The process's worker processes (descendants other than the resource tracker)."""
        out = set()
        with contextlib.suppress(psutil.Error):
            for k in psutil.Process(self.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if not any("resource_tracker" in a for a in k.cmdline()):
                        out.add(k.pid)
        return out

    def rss_mb(self) -> tuple[float, float, int, float]:
        """RSS in MiB of the process and of its worker processes, the number of workers, and
        the RSS of its other descendants (multiprocessing's resource tracker, started with
        the first worker and kept for the life of the node)."""
        try:
            p = psutil.Process(self.pid)
            own = p.memory_info().rss
            kids = p.children(recursive=True)
        except psutil.Error:
            return float("nan"), float("nan"), 0, float("nan")
        workers = helpers = n = 0
        for k in kids:
            with contextlib.suppress(psutil.Error):
                rss = k.memory_info().rss
                if any("resource_tracker" in a for a in k.cmdline()):
                    helpers += rss
                else:
                    workers += rss
                    n += 1
        return own / 2**20, workers / 2**20, n, helpers / 2**20


class RelayProc(Proc):
    def __init__(self, network: Path, workdir: Path) -> None:
        super().__init__(
            "relay",
            ["relay", "--port", "0", "--network", str(network)],
            workdir / "relay.log",
        )

    def url(self, timeout_s: float = 30.0) -> str:
        return self.wait_first_line(timeout_s).rsplit(" ", 1)[-1]


class NodeProc(Proc):
    """`edgenet node` with its own data dir; collects the ledger events it reports."""

    def __init__(
        self, name: str, data_dir: Path, network: Path, relay_url: str, cpu_limit: float
    ) -> None:
        self.data_dir = data_dir
        self.ready: dict[str, Any] = {}
        self.ledger: dict[str, float] = {}  # event id → "t" (time.time() in the node)
        self.tasks_run = 0
        self.errors: list[str] = []
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            name,
            [
                *("--data-dir", str(data_dir), "node"),
                *same_machine_node_options(network, relay_url, cpu_limit),
            ],
            data_dir / "node.log",
        )

    def on_line(self, line: str) -> None:
        try:
            rec = json.loads(line)
        except ValueError:
            return
        if not isinstance(rec, dict):
            return
        ev = rec.get("event")
        if ev == "ledger" and isinstance(rec.get("id"), str):
            self.ledger.setdefault(rec["id"], float(rec.get("t", time.time())))
        elif ev == "ready":
            self.ready = rec
        elif ev == "task":
            self.tasks_run += 1
        elif ev == "error":
            self.errors.append(str(rec.get("message")))

    def wait_ready(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """The node's "ready" record; "spawn_s" is the time from spawn to that line here."""
        line = self.wait_first_line(timeout_s)
        rec = json.loads(line)
        if rec.get("event") != "ready":
            raise RuntimeError(f"{self.name}: first line is not 'ready': {line!r}")
        return {**rec, "spawn_s": self.t_first - self.t_spawn}


def cpu_s(pid: int) -> tuple[float, dict[int, float]]:
    """CPU seconds (user + system) used so far by a process, and by each descendant."""
    try:
        p = psutil.Process(pid)
        t = p.cpu_times()
        kids = p.children(recursive=True)
    except psutil.Error:
        return 0.0, {}
    out = {}
    for k in kids:
        with contextlib.suppress(psutil.Error):
            kt = k.cpu_times()
            out[k.pid] = kt.user + kt.system
    return t.user + t.system, out


def stop_all(procs: list[Proc], grace_s: float = 10.0) -> None:
    """SIGTERM every process (and, after they exit, any descendant left behind), SIGKILL
    what is still alive after `grace_s`. Safe to call more than once."""
    kids: list[psutil.Process] = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            kids.extend(psutil.Process(p.pid).children(recursive=True))
    for p in procs:
        if p.popen.poll() is None:
            with contextlib.suppress(OSError):
                p.popen.terminate()
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                p.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(5)
    alive = []
    for k in kids:
        with contextlib.suppress(psutil.Error):
            if k.is_running():
                k.terminate()
                alive.append(k)
    _, still = psutil.wait_procs(alive, timeout=3)
    for k in still:
        with contextlib.suppress(psutil.Error):
            k.kill()
    for p in procs:
        p._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            if p.popen.stdout is not None:
                p.popen.stdout.close()
        p._log.close()

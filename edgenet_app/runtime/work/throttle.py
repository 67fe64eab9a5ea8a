"""CPU limit enforcement: duty-cycle suspend/resume of worker processes.

Every period the throttle lets the busy workers run for `duty × period` and suspends
them for the rest (psutil: SIGSTOP/SIGCONT on POSIX, thread suspension on Windows).
The duty starts from the feed-forward value `limit × cpus / busy workers` and an
integral controller corrects it from the CPU time the workers really used, so measured
worker CPU tracks the configured fraction of the whole machine. A new limit takes
effect at the next period. `hold()` suspends every worker until `release()` (the node
stopped contributing: paused, on battery, the user or other programs need the machine).
"""

from __future__ import annotations

import logging
import threading
import time

import psutil

log = logging.getLogger(__name__)

MIN_DUTY = 0.01


class DutyController:
    """The control law alone (no processes, no clock): feed-forward plus integral."""

    def __init__(self, limit: float, cpus: int, gain: float = 0.5) -> None:
        self.cpus = cpus
        self.limit = limit
        self.gain = gain
        self.correction = 0.0

    def set_limit(self, limit: float) -> None:
        if limit != self.limit:
            self.limit = limit
            self.correction = 0.0

    def duty(self, busy: int) -> float:
        if busy <= 0:
            return 1.0
        feed = self.limit * self.cpus / busy
        return min(1.0, max(MIN_DUTY, feed + self.correction))

    def observe(self, busy: int, used_cpu_s: float, window_s: float) -> None:
        """Feed back the CPU seconds the busy workers used during `window_s`."""
        if busy <= 0 or window_s <= 0:
            return
        target = self.limit * self.cpus * window_s
        # error in units of duty: how much more (or less) running time per worker
        err = (target - used_cpu_s) / (busy * window_s)
        self.correction = max(-1.0, min(1.0, self.correction + self.gain * err))


class Throttle:
    """Runs the duty cycle for the processes the pool marks busy."""

    def __init__(self, limit: float, *, cpus: int | None = None, period_s: float = 0.1) -> None:
        self.controller = DutyController(limit, cpus or psutil.cpu_count() or 1)
        self.period_s = period_s
        self._procs: dict[int, psutil.Process] = {}
        self._busy: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_cpu: dict[int, float] = {}
        self._held = False
        # pids suspended by us now: each is suspended once and resumed once (Windows
        # counts suspensions per thread; POSIX SIGSTOP does not, but the pairing is kept)
        self._stopped: set[int] = set()

    @property
    def held(self) -> bool:
        return self._held

    def hold(self) -> None:
        """Suspend every worker now, and keep them suspended until `release`."""
        with self._lock:  # signals under the lock: the last of hold/release wins
            self._held = True
            for pid in self._procs:
                self._stop_locked(pid)
        self._ensure_thread()

    def release(self) -> None:
        """Let the workers run again (at the limit's duty cycle)."""
        with self._lock:
            self._held = False
            for pid in list(self._stopped):
                self._cont_locked(pid)

    def _stop_locked(self, pid: int) -> None:
        proc = self._procs.get(pid)
        if proc is not None and pid not in self._stopped:
            _suspend(proc)
            self._stopped.add(pid)

    def _cont_locked(self, pid: int) -> None:
        proc = self._procs.get(pid)
        if pid in self._stopped:
            self._stopped.discard(pid)
            if proc is not None:
                _resume(proc)

    @property
    def limit(self) -> float:
        return self.controller.limit

    def set_limit(self, limit: float) -> None:
        with self._lock:
            self.controller.set_limit(limit)

    def add(self, pid: int) -> None:
        """Throttle this worker process from now on (until `remove`)."""
        try:
            proc = psutil.Process(pid)
        except psutil.Error:
            return
        with self._lock:
            self._procs[pid] = proc
            self._last_cpu[pid] = _cpu(proc)
        self._ensure_thread()

    def remove(self, pid: int) -> None:
        with self._lock:
            self._cont_locked(pid)
            self._procs.pop(pid, None)
            self._last_cpu.pop(pid, None)
            self._busy.discard(pid)

    def set_busy(self, pid: int, busy: bool) -> None:
        """Mark whether the worker has a task (the feed-forward counts busy workers)."""
        with self._lock:
            if busy and pid in self._procs:
                self._busy.add(pid)
            else:
                self._busy.discard(pid)

    def is_busy(self, pid: int) -> bool:
        with self._lock:
            return pid in self._busy

    def running_fraction(self) -> float:
        with self._lock:
            return 0.0 if self._held else self.controller.duty(len(self._busy))

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="edgenet-throttle", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            for pid in list(self._stopped):
                self._cont_locked(pid)
            self._procs.clear()
            self._busy.clear()
            self._held = False

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                pids = list(self._procs)
                busy = len(self._busy)
                duty = self.controller.duty(busy)
                if self._held:  # a worker started meanwhile is stopped too
                    for pid in pids:
                        self._stop_locked(pid)
                held = self._held
            if held:  # no feedback while held
                self._stop.wait(self.period_s)
                last = time.monotonic()
                with self._lock:
                    for pid, p in self._procs.items():
                        self._last_cpu[pid] = _cpu(p)
                continue
            if busy == 0:
                self._stop.wait(self.period_s)
                last = time.monotonic()
                continue
            if duty < 1.0:
                run = duty * self.period_s
                self._stop.wait(run)
                with self._lock:
                    for pid in pids:
                        self._stop_locked(pid)
                self._stop.wait(self.period_s - run)
                with self._lock:
                    if not self._held:  # held meanwhile: they stay stopped, once
                        for pid in pids:
                            self._cont_locked(pid)
            else:
                self._stop.wait(self.period_s)
            now = time.monotonic()
            used = 0.0
            with self._lock:
                for pid, p in list(self._procs.items()):
                    c = _cpu(p)
                    used += max(0.0, c - self._last_cpu.get(pid, c))
                    self._last_cpu[pid] = c
                if busy == len(self._busy):
                    self.controller.observe(busy, used, now - last)
            last = now


def _cpu(p: psutil.Process) -> float:
    try:
        t = p.cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return 0.0


def _suspend(p: psutil.Process) -> None:
    try:
        p.suspend()
    except psutil.Error:
        pass


def _resume(p: psutil.Process) -> None:
    try:
        p.resume()
    except psutil.Error:
        pass

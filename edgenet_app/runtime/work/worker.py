"""The worker process: runs one task at a time, sent over a pipe by the pool.

Runs at the lowest OS priority with single-threaded numeric libraries (the pool gives
each worker one CPU), and with its private memory capped (RLIMIT_DATA on Linux) at what it
needed to start plus the memory limit, so that a runaway task gets a MemoryError
instead of taking the machine down. Messages:

    parent -> worker: ("task", task_id, kind, payload, limits) | ("stop",)
    worker -> parent: ("ready", pid) once; then per task
                      ("ok", task_id, result, cpu_s) | ("err", task_id, code, message, cpu_s)
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

THREAD_ENV = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "RAYON_NUM_THREADS",
)


def lower_priority() -> None:
    try:
        if sys.platform == "win32":
            import psutil

            psutil.Process().nice(psutil.IDLE_PRIORITY_CLASS)
        else:
            os.nice(19 - os.nice(0))
    except (OSError, ImportError):  # pragma: no cover - best effort
        pass


def _data_bytes() -> int | None:
    """VmData: this process's private writable memory (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cap_memory(memory_mb: int) -> int | None:
    """Cap private writable memory at what the worker uses now plus `memory_mb`.

    RLIMIT_DATA (Linux ≥ 4.7 counts anonymous mappings) rather than RLIMIT_AS: sandboxes
    such as wasmtime reserve gigabytes of inaccessible address space as guard regions,
    which RLIMIT_AS would refuse. Elsewhere the pool's RSS watchdog enforces the limit.
    """
    if not sys.platform.startswith("linux") or memory_mb <= 0:
        return None
    used = _data_bytes()
    if used is not None:
        set_memory_cap(used, memory_mb)
    return used


def set_memory_cap(baseline: int | None, memory_mb: int) -> None:
    """(Re)set the soft RLIMIT_DATA to `baseline` + `memory_mb` (each task has its own)."""
    if baseline is None or memory_mb <= 0:
        return
    import resource

    cap = baseline + memory_mb * 1024 * 1024 + 64 * 1024 * 1024  # headroom for thread stacks
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    except (ValueError, OSError):  # pragma: no cover - already using more than the cap
        pass


def die_with_parent() -> None:
    """If the node dies (even while this worker is suspended), the kernel kills us too."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover
        return
    if os.getppid() == 1:  # the parent was already gone before prctl
        os._exit(1)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main(conn: Connection, data_dir: str, memory_mb: int, model_dir: str | None) -> None:
    for var in THREAD_ENV:
        os.environ[var] = "1"
    lower_priority()
    # Import what tasks need before capping memory, so imports never hit the cap.
    import numpy  # noqa: F401

    from ...tasks.base import ExecContext, Limits, TaskError
    from ...tasks.registry import get_kind

    die_with_parent()
    baseline = cap_memory(memory_mb)
    base = Path(data_dir)
    ctx = ExecContext(base, Limits(memory_mb=memory_mb), Path(model_dir) if model_dir else None)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        except MemoryError:  # the payload itself does not fit in the memory limit
            conn.send(
                (
                    "err",
                    None,
                    "out_of_memory",
                    f"the payload does not fit in the {memory_mb} MB memory limit",
                    0.0,
                )
            )
            continue
        if msg[0] == "stop":
            return
        _, task_id, kind, payload, limits, scope = msg
        ctx.limits = limits
        ctx.data_dir = base / "peers" / scope if scope else base
        set_memory_cap(baseline, limits.memory_mb)
        start = _cpu()
        reply: tuple[Any, ...]
        try:
            k = get_kind(kind)
            result = k.execute(k.parse(payload), ctx)
            reply = ("ok", task_id, result, _cpu() - start)
        except TaskError as exc:
            reply = ("err", task_id, exc.code, str(exc), _cpu() - start)
        except MemoryError:
            reply = (
                "err",
                task_id,
                "out_of_memory",
                f"the task needed more than its memory limit of {limits.memory_mb} MB",
                _cpu() - start,
            )
        except Exception as exc:  # a bug in an executor must fail only its task
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            reply = ("err", task_id, "internal_error", f"executor failed: {detail}", _cpu() - start)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception as exc:  # e.g. an unpicklable result
            conn.send(("err", task_id, "internal_error", f"cannot send result: {exc}", 0.0))
        del msg, payload  # free a large payload before waiting for the next task

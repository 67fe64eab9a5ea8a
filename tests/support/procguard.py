"""A pytest plugin: a test that starts a process must be marked `slow`.

While a test not marked `slow` is set up, run or torn down, starting a process raises
`ProcessStartForbidden` and fails the test, even if the code under test swallows the
exception. A shared-library lookup (`ctypes.util.find_library` runs `ldconfig -p`) is not
counted: which test first imports a library that does one depends on the test order.
Guarded: `subprocess.Popen` (hence `subprocess.run`, `os.popen` and asyncio's subprocesses
on Unix), `multiprocessing`'s `Process.start` (hence the worker pool and
`ProcessPoolExecutor`), `multiprocessing.util.spawnv_passfds` (its resource tracker and fork
server), `os.fork`, `os.forkpty`, `os.posix_spawn`, `os.posix_spawnp` and `os.system`.

The guard is armed by hook wrappers around each test phase rather than by a fixture, so
that fixtures of any scope set up for an unmarked test are covered too. It costs a few
attribute reads per test phase and per process start. tests/conftest.py loads it
(`pytest_plugins`); `-p support.procguard` loads it into another pytest run.
"""

from __future__ import annotations

import functools
import multiprocessing.process
import multiprocessing.util
import os
import subprocess
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

SLOW = "slow"
Describe = Callable[[tuple[Any, ...], dict[str, Any]], str]  # (args, kwargs) -> what starts
_STARTS = pytest.StashKey[list[str]]()


class ProcessStartForbidden(RuntimeError):
    """Raised where a test not marked `slow` starts a process."""


class _Guard:
    """Which test, if any, may not start a process right now, and what it started."""

    def __init__(self) -> None:
        self.test: str | None = None
        self.starts: list[str] = []
        self.installed = 0
        self.originals: list[tuple[Any, str, Any]] = []

    def refuse(self, test: str, what: str) -> None:
        self.starts.append(what)
        raise ProcessStartForbidden(message(test, what))


_guard = _Guard()


def message(test: str, what: str) -> str:
    return f"{test}: this test starts a process ({what}): mark it @pytest.mark.slow"


def _describe_popen(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    argv = args[1] if len(args) > 1 else kwargs.get("args")  # args[0] is the Popen
    return f"subprocess.Popen({argv!r})"


def _describe_process(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    proc = args[0]
    target = getattr(proc, "_target", None)
    name = getattr(target, "__qualname__", None) or getattr(proc, "name", "?")
    return f"multiprocessing Process.start(target={name})"


def _describe_call(qualname: str) -> Describe:
    return lambda args, kwargs: f"{qualname}()"


def _targets() -> list[tuple[Any, str, Describe]]:
    """(owner, attribute, describe) for every process starter the guard wraps."""
    found: list[tuple[Any, str, Describe]] = [
        (subprocess.Popen, "__init__", _describe_popen),
        (multiprocessing.process.BaseProcess, "start", _describe_process),
        (
            multiprocessing.util,
            "spawnv_passfds",
            _describe_call("multiprocessing.util.spawnv_passfds"),
        ),
    ]
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            found.append((os, name, _describe_call(f"os.{name}")))
    return found


# `ctypes.util.find_library` runs these to find a shared library (ifaddr does on importing
# aiortc, the idle probe does for libXss): a library lookup, not a test starting processes.
# Which test first imports such a library depends on the order tests run in.
LIBRARY_LOOKUPS = frozenset({"ldconfig", "gcc", "cc", "ld", "objdump"})


def _library_lookup(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    argv = args[1] if len(args) > 1 else kwargs.get("args")
    first = argv[0] if isinstance(argv, list | tuple) and argv else argv
    return isinstance(first, str) and os.path.basename(first) in LIBRARY_LOOKUPS


def _wrap(original: Any, describe: Describe) -> Any:
    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _guard.test is not None and not (
            describe is _describe_popen and _library_lookup(args, kwargs)
        ):
            _guard.refuse(_guard.test, describe(args, kwargs))
        return original(*args, **kwargs)

    return guarded


def install() -> None:
    """Wrap the process starters (once, however many pytest sessions nest)."""
    _guard.installed += 1
    if _guard.installed > 1:
        return
    for owner, name, describe in _targets():
        original = getattr(owner, name)
        _guard.originals.append((owner, name, original))
        setattr(owner, name, _wrap(original, describe))


def uninstall() -> None:
    _guard.installed -= 1
    if _guard.installed > 0:
        return
    for owner, name, original in reversed(_guard.originals):
        setattr(owner, name, original)
    _guard.originals.clear()


@contextmanager
def _armed(item: pytest.Item) -> Iterator[None]:
    """Forbid process starts during one phase of `item` unless it is marked slow."""
    saved = _guard.test, _guard.starts
    _guard.test = None if item.get_closest_marker(SLOW) else item.nodeid
    _guard.starts = item.stash[_STARTS] = []
    try:
        yield
    finally:
        _guard.test, _guard.starts = saved


def pytest_configure(config: pytest.Config) -> None:
    install()


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _armed(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _armed(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    with _armed(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A phase that passed although it tried to start a process (the code caught the
    exception) fails all the same; one that failed otherwise (a timeout, say) says why too."""
    report = yield
    starts = item.stash.get(_STARTS, [])
    if starts and report.passed:
        report.outcome = "failed"
        report.longrepr = message(item.nodeid, starts[0])
    elif starts and report.failed:
        report.sections.append(("process guard", message(item.nodeid, starts[0])))
    return report

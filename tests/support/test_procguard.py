"""The process guard (support/procguard.py): a test that starts a process must be `slow`.

Runs pytest in-process (pytester) on a few tests whose process starts are stubbed below
the guard (`Popen._execute_child`, `Process._Popen`), so no process is ever started here.
"""

from __future__ import annotations

import pytest

from support import procguard

INNER = """
import asyncio
import multiprocessing
import subprocess

import pytest


class FakePopen:
    returncode = 0

    def __init__(self, process):
        self.pid = 0
        self.sentinel = None

    def poll(self, flag=0):
        return 0

    def wait(self, timeout=None):
        return 0


class FakeProcess(multiprocessing.get_context("spawn").Process):
    _Popen = FakePopen


@pytest.fixture(autouse=True)
def no_real_child(monkeypatch):
    def execute_child(self, *args, **kwargs):
        self.pid = 0

    monkeypatch.setattr(subprocess.Popen, "_execute_child", execute_child)


def test_popen_unmarked():
    subprocess.Popen(["true"])


def test_popen_swallowed_unmarked():
    try:
        subprocess.run(["true"])
    except Exception:
        pass


def test_popen_swallowed_then_failing_unmarked():
    try:
        subprocess.Popen(["true"])
    except Exception:
        pass
    assert 1 == 2


def test_asyncio_unmarked():
    asyncio.run(asyncio.create_subprocess_exec("true"))


def test_process_unmarked():
    FakeProcess(target=print).start()


@pytest.fixture
def popen_fixture():
    return subprocess.Popen(["true"])


def test_fixture_unmarked(popen_fixture):
    pass


@pytest.mark.slow
def test_popen_slow():
    subprocess.Popen(["true"])


@pytest.mark.slow
def test_process_slow():
    p = FakeProcess(target=print)
    p.start()
    p.join()


@pytest.mark.slow
def test_fixture_slow(popen_fixture):
    pass


def test_no_process():
    assert True


def test_library_lookup_unmarked():
    subprocess.Popen(["/sbin/ldconfig", "-p"])  # what ctypes.util.find_library runs
"""


def test_unmarked_tests_that_start_a_process_fail_and_slow_ones_pass(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "markers =\n    slow: starts a process\n"
    )
    pytester.makepyfile(test_inner=INNER)
    # no faulthandler in the inner session: turning it off at its end would also drop the
    # signal handlers installed since (wasmtime traps `unreachable` with SIGILL)
    reports = pytester.inline_run(
        "-p", "support.procguard", "-p", "no:cacheprovider", "-p", "no:faulthandler"
    )
    logged = reports.getreports("pytest_runtest_logreport")
    failed = {r.nodeid.split("::")[1]: r.longreprtext for r in logged if r.failed}
    passed = {r.nodeid.split("::")[1] for r in logged if r.passed and r.when == "call"}
    assert passed == {
        "test_popen_slow",
        "test_process_slow",
        "test_fixture_slow",
        "test_no_process",
        "test_library_lookup_unmarked",
    }
    assert sorted(failed) == [
        "test_asyncio_unmarked",
        "test_fixture_unmarked",
        "test_popen_swallowed_then_failing_unmarked",
        "test_popen_swallowed_unmarked",
        "test_popen_unmarked",
        "test_process_unmarked",
    ]
    popen = "this test starts a process (subprocess.Popen(['true'])): mark it @pytest.mark.slow"
    assert f"test_inner.py::test_popen_unmarked: {popen}" in failed["test_popen_unmarked"]
    assert failed["test_popen_swallowed_unmarked"] == (
        f"test_inner.py::test_popen_swallowed_unmarked: {popen}"
    )
    assert "assert 1 == 2" in failed["test_popen_swallowed_then_failing_unmarked"]
    (then_failing,) = (r for r in logged if r.failed and r.nodeid.endswith("then_failing_unmarked"))
    assert (
        "process guard",
        f"test_inner.py::test_popen_swallowed_then_failing_unmarked: {popen}",
    ) in then_failing.sections
    assert popen in failed["test_fixture_unmarked"]
    assert (
        "this test starts a process (subprocess.Popen(('true',)))"
        in (failed["test_asyncio_unmarked"])
    )
    assert (
        "this test starts a process (multiprocessing Process.start(target=print)): "
        "mark it @pytest.mark.slow" in failed["test_process_unmarked"]
    )
    assert procguard._guard.test == request.node.nodeid  # this (unmarked) test's guard is back

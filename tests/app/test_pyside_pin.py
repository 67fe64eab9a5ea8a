"""Regression guard for the PySide6 pin (see README and DESIGN.md).

PySide6 6.12.0 on Python 3.11 decrements None's refcount on every void Qt call; after
a few thousand calls the process aborts ("none_dealloc"). We pin 6.11.3 on 3.11. This
test makes 100,000 such calls in a child process and checks that it survives and that
None's refcount did not drift.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHILD = r"""
import sys

import pytest
from PySide6.QtCore import QCoreApplication, QObject, QTimer
app = QCoreApplication([])
obj = QObject()
timer = QTimer()
before = sys.getrefcount(None)
for i in range(100_000):
    obj.setObjectName("n")
    timer.setInterval(i % 1000)
after = sys.getrefcount(None)
print(before, after)
"""


@pytest.mark.slow
def test_100k_void_qt_calls_do_not_corrupt_none() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    before, after = map(int, proc.stdout.split())
    # immortal in 3.12+, so equal there; on 3.11 a leak of one ref per call would show
    assert abs(after - before) < 1000

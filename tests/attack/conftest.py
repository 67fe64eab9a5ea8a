"""Attack tests hit the ledger on the wire with real `edgenet node` processes (a real relay,
real WebRTC): every test here is marked `attack` and `slow`."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.attack)
            item.add_marker(pytest.mark.slow)

"""Shared fixtures, and the plugins every test runs under."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from edgenet_app.tasks import minilm
from edgenet_app.tasks.base import TaskError

# support.procguard: a test that starts a process must be marked `slow`; the guard fails
# any other that does. pytester runs pytest in-process to test that guard.
pytest_plugins = ["support.procguard", "pytester"]

# CI explores the same examples every run (reproducible landings); local runs explore anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("EDGENET_HYPOTHESIS_PROFILE") == "ci":
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def model() -> minilm.MiniLM:
    """The embedding model. Missing it fails the tests (it is part of the README's test
    command), with the install hint, rather than silently skipping them."""
    try:
        return minilm.load()
    except TaskError as e:
        pytest.fail(f"all-MiniLM-L6-v2 not available: {e}")

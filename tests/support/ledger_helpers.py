"""Shared fixtures for ledger tests: deterministic identities and a test network."""

from __future__ import annotations

from edgenet_app.core import economics as econ
from edgenet_app.core.genesis import Genesis
from edgenet_app.core.identity import Identity

M = econ.MICRO
T0 = 1_700_000_000_000  # genesis time (ms)

CREATOR = Identity(b"\xc0" * 32)
NODES = [Identity(bytes([i + 1]) * 32) for i in range(6)]
GRANT = 1000 * M


def make_genesis(grants: int = 3, name: str = "test-net") -> Genesis:
    return Genesis.create(
        CREATOR,
        name,
        T0,
        grants=tuple((n.node_id, GRANT) for n in NODES[:grants]),
    )


GENESIS = make_genesis()
OTHER_GENESIS = make_genesis(name="other-net")

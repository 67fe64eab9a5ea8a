"""Binary Merkle tree over sorted leaves (BLAKE2b-256, domain-separated)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

EMPTY_ROOT = hashlib.blake2b(b"", digest_size=32, person=b"edgenet-empty").digest()


def _leaf(data: bytes) -> bytes:
    return hashlib.blake2b(b"\x00" + data, digest_size=32).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.blake2b(b"\x01" + left + right, digest_size=32).digest()


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """Root over the leaves in sorted order; an odd node is carried up unchanged."""
    level = [_leaf(x) for x in sorted(leaves)]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]

"""Networks: a network is defined by a genesis document signed by its creator.

The network id is BLAKE2b-256 of the canonical encoding of the signed body, so
anything that changes the document (name, relays, grants, creator) makes another
network. Every ledger event and protocol message names its network id; events of
another network are refused.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Self

from .economics import MAX_CREDITS
from .errors import IdentityError, SchemaError, SignatureError, WireError
from .identity import Identity, node_id_of, verify
from .schema import Record, spec

FORMAT = "edgenet-genesis"
VERSION = 1
SIGN_DOMAIN = b"edgenet-genesis-v1\x00"
MAX_GENESIS_BYTES = 1024 * 1024
URL_RE = r"[a-z][a-z0-9+.-]*:[^\s]{1,500}"


@dataclass(frozen=True)
class Grant(Record):
    node_id: str = spec(pattern=r"[a-z2-7]{24}")
    amount: int = spec(min=1, max=MAX_CREDITS)  # micro-credits


@dataclass(frozen=True)
class GenesisBody(Record):
    format: str = spec(choices=(FORMAT,))
    version: int = spec(choices=(VERSION,))
    name: str = spec(min_len=1, max_len=64, pattern=r"[^\x00-\x1f]+")
    created_ms: int = spec(min=0, max=2**53)
    creator: bytes = spec(length=32)
    relays: tuple[str, ...] = spec(max_len=32)
    ice_servers: tuple[str, ...] = spec(max_len=32)
    grants: tuple[Grant, ...] = spec(max_len=10_000)

    def validate(self) -> None:
        import re

        for field, urls, schemes in (
            ("relays", self.relays, ("ws", "wss")),
            ("ice_servers", self.ice_servers, ("stun", "stuns", "turn", "turns")),
        ):
            for i, url in enumerate(urls):
                if not re.fullmatch(URL_RE, url) or url.split(":", 1)[0] not in schemes:
                    raise SchemaError(
                        f"{field}[{i}]", f"{url[:60]!r} is not a {'/'.join(schemes)} URL"
                    )
        seen: set[str] = set()
        for grant in self.grants:
            if grant.node_id in seen:
                raise SchemaError("grants", f"node {grant.node_id} is granted twice")
            seen.add(grant.node_id)


@dataclass(frozen=True)
class Genesis(Record):
    body: GenesisBody
    sig: bytes = spec(length=64)

    def validate(self) -> None:
        try:
            verify(self.body.creator, SIGN_DOMAIN + self.body.encode(), self.sig)
        except SignatureError:
            raise SchemaError("sig", "the creator's signature does not verify") from None

    @functools.cached_property
    def network_id(self) -> bytes:
        return hashlib.blake2b(self.body.encode(), digest_size=32, person=b"edgenet-net").digest()

    @functools.cached_property
    def _grants(self) -> dict[str, int]:
        return {g.node_id: g.amount for g in self.body.grants}

    @property
    def name(self) -> str:
        return self.body.name

    @property
    def created_ms(self) -> int:
        return self.body.created_ms

    def grant_for(self, public_key: bytes) -> int:
        """Micro-credits granted to the node with this public key (0 if none)."""
        return self._grants.get(node_id_of(public_key), 0)

    @property
    def total_granted(self) -> int:
        return sum(g.amount for g in self.body.grants)

    @classmethod
    def create(
        cls,
        creator: Identity,
        name: str,
        created_ms: int,
        *,
        relays: tuple[str, ...] = (),
        ice_servers: tuple[str, ...] = (),
        grants: tuple[tuple[str, int], ...] = (),
    ) -> Self:
        body = GenesisBody(
            FORMAT,
            VERSION,
            name,
            created_ms,
            creator.public_key,
            tuple(relays),
            tuple(ice_servers),
            tuple(Grant(nid, amount) for nid, amount in grants),
        )
        return cls(body, creator.sign(SIGN_DOMAIN + body.encode()))

    @classmethod
    def load(cls, data: bytes) -> Self:
        """Parse a genesis file; any problem is a WireError naming it."""
        if len(data) > MAX_GENESIS_BYTES:
            raise WireError(f"genesis document is {len(data)} bytes; limit {MAX_GENESIS_BYTES}")
        try:
            return cls.decode(data, max_bytes=MAX_GENESIS_BYTES)
        except IdentityError as exc:
            raise WireError(f"genesis document: {exc}") from None

    def network_id_hex(self) -> str:
        return self.network_id.hex()

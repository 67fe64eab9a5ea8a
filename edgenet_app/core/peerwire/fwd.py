"""Signaling through the mesh: what to do with a `fwd` frame from a neighbour (sans-IO)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..errors import WireError
from ..taskflow.common import TokenBucket
from .frames import FWD_MAX_SKEW_MS, Fwd
from .peers import Dedup


@dataclass(frozen=True)
class Deliver:
    """A verified offer or answer for this node."""

    fwd: Fwd


@dataclass(frozen=True)
class Forward:
    """Pass the frame on to `to`, a neighbour of ours (one hop)."""

    to: bytes


@dataclass(frozen=True)
class Refuse:
    reason: str
    penalise: bool


class FwdRouter:
    """Decides what to do with a `fwd` frame received from a neighbour (sans-IO).

    Rate limits: a token bucket per neighbour (`neighbour_rate` per second, burst
    `neighbour_burst`; bounds the signature checks a neighbour can make us do) and one per
    signer (`rate_per_s`, `burst`). A frame for someone else is forwarded only if its
    signer is the neighbour that handed it over (one hop: a forwarded frame is never
    forwarded again), it verifies, it is fresh, it was not seen before and we have a link
    to its recipient. A frame for us must verify, be fresh and new. Bad signatures, stale
    or replayed frames and floods are the neighbour's fault (`Refuse.penalise`); a signer
    over its own rate that the neighbour only forwarded is dropped without blame.
    """

    def __init__(
        self,
        me: bytes,
        network: bytes,
        *,
        rate_per_s: float = 1.0,
        burst: float = 16.0,
        neighbour_rate: float = 5.0,
        neighbour_burst: float = 40.0,
        max_skew_ms: int = FWD_MAX_SKEW_MS,
    ) -> None:
        self.me = me
        self.network = network
        self.max_skew_ms = max_skew_ms
        self.per_neighbour = TokenBucket(neighbour_rate, neighbour_burst, capacity=1024)
        self.per_signer = TokenBucket(rate_per_s, burst, capacity=4096)
        self.seen = Dedup(ttl_ms=2 * max_skew_ms, capacity=10_000)

    def on_fwd(
        self, fwd: Fwd, neighbour: bytes, now_ms: int, linked: Collection[bytes]
    ) -> Deliver | Forward | Refuse:
        if not self.per_neighbour.allow(neighbour, now_ms):
            return Refuse("too many fwd frames", True)
        if fwd.to != self.me and fwd.sender != neighbour:
            return Refuse("fwd for another peer that its signer did not hand over (one hop)", True)
        if fwd.sender == self.me:
            return Refuse("fwd claims to come from us", True)
        try:
            fwd.check(self.network, now_ms, self.max_skew_ms)
        except WireError as exc:
            return Refuse(str(exc), True)
        if not self.seen.first_time(fwd.message_id(self.network), now_ms):
            return Refuse("fwd replayed", True)
        if not self.per_signer.allow(fwd.sender, now_ms):
            return Refuse("too many offers and answers from one signer", fwd.sender == neighbour)
        if fwd.to == self.me:
            return Deliver(fwd)
        if fwd.to not in linked:
            return Refuse(f"no link to the recipient of a fwd ({fwd.kind})", False)
        return Forward(fwd.to)

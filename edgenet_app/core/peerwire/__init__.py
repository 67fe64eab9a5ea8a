"""Frames on a peer link, and ledger anti-entropy, sans-IO.

- `frames`: the frame types (`vv`, `events`, `gossip`, `direct`, `part`, `sum`, `peers`,
  `fwd`), their limits, and `parse`;
- `direct`: a direct message as one `direct` frame or as `part`s, and `Reassembly`;
- `sync`: `LedgerSync`, anti-entropy for one link (version vectors answered with the events
  the peer lacks, events checked and added), and `vv_digest` for the periodic summary;
- `peers`: `PeerBook` (what peer exchange taught: who can forward to whom), `PeerAdvert`
  (when a link gets a new `peers` frame), `flood_targets` and `Dedup` (flood pruning and
  gossip deduplication);
- `fwd`: `FwdRouter`, what to do with a `fwd` frame (signaling through the mesh).
"""

from .direct import Reassembly, direct_frames
from .frames import (
    DIGEST_BYTES,
    FRAMES,
    FWD_DOMAIN,
    FWD_MAX_SKEW_MS,
    MAX_DIRECT_BYTES,
    MAX_EVENTS_PER_FRAME,
    MAX_FRAME_BYTES,
    MAX_PARTS,
    MAX_PEERS_LISTED,
    MAX_SDP_BYTES,
    MAX_TTL,
    MAX_VV_ENTRIES,
    PART_BYTES,
    Direct,
    Events,
    Frame,
    Fwd,
    Gossip,
    Part,
    Peers,
    Summary,
    VersionVector,
    parse,
)
from .fwd import Deliver, Forward, FwdRouter, Refuse
from .peers import Dedup, PeerAdvert, PeerBook, Penalties, flood_targets, peers_digest
from .sync import LedgerSync, SyncReport, vv_digest

__all__ = [
    "DIGEST_BYTES",
    "FRAMES",
    "FWD_DOMAIN",
    "FWD_MAX_SKEW_MS",
    "MAX_DIRECT_BYTES",
    "MAX_EVENTS_PER_FRAME",
    "MAX_FRAME_BYTES",
    "MAX_PARTS",
    "MAX_PEERS_LISTED",
    "MAX_SDP_BYTES",
    "MAX_TTL",
    "MAX_VV_ENTRIES",
    "PART_BYTES",
    "Dedup",
    "Deliver",
    "Direct",
    "Events",
    "Forward",
    "Frame",
    "Fwd",
    "FwdRouter",
    "Gossip",
    "LedgerSync",
    "Part",
    "PeerAdvert",
    "PeerBook",
    "Peers",
    "Penalties",
    "Reassembly",
    "Refuse",
    "Summary",
    "SyncReport",
    "VersionVector",
    "direct_frames",
    "flood_targets",
    "parse",
    "peers_digest",
    "vv_digest",
]

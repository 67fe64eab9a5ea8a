"""Frames on a peer link, and ledger anti-entropy, sans-IO.

- `frames`: the frame types (`sum`, `bkts`, `ents`, `want`, `reply`, `events`, `gossip`,
  `direct`, `part`, `peers`, `fwd`), their limits, and `parse`;
- `direct`: a direct message as one `direct` frame or as `part`s, and `Reassembly`;
- `sync`: `LedgerSync`, the events a link delivers, checked and added (early ones held);
- `recon`: `Recon`, anti-entropy for one link: paged, pull-based range reconciliation over
  the ledger's 256 author buckets (`sum` → `bkts` → `ents` pages → `want` → `reply`), with
  bounded frames at any number of authors; `Wants`, shared by a node's links, so that an
  author is pulled from one link at a time;
- `peers`: `PeerBook` (what peer exchange taught: who can forward to whom), `PeerAdvert`
  (when a link gets a new `peers` frame), `flood_targets` and `Dedup` (flood pruning and
  gossip deduplication);
- `fwd`: `FwdRouter`, what to do with a `fwd` frame (signaling through the mesh).
"""

from .direct import Reassembly, direct_frames
from .frames import (
    BUCKETS,
    DIGEST_BYTES,
    FRAMES,
    FWD_DOMAIN,
    FWD_MAX_SKEW_MS,
    MAX_DIRECT_BYTES,
    MAX_EVENTS_PER_FRAME,
    MAX_FRAME_BYTES,
    MAX_PAGE_ENTRIES,
    MAX_PARTS,
    MAX_PEERS_LISTED,
    MAX_SDP_BYTES,
    MAX_TTL,
    MAX_WANT_ITEMS,
    PART_BYTES,
    Buckets,
    Direct,
    Entries,
    Events,
    Frame,
    Fwd,
    Gossip,
    Part,
    Peers,
    Reply,
    Summary,
    Want,
    parse,
)
from .fwd import Deliver, Forward, FwdRouter, Refuse
from .peers import Dedup, PeerAdvert, PeerBook, Penalties, flood_targets, peers_digest
from .recon import Recon, Wants
from .sync import LedgerSync, SyncReport

__all__ = [
    "BUCKETS",
    "DIGEST_BYTES",
    "FRAMES",
    "FWD_DOMAIN",
    "FWD_MAX_SKEW_MS",
    "MAX_DIRECT_BYTES",
    "MAX_EVENTS_PER_FRAME",
    "MAX_FRAME_BYTES",
    "MAX_PAGE_ENTRIES",
    "MAX_PARTS",
    "MAX_PEERS_LISTED",
    "MAX_SDP_BYTES",
    "MAX_TTL",
    "MAX_WANT_ITEMS",
    "PART_BYTES",
    "Buckets",
    "Dedup",
    "Deliver",
    "Direct",
    "Entries",
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
    "Recon",
    "Refuse",
    "Reply",
    "Summary",
    "SyncReport",
    "Want",
    "Wants",
    "direct_frames",
    "flood_targets",
    "parse",
    "peers_digest",
]

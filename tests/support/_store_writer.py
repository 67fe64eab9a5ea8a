"""Child process of tests/runtime/test_store_sigkill.py: append signed, chained events until killed.

Usage: python _store_writer.py STORE NETWORK_HEX AUTHORS RNG_SEED

Imports first, then waits for a line on stdin (so the parent can start it ahead of time), opens
the store, continues every author's chain from what is stored, and appends batches of 1..20
events (mixed authors, one transaction each) in a tight loop. After every commit it prints the
total number of events the store must now hold, so the parent knows what was acknowledged.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

from edgenet_app.core.events import ZERO_HASH, Event, Transfer
from edgenet_app.core.identity import Identity
from edgenet_app.runtime.store.store import Store


def author(n: int) -> Identity:
    return Identity(hashlib.blake2b(b"sigkill-author-%d" % n, digest_size=32).digest())


def main(argv: list[str]) -> int:
    path, network, n_authors, seed = Path(argv[1]), bytes.fromhex(argv[2]), int(argv[3]), argv[4]
    rng = random.Random(seed)
    authors = [author(i) for i in range(n_authors)]
    if sys.stdin.readline().strip() != "go":
        return 2
    with Store.open(path) as store:
        heads = store.chain_heads(network)
        tips = {a.public_key: heads.get(a.public_key, (0, ZERO_HASH)) for a in authors}
        total = store.event_count()
        last: list[Event] = []
        while True:
            if last and rng.random() < 0.05:
                assert store.append_events(last) == 0  # replays are ignored
            batch: list[Event] = []
            for _ in range(rng.randint(1, 20)):
                who = rng.choice(authors)
                seq, prev = tips[who.public_key]
                body = Transfer(to=rng.choice(authors).public_key, amount=seq + 1, memo="k")
                event = Event.create(who, network, seq + 1, prev, 1_700_000_000_000 + seq, body)
                tips[who.public_key] = (seq + 1, event.id)
                batch.append(event)
            added = store.append_events(batch)
            assert added == len(batch), (added, len(batch))
            total += added
            last = batch
            sys.stdout.write(f"{total}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Direct messages on a peer link: one `direct` frame, or `part`s when too large."""

from __future__ import annotations

from ..errors import WireError
from .frames import MAX_DIRECT_BYTES, MAX_FRAME_BYTES, PART_BYTES, Direct, Part


def direct_frames(body: bytes, msg_id: bytes) -> list[bytes]:
    """Frames carrying one direct message: one `direct`, or `part`s when it is large."""
    if len(body) > MAX_DIRECT_BYTES:
        raise WireError(f"direct message is {len(body)} bytes; limit {MAX_DIRECT_BYTES}")
    if len(body) <= MAX_FRAME_BYTES - 1024:
        return [Direct(body).frame()]
    chunks = [body[i : i + PART_BYTES] for i in range(0, len(body), PART_BYTES)]
    return [Part(msg_id, i, len(chunks), len(body), c).frame() for i, c in enumerate(chunks)]


class Reassembly:
    """Puts `part` frames from one peer back together, with bounded memory and time.

    `add` returns the whole body when its last part arrives, None before, and raises
    WireError when parts contradict each other or a peer opens too many at once.
    """

    def __init__(self, max_open: int = 8, ttl_ms: int = 60_000) -> None:
        self.max_open = max_open
        self.ttl_ms = ttl_ms
        self._open: dict[bytes, tuple[int, int, int, dict[int, bytes]]] = {}

    def add(self, part: Part, now_ms: int) -> bytes | None:
        for key in [k for k, v in self._open.items() if now_ms - v[0] > self.ttl_ms]:
            del self._open[key]
        entry = self._open.get(part.id)
        if entry is None:
            if len(self._open) >= self.max_open:
                raise WireError(f"more than {self.max_open} large messages in flight")
            entry = (now_ms, part.count, part.total, {})
            self._open[part.id] = entry
        _, count, total, chunks = entry
        if (part.count, part.total) != (count, total):
            del self._open[part.id]
            raise WireError("parts of one message disagree on its size")
        if part.index in chunks:
            del self._open[part.id]
            raise WireError(f"part {part.index} received twice")
        chunks[part.index] = part.chunk
        if sum(map(len, chunks.values())) > total:
            del self._open[part.id]
            raise WireError("parts are larger than the announced total")
        if len(chunks) < count:
            return None
        del self._open[part.id]
        body = b"".join(chunks[i] for i in range(count))
        if len(body) != total:
            raise WireError(f"reassembled {len(body)} bytes, announced {total}")
        return body

"""Sending what the task flows ask to send: a direct message or a flooded announce."""

from __future__ import annotations

import logging

from ...core.errors import WireError
from ...core.taskflow import Broadcast, SendTo
from ..net.mesh import Mesh
from ..net.relay_client import RelayError
from ..net.webrtc import LinkClosed

log = logging.getLogger(__name__)

# what a send may fail with: the peer or the link went away, or the frame was refused
SEND_ERRORS = (TimeoutError, RelayError, WireError, LinkClosed, OSError, ValueError)


async def deliver(mesh: Mesh, action: SendTo | Broadcast) -> None:
    """Send one message; a failure is logged (the flow's deadlines deal with a lost one)."""
    try:
        if isinstance(action, Broadcast):
            await mesh.gossip("announce", action.msg.encode())
        else:
            await mesh.send_direct(action.peer, action.msg.encode())
    except SEND_ERRORS as exc:
        log.info("could not send %s: %s", type(action.msg).__name__, exc or "timeout")

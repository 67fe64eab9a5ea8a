"""Sending what the task flows ask to send: a direct message or a flooded announce."""

from __future__ import annotations

import logging
from typing import Any

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


def legacy(action: Any) -> Any:  # TEMPORARY until core/taskflow emits SendTo/Broadcast
    from ...core import taskflow as tf

    if isinstance(action, tf.SendAnnounce):
        return Broadcast(action.announce)
    for cls, peer, msg in (
        (tf.SendClaim, "submitter", "claim"),
        (tf.SendResult, "submitter", "result"),
        (tf.SendAbandon, "submitter", "abandon"),
        (tf.SendAssign, "worker", "assign"),
        (tf.SendCancel, "worker", "cancel"),
    ):
        if isinstance(action, cls):
            return SendTo(getattr(action, peer), getattr(action, msg))
    return action

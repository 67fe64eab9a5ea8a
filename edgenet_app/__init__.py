"""edgenet: lend idle CPU to a peer-to-peer compute network and earn verified credits.

Public API (grows with each layer):
    contribution_multiplier(network_cpu_hours) -> float
    await init(site_id=..., contribution=..., ...) -> EdgeNode   (starts a node)
    await submit(type=..., payload=..., options=...) -> dict      (runs one task)
    await submit_batch([{type, payload, options}, ...]) -> list   (runs several)

Errors: everything edgenet raises on purpose is an `EdgenetError`. Among them: `ApiError`
(an argument of the API is not valid), `PayloadError` (a task's payload breaks its kind's
schema), `NodeError` (the node could not do what was asked) and its `NoRelayError` (no relay
could be reached: try again later).

See `edgenet_app.api`. Importing the package stays light: the API module (and with it
asyncio) loads on first use of one of its names; the node, WebRTC and the task kinds load
when `init` or `submit` runs.
"""

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .core.economics import contribution_multiplier
from .core.errors import EdgenetError, NodeError, NoRelayError
from .tasks.base import PayloadError

if TYPE_CHECKING:
    from .api import ApiError, EdgeNode, init, submit, submit_batch

__all__ = [
    "ApiError",
    "EdgeNode",
    "EdgenetError",
    "NoRelayError",
    "NodeError",
    "PayloadError",
    "__version__",
    "contribution_multiplier",
    "init",
    "submit",
    "submit_batch",
]

_API = frozenset({"ApiError", "EdgeNode", "init", "submit", "submit_batch"})


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

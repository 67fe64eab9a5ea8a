"""edgenet: lend idle CPU to a peer-to-peer compute network and earn verified credits.

Public API (grows with each layer):
    contribution_multiplier(network_cpu_hours) -> float
"""

from ._version import __version__
from .core.economics import contribution_multiplier

__all__ = ["__version__", "contribution_multiplier"]

"""How a node runs: `NodeOptions`, with the activity `Policy` it holds, built from the
settings layers (`from_settings`) and updated live (`update`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ...core import economics as econ
from ...core.activity import POLICY_SETTINGS, Policy
from ...core.settings import SettingValue, get_setting
from ...tasks.base import Limits
from ..platform.probe import Probe, SystemProbe


def _default(key: str) -> Any:
    return get_setting(key).default


def _default_limits() -> Limits:
    return Limits(memory_mb=int(_default("memory_limit_mb")))


@dataclass
class NodeOptions:
    """Everything a node needs to run; defaults are the settings schema's."""

    relays: tuple[str, ...] = ()  # signaling relays; empty: the network's, then the LAN's
    kinds: tuple[str, ...] = tuple(_default("task_kinds"))  # task kinds this node runs
    ice_servers: tuple[str, ...] = ()  # STUN/TURN URLs
    loopback: bool = False  # host candidates on loopback only (tests, the demo)
    idle_timeout_s: float = 30.0  # an idle worker process exits after this long
    limits: Limits = field(default_factory=_default_limits)  # per task: memory, time
    passphrase: str | None = None  # unlocks the key file
    policy: Policy = field(default_factory=Policy)  # when and how much to contribute
    auto_stake: bool = _default("auto_stake")  # stake once enough credits are available
    mdns: bool = _default("network.mdns")  # look for relays on the LAN
    probe: Probe = field(default_factory=SystemProbe)  # the machine: idle, battery, load
    spot_check_rate: float = econ.SPOT_CHECK_RATE  # share of submitted tasks followed by one

    @classmethod
    def from_settings(
        cls,
        values: Mapping[str, SettingValue],
        *,
        relays: tuple[str, ...] = (),
        loopback: bool = False,
        passphrase: str | None = None,
    ) -> NodeOptions:
        """Options from effective settings (store < --config < flags); `relays` given
        explicitly (--relay) win over the `network.relays` setting."""
        v: Any = values  # validated and normalised by the schema: the types are known
        opts = cls(
            relays=relays or tuple(v["network.relays"]),
            ice_servers=tuple(v["network.ice_servers"]),
            loopback=loopback,
            passphrase=passphrase,
        )
        opts.update(values)
        return opts

    def update(self, values: Mapping[str, Any]) -> None:
        """Apply the live settings among `values` (validated keys → values)."""
        self.policy = self.policy.updated(values)
        if "task_kinds" in values:
            self.kinds = tuple(values["task_kinds"])
        if "memory_limit_mb" in values:
            self.limits = replace(self.limits, memory_mb=int(values["memory_limit_mb"]))
        if "auto_stake" in values:
            self.auto_stake = bool(values["auto_stake"])
        if "network.mdns" in values:
            self.mdns = bool(values["network.mdns"])


# settings a running node applies at once (the rest need a restart)
LIVE_SETTINGS = frozenset(
    {*POLICY_SETTINGS, "task_kinds", "memory_limit_mb", "auto_stake", "network.mdns"}
)

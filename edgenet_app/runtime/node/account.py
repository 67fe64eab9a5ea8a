"""This node's own account: the genesis grant, the stake and the uptime reward."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ...core import economics as econ
from ...core.errors import LedgerError
from ...core.events import Event, GenesisGrant, Stake, Uptime
from ...core.genesis import Genesis
from ...core.identity import Identity
from ..store.ledger_store import LedgerStore
from ..store.store import StoreError

log = logging.getLogger(__name__)

UPTIME_CLAIM_EVERY_MS = econ.HOUR_MS
MIN_UPTIME_CLAIM_MS = 60_000


class Account:
    """Writes this node's own ledger events that no task causes.

    `reserved()` is what tasks in flight may still pay (never staked); `publish(events)`
    sends new events to the network; `auto_stake()` reads the live setting."""

    def __init__(
        self,
        identity: Identity,
        genesis: Genesis,
        ledger: LedgerStore,
        *,
        auto_stake: Callable[[], bool],
        reserved: Callable[[], int],
        publish: Callable[[list[Event]], None],
        clock: Callable[[], int],
    ) -> None:
        self.identity, self.genesis, self.ledger = identity, genesis, ledger
        self._auto_stake, self._reserved, self._publish = auto_stake, reserved, publish
        self._clock = clock
        self.started_ms = 0
        self._last_uptime_claim_ms = 0

    def claim_genesis_grant(self) -> None:
        me = self.identity.public_key
        acct = self.ledger.ledger.state.accounts.get(me)
        if me in self.ledger.learning:  # its chain is not known here yet: later
            return
        if self.genesis.grant_for(me) and not (acct and acct.genesis_claimed):
            try:
                ev = self.ledger.append(self.identity, GenesisGrant())
            except (LedgerError, StoreError) as exc:  # a full disk, say: tried again later
                log.warning("could not claim the genesis grant: %s", exc)
                return
            log.info("claimed the genesis grant")
            self._publish([ev])

    def online(self, now: int) -> None:
        """The node is connected: uptime counts from now."""
        self.started_ms = self._last_uptime_claim_ms = now

    def upkeep(self, now: int) -> None:
        self.claim_genesis_grant()
        self.maybe_stake()
        self.maybe_claim_uptime(now)

    def maybe_stake(self) -> None:
        """Stake the required amount once it is available (auto_stake): staked workers earn
        the bonus and uptime rewards and can be slashed, which makes their results count."""
        if not self._auto_stake():
            return
        me = self.identity.public_key
        bal = self.ledger.ledger.balance(me, self._clock())
        spare = bal.available - self._reserved()  # never stake what tasks in flight will pay
        if bal.staked >= econ.STAKE_REQUIRED or spare < econ.STAKE_REQUIRED:
            return
        try:
            ev = self.ledger.append(self.identity, Stake(econ.STAKE_REQUIRED - bal.staked))
        except LedgerError as exc:
            log.info("could not stake: %s", exc)
            return
        log.info("staked %s credits", econ.format_credits(econ.STAKE_REQUIRED - bal.staked))
        self._publish([ev])

    def maybe_claim_uptime(self, now: int) -> None:
        """Claim the uptime reward once an hour while staked (the ledger caps the window)."""
        if now - self._last_uptime_claim_ms < UPTIME_CLAIM_EVERY_MS:
            return
        self._last_uptime_claim_ms = now
        acct = self.ledger.ledger.state.accounts.get(self.identity.public_key)
        if acct is None or acct.staked < econ.STAKE_REQUIRED or acct.staked_since is None:
            return
        start = max(acct.last_uptime_end, acct.staked_since, self.started_ms)
        if now - start < MIN_UPTIME_CLAIM_MS:
            return
        try:
            ev = self.ledger.append(self.identity, Uptime(start, now), now)
        except LedgerError as exc:
            log.info("could not claim uptime: %s", exc)
            return
        self._publish([ev])

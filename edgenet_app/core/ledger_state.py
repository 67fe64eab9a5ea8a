"""Ledger rules: how a valid sequence of events turns into balances.

`LedgerState` applies events one at a time in the ledger's canonical order
(timestamp, author, seq) and either applies an event or rejects it with a reason.
Each rule is checked completely before anything changes, so a rejected event leaves
no trace. The rules (DESIGN.md, "Ledger rules") are re-checkable by anyone from the
events alone: every minted micro-credit is recorded in `minted` by the rule that
minted it, and every burned one in `burned`.
"""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass, field

from . import economics as econ
from .errors import LedgerError, WireError
from .events import (
    Event,
    GenesisGrant,
    Referral,
    ResultCommitment,
    Settlement,
    Settlements,
    Slash,
    Stake,
    Transfer,
    Unstake,
    Uptime,
)
from .genesis import Genesis


@dataclass(frozen=True)
class Balance:
    """An account at a moment: spendable, locked (payout lock), and staked micro-credits."""

    available: int
    locked: int
    staked: int

    @property
    def total(self) -> int:
        return self.available + self.locked + self.staked


@dataclass
class Account:
    available: int = 0
    staked: int = 0
    locks: list[tuple[int, int]] = field(default_factory=list)  # heap of (unlock_ms, amount)
    unbonding: list[tuple[int, int]] = field(default_factory=list)  # unstaked, still slashable
    staked_since: int | None = None
    last_uptime_end: int = 0
    referrer: bytes | None = None
    genesis_claimed: bool = False
    cpu_ms_credited: int = 0
    valid_results: int = 0
    offences: int = 0
    rate_tokens: int = econ.AUTHOR_EVENTS_PER_HOUR * econ.HOUR_MS  # a full bucket
    rate_ts: int = 0

    def holding(self) -> int:
        """Every micro-credit the account holds: available, locked, staked, unbonding."""
        return (
            self.available
            + self.staked
            + sum(a for _, a in self.locks)
            + sum(a for _, a in self.unbonding)
        )

    def tokens_at(self, t: int) -> int:
        """The author's rate bucket at `t`: each event costs HOUR_MS tokens, and the bucket
        refills AUTHOR_EVENTS_PER_HOUR tokens a millisecond up to as many events."""
        cap = econ.AUTHOR_EVENTS_PER_HOUR * econ.HOUR_MS
        return min(cap, self.rate_tokens + max(0, t - self.rate_ts) * econ.AUTHOR_EVENTS_PER_HOUR)

    def release(self, t: int) -> None:
        while self.locks and self.locks[0][0] <= t:
            self.available += heapq.heappop(self.locks)[1]
        while self.unbonding and self.unbonding[0][0] <= t:
            self.available += heapq.heappop(self.unbonding)[1]

    def available_at(self, t: int) -> int:
        return (
            self.available
            + sum(a for u, a in self.locks if u <= t)
            + sum(a for u, a in self.unbonding if u <= t)
        )

    def slashable_at(self, t: int) -> int:
        """Stake plus unstaked credits still unbonding at `t`."""
        return self.staked + sum(a for u, a in self.unbonding if u > t)

    def burn_stake(self, t: int, amount: int) -> None:
        """Take `amount` from stake first, then from the unbonding credits of `t`."""
        take = min(amount, self.staked)
        self.staked -= take
        amount -= take
        kept = []
        for until, a in sorted(self.unbonding, reverse=True):
            if amount and until > t:
                cut = min(a, amount)
                amount -= cut
                a -= cut
            if a:
                kept.append((until, a))
        heapq.heapify(kept)
        self.unbonding = kept

    def lock(self, until: int, amount: int) -> None:
        if amount > 0:
            heapq.heappush(self.locks, (until, amount))

    def balance_at(self, t: int) -> Balance:
        both = self.locks + self.unbonding
        released = sum(a for u, a in both if u <= t)
        pending = sum(a for u, a in both if u > t)
        return Balance(self.available + released, pending, self.staked)


class Rejected(LedgerError):
    """An event breaks a ledger rule (the reason is the message). `LedgerState.apply` and
    `check` turn it into the returned reason: it never leaves this module."""


class LedgerState:
    """Balances and counters after applying events in canonical order."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.network = genesis.network_id
        self.accounts: dict[bytes, Account] = {}
        self.minted: dict[str, int] = {}
        self.burned = 0
        self.network_cpu_ms = 0
        self.applied: list[bytes] = []
        self.rejected: dict[bytes, str] = {}
        self.last_key: tuple[int, bytes, int] = (-1, b"", 0)
        self._settled: set[tuple[bytes, bytes, bytes]] = set()
        self._slashed: set[tuple[str, bytes, bytes]] = set()

    def copy(self) -> LedgerState:
        """An independent copy (cheap: containers of immutable values are copied shallowly,
        only the accounts, which change in place, one by one)."""
        other = LedgerState.__new__(LedgerState)
        other.__dict__.update(self.__dict__)
        other.accounts = {
            k: dataclasses.replace(a, locks=list(a.locks), unbonding=list(a.unbonding))
            for k, a in self.accounts.items()
        }
        other.minted = dict(self.minted)
        other.applied = list(self.applied)
        other.rejected = dict(self.rejected)
        other._settled = set(self._settled)
        other._slashed = set(self._slashed)
        return other

    # -- queries ------------------------------------------------------------------------

    def account(self, node: bytes) -> Account:
        acct = self.accounts.get(node)
        if acct is None:
            acct = self.accounts[node] = Account()
        return acct

    def balance(self, node: bytes, now_ms: int) -> Balance:
        acct = self.accounts.get(node)
        return acct.balance_at(now_ms) if acct else Balance(0, 0, 0)

    @property
    def total_minted(self) -> int:
        return sum(self.minted.values())

    @property
    def total_supply(self) -> int:
        return sum(
            a.available + a.staked + sum(x for _, x in a.locks + a.unbonding)
            for a in self.accounts.values()
        )

    @property
    def network_cpu_hours(self) -> float:
        return self.network_cpu_ms / econ.HOUR_MS

    # -- applying -----------------------------------------------------------------------

    def apply(self, event: Event, *, provisional: bool = False) -> str | None:
        """Apply `event` (which must come after everything applied so far in canonical
        order, unless `provisional`: a state so made is only good for admission, and the
        ledger rebuilds it). Returns None if it was applied, else why it was rejected."""
        key = (event.ts, event.author, event.seq)
        if key <= self.last_key and not provisional:
            raise ValueError("events must be applied in canonical order")
        self.last_key = max(key, self.last_key)
        try:
            self._apply(event, commit=False)
        except Rejected as exc:
            self.rejected[event.id] = str(exc)
            return str(exc)
        self._apply(event, commit=True)
        self.applied.append(event.id)
        return None

    def check(self, event: Event) -> str | None:
        """Would `event`, appended now, be applied? None if so, else the reason."""
        try:
            self._apply(event, commit=False)
        except Rejected as exc:
            return str(exc)
        return None

    def payment_refusal(self, payer: bytes, body: Settlement) -> str | None:
        """Why `payer` can never make this payment (paying itself, an unknown kind, settled
        already), whatever it holds; None if it may (the balance is checked apart)."""
        if body.worker == payer:
            return "a payer cannot settle a task with itself"
        if body.task_kind not in econ.PRICES:
            return f"unknown task kind {body.task_kind!r}"
        if (payer, body.task, body.worker) in self._settled:
            return "this task was already settled with this worker"
        return None

    def check_author(self, event: Event) -> str | None:
        """Only the rules about the author itself (it holds a credit, writes within its
        rate): what admission checks of an event whose validity depends on other authors'
        state (a slash), which canonical replay judges in full."""
        try:
            _author_may_write(event, self.accounts.get(event.author, Account()))
        except Rejected as exc:
            return str(exc)
        return None

    def _mint(self, rule: str, amount: int) -> None:
        self.minted[rule] = self.minted.get(rule, 0) + amount

    def _apply(self, ev: Event, *, commit: bool) -> None:
        if ev.network != self.network:
            raise Rejected("event belongs to another network")
        if ev.ts < self.genesis.created_ms:
            raise Rejected("event is older than the network's genesis")
        author = self.account(ev.author) if commit else self.accounts.get(ev.author, Account())
        if commit:
            author.release(ev.ts)
        available = author.available_at(ev.ts)
        body = ev.body
        unlock = ev.ts + econ.PAYOUT_LOCK_MS
        tokens = _author_may_write(ev, author)
        if commit:
            author.rate_tokens, author.rate_ts = tokens - econ.HOUR_MS, ev.ts

        if isinstance(body, GenesisGrant):
            amount = self.genesis.grant_for(ev.author)
            if amount == 0:
                raise Rejected("the genesis document grants nothing to this node")
            if author.genesis_claimed:
                raise Rejected("the genesis grant was already claimed")
            if commit:
                author.genesis_claimed = True
                author.available += amount
                self._mint("genesis", amount)

        elif isinstance(body, Transfer):
            if body.to == ev.author:
                raise Rejected("a transfer to oneself")
            _spend(available, body.amount, "transfer")
            if commit:
                author.available -= body.amount
                self.account(body.to).lock(unlock, body.amount)

        elif isinstance(body, Settlement):
            self._check_settlements(ev, (body,), available)
            if commit:
                self._settle(ev, body, author, unlock)

        elif isinstance(body, Settlements):
            paid = body.settlements()
            self._check_settlements(ev, paid, available)
            if commit:
                for one in paid:
                    self._settle(ev, one, author, unlock)

        elif isinstance(body, Uptime):
            if author.staked < econ.STAKE_REQUIRED or author.staked_since is None:
                raise Rejected("uptime rewards need an active stake")
            start = max(author.last_uptime_end, author.staked_since)
            if body.start_ms < start:
                raise Rejected("uptime window overlaps an earlier claim or precedes the stake")
            if body.end_ms > ev.ts:
                raise Rejected("uptime window ends after the event")
            if body.end_ms - body.start_ms > econ.MAX_UPTIME_CLAIM_MS:
                raise Rejected("uptime window is longer than 24 h")
            if commit:
                reward = econ.uptime_reward_micro(body.end_ms - body.start_ms)
                author.last_uptime_end = body.end_ms
                author.lock(unlock, reward)
                self._mint("uptime", reward)

        elif isinstance(body, Referral):
            if body.referrer == ev.author:
                raise Rejected("a node cannot refer itself")
            if author.referrer is not None:
                raise Rejected("the referrer was already set")
            if commit:
                author.referrer = body.referrer

        elif isinstance(body, Stake):
            _spend(available, body.amount, "stake")
            if commit:
                author.available -= body.amount
                author.staked += body.amount
                if author.staked >= econ.STAKE_REQUIRED and author.staked_since is None:
                    author.staked_since = ev.ts

        elif isinstance(body, Unstake):
            if body.amount > author.staked:
                raise Rejected(
                    f"unstake of {econ.format_credits(body.amount)} exceeds the stake of "
                    f"{econ.format_credits(author.staked)}"
                )
            if commit:
                author.staked -= body.amount
                heapq.heappush(author.unbonding, (unlock, body.amount))
                if author.staked < econ.STAKE_REQUIRED:
                    author.staked_since = None

        elif isinstance(body, Slash):
            self._slash(ev, body, commit)

        else:  # pragma: no cover - BODY_TYPES and this chain are kept in step by tests
            raise Rejected(f"unknown event kind {ev.kind}")

    def _check_settlements(self, ev: Event, paid: tuple[Settlement, ...], available: int) -> None:
        """Every payment of an event must be valid, and together within the balance."""
        for body in paid:
            reason = self.payment_refusal(ev.author, body)
            if reason is not None:
                raise Rejected(reason)
        _spend(available, sum(body.amount for body in paid), "settlement")

    def _settle(self, ev: Event, body: Settlement, payer: Account, unlock: int) -> None:
        worker = self.account(body.worker)
        worker.release(ev.ts)
        allowance = (
            econ.MAX_WORKER_CORES * (ev.ts - self.genesis.created_ms) - worker.cpu_ms_credited
        )
        cpu = max(0, min(body.cpu_ms, econ.cpu_ms_backed_by(body.amount), allowance))
        bonus = 0
        if worker.staked >= econ.STAKE_REQUIRED:
            bonus = econ.bonus_micro(self.network_cpu_ms, cpu)
        self.network_cpu_ms += cpu
        worker.cpu_ms_credited += cpu
        worker.valid_results += 1
        payer.available -= body.amount
        worker.lock(unlock, body.amount + bonus)
        self._settled.add((ev.author, body.task, body.worker))
        self._mint("task_bonus", bonus)
        if worker.referrer is not None and bonus > 0:
            referral = econ.referral_reward_micro(bonus)
            self.account(worker.referrer).lock(unlock, referral)
            self._mint("referral", referral)

    def _slash(self, ev: Event, body: Slash, commit: bool) -> None:
        if body.offender == ev.author:
            raise Rejected("a node cannot slash itself")
        if body.reason == "equivocation":
            dedup = _check_equivocation(self.network, body)
        else:
            dedup, majority = _check_wrong_result(self.network, body)
            for worker in majority:
                if self.accounts.get(worker, Account()).staked < econ.STAKE_REQUIRED:
                    raise Rejected("every worker in the agreeing majority must be staked")
            if ev.author in majority:
                raise Rejected("a member of the majority cannot author the slash")
        key = (body.reason, body.offender, dedup)
        if key in self._slashed:
            raise Rejected("this offence was already slashed")
        if self.accounts.get(body.offender, Account()).slashable_at(ev.ts) == 0:
            raise Rejected("the offender has no stake to slash")
        if not commit:
            return
        offender = self.account(body.offender)
        offender.release(ev.ts)
        amount = econ.slash_amount_micro(body.reason, offender.slashable_at(ev.ts))
        offender.burn_stake(ev.ts, amount)
        offender.offences += 1
        if offender.staked < econ.STAKE_REQUIRED:
            offender.staked_since = None
        self.burned += amount
        self._slashed.add(key)


def _author_may_write(ev: Event, author: Account) -> int:
    """Writing costs something: a held credit (or the genesis grant), and a rate. Returns
    the author's rate tokens at the event (Rejected if it may not write it)."""
    if not isinstance(ev.body, GenesisGrant) and author.holding() < econ.AUTHOR_MIN_MICRO:
        raise Rejected(
            f"the author holds less than {econ.format_credits(econ.AUTHOR_MIN_MICRO)} "
            "credit: an identity writes events only once it holds one (or claims its "
            "genesis grant)"
        )
    tokens = author.tokens_at(ev.ts)
    if tokens < econ.HOUR_MS:
        raise Rejected(f"the author writes more than {econ.AUTHOR_EVENTS_PER_HOUR} events an hour")
    return tokens


def _spend(available: int, amount: int, what: str) -> None:
    if amount > available:
        raise Rejected(
            f"{what} of {econ.format_credits(amount)} exceeds the available balance of "
            f"{econ.format_credits(available)}"
        )


def _check_equivocation(network: bytes, body: Slash) -> bytes:
    if len(body.proofs) != 2:
        raise Rejected("equivocation evidence must be exactly two events")
    try:
        a, b = (Event.decode(p) for p in body.proofs)
    except WireError as exc:
        raise Rejected(f"equivocation evidence is invalid: {exc}") from None
    if a.author != body.offender or b.author != body.offender:
        raise Rejected("equivocation evidence is not signed by the offender")
    if a.network != network or b.network != network:
        raise Rejected("equivocation evidence is from another network")
    if a.seq != b.seq or a.id == b.id:
        raise Rejected("equivocation evidence needs two different events with the same seq")
    return a.seq.to_bytes(8, "big")


def _check_wrong_result(network: bytes, body: Slash) -> tuple[bytes, set[bytes]]:
    try:
        commits = [ResultCommitment.decode(p) for p in body.proofs]
    except WireError as exc:
        raise Rejected(f"result evidence is invalid: {exc}") from None
    first, others = commits[0], commits[1:]
    if first.worker != body.offender:
        raise Rejected("the first result commitment must be the offender's")
    if any(c.network != network or c.task != first.task for c in commits):
        raise Rejected("result commitments must all be for one task of this network")
    workers = {c.worker for c in others}
    if len(workers) != len(others) or body.offender in workers or len(others) < 2:
        raise Rejected("result evidence needs at least two other, distinct workers")
    hashes = {c.result_hash for c in others}
    if len(hashes) != 1 or first.result_hash in hashes:
        raise Rejected("the other workers must agree with each other and not with the offender")
    return first.task, workers

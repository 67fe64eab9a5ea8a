"""Every economic constant and rule of the network, in one place.

Credits are counted in integer micro-credits (1 credit = 1,000,000 µcr) so that every
replica computes identical balances. Floats appear only in the public, informational
`contribution_multiplier`; the ledger mints with exact decimal arithmetic.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass

MICRO = 1_000_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# Contribution curve: multiplier = 1 + (MAX_MULTIPLIER - 1) * e^(-x / DECAY_CPU_HOURS).
MAX_MULTIPLIER = 10
DECAY_CPU_HOURS = 1_000_000

# The CPU value that backs a task reward: the part of a price eligible for the bonus is at
# most REF_CREDITS_PER_CPU_HOUR per CPU-hour worked. Because the bonus is proportional to
# CPU-hours and every counted CPU-hour also advances x, the whole bonus the network can
# ever mint is bounded by (MAX_MULTIPLIER - 1) * DECAY_CPU_HOURS * REF_CREDITS_PER_CPU_HOUR.
REF_CREDITS_PER_CPU_HOUR = 1
# A worker identity cannot be credited with more CPU time than this many cores running
# since the network's genesis (a hard, timestamp-proof ceiling per identity).
MAX_WORKER_CORES = 16

UPTIME_CREDITS_PER_HOUR_MICRO = MICRO // 10  # 0.1 credit per hour online
MAX_UPTIME_CLAIM_MS = DAY_MS
REFERRAL_DIVISOR = 10  # the referrer earns 10% of the bonus its referee is minted

STAKE_REQUIRED = 100 * MICRO
PAYOUT_LOCK_MS = HOUR_MS  # credits received from others are locked for one hour
SLASH_WRONG_RESULT = 10 * MICRO  # taken from stake for a result outvoted by a majority
# Equivocation (two events with the same author and sequence number) forfeits all stake.

MAX_CLOCK_SKEW_MS = 5 * 60 * 1000  # events stamped further ahead than this are refused

# Writing costs something (DESIGN.md, "Admission"): an identity may author events only
# while it holds at least AUTHOR_MIN_MICRO (available, locked or staked), except the claim
# of its genesis grant; and at most AUTHOR_EVENTS_PER_HOUR of them, sustained, with a
# burst of as many (a token bucket over event timestamps).
AUTHOR_MIN_MICRO = MICRO
AUTHOR_EVENTS_PER_HOUR = 360
# One `settlements` event pays up to this many (task, worker) items.
MAX_BATCH_ITEMS = 128
MAX_CREDITS = 10**12 * MICRO  # upper bound for any single amount

# Verification and reputation (BOINC-style adaptive replication).
DEFAULT_REDUNDANCY = 3
SPOT_CHECK_RATE = 0.10
SINGLE_EXECUTION_STREAK = 10  # consecutive valid results before a host may run tasks alone
PROBATION_MS = DAY_MS  # new identities always get redundant execution for a day
FLOAT_RESULT_TOLERANCE = 1e-5

# Rate limits and back-off per identity.
MAX_TASKS_PER_MINUTE = 600
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 3600.0

# Task prices (the seed's table): credits per unit of size.
PRIORITY_FACTOR = {"low": 1, "normal": 1, "high": 2}
STORAGE_MICRO_PER_MB_DAY = MICRO // 100  # 0.01 credit per MB per day


@dataclass(frozen=True)
class Price:
    """`credits` per `per` units of `unit`."""

    credits_micro: int
    per: int
    unit: str


PRICES: dict[str, Price] = {
    "vector_search": Price(1 * MICRO, 1000, "query vectors"),
    "vector_insert": Price(MICRO // 2, 100, "vectors"),
    "embedding": Price(5 * MICRO, 100, "texts"),
    "semantic_match": Price(1 * MICRO, 10, "queries"),
    "neural_inference": Price(3 * MICRO, 1, "batches"),
    "encryption": Price(MICRO // 10, 1_000_000, "bytes"),
    "compression": Price(MICRO // 5, 1_000_000, "bytes"),
    "custom_wasm": Price(1 * MICRO, 1_000_000_000, "fuel units"),
}
TASK_KINDS = tuple(PRICES)


def contribution_multiplier(network_cpu_hours: float) -> float:
    """Reward multiplier at `network_cpu_hours` contributed so far: 1 + 9·e^(−x/1,000,000)."""
    if not math.isfinite(network_cpu_hours) or network_cpu_hours < 0:
        raise ValueError(f"network CPU-hours must be a finite number ≥ 0, got {network_cpu_hours}")
    decay: float = math.exp(-float(network_cpu_hours) / DECAY_CPU_HOURS)
    return 1.0 + (MAX_MULTIPLIER - 1) * decay


_CTX = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)


def bonus_micro(network_cpu_ms: int, cpu_ms: int) -> int:
    """The bonus minted for `cpu_ms` of work done when the network had `network_cpu_ms`.

    The exact integral of (multiplier − 1) over the CPU-hours the work adds:
    REF · 9 · D · (e^(−x0/D) − e^(−x1/D)) credits, floored to a micro-credit, with 34-digit
    decimal arithmetic so every replica on every platform mints the same amount. Summed over
    any history it never exceeds REF · 9 · D credits (9,000,000).
    """
    if cpu_ms <= 0:
        return 0
    d = decimal.Decimal(HOUR_MS * DECAY_CPU_HOURS)
    x0 = _CTX.divide(decimal.Decimal(network_cpu_ms), d)
    x1 = _CTX.divide(decimal.Decimal(network_cpu_ms + cpu_ms), d)
    span = _CTX.subtract(_CTX.exp(-x0), _CTX.exp(-x1))
    scale = decimal.Decimal(
        (MAX_MULTIPLIER - 1) * DECAY_CPU_HOURS * REF_CREDITS_PER_CPU_HOUR * MICRO
    )
    return int(_CTX.multiply(scale, span).to_integral_value(decimal.ROUND_FLOOR))


def cpu_ms_backed_by(price_micro: int) -> int:
    """The most CPU time a price can back at the reference rate."""
    return price_micro * HOUR_MS // (REF_CREDITS_PER_CPU_HOUR * MICRO)


def uptime_reward_micro(duration_ms: int) -> int:
    return max(0, duration_ms) * UPTIME_CREDITS_PER_HOUR_MICRO // HOUR_MS


def referral_reward_micro(reward_micro: int) -> int:
    return max(0, reward_micro) // REFERRAL_DIVISOR


def task_price_micro(kind: str, size: int, priority: str = "normal") -> int:
    """Price of a task of `size` units (see PRICES), rounded up to a whole micro-credit."""
    try:
        price = PRICES[kind]
    except KeyError:
        raise ValueError(f"unknown task kind {kind!r}; known: {', '.join(TASK_KINDS)}") from None
    if priority not in PRIORITY_FACTOR:
        raise ValueError(f"priority must be one of {', '.join(PRIORITY_FACTOR)}, got {priority!r}")
    if size < 1:
        raise ValueError(f"task size must be ≥ 1 {price.unit}, got {size}")
    base = -(-size * price.credits_micro // price.per)  # ceiling division
    return base * PRIORITY_FACTOR[priority]


def storage_price_micro(megabytes: float, days: float) -> int:
    """Price of storing `megabytes` for `days` (0.01 credit per MB·day), rounded up."""
    if megabytes < 0 or days < 0:
        raise ValueError("storage size and duration must be ≥ 0")
    return math.ceil(megabytes * days * STORAGE_MICRO_PER_MB_DAY)


def slash_amount_micro(reason: str, staked_micro: int) -> int:
    """How much stake a proven offence forfeits."""
    if reason == "equivocation":
        return staked_micro
    if reason == "wrong_result":
        return min(SLASH_WRONG_RESULT, staked_micro)
    raise ValueError(f"unknown slash reason {reason!r}")


def reputation_score(valid: int, invalid: int) -> float:
    """Laplace-smoothed share of valid results, in [0, 1]; an invalid result weighs 5."""
    return (valid + 1) / (valid + 5 * invalid + 2)


def may_run_alone(consecutive_valid: int, age_ms: int, slashed: bool) -> bool:
    """Adaptive replication: a trusted host may execute a task without redundancy."""
    return not slashed and age_ms >= PROBATION_MS and consecutive_valid >= SINGLE_EXECUTION_STREAK


def backoff_seconds(failures: int) -> float:
    """Exponential back-off after `failures` consecutive failures."""
    if failures <= 0:
        return 0.0
    delay: float = BACKOFF_BASE_S * float(2 ** min(failures - 1, 30))
    return min(BACKOFF_MAX_S, delay)


def format_credits(micro: int) -> str:
    """A micro-credit amount as a human string, e.g. 1_500_000 -> '1.5'."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    text = f"{whole:,}"
    if frac:
        text += "." + f"{frac:06d}".rstrip("0")
    return sign + text


def parse_credits(text: str) -> int:
    """'1.5' -> 1_500_000 µcr; rejects more than 6 decimals, negatives and junk."""
    try:
        value = decimal.Decimal(text.replace(",", "").replace("_", ""))
    except decimal.InvalidOperation:
        raise ValueError(f"{text!r} is not a number of credits") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{text!r} is not a non-negative number of credits")
    micro = value * MICRO
    if micro != micro.to_integral_value():
        raise ValueError(f"{text!r} has more than 6 decimal places")
    if micro > MAX_CREDITS:
        raise ValueError(f"{text!r} exceeds the largest amount")
    return int(micro)

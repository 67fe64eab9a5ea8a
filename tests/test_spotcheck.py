"""Known answers for spot-checks (core/spotcheck.py): which verdicts teach, and picking."""

from __future__ import annotations

import random
from typing import Any

from edgenet_app.core.spotcheck import (
    MAX_PAYLOAD_BYTES,
    AnswerBank,
    barred,
)
from edgenet_app.core.taskflow_common import Dissent, Payment, Verdict

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def verdict(
    paid: tuple[bytes, ...] = (A, B),
    *,
    verified: bool = True,
    dissenters: tuple[bytes, ...] = (),
    spot_check: bool = False,
    result: Any = "answer",
) -> Verdict:
    return Verdict(
        task=b"t" * 16,
        verified=verified,
        result=result if verified else None,
        price=10,
        budget=10 * (len(paid) + len(dissenters)),
        redundancy=len(paid) + len(dissenters),
        payments=tuple(Payment(w, 10, 5) for w in paid),
        dissenters=tuple(Dissent(w, b"", ()) for w in dissenters),
        failed=(),
        refund=0,
        spot_check=spot_check,
        reason="",
    )


def test_only_unanimous_verdicts_of_two_or_more_stateless_results_teach() -> None:
    bank = AnswerBank()
    assert bank.learn("encryption", {"x": 1}, "normal", verdict((A, B, C)))
    assert bank.learn("embedding", {"texts": ["hi"]}, "high", verdict((A, B)))
    refused = [
        ("encryption", verdict((A,))),  # a single (trusted) execution proves too little
        ("encryption", verdict((A, B), dissenters=(C,))),  # someone disagreed
        ("encryption", verdict((A, B), verified=False)),
        ("encryption", verdict((A, B), spot_check=True)),  # never learn from a check
        ("vector_search", verdict((A, B, C))),  # depends on the workers' stored state
        ("vector_insert", verdict((A, B, C))),
    ]
    for kind, v in refused:
        assert not bank.learn(kind, {"x": 2}, "normal", v), kind
    big = {"data": "x" * (MAX_PAYLOAD_BYTES + 1)}
    assert not bank.learn("compression", big, "normal", verdict())
    assert not bank.learn("encryption", {"bad": object()}, "normal", verdict())  # unencodable
    assert len(bank) == 2
    known = bank.pick(random.Random(0), rate=1.0)
    assert known is not None and known.answer == "answer"
    assert (known.kind, known.redundancy, known.priority) in {
        ("encryption", 3, "normal"),
        ("embedding", 2, "high"),
    }


def test_the_bank_keeps_the_newest_answers_and_picks_at_the_rate() -> None:
    bank = AnswerBank(capacity=4)
    for i in range(10):
        bank.learn("encryption", {"i": i}, "normal", verdict(result=i))
    assert len(bank) == 4
    rng = random.Random(7)
    picks = [bank.pick(rng, rate=1.0) for _ in range(200)]
    assert {p.payload["i"] for p in picks if p is not None} == {6, 7, 8}  # not the newest
    rng = random.Random(7)
    hits = sum(bank.pick(rng, rate=0.1) is not None for _ in range(10_000))
    assert 850 < hits < 1150  # about one in ten
    assert AnswerBank().pick(random.Random(1), rate=1.0) is None  # nothing known yet
    one = AnswerBank()
    one.learn("encryption", {"i": 0}, "normal", verdict())
    assert one.pick(random.Random(1), rate=1.0) is None  # only the task just verified
    assert bank.pick(random.Random(1), rate=0.0) is None


def test_bars_expire() -> None:
    assert barred({A: 2_000, B: 1_000}, 1_500) == frozenset({A})
    assert barred({A: 2_000}, 2_000) == frozenset()

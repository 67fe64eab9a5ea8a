"""Known answers for spot-checks (core/spotcheck.py): which verdicts teach, and picking."""

from __future__ import annotations

import random
from typing import Any

from edgenet_app.core.spotcheck import (
    MAX_PAYLOAD_BYTES,
    AnswerBank,
    barred,
)
from edgenet_app.core.taskflow.common import Dissent, Payment, Verdict

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
    assert bank.learn("encryption", {"x": 1}, "normal", 30, verdict((A, B, C)))
    assert bank.learn("embedding", {"texts": ["hi"]}, "high", 60, verdict((A, B)))
    refused = [
        ("encryption", verdict((A,))),  # a single (trusted) execution proves too little
        ("encryption", verdict((A, B), dissenters=(C,))),  # someone disagreed
        ("encryption", verdict((A, B), verified=False)),
        ("encryption", verdict((A, B), spot_check=True)),  # never learn from a check
        ("vector_search", verdict((A, B, C))),  # depends on the workers' stored state
        ("vector_insert", verdict((A, B, C))),
    ]
    for kind, v in refused:
        assert not bank.learn(kind, {"x": 2}, "normal", 30, v), kind
    big = {"data": "x" * (MAX_PAYLOAD_BYTES + 1)}
    assert not bank.learn("compression", big, "normal", 30, verdict())
    assert not bank.learn("encryption", {"bad": object()}, "normal", 30, verdict())  # unencodable
    assert len(bank) == 2
    known = bank.pick(random.Random(0), rate=1.0)  # never the newest: the first one
    assert known is not None and known.answer == "answer" and known.payload == {"x": 1}
    assert (known.kind, known.redundancy, known.priority, known.timeout_s) == (
        "encryption",
        3,
        "normal",
        30,
    )
    assert known.computed_by == {A, B, C}  # they may not claim its check


def test_known_answers_are_copies_the_caller_cannot_change() -> None:
    bank = AnswerBank()
    payload = {"texts": ["a", "b"]}
    result = {"embeddings": [[0.5, 0.25]]}
    bank.learn("embedding", payload, "normal", 30, verdict(result=result))
    bank.learn("embedding", {"texts": ["c"]}, "normal", 30, verdict())
    payload["texts"].append("changed")  # a library user reusing its objects
    result["embeddings"][0][0] = 9.0
    known = bank.pick(random.Random(0), rate=1.0)
    assert known is not None
    assert known.payload == {"texts": ["a", "b"]}  # lists, as a payload travels
    assert known.answer == {"embeddings": [[0.5, 0.25]]}
    known.answer["embeddings"][0][0] = 1.0  # each read is a fresh copy
    assert known.answer == {"embeddings": [[0.5, 0.25]]}


def test_the_bank_keeps_the_newest_answers_and_picks_at_the_rate() -> None:
    bank = AnswerBank(capacity=4)
    for i in range(10):
        bank.learn("encryption", {"i": i}, "normal", 30, verdict(result=i))
    assert len(bank) == 4
    rng = random.Random(7)
    picks = [bank.pick(rng, rate=1.0) for _ in range(200)]
    assert {p.payload["i"] for p in picks if p is not None} == {6, 7, 8}  # not the newest
    rng = random.Random(7)
    hits = sum(bank.pick(rng, rate=0.1) is not None for _ in range(10_000))
    assert 850 < hits < 1150  # about one in ten
    assert AnswerBank().pick(random.Random(1), rate=1.0) is None  # nothing known yet
    one = AnswerBank()
    one.learn("encryption", {"i": 0}, "normal", 30, verdict())
    assert one.pick(random.Random(1), rate=1.0) is None  # only the task just verified
    assert bank.pick(random.Random(1), rate=0.0) is None
    # only answers some eligible worker can take; none usable: no check
    even = [bank.pick(rng, 1.0, lambda k: k.payload["i"] == 7) for _ in range(20)]
    assert {k.payload["i"] for k in even if k is not None} == {7}
    assert bank.pick(rng, 1.0, lambda k: False) is None


def test_bars_expire() -> None:
    assert barred({A: 2_000, B: 1_000}, 1_500) == frozenset({A})
    assert barred({A: 2_000}, 2_000) == frozenset()

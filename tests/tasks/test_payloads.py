"""Every kind's payload validation: hostile input only ever raises PayloadError/TaskError."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgenet_app.tasks.base import PayloadError, TaskError
from edgenet_app.tasks.registry import all_kinds, get_kind, kind_names

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 2**63, 2**64])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def mutate(example: dict[str, object], data: st.DataObject) -> dict[str, object]:
    """The kind's own small example with one field replaced, dropped, or one added."""
    out = dict(example)
    what = data.draw(st.sampled_from(["replace", "drop", "add"]))
    keys = sorted(out)
    if what == "replace" and keys:
        out[data.draw(st.sampled_from(keys))] = data.draw(json_values)
    elif what == "drop" and keys:
        out.pop(data.draw(st.sampled_from(keys)))
    else:
        out[data.draw(st.text(max_size=8))] = data.draw(json_values)
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(kind_names()), st.data())
def test_hostile_payloads_raise_only_payload_errors(name: str, data: st.DataObject) -> None:
    kind = get_kind(name)
    payload = mutate(kind.small_example(), data)
    try:
        kind.parse(payload)
    except (PayloadError, TaskError):
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(kind_names()), json_values)
def test_arbitrary_values_as_payloads(name: str, value: object) -> None:
    try:
        get_kind(name).parse(value)
    except (PayloadError, TaskError):
        pass


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("vector_insert", {"collection": "c", "vectors": [[10**400]], "ids": [1]}, "within"),
        ("vector_insert", {"collection": "c", "vectors": [["1.5"]], "ids": [1]}, "number"),
        ("vector_insert", {"collection": "c", "vectors": [[True]], "ids": [1]}, "number"),
        ("vector_insert", {"collection": "c", "vectors": [[1e30]], "ids": [1]}, "within"),
        ("compression", {"op": "compress", "vectors": [[1.0]], "max_error": 10**400}, "finite"),
        ("custom_wasm", {"wat": "(module)\ud800", "input": ""}, "surrogate"),
        ("embedding", {"texts": ["ok", "\udfff"]}, "surrogate"),
        ("encryption", {**get_kind("encryption").small_example(), 1: 2}, "unknown"),
    ],
)
def test_review_findings_are_clean_payload_errors(kind: str, payload: object, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        get_kind(kind).parse(payload)


def test_every_kind_documents_its_schema() -> None:
    for kind in all_kinds():
        info = kind.describe()
        assert info["payload"] and info["result"] and info["price"]
        json.dumps(info)

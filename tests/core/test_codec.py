"""The canonical codec: round trips, strictness, and only CodecError on junk."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgenet_app.core import codec
from edgenet_app.core.errors import CodecError

PROPS = settings(max_examples=300, deadline=None)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(codec.INT_MIN, codec.INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | st.binary(max_size=50)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5).map(tuple)
        | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


def same(a: object, b: object) -> bool:
    """Equality that tells 0.0 from -0.0 and 1 from 1.0 (the codec does)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)  # type: ignore[arg-type]
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)  # type: ignore[attr-defined,index]
    return a == b


@PROPS
@given(values)
def test_decode_encode_round_trip(value: object) -> None:
    data = codec.encode(value)
    back = codec.decode(data)
    assert same(back, value)
    assert codec.encode(back) == data


@PROPS
@given(st.dictionaries(st.text(max_size=8), st.integers(-(2**63), 2**64 - 1), max_size=8))
def test_map_encoding_is_independent_of_insertion_order(d: dict[str, int]) -> None:
    assert codec.encode(d) == codec.encode(dict(reversed(list(d.items()))))


@PROPS
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_codec_error(blob: bytes) -> None:
    try:
        value = codec.decode(blob)
    except CodecError:
        return
    assert codec.encode(value) == blob  # anything accepted is canonical


@pytest.mark.parametrize(
    ("blob", "why"),
    [
        (b"", "empty"),
        (b"\xcc\x05", "non-canonical"),  # 5 as uint8 instead of fixint
        (b"\xca\x3f\x80\x00\x00", "non-canonical"),  # float32
        (b"\x82\xa1b\x01\xa1a\x02", "non-canonical"),  # unsorted keys
        (b"\x82\xa1a\x01\xa1a\x02", "non-canonical"),  # duplicate keys
        (b"\x01\x02", "trailing"),
        (b"\xd4\x01\x00", "ext"),
        (b"\x81\x01\x02", "malformed"),  # integer map key
        (b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", "NaN"),
        (b"\xdd\xff\xff\xff\xff", "malformed"),  # array claiming 4 G items
    ],
)
def test_strict_decoding_rejects_with_a_reason(blob: bytes, why: str) -> None:
    with pytest.raises(CodecError, match=why):
        codec.decode(blob)


def test_limits() -> None:
    with pytest.raises(CodecError, match="limit"):
        codec.decode(codec.encode(b"x" * 100), max_bytes=50)
    deep: object = 1
    for _ in range(codec.MAX_DEPTH + 2):
        deep = (deep,)
    with pytest.raises(CodecError, match="nested"):
        codec.encode(deep)
    with pytest.raises(CodecError, match="cannot be encoded"):
        codec.encode({1, 2})
    with pytest.raises(CodecError, match="64-bit"):
        codec.encode(2**64)

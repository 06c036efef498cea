"""RFC 8785 canonical JSON for ledger entries, and what entries refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comity.ledger.canonical import MAX_DEPTH, MAX_ENTRY_BYTES, MAX_SAFE_INTEGER, canonical_json
from comity.ledger.errors import EntryError


def test_rfc8785_property_sorting_example() -> None:
    """RFC 8785 §3.2.3: names sort by UTF-16 code units, so U+1F600 (a surrogate pair
    starting 0xD83D) comes before U+FB33."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, b"null"),
        (True, b"true"),
        (False, b"false"),
        (0, b"0"),
        (-17, b"-17"),
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        ("", b'""'),
        ([], b"[]"),
        ({}, b"{}"),
        ([1, [True, None], {"b": [], "a": {}}], b'[1,[true,null],{"a":{},"b":[]}]'),
        ({"z": {"y": 1, "x": 2}, "a": 3}, b'{"a":3,"z":{"x":2,"y":1}}'),
    ],
)
def test_values(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', '"\\""'),
        ("\\", '"\\\\"'),
        ("/", '"/"'),
        ("\b\t\n\f\r", '"\\b\\t\\n\\f\\r"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
        ("\x0b", '"\\u000b"'),
        ("\x7f", '"\x7f"'),
        ("\u2028\u2029", '"\u2028\u2029"'),
        ("é€\U0001f600", '"é€\U0001f600"'),
    ],
)
def test_string_escaping(text: str, expected: str) -> None:
    assert canonical_json(text) == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "floating-point"),
        (1.0, "floating-point"),
        (float("nan"), "floating-point"),
        ({"a": [0.0]}, "floating-point"),
        (MAX_SAFE_INTEGER + 1, "outside"),
        (-MAX_SAFE_INTEGER - 1, "outside"),
        ({1: "one"}, "must be strings, not int"),
        ({("a",): 1}, "must be strings, not tuple"),
        ((1, 2), "A tuple cannot"),
        ({"a"}, "A set cannot"),
        (b"bytes", "A bytes cannot"),
        ("\ud800", "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
    ],
)
def test_refusals(value: object, message: str) -> None:
    with pytest.raises(EntryError, match=message):
        canonical_json(value)


def test_size_limit_is_the_tlog_tiles_length_prefix() -> None:
    assert MAX_ENTRY_BYTES == 2**16 - 1
    fits = "x" * (MAX_ENTRY_BYTES - 2)
    assert len(canonical_json(fits)) == MAX_ENTRY_BYTES
    with pytest.raises(EntryError, match="longer than 65535 bytes"):
        canonical_json(fits + "x")
    with pytest.raises(EntryError, match="longer than 65535 bytes"):
        canonical_json(["é" * 40_000])


def test_nesting_limit() -> None:
    deep: Any = "bottom"
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert canonical_json(deep).startswith(b"[" * MAX_DEPTH)
    with pytest.raises(EntryError, match="nests deeper"):
        canonical_json({"a": deep})


_integers = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
_scalars = st.none() | st.booleans() | _integers | st.text()


def _json(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=30,
    )


@given(value=_json(st.text()))
def test_round_trips_through_json_loads(value: Any) -> None:
    assert json.loads(canonical_json(value)) == value


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(item) for item in value]
    return value


@given(value=_json(st.text()))
def test_member_order_does_not_matter(value: Any) -> None:
    assert canonical_json(_reversed(value)) == canonical_json(value)


@given(value=_json(st.text(st.characters(max_codepoint=0xD7FF))))
def test_matches_pythons_sorted_compact_json_where_orders_agree(value: Any) -> None:
    """Below U+D800 code points and UTF-16 code units order alike, and Python's encoder
    escapes strings as RFC 8785 does."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected.encode("utf-8")


@given(value=_json(st.text()), number=st.floats(), data=st.data())
def test_a_float_anywhere_is_refused(value: Any, number: float, data: st.DataObject) -> None:
    container = data.draw(st.sampled_from(["list", "dict"]))
    wrapped = [value, number] if container == "list" else {"entry": value, "x": number}
    with pytest.raises(EntryError, match="floating-point"):
        canonical_json(wrapped)

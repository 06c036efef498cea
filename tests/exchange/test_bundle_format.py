"""The bundle format's properties: whatever its items, a bundle made by the code parses
back to the same items and verifies; a bundle with any single byte changed, cut short
anywhere or lengthened is refused before its items are handed out; and the format's
rules (addressing, sizes, item counts, answers) hold."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from comity.exchange.bundle_format import (
    MAX_ITEMS,
    Answer,
    BundleInvalid,
    BundleKind,
    make_bundle,
    parse_answer,
    parse_bundle,
    verify_bundle,
)
from comity.exchange.envelope import SigningKey
from comity.exchange.envelope_fields import NODE_ID
from exchange.enveloping import NGO, PROSECUTOR, T0

KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bundle properties").digest())
KEYS = [SigningKey(KEY.public_key(), dt.datetime(2025, 1, 1, tzinfo=dt.UTC))]
node_ids = st.from_regex(NODE_ID, fullmatch=True)
items = st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=8)
times = st.datetimes(  # Hypothesis takes naive bounds, and adds the zone itself
    min_value=dt.datetime(2025, 6, 1),  # noqa: DTZ001
    max_value=dt.datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
)


def _bundle(contents: list[bytes], *, kind: BundleKind = BundleKind.ENVELOPES) -> bytes:
    return make_bundle(KEY, kind, sender=NGO, recipient=PROSECUTOR, created=T0, items=contents)


def _checked(data: bytes) -> tuple[bytes, ...]:
    bundle = parse_bundle(data)
    verify_bundle(bundle, KEYS)
    return bundle.items


@given(
    contents=items,
    kind=st.sampled_from(BundleKind),
    sender=node_ids,
    recipient=node_ids,
    created=times,
)
def test_a_bundle_parses_back_to_what_was_put_in(
    contents: list[bytes], kind: BundleKind, sender: str, recipient: str, created: dt.datetime
) -> None:
    if sender == recipient:
        with pytest.raises(BundleInvalid, match="not to itself"):
            make_bundle(KEY, kind, sender=sender, recipient=recipient, created=created, items=[])
        return
    data = make_bundle(
        KEY, kind, sender=sender, recipient=recipient, created=created, items=contents
    )
    bundle = parse_bundle(data)
    verify_bundle(bundle, KEYS)
    manifest = bundle.manifest
    assert (manifest.kind, manifest.sender, manifest.recipient) == (kind, sender, recipient)
    assert manifest.created == created.replace(microsecond=created.microsecond // 1000 * 1000)
    assert bundle.items == tuple(contents)
    assert bundle.sha256 == hashlib.sha256(data).hexdigest()


@given(contents=items, data=st.data())
def test_any_single_byte_changed_is_refused(contents: list[bytes], data: st.DataObject) -> None:
    made = _bundle(contents)
    at = data.draw(st.integers(0, len(made) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = made[:at] + bytes([made[at] ^ flip]) + made[at + 1 :]
    with pytest.raises(BundleInvalid):
        _checked(changed)


@given(contents=items, data=st.data())
def test_a_bundle_cut_short_or_lengthened_is_refused(
    contents: list[bytes], data: st.DataObject
) -> None:
    made = _bundle(contents)
    cut = data.draw(st.integers(0, len(made) - 1))
    with pytest.raises(BundleInvalid):
        _checked(made[:cut])
    with pytest.raises(BundleInvalid, match="longer than its manifest"):
        _checked(made + data.draw(st.binary(min_size=1, max_size=20)))


def test_a_bundle_signed_by_another_key_or_at_a_time_the_key_was_not_valid_is_refused() -> None:
    bundle = parse_bundle(_bundle([b"x"]))
    with pytest.raises(BundleInvalid, match="not a key of"):
        verify_bundle(bundle, [SigningKey(Ed25519PrivateKey.generate().public_key(), T0)])
    with pytest.raises(BundleInvalid, match="was not valid"):
        verify_bundle(bundle, [SigningKey(KEY.public_key(), T0 + dt.timedelta(days=1))])


def test_the_format_s_limits_are_enforced_when_a_bundle_is_made() -> None:
    with pytest.raises(BundleInvalid, match="from 1 to"):
        _bundle([])
    with pytest.raises(BundleInvalid, match="from 1 to"):
        _bundle([b"x"] * (MAX_ITEMS + 1))
    with pytest.raises(BundleInvalid, match="1 to 262144 bytes"):
        _bundle([b"x" * (256 * 1024 + 1)], kind=BundleKind.ANSWERS)
    with pytest.raises(BundleInvalid, match="not a bundle"):
        parse_bundle(b"comity-receipt/1\n")


def test_an_answer_is_a_status_and_a_body_for_an_envelope_digest() -> None:
    answer = Answer("ab" * 32, 422, {"receipts": [], "outcome": "rejected"})
    assert parse_answer(answer.encode()) == answer
    for bad, message in (
        (b"[]", "exactly the members"),
        (b'{"body":{},"envelope_sha256":"x","status":201}', "is not a SHA-256"),
        (b'{"body":{},"envelope_sha256":"' + b"ab" * 32 + b'","status":500}', "2xx or 4xx"),
        (b'{"body":[],"envelope_sha256":"' + b"ab" * 32 + b'","status":201}', "JSON object"),
        (b"\xff", "UTF-8 JSON"),
    ):
        with pytest.raises(BundleInvalid, match=message):
            parse_answer(bad)

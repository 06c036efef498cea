"""Properties of envelopes over many generated messages: whatever is sealed opens to
itself, the header reads back as sealed, and no changed byte goes unnoticed."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import assume, given
from hypothesis import strategies as st

from comity.exchange.envelope import peek_header, seal
from comity.exchange.envelope_fields import MESSAGE_TYPE, NODE_ID, envelope_time
from comity.exchange.envelope_format import MAX_LIFETIME, Attachment, Message, parse_document
from comity.exchange.errors import EnvelopeRejected, RejectReason
from comity.exchange.key_ids import key_id
from exchange.enveloping import (
    PROSECUTOR,
    T0,
    encryption,
    opened,
    resigned,
    sealed,
    signing,
)

uuids = st.uuids(version=4).map(str)
node_ids = st.from_regex(NODE_ID, fullmatch=True)
message_types = st.from_regex(MESSAGE_TYPE, fullmatch=True).filter(lambda text: len(text) <= 64)
file_names = st.text(
    st.characters(
        exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"),
        exclude_characters="/\\",
    ),
    min_size=1,
    max_size=60,
).filter(lambda name: name not in {".", ".."})
attachments = st.builds(
    Attachment,
    name=file_names,
    size=st.integers(0, 2**53 - 1),
    sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
)
zones = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-9, minutes=-30))]
)
times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),  # noqa: DTZ001 - bounds; the zone is drawn apart
    max_value=dt.datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=zones,
)
lifetimes = st.timedeltas(min_value=dt.timedelta(milliseconds=1), max_value=MAX_LIFETIME)


@given(
    body=st.binary(max_size=4096),
    items=st.lists(attachments, max_size=6),
    conversation_id=uuids,
    sequence=st.integers(1, 2**53 - 1),
    message_type=message_types,
    message_id=uuids,
)
def test_any_message_opens_to_itself(
    *,
    body: bytes,
    items: list[Attachment],
    conversation_id: str,
    sequence: int,
    message_type: str,
    message_id: str,
) -> None:
    data = sealed(
        body=body,
        attachments=items,
        conversation_id=conversation_id,
        sequence=sequence,
        message_type=message_type,
        message_id=message_id,
    )
    result = opened(data)
    assert result.message == Message(conversation_id, sequence, message_type, body, tuple(items))
    assert result.header.message_id == message_id


@given(
    sender=node_ids,
    recipients=st.lists(node_ids, min_size=1, max_size=4, unique=True),
    sent_at=times,
    lifetime=lifetimes,
    message_id=uuids,
)
def test_peek_header_reads_back_what_was_sealed(
    *,
    sender: str,
    recipients: list[str],
    sent_at: dt.datetime,
    lifetime: dt.timedelta,
    message_id: str,
) -> None:
    key = signing("any sender")
    data = seal(
        sender=sender,
        signing_key=key,
        recipients={node: X25519PrivateKey.generate().public_key() for node in recipients},
        conversation_id=message_id,
        sequence=1,
        message_type="note",
        body=b"",
        sent_at=sent_at,
        expires_at=sent_at + lifetime,
        message_id=message_id,
    )
    header = peek_header(data)
    assert header.message_id == message_id
    assert header.sender == sender
    assert header.sender_key == key_id(key.public_key())
    assert header.recipients == tuple(sorted(recipients))
    assert header.sent_at == envelope_time(sent_at, "sent_at")
    assert header.expires_at == envelope_time(sent_at + lifetime, "expires_at")
    assert abs(header.sent_at - sent_at) < dt.timedelta(milliseconds=1)


@functools.cache
def _sample() -> bytes:
    return sealed(
        attachments=[Attachment("statement.pdf", 1234, "cd" * 32)],
        recipients={
            PROSECUTOR: encryption(PROSECUTOR).public_key(),
            "org.example.legal-aid": encryption("org.example.legal-aid").public_key(),
        },
        expires_at=T0 + dt.timedelta(hours=1),
    )


@given(data=st.data())
def test_any_single_byte_changed_is_refused(data: st.DataObject) -> None:
    sample = _sample()
    position = data.draw(st.integers(0, len(sample) - 1), label="position")
    value = data.draw(st.integers(0, 255), label="value")
    assume(sample[position] != value)
    with pytest.raises(EnvelopeRejected):
        opened(sample[:position] + bytes([value]) + sample[position + 1 :])


def test_every_byte_flipped_in_turn_is_refused() -> None:
    sample = _sample()
    opened(sample)
    for position in range(len(sample)):
        changed = bytearray(sample)
        changed[position] ^= 0x01
        with pytest.raises(EnvelopeRejected):
            opened(bytes(changed))


def test_every_truncation_and_any_trailing_byte_is_refused() -> None:
    sample = _sample()
    for length in range(len(sample)):
        with pytest.raises(EnvelopeRejected):
            opened(sample[:length])
    for extra in (b" ", b"\n", b"}", b"\x00"):
        with pytest.raises(EnvelopeRejected):
            opened(sample + extra)


@given(data=st.data())
def test_a_changed_age_file_properly_signed_is_undecryptable(data: st.DataObject) -> None:
    """Even a trusted sender cannot get a damaged ciphertext past age's authentication,
    whichever byte changed: a stanza, the header MAC, the nonce or a payload chunk."""
    document = parse_document(_sample())
    ciphertext = document.ciphertext
    position = data.draw(st.integers(0, len(ciphertext) - 1), label="position")
    value = data.draw(st.integers(0, 255), label="value")
    assume(ciphertext[position] != value)
    changed = ciphertext[:position] + bytes([value]) + ciphertext[position + 1 :]
    with pytest.raises(EnvelopeRejected) as caught:
        opened(resigned(document.header, changed))
    assert caught.value.reason is RejectReason.UNDECRYPTABLE

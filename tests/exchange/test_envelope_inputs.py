"""What :func:`seal` refuses to put in an envelope, and the limits of its size."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from comity.exchange.envelope import SigningKey
from comity.exchange.envelope_fields import MAX_ATTACHMENT_NAME_BYTES
from comity.exchange.envelope_format import (
    MAX_ATTACHMENTS,
    MAX_ENVELOPE_BYTES,
    MAX_LIFETIME,
    MAX_RECIPIENTS,
    Attachment,
)
from comity.exchange.errors import EnvelopeInvalid
from exchange.enveloping import NGO, PROSECUTOR, T0, encryption, opened, sealed, signing

DIGEST = "0" * 64


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sender": "NGO"}, "sender"),
        ({"sender": "-org.example"}, "sender"),
        ({"sender": "ab"}, "sender"),
        ({"sender": "a" * 101}, "sender"),
        ({"recipients": {}}, "recipients"),
        ({"recipients": {"Prosecutor": encryption(PROSECUTOR).public_key()}}, "recipient"),
        ({"conversation_id": "case-12"}, "conversation_id"),
        ({"sequence": 0}, "sequence"),
        ({"sequence": 2**53}, "sequence"),
        ({"sequence": True}, "sequence"),
        ({"message_type": "MLA request"}, "type"),
        ({"message_type": "mla..request"}, "type"),
        ({"message_type": "a" * 65}, "type"),
        ({"message_id": "not-a-uuid"}, "message_id"),
        ({"message_id": "00000000-0000-1000-8000-000000000000"}, "message_id"),
        ({"sent_at": dt.datetime(2025, 6, 1)}, "sent_at"),  # noqa: DTZ001 - on purpose
        ({"expires_at": T0}, "expires_at"),
        ({"expires_at": T0 - dt.timedelta(seconds=1)}, "expires_at"),
        ({"expires_at": T0 + MAX_LIFETIME + dt.timedelta(milliseconds=1)}, "expires_at"),
    ],
)
def test_values_out_of_the_format_are_refused(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(EnvelopeInvalid) as caught:
        sealed(**overrides)
    assert field in caught.value.fields


def test_a_lifetime_of_exactly_the_maximum_is_allowed() -> None:
    opened(sealed(expires_at=T0 + MAX_LIFETIME))


def test_recipients_are_limited() -> None:
    keys = {f"org.example.n{i}": X25519PrivateKey.generate().public_key() for i in range(65)}
    with pytest.raises(EnvelopeInvalid, match=f"at most {MAX_RECIPIENTS}"):
        sealed(recipients=keys)


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "evidence/photo.jpg",
        "..\\photo.jpg",
        "photo\n.jpg",
        "invoice\u202egpj.exe",
        "zero\u200bwidth.txt",
        "é" * (MAX_ATTACHMENT_NAME_BYTES // 2 + 1),
        "lone\udc80surrogate",
    ],
)
def test_attachment_names_that_could_mislead_are_refused(name: str) -> None:
    with pytest.raises(EnvelopeInvalid):
        Attachment(name, 1, DIGEST)


def test_attachment_names_in_any_script_are_kept() -> None:
    names = ["شهادة.pdf", "témoignage 2.pdf", "показания.docx", "证词.txt"]
    data = sealed(attachments=[Attachment(name, 1, DIGEST) for name in names])
    assert [item.name for item in opened(data).message.attachments] == names


@pytest.mark.parametrize(
    ("size", "digest"),
    [(-1, DIGEST), (2**53, DIGEST), (1, "0" * 63), (1, "A" * 64), (1, "g" * 64)],
)
def test_attachment_sizes_and_digests_are_checked(size: int, digest: str) -> None:
    with pytest.raises(EnvelopeInvalid):
        Attachment("a.pdf", size, digest)


def test_attachments_are_limited() -> None:
    many = [Attachment(f"{i}.pdf", 1, DIGEST) for i in range(MAX_ATTACHMENTS + 1)]
    with pytest.raises(EnvelopeInvalid, match=f"at most {MAX_ATTACHMENTS}"):
        sealed(attachments=many)


def test_a_body_near_the_limit_round_trips_and_one_beyond_it_is_refused() -> None:
    body = bytes(11 * 1024 * 1024)
    data = sealed(body=body)
    assert len(data) <= MAX_ENVELOPE_BYTES
    assert opened(data).message.body == body
    with pytest.raises(EnvelopeInvalid, match="Send large files as attachments"):
        sealed(body=bytes(MAX_ENVELOPE_BYTES * 3 // 4))
    with pytest.raises(EnvelopeInvalid, match="Send large files as attachments"):
        sealed(body=bytes(MAX_ENVELOPE_BYTES + 1))


def test_signing_keys_need_aware_ordered_validity() -> None:
    public = signing(NGO).public_key()
    with pytest.raises(ValueError, match="aware"):
        SigningKey(public, dt.datetime(2025, 1, 1))  # noqa: DTZ001 - on purpose
    with pytest.raises(ValueError, match="after"):
        SigningKey(public, T0, valid_until=T0)


def test_attachments_whose_metadata_exceeds_the_encoder_are_refused() -> None:
    many = [Attachment('"' * MAX_ATTACHMENT_NAME_BYTES, 1, DIGEST)] * MAX_ATTACHMENTS
    with pytest.raises(EnvelopeInvalid) as caught:
        sealed(attachments=many)
    assert "attachments" in caught.value.fields

"""Sealing and opening envelopes: round trips to one and several nodes, and every reason
to refuse one, each provoked the way it would happen."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comity.exchange.envelope import SenderStatus, SigningKey, peek_header
from comity.exchange.envelope_format import (
    MAX_ENVELOPE_BYTES,
    Attachment,
    Header,
    Message,
    encode_inner,
    parse_document,
)
from comity.exchange.errors import EnvelopeRejected, RejectReason
from comity.exchange.key_ids import key_id
from comity.vault.age import encrypt_bytes
from comity.vault.age_keys import X25519Recipient
from exchange.enveloping import (
    CONVERSATION,
    LEGAL_AID,
    NGO,
    OUTSIDER,
    PROSECUTOR,
    T0,
    TrustList,
    as_json,
    canonical,
    encryption,
    opened,
    rebuilt,
    resigned,
    sealed,
    signing,
    trusting_ngo,
)

EVIDENCE = Attachment("witness-statement.pdf", 48_213, "ab" * 32)


def refused(reason: RejectReason, data: bytes, **overrides: object) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as caught:
        opened(data, **overrides)
    assert caught.value.reason is reason, caught.value.message
    assert caught.value.fields == {"reason": reason.value}
    return caught.value


# Round trips


def test_a_message_to_one_node_opens_to_what_was_sealed() -> None:
    data = sealed(attachments=[EVIDENCE], sequence=7)
    result = opened(data)
    assert result.message == Message(
        conversation_id=CONVERSATION,
        sequence=7,
        message_type="mla.request",
        body=b"Please find the request attached.",
        attachments=(EVIDENCE,),
    )
    assert result.header.sender == NGO
    assert result.header.sender_key == key_id(signing(NGO).public_key())
    assert result.header.recipients == (PROSECUTOR,)
    assert result.header.sent_at == T0
    assert result.header.expires_at == T0 + dt.timedelta(days=1)


def test_a_group_message_opens_for_each_recipient_and_no_one_else() -> None:
    data = sealed(
        recipients={
            PROSECUTOR: encryption(PROSECUTOR).public_key(),
            LEGAL_AID: encryption(LEGAL_AID).public_key(),
        }
    )
    header = peek_header(data)
    assert header.recipients == (PROSECUTOR, LEGAL_AID)  # sorted: "int." before "org."
    assert len(parse_document(data).ciphertext.split(b"\n-> X25519 ")) == 3
    for node in (PROSECUTOR, LEGAL_AID):
        result = opened(data, me=node, identities=[encryption(node)])
        assert result.message.body == b"Please find the request attached."
    # A third node's key opens nothing, whatever name it claims.
    refused(RejectReason.UNDECRYPTABLE, data, identities=[encryption(OUTSIDER)])
    refused(RejectReason.MISADDRESSED, data, me=OUTSIDER, identities=[encryption(OUTSIDER)])


def test_a_node_may_hold_several_encryption_keys_after_rotating_its_own() -> None:
    data = sealed()
    opened(data, identities=[encryption("prosecutor, new key"), encryption(PROSECUTOR)])


def test_times_are_kept_in_utc_to_the_millisecond() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    local = dt.datetime(2025, 6, 1, 11, 30, 0, 123_999, tzinfo=paris)
    data = sealed(sent_at=local, expires_at=local + dt.timedelta(hours=1))
    assert as_json(data)["header"]["sent_at"] == "2025-06-01T09:30:00.123Z"
    header = peek_header(data)
    assert header.sent_at == T0 + dt.timedelta(milliseconds=123)
    assert header.sent_at.tzinfo is dt.UTC


def test_each_envelope_gets_a_fresh_message_id_unless_one_is_given() -> None:
    assert peek_header(sealed()).message_id != peek_header(sealed()).message_id
    given = "5f0c6a1e-9b7d-4c2a-8e3f-1a2b3c4d5e6f"
    assert peek_header(sealed(message_id=given)).message_id == given


def test_the_document_is_canonical_json_with_the_sensitive_fields_encrypted() -> None:
    data = sealed(attachments=[EVIDENCE])
    document = as_json(data)
    assert canonical(document) == data
    assert set(document) == {"ciphertext", "header", "signature"}
    assert set(document["header"]) == {
        "format",
        "message_id",
        "sender",
        "sender_key",
        "recipients",
        "sent_at",
        "expires_at",
    }
    for secret in (b"mla.request", CONVERSATION.encode(), b"witness-statement", b"request"):
        assert secret not in data


# Refusals before anything is verified


def test_an_envelope_over_the_size_limit_is_refused_unread() -> None:
    refused(RejectReason.TOO_LARGE, b"{" + b" " * MAX_ENVELOPE_BYTES + b"}")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"header":[]}',
        b"\xff\xfe{}",
        b"[" * 100_000,
    ],
    ids=["empty", "text", "array", "header-not-object", "not-utf8", "deep"],
)
def test_what_is_not_an_envelope_is_malformed(data: bytes) -> None:
    refused(RejectReason.MALFORMED, data)


def test_an_envelope_not_in_canonical_form_is_malformed() -> None:
    document = as_json(sealed())
    pretty = json.dumps(document, indent=1, sort_keys=True).encode()
    assert refused(RejectReason.MALFORMED, pretty).message.endswith("canonical form (RFC 8785).")
    unpadded = canonical({**document, "signature": document["signature"].rstrip("=")})
    refused(RejectReason.MALFORMED, unpadded)
    duplicated = sealed()[:-1] + b',"signature":"' + document["signature"].encode() + b'"}'
    refused(RejectReason.MALFORMED, duplicated)


def test_an_extra_member_is_malformed() -> None:
    document = as_json(sealed())
    refused(RejectReason.MALFORMED, canonical({**document, "note": "hello"}))
    header = {**document["header"], "priority": "high"}
    refused(RejectReason.MALFORMED, canonical({**document, "header": header}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("message_id", "not-a-uuid"),
        ("message_id", "5F0C6A1E-9B7D-4C2A-8E3F-1A2B3C4D5E6F"),
        ("sender", "Org.Example"),
        ("sender_key", "x25519:" + "0" * 32),
        ("recipients", []),
        ("recipients", [LEGAL_AID, PROSECUTOR]),
        ("recipients", [PROSECUTOR, PROSECUTOR]),
        ("sent_at", "2025-06-01T09:30:00Z"),
        ("sent_at", "2025-06-01T09:30:00.000+00:00"),
        ("sent_at", "2025-02-30T09:30:00.000Z"),
        ("expires_at", "2025-06-01T09:30:00.000Z"),
        ("expires_at", "2025-07-02T09:30:00.000Z"),
    ],
)
def test_a_header_field_out_of_its_rules_is_malformed(name: str, value: object) -> None:
    document = as_json(sealed())
    header = {**document["header"], name: value}
    refused(RejectReason.MALFORMED, canonical({**document, "header": header}))


def test_another_format_is_unsupported() -> None:
    document = as_json(sealed())
    header = {**document["header"], "format": "comity-envelope/2"}
    refused(RejectReason.UNSUPPORTED_FORMAT, canonical({**document, "header": header}))


@pytest.mark.parametrize("signature", [None, ""], ids=["dropped", "empty"])
def test_an_envelope_without_a_signature_is_unsigned(signature: str | None) -> None:
    document = as_json(sealed())
    if signature is None:
        del document["signature"]
    else:
        document["signature"] = signature
    refused(RejectReason.UNSIGNED, canonical(document))


# The sender and its key


def test_an_unknown_sender_is_refused() -> None:
    refused(RejectReason.UNKNOWN_SENDER, sealed(), sender_keys=TrustList())


def test_a_revoked_sender_is_refused() -> None:
    refused(RejectReason.REVOKED_SENDER, sealed(), sender_keys=trusting_ngo(SenderStatus.REVOKED))


@pytest.mark.parametrize("status", [SenderStatus.PENDING, SenderStatus.SUSPENDED])
def test_a_sender_pending_or_suspended_is_refused(status: SenderStatus) -> None:
    refused(RejectReason.SENDER_NOT_CONFIRMED, sealed(), sender_keys=trusting_ngo(status))


def test_a_key_the_sender_never_listed_is_refused() -> None:
    refused(RejectReason.UNKNOWN_KEY, sealed(signing_key=Ed25519PrivateKey.generate()))


def test_after_a_rotation_the_old_key_verifies_what_it_signed_while_valid() -> None:
    rotated = T0 - dt.timedelta(hours=1)
    old, new = signing(NGO), signing("ngo, second key")
    trust = TrustList().add(
        NGO,
        SigningKey(old.public_key(), T0 - dt.timedelta(days=365), valid_until=rotated),
        SigningKey(new.public_key(), rotated),
    )
    before = sealed(signing_key=old, sent_at=rotated - dt.timedelta(minutes=1))
    assert opened(before, sender_keys=trust).header.sender_key == key_id(old.public_key())
    opened(sealed(signing_key=new), sender_keys=trust)
    after = sealed(signing_key=old, sent_at=rotated)
    refused(RejectReason.KEY_NOT_VALID_AT_SEND_TIME, after, sender_keys=trust)


def test_a_key_is_not_valid_before_its_valid_from() -> None:
    trust = TrustList().add(NGO, SigningKey(signing(NGO).public_key(), T0 + dt.timedelta(hours=1)))
    refused(RejectReason.KEY_NOT_VALID_AT_SEND_TIME, sealed(), sender_keys=trust)


# Tampering


def test_a_changed_ciphertext_breaks_the_signature() -> None:
    data = sealed()
    ciphertext = bytearray(parse_document(data).ciphertext)
    ciphertext[-5] ^= 0x01
    refused(RejectReason.BAD_SIGNATURE, rebuilt(data, ciphertext=bytes(ciphertext)))


@pytest.mark.parametrize(
    "change",
    [
        {"sent_at": T0 + dt.timedelta(milliseconds=1)},
        {"expires_at": T0 + dt.timedelta(days=2)},
        {"message_id": "5f0c6a1e-9b7d-4c2a-8e3f-1a2b3c4d5e6f"},
        {"recipients": (PROSECUTOR, LEGAL_AID)},
    ],
    ids=["sent_at", "expires_at", "message_id", "re-addressed"],
)
def test_a_changed_header_breaks_the_signature(change: dict[str, object]) -> None:
    refused(RejectReason.BAD_SIGNATURE, rebuilt(sealed(), **change))


def test_a_changed_signature_does_not_verify() -> None:
    data = sealed()
    signature = bytearray(parse_document(data).signature)
    signature[0] ^= 0x80
    refused(RejectReason.BAD_SIGNATURE, rebuilt(data, signature=bytes(signature)))


def test_another_senders_signature_does_not_verify() -> None:
    data = sealed()
    header = parse_document(data).header
    forged = resigned(header, parse_document(data).ciphertext, key=Ed25519PrivateKey.generate())
    refused(RejectReason.BAD_SIGNATURE, forged)


def test_a_ciphertext_re_signed_by_another_peer_is_an_inner_mismatch() -> None:
    """A recipient of a group message cannot pass the NGO's words off as its own."""
    original = parse_document(
        sealed(
            recipients={
                PROSECUTOR: encryption(PROSECUTOR).public_key(),
                LEGAL_AID: encryption(LEGAL_AID).public_key(),
            }
        )
    )
    thief = signing(LEGAL_AID)
    header = Header(
        message_id=original.header.message_id,
        sender=LEGAL_AID,
        sender_key=key_id(thief.public_key()),
        recipients=original.header.recipients,
        sent_at=original.header.sent_at,
        expires_at=original.header.expires_at,
    )
    trust = trusting_ngo().add(LEGAL_AID, SigningKey(thief.public_key(), T0 - dt.timedelta(days=1)))
    forged = resigned(header, original.ciphertext, key=thief)
    refused(RejectReason.INNER_MISMATCH, forged, sender_keys=trust)


def test_a_ciphertext_reused_under_a_new_message_id_is_an_inner_mismatch() -> None:
    original = parse_document(sealed())
    header = Header(
        message_id="5f0c6a1e-9b7d-4c2a-8e3f-1a2b3c4d5e6f",
        sender=NGO,
        sender_key=original.header.sender_key,
        recipients=original.header.recipients,
        sent_at=original.header.sent_at,
        expires_at=original.header.expires_at,
    )
    refused(RejectReason.INNER_MISMATCH, resigned(header, original.ciphertext))


# Addressing, time, decryption


def test_an_envelope_for_other_nodes_is_misaddressed() -> None:
    refused(RejectReason.MISADDRESSED, sealed(), me=LEGAL_AID, identities=[encryption(LEGAL_AID)])


def test_an_envelope_opened_with_a_key_it_was_not_sealed_for_is_undecryptable() -> None:
    refused(RejectReason.UNDECRYPTABLE, sealed(), identities=[encryption(OUTSIDER)])
    refused(RejectReason.UNDECRYPTABLE, sealed(), identities=[])


def test_an_expired_envelope_is_refused_past_the_clock_skew() -> None:
    data = sealed(expires_at=T0 + dt.timedelta(hours=1))
    skew = dt.timedelta(minutes=5)
    opened(data, now=T0 + dt.timedelta(hours=1) + skew, max_clock_skew=skew)
    late = T0 + dt.timedelta(hours=1) + skew + dt.timedelta(milliseconds=1)
    refused(RejectReason.EXPIRED, data, now=late, max_clock_skew=skew)


def test_an_envelope_from_the_future_is_refused_past_the_clock_skew() -> None:
    data = sealed()
    skew = dt.timedelta(minutes=5)
    opened(data, now=T0 - skew, max_clock_skew=skew)
    early = T0 - skew - dt.timedelta(milliseconds=1)
    refused(RejectReason.FROM_THE_FUTURE, data, now=early, max_clock_skew=skew)


def test_a_signed_ciphertext_that_is_not_age_is_undecryptable() -> None:
    header = parse_document(sealed()).header
    refused(RejectReason.UNDECRYPTABLE, resigned(header, b"age-encryption.org/v1\n-> nothing"))


@pytest.mark.parametrize(
    "plaintext",
    [
        b"no line feed",
        b"{}\nbody",
        b'{"attachments":[],"conversation_id":"x"}\n',
        b"\xff\nbody",
    ],
    ids=["no-line-feed", "empty-object", "missing-fields", "not-utf8"],
)
def test_a_signed_envelope_whose_inner_part_breaks_the_format_is_malformed(
    plaintext: bytes,
) -> None:
    header = parse_document(sealed()).header
    recipient = X25519Recipient(encryption(PROSECUTOR).public_key().public_bytes_raw())
    ciphertext = encrypt_bytes(plaintext, [recipient])
    refused(RejectReason.MALFORMED, resigned(header, ciphertext))


def test_an_inner_part_not_in_canonical_form_is_malformed() -> None:
    header = parse_document(sealed()).header
    message = Message(CONVERSATION, 1, "mla.request", b"body")
    line, _, body = encode_inner(header, message).partition(b"\n")
    spaced = json.dumps(json.loads(line), indent=1).replace("\n", " ").encode()
    recipient = X25519Recipient(encryption(PROSECUTOR).public_key().public_bytes_raw())
    ciphertext = encrypt_bytes(spaced + b"\n" + body, [recipient])
    refused(RejectReason.MALFORMED, resigned(header, ciphertext))


def test_the_checks_come_in_the_documented_order() -> None:
    """An envelope wrong in every way is refused for the first reason in the list: its
    signature is checked before its addressing and times are believed."""
    forged = rebuilt(
        sealed(expires_at=T0 + dt.timedelta(hours=1)),
        message_id="5f0c6a1e-9b7d-4c2a-8e3f-1a2b3c4d5e6f",
    )
    late = T0 + dt.timedelta(days=3)
    refused(RejectReason.BAD_SIGNATURE, forged, me=OUTSIDER, now=late)
    refused(RejectReason.UNKNOWN_SENDER, forged, me=OUTSIDER, now=late, sender_keys=TrustList())
    honest = sealed(expires_at=T0 + dt.timedelta(hours=1))
    refused(RejectReason.MISADDRESSED, honest, me=OUTSIDER, now=late)
    refused(RejectReason.EXPIRED, honest, now=late, identities=[encryption(OUTSIDER)])


def test_now_must_be_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        opened(sealed(), now=dt.datetime(2025, 6, 1, 9, 31))  # noqa: DTZ001 - on purpose


def test_an_inner_line_beyond_the_canonical_encoders_limit_is_malformed() -> None:
    """A trusted sender's software gone wrong cannot make opening fail another way."""
    header = parse_document(sealed()).header
    item = {"name": '"' * 255, "sha256": "0" * 64, "size": 1}
    fields = {
        "attachments": [item] * 128,
        "conversation_id": CONVERSATION,
        "message_id": header.message_id,
        "sender": NGO,
        "sequence": 1,
        "type": "mla.request",
    }
    line = canonical(fields)
    assert len(line) > 65_535
    recipient = X25519Recipient(encryption(PROSECUTOR).public_key().public_bytes_raw())
    ciphertext = encrypt_bytes(line + b"\nbody", [recipient])
    refused(RejectReason.MALFORMED, resigned(header, ciphertext))

"""The worked example of docs/formats/envelope.md is true: its test keys are the ones
the tests derive, and its envelope opens to the message it describes."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest

from comity.exchange.envelope_format import Attachment, Message, parse_document, signed_bytes
from comity.exchange.errors import EnvelopeRejected, RejectReason
from comity.exchange.key_ids import key_id
from comity.vault.age_keys import X25519Identity
from exchange.enveloping import (
    CONVERSATION,
    NGO,
    PROSECUTOR,
    T0,
    encryption,
    key_seed,
    opened,
    signing,
)

SPEC = Path(__file__).resolve().parents[2] / "docs" / "formats" / "envelope.md"


def _spec() -> str:
    return SPEC.read_text(encoding="utf-8")


def _example() -> bytes:
    block = _spec().split("<!-- envelope-example:start -->\n```\n")[1]
    return "".join(block.split("```\n<!-- envelope-example:end -->")[0].splitlines()).encode()


def test_the_test_keys_in_the_spec_are_the_tests_keys() -> None:
    spec = _spec()
    ngo, prosecutor = signing(NGO), encryption(PROSECUTOR)
    identity = X25519Identity(prosecutor.private_bytes_raw())
    for value in (
        key_seed(NGO).hex(),
        ngo.public_key().public_bytes_raw().hex(),
        key_id(ngo.public_key()),
        key_seed(PROSECUTOR).hex(),
        identity.secret_text(),
        prosecutor.public_key().public_bytes_raw().hex(),
        str(identity.recipient),
    ):
        assert value in spec


def test_the_example_envelope_opens_to_the_message_described() -> None:
    data = _example()
    assert f"The envelope, {len(data):,} bytes" in _spec()
    result = opened(data)
    assert result.message == Message(
        conversation_id=CONVERSATION,
        sequence=1,
        message_type="mla.request",
        body=b"Request for assistance under the 2025 bilateral treaty.\n",
        attachments=(
            Attachment("request.pdf", 182734, hashlib.sha256(b"request.pdf").hexdigest()),
        ),
    )
    assert result.header.sent_at == T0
    assert result.header.expires_at == T0 + dt.timedelta(days=7)


def test_the_example_s_header_digest_and_signature_are_as_printed() -> None:
    spec = _spec()
    document = parse_document(_example())
    assert document.header.to_json().decode() in spec
    assert f"The age file is {len(document.ciphertext)} bytes" in spec
    assert hashlib.sha256(document.ciphertext).hexdigest() in spec
    assert base64.b64encode(document.signature).decode() in spec
    signed = signed_bytes(document.header, document.ciphertext)
    assert signed.startswith(b"comity-envelope/1 signature\n" + document.header.to_json() + b"\n")
    signing(NGO).public_key().verify(document.signature, signed)


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (T0 - dt.timedelta(minutes=5), None),
        (T0 - dt.timedelta(minutes=5, milliseconds=1), RejectReason.FROM_THE_FUTURE),
        (T0 + dt.timedelta(days=7, minutes=5), None),
        (T0 + dt.timedelta(days=7, minutes=5, milliseconds=1), RejectReason.EXPIRED),
    ],
)
def test_the_example_opens_in_the_window_the_spec_gives(
    now: dt.datetime, reason: RejectReason | None
) -> None:
    if reason is None:
        opened(_example(), now=now)
    else:
        with pytest.raises(EnvelopeRejected) as caught:
            opened(_example(), now=now)
        assert caught.value.reason is reason

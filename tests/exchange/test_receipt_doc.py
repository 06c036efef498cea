"""The worked example of docs/formats/receipt.md is what the code makes: the same key, the
same bytes for the receipts of the envelope format's example, which verify; and the
receipt rules the document states hold in the code."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comity.exchange.envelope import SigningKey
from comity.exchange.key_ids import key_id
from comity.exchange.receipts import (
    MAX_RECEIPT_BYTES,
    ReceiptInvalid,
    ReceiptKind,
    SignedReceipt,
    issue,
    parse_receipt,
    signed_bytes,
    verify_receipt,
)
from exchange.enveloping import NGO, PROSECUTOR, T0

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats"
MESSAGE = "3d4f7c1a-8e2b-4f6d-9a0c-5b1e2d3f4a6b"


def _spec() -> str:
    return (DOCS / "receipt.md").read_text(encoding="utf-8")


def _block(text: str, name: str) -> bytes:
    block = text.split(f"<!-- {name}:start -->\n```\n")[1]
    return "".join(block.split(f"```\n<!-- {name}:end -->")[0].splitlines()).encode()


def _key() -> Ed25519PrivateKey:
    seed = hashlib.sha256(b"comity receipt test key: " + PROSECUTOR.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _envelope_digest() -> str:
    envelope = _block((DOCS / "envelope.md").read_text(encoding="utf-8"), "envelope-example")
    return hashlib.sha256(envelope).hexdigest()


def _made(kind: ReceiptKind, time: dt.datetime, **rejection: str) -> SignedReceipt:
    return issue(
        _key(),
        kind,
        message_id=MESSAGE,
        sender=NGO,
        receiver=PROSECUTOR,
        envelope_sha256=_envelope_digest(),
        time=time,
        **rejection,
    )


def test_the_example_receipts_are_what_the_code_makes() -> None:
    spec = _spec()
    key = _key()
    for value in (
        hashlib.sha256(b"comity receipt test key: " + PROSECUTOR.encode()).hexdigest(),
        key.public_key().public_bytes_raw().hex(),
        key_id(key.public_key()),
        _envelope_digest(),
    ):
        assert value in spec
    acceptance = _made(ReceiptKind.ACCEPTANCE, T0 + dt.timedelta(seconds=2, milliseconds=417))
    assert _block(spec, "receipt-acceptance") == acceptance.raw
    assert f"Its acceptance receipt, {len(acceptance.raw)} bytes" in spec
    assert acceptance.sha256 in spec
    assert signed_bytes(acceptance.receipt).decode() in spec
    rejection = _made(
        ReceiptKind.REJECTION,
        dt.datetime(2025, 6, 8, 9, 40, tzinfo=dt.UTC),
        reason="expired",
        detail="The envelope expired at 2025-06-08T09:30:00+00:00.",
    )
    assert _block(spec, "receipt-rejection") == rejection.raw
    assert f"this rejection, {len(rejection.raw)} bytes" in spec
    keys = [SigningKey(key.public_key(), dt.datetime(2025, 1, 1, tzinfo=dt.UTC))]
    for raw in (acceptance.raw, rejection.raw):
        verify_receipt(parse_receipt(raw), keys)


def test_a_receipt_changed_in_any_way_is_refused() -> None:
    made = _made(ReceiptKind.ACCEPTANCE, T0).raw
    keys = [SigningKey(_key().public_key(), dt.datetime(2025, 1, 1, tzinfo=dt.UTC))]
    altered = made.replace(b'"kind":"acceptance"', b'"kind":"delivery"')
    with pytest.raises(ReceiptInvalid, match="does not verify"):
        verify_receipt(parse_receipt(altered), keys)
    for bad, message in (
        (made.replace(b"{", b"{ ", 1), "canonical"),
        (made[:-1], "JSON"),
        (made.replace(b'"time"', b'"reason":"x","time"'), "exactly the members"),
        (b" " * (MAX_RECEIPT_BYTES + 1), "at most"),
    ):
        with pytest.raises(ReceiptInvalid, match=message):
            parse_receipt(bad)
    with pytest.raises(ReceiptInvalid, match="not a key of"):
        verify_receipt(
            parse_receipt(made), [SigningKey(Ed25519PrivateKey.generate().public_key(), T0)]
        )
    late = [SigningKey(_key().public_key(), T0 + dt.timedelta(days=1))]
    with pytest.raises(ReceiptInvalid, match="was not valid"):
        verify_receipt(parse_receipt(made), late)
    with pytest.raises(ReceiptInvalid, match="Only a rejection"):
        _made(ReceiptKind.DELIVERY, T0, reason="expired")

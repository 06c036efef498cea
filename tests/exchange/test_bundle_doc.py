"""The worked example of docs/formats/bundle.md is what the code makes: the same key, the
same bytes for a bundle of the envelope format's example and for the reply carrying the
receipt format's acceptance, which parse and verify."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comity.exchange.bundle_format import (
    MAGIC,
    Answer,
    BundleKind,
    make_bundle,
    parse_answer,
    parse_bundle,
    verify_bundle,
)
from comity.exchange.envelope import SigningKey
from comity.exchange.key_ids import key_id
from exchange.enveloping import NGO, PROSECUTOR, T0

DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats"


def _block(text: str, name: str) -> bytes:
    block = text.split(f"<!-- {name}:start -->\n```\n")[1]
    return "".join(block.split(f"```\n<!-- {name}:end -->")[0].splitlines()).encode()


def _key(seed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())


def test_the_example_bundles_are_what_the_code_makes() -> None:
    spec = (DOCS / "bundle.md").read_text(encoding="utf-8")
    envelope = _block((DOCS / "envelope.md").read_text(encoding="utf-8"), "envelope-example")
    acceptance = _block((DOCS / "receipt.md").read_text(encoding="utf-8"), "receipt-acceptance")
    ngo = _key(f"comity bundle test key: {NGO}")
    for value in (
        hashlib.sha256(f"comity bundle test key: {NGO}".encode()).hexdigest(),
        ngo.public_key().public_bytes_raw().hex(),
        key_id(ngo.public_key()),
    ):
        assert value in spec

    data = make_bundle(
        ngo,
        BundleKind.ENVELOPES,
        sender=NGO,
        recipient=PROSECUTOR,
        created=T0 + dt.timedelta(minutes=5),
        items=[envelope],
    )
    start = len(MAGIC) + 4
    length = int.from_bytes(data[len(MAGIC) : start], "big")
    assert _block(spec, "bundle-manifest") == data[start : start + length]
    assert data[:start].hex(" ") in spec
    assert f"is {len(data)} bytes, SHA-256\n`{hashlib.sha256(data).hexdigest()}`" in spec
    assert f"document's length, {length}:" in spec
    assert f"the {len(envelope)} bytes of the envelope" in spec
    bundle = parse_bundle(data)
    verify_bundle(bundle, [SigningKey(ngo.public_key(), T0)])
    assert bundle.items == (envelope,)

    answer = Answer(
        hashlib.sha256(envelope).hexdigest(),
        201,
        {
            "message_id": "3d4f7c1a-8e2b-4f6d-9a0c-5b1e2d3f4a6b",
            "outcome": "accepted",
            "receipts": [acceptance.decode()],
        },
    )
    assert _block(spec, "bundle-answer") == answer.encode()
    prosecutor = _key(f"comity receipt test key: {PROSECUTOR}")
    reply = make_bundle(
        prosecutor,
        BundleKind.ANSWERS,
        sender=PROSECUTOR,
        recipient=NGO,
        created=T0 + dt.timedelta(hours=2),
        items=[answer.encode()],
    )
    assert f"it is {len(reply)} bytes, SHA-256\n`{hashlib.sha256(reply).hexdigest()}`" in spec
    parsed = parse_bundle(reply)
    verify_bundle(parsed, [SigningKey(prosecutor.public_key(), T0)])
    assert [parse_answer(item) for item in parsed.items] == [answer]

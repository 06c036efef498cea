"""Node descriptors: signed and parsed back exactly; every alteration, malformation or
foreign signature refused with a reason (no database)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from comity.exchange.descriptor import (
    MAX_DESCRIPTOR_BYTES,
    Descriptor,
    DescriptorError,
    DescriptorKey,
    SignedDescriptor,
    node_keys,
    parse_descriptor,
    sign_descriptor,
)
from comity.exchange.key_ids import key_id
from comity.keys import fingerprint
from comity.ledger.canonical import canonical_json
from comity.ledger.note import NoteSigner

SIGNING = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ENCRYPTION = X25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
ISSUED = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
ORIGIN = "comity/6f1e3c2a-0b7d-4c55-9a3e-2f8d1b0c4e77"


def make(**changes: object) -> Descriptor:
    values: dict[str, object] = {
        "node": "6f1e3c2a-0b7d-4c55-9a3e-2f8d1b0c4e77",
        "name": "Helgar Legal Aid Collective",
        "kind": "legal_aid",
        "country": "NL",
        "endpoints": ("https://comity.helgar.example",),
        "log_origin": ORIGIN,
        "log_key": NoteSigner(ORIGIN, SIGNING).verifier().vkey,
        "keys": tuple(
            node_keys(SIGNING.public_key(), ENCRYPTION.public_key(), ISSUED - dt.timedelta(days=30))
        ),
        "issued_at": ISSUED,
        "expires_at": ISSUED + dt.timedelta(days=365),
    }
    values.update(changes)
    return Descriptor(**values)  # type: ignore[arg-type]


def document(signed: SignedDescriptor) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(signed.raw)
    return loaded


def resign(content: dict[str, object], key: Ed25519PrivateKey = SIGNING) -> bytes:
    """``content`` signed as a descriptor by ``key``, whatever the content says."""
    signature = key.sign(b"comity-node-descriptor-v1\n" + canonical_json(content))
    return canonical_json(
        {
            "descriptor": content,
            "signature": {
                "key": key_id(key.public_key()),
                "value": base64.b64encode(signature).decode(),
            },
        }
    )


def test_a_signed_descriptor_parses_back_to_the_same_content() -> None:
    signed = sign_descriptor(make(), SIGNING)
    again = parse_descriptor(signed.raw)
    assert again.descriptor == make()
    assert again.signed_by == key_id(SIGNING.public_key())
    assert again.fingerprint == fingerprint(SIGNING.public_key(), ENCRYPTION.public_key())
    assert signed.raw == canonical_json(document(signed))


def test_a_key_that_the_descriptor_does_not_list_cannot_sign_it() -> None:
    with pytest.raises(DescriptorError, match="not one of the descriptor's current keys"):
        sign_descriptor(make(), Ed25519PrivateKey.generate())
    content = document(sign_descriptor(make(), SIGNING))["descriptor"]
    assert isinstance(content, dict)
    with pytest.raises(DescriptorError, match="not signed by one of its own signing keys"):
        parse_descriptor(resign(content, Ed25519PrivateKey.generate()))


def test_an_altered_descriptor_is_refused() -> None:
    raw = sign_descriptor(make(), SIGNING).raw
    altered = raw.replace(b"Helgar Legal Aid", b"Helgar Legal Aod")
    with pytest.raises(DescriptorError, match="signature does not match"):
        parse_descriptor(altered)


def test_keys_replaced_by_someone_else_are_refused() -> None:
    """Swapping in one's own encryption key, with a correct id, breaks the signature."""
    whole = document(sign_descriptor(make(), SIGNING))
    content = whole["descriptor"]
    assert isinstance(content, dict)
    intruder = X25519PrivateKey.generate().public_key()
    keys = content["keys"]
    keys[1]["public"] = base64.b64encode(DescriptorKey("encryption", intruder, ISSUED).raw).decode()
    keys[1]["id"] = key_id(intruder)
    with pytest.raises(DescriptorError, match="signature does not match"):
        parse_descriptor(canonical_json(whole))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(format="comity-node/2"), "not a comity-node/1 descriptor"),
        (lambda c: c.update(node="Not A Node Id"), "'node' must be"),
        (lambda c: c.update(extra="x"), "unknown members: extra"),
        (lambda c: c.pop("endpoints"), "lacks endpoints"),
        (lambda c: c.update(endpoints=["ftp://x.example"]), "not an http:// or https://"),
        (lambda c: c.update(endpoints=["http://[::1"]), "not an http:// or https://"),
        (lambda c: c.update(endpoints=[]), "1 to 8 base URLs"),
        (lambda c: c["organisation"].update(kind="militia"), "'organisation.kind' must be"),
        (lambda c: c["organisation"].update(country="nl"), "two-letter"),
        (lambda c: c["organisation"].update(name=" "), "organisation.name"),
        (lambda c: c["log"].update(origin="comity/other"), "verifier key of the log"),
        (lambda c: c["log"].update(key="comity/x+00+AAAA"), "verifier key of the log"),
        (lambda c: c.update(issued_at="2026-12-06 10:00"), "UTC time"),
        (lambda c: c.update(issued_at="2026-02-30T10:00:00Z"), "not a real date"),
        (lambda c: c.update(expires_at="2026-12-01T00:00:00Z"), "expires before"),
        (lambda c: c["keys"][0].update(id="ed25519:" + "0" * 32), "not the id of its key"),
        (lambda c: c["keys"][0].update(use="both"), "'signing' or 'encryption'"),
        (lambda c: c["keys"][1].update(public="AAAA"), "32-byte key"),
        (
            lambda c: c["keys"][1].update(public="not base64!"),
            "not canonical, padded, standard base64",
        ),
        (lambda c: c.update(keys=c["keys"][:1]), "2 to 32 keys"),
        (lambda c: c.update(keys=[c["keys"][0], c["keys"][0]]), "lists a key twice"),
        (
            lambda c: c["keys"][1].update(valid_from="2027-01-01T00:00:00Z"),
            "no encryption key valid when it was issued",
        ),
        (
            lambda c: c["keys"][0].update(valid_until="2026-01-01T00:00:00Z"),
            "stops being valid before it starts",
        ),
    ],
)
def test_malformed_content_is_refused_with_its_reason(change: object, message: str) -> None:
    content = document(sign_descriptor(make(), SIGNING))["descriptor"]
    change(content)  # type: ignore[operator]
    with pytest.raises(DescriptorError, match=message):
        parse_descriptor(resign(content))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2", "not UTF-8 JSON"),
        (b"[]", "'document' must be an object"),
        (b'{"descriptor": {}, "descriptor": {}, "signature": {}}', "names 'descriptor' twice"),
        (b'{"descriptor": 1, "signature": {}}', "'descriptor' must be an object"),
        (b"{" + b" " * MAX_DESCRIPTOR_BYTES + b"}", "at most 64 KiB"),
    ],
)
def test_what_is_not_a_descriptor_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(DescriptorError, match=message):
        parse_descriptor(data)


def test_a_name_that_cannot_be_put_in_canonical_form_is_refused() -> None:
    """A lone surrogate (possible in JSON escapes, impossible in UTF-8) has no canonical
    bytes, so nothing can have signed it."""
    raw = sign_descriptor(make(), SIGNING).raw.replace(b"Helgar Legal", b"Helgar \\ud800", 1)
    with pytest.raises(DescriptorError, match="canonical form"):
        parse_descriptor(raw)


def test_a_rotated_key_signs_while_the_old_one_is_kept_with_its_end() -> None:
    new_signing = Ed25519PrivateKey.generate()
    old, encryption = node_keys(SIGNING.public_key(), ENCRYPTION.public_key(), ISSUED)
    rotated = make(
        keys=(
            DescriptorKey("signing", old.public, old.valid_from, ISSUED + dt.timedelta(days=1)),
            encryption,
            DescriptorKey("signing", new_signing.public_key(), ISSUED + dt.timedelta(days=1)),
        ),
        issued_at=ISSUED + dt.timedelta(days=2),
    )
    signed = sign_descriptor(rotated, new_signing)
    assert signed.descriptor.current("signing").id == key_id(new_signing.public_key())
    with pytest.raises(DescriptorError, match="not one of the descriptor's current keys"):
        sign_descriptor(rotated, SIGNING)


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60
).filter(lambda name: name.strip() != "")


@given(
    name=names,
    kind=st.sampled_from(["ngo", "prosecutor", "central_authority", "court"]),
    country=st.sampled_from(["", "UA", "FR", "SY"]),
    endpoints=st.lists(
        st.sampled_from(["https://a.example", "http://127.0.0.1:8000", "https://b.example/comity"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    days=st.integers(min_value=1, max_value=3650),
)
def test_any_descriptor_round_trips(
    name: str, kind: str, country: str, endpoints: list[str], days: int
) -> None:
    descriptor = make(
        name=name,
        kind=kind,
        country=country,
        endpoints=tuple(endpoints),
        expires_at=ISSUED + dt.timedelta(days=days),
    )
    assert parse_descriptor(sign_descriptor(descriptor, SIGNING).raw).descriptor == descriptor


RAW = sign_descriptor(make(), SIGNING).raw


@given(position=st.integers(min_value=0, max_value=len(RAW) - 1), flip=st.integers(1, 255))
def test_any_single_byte_change_is_refused(position: int, flip: int) -> None:
    mutated = bytearray(RAW)
    mutated[position] ^= flip
    with pytest.raises(DescriptorError):
        parse_descriptor(bytes(mutated))


def test_the_worked_example_of_the_format_is_what_the_code_makes() -> None:
    text = (Path(__file__).parents[2] / "docs" / "formats" / "node-descriptor.md").read_text()
    example = text[text.index("## Worked example") :]
    blocks = re.findall(r"```\n(.*?)\n```", example, flags=re.DOTALL)
    signed = sign_descriptor(make(), SIGNING)
    assert blocks == [signed.raw.decode(), signed.fingerprint]

"""The worked example of docs/formats/payload.md is true: its manifest parses, verifies
with the envelope format's test keys and unseals to the contents described, its chunk
leaves lead to its chunk root, and the proof it prints for chunk 2 is that chunk's."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

from comity.exchange.payload_checks import (
    decode_proof,
    encode_proof,
    open_contents,
    verify_manifest,
)
from comity.exchange.payload_format import SIGNING_CONTEXT, Contents, parse_manifest
from comity.ledger import merkle
from comity.ledger.proofs import verify_inclusion
from exchange.enveloping import NGO, PROSECUTOR, T0, encryption, trusting_ngo

SPEC = Path(__file__).resolve().parents[2] / "docs" / "formats" / "payload.md"


def _spec() -> str:
    return SPEC.read_text(encoding="utf-8")


def _block(name: str) -> str:
    block = _spec().split(f"<!-- {name}:start -->\n```\n")[1]
    return block.split(f"```\n<!-- {name}:end -->")[0]


def _manifest() -> bytes:
    return "".join(_block("payload-example").splitlines()).encode()


def _plaintext() -> bytes:
    return b"".join(
        hashlib.sha256(b"comity payload example %d" % number).digest() for number in range(6250)
    )


def test_the_example_manifest_is_taken_by_its_recipient_and_says_what_the_text_says() -> None:
    data = _manifest()
    spec = _spec()
    signed = parse_manifest(data)
    manifest = signed.manifest
    assert f"is {len(data)} bytes" in spec
    for now in (T0 - dt.timedelta(minutes=5), T0 + dt.timedelta(days=7, minutes=5)):
        verify_manifest(signed, me=PROSECUTOR, sender_keys=trusting_ngo(), now=now)
    assert (manifest.sender, manifest.recipients) == (NGO, (PROSECUTOR,))
    assert base64.b64encode(signed.signature).decode() in spec
    as_in_document = data[len(b'{"manifest":') : data.index(b',"signature":')]
    assert manifest.signed_bytes() == SIGNING_CONTEXT + as_in_document
    for value in (manifest.sha256, manifest.chunk_root, f"{manifest.size:,} bytes"):
        assert value in spec
    assert f"age file of {len(manifest.contents)} bytes" in spec

    plaintext = _plaintext()
    contents = open_contents(manifest, [encryption(PROSECUTOR)])
    assert contents == Contents(sha256=hashlib.sha256(plaintext).hexdigest(), size=len(plaintext))
    assert contents.encode().decode() in spec
    assert f"The plaintext is {len(plaintext):,} bytes" in spec


def test_the_example_leaves_root_and_proof_agree() -> None:
    manifest = parse_manifest(_manifest()).manifest
    leaves = [bytes.fromhex(line.split()[1]) for line in _block("payload-leaves").splitlines()]
    assert len(leaves) == manifest.chunks == 4
    assert merkle.root(leaves).hex() == manifest.chunk_root
    header = _spec().split("Comity-Chunk-Proof: ")[1].split("\n")[0]
    proof = decode_proof(header)
    assert encode_proof(merkle.inclusion_proof(merkle.MemoryTree(leaves), 2, 4)) == header
    verify_inclusion(leaves[2], 2, 4, proof, bytes.fromhex(manifest.chunk_root))
    assert proof[1].hex() in _spec()

"""Signed notes: signing, strict parsing, and which signatures count when opening."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from comity.ledger.errors import NoteError
from comity.ledger.note import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    NoteSigner,
    NoteVerifier,
    open_note,
    parse_note,
    raw_public_key,
    sign_note,
    signature_line,
)

TEXT = "comity.example/ledger\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


def _signer(name: str, seed: int) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


ALICE = _signer("alice.example/log", 1)
BOB = _signer("bob.example/log", 2)


def test_key_id_and_vkey() -> None:
    public = raw_public_key(ALICE.verifier().public_key)
    digest = hashlib.sha256(b"alice.example/log\n\x01" + public).digest()
    assert ALICE.key_id == digest[:4]
    vkey = ALICE.verifier().vkey
    material = base64.b64encode(b"\x01" + public).decode()
    assert vkey == f"alice.example/log+{digest[:4].hex()}+{material}"
    assert NoteVerifier.from_vkey(vkey).key_id == ALICE.key_id
    assert repr(NoteVerifier.from_vkey(vkey)) == f"NoteVerifier({vkey!r})"


def test_sign_and_open() -> None:
    note = sign_note(TEXT, [ALICE, BOB])
    assert note.startswith(TEXT + "\n\u2014 alice.example/log ")
    assert open_note(note, [ALICE.verifier(), BOB.verifier()]) == (TEXT, [ALICE.name, BOB.name])
    assert open_note(note.encode(), [BOB.verifier()]) == (TEXT, [BOB.name])


@given(text=st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.just("\n")))
def test_any_text_round_trips(text: str) -> None:
    text += "\n"
    assert open_note(sign_note(text, [ALICE]), [ALICE.verifier()]).text == text


def test_text_may_hold_blank_lines() -> None:
    text = "a\n\nb\n\n"
    assert open_note(sign_note(text, [ALICE]), [ALICE.verifier()]).text == text


def test_unknown_signatures_are_ignored() -> None:
    stranger = _signer("alice.example/log", 9)  # same name, other key: unknown
    note = sign_note(TEXT, [stranger, ALICE])
    assert open_note(note, [ALICE.verifier()]).verified == [ALICE.name]


def test_no_known_signature_is_refused() -> None:
    with pytest.raises(NoteError, match="not signed by any trusted key"):
        open_note(sign_note(TEXT, [BOB]), [ALICE.verifier()])


def test_a_bad_signature_by_a_known_key_rejects_the_note() -> None:
    forged = signature_line(ALICE.name, ALICE.key_id, b"\x00" * 64)
    note = sign_note(TEXT, [BOB]) + forged
    with pytest.raises(NoteError, match=r"signature by alice\.example/log does not verify"):
        open_note(note, [ALICE.verifier(), BOB.verifier()])


def test_two_signatures_by_one_key_reject_the_note() -> None:
    note = sign_note(TEXT, [ALICE])
    note += note.split("\n\n")[1]
    with pytest.raises(NoteError, match="two signatures by key alice"):
        open_note(note, [ALICE.verifier()])
    with pytest.raises(NoteError, match="listed twice"):
        sign_note(TEXT, [ALICE, ALICE])


def test_signature_count_limit() -> None:
    strangers = [_signer(f"w{i}.example", 100 + i) for i in range(MAX_SIGNATURES)]
    assert MAX_SIGNATURES >= 16  # C2SP: verifiers MUST accept at least 16
    note = sign_note(TEXT, [ALICE, *strangers[1:]])
    assert open_note(note, [ALICE.verifier()]).verified == [ALICE.name]
    with pytest.raises(NoteError, match="more than 100 signatures"):
        open_note(note + signature_line("w0.example", strangers[0].key_id, b"x" * 64), [])


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("no newline at all", "no blank line"),
        (TEXT + "\u2014 a.example AAAAAAA=\n", "no blank line"),
        (TEXT + "\n", "no signature lines"),
        (TEXT + "\n\u2014 a.example AAAAAAA=", "no blank line"),
        (TEXT + "\n\u2014 a.example AAAAAAA=\n\n", "no signature lines"),
        (TEXT + "\n- a.example AAAAAAA=\n", "Malformed signature line"),
        (TEXT + "\n\u2014 a.example\n", "Malformed signature line"),
        (TEXT + "\n\u2014 a.example AAAAAAA\n", "Malformed signature line"),
        (TEXT + "\n\u2014 a.example AAAAAAB=\n", "Malformed signature line"),
        (TEXT + "\n\u2014 a.example AAAA AAA=\n", "Malformed signature line"),
        (TEXT + "\n\u2014 a.example AAAAAA==\n", "Malformed signature line"),
        (TEXT + "\n\u2014 a.example -_AAAAA=\n", "Malformed signature line"),
        (TEXT + "\n\u2014  AAAAAAA=\n", "Key name '' must be"),
        (TEXT + "\n\u2014 a+b AAAAAAA=\n", "Key name 'a\\+b' must be"),
        (TEXT + "\n\u2014 a\u00a0b AAAAAAA=\n", "must be non-empty, without spaces"),
        ("tab\there\n\n\u2014 a.example AAAAAAA=\n", "control character"),
        ("cr\r\n\n\u2014 a.example AAAAAAA=\n", "control character"),
        ("x" * MAX_NOTE_BYTES + "\n\n\u2014 a.example AAAAAAA=\n", "longer than"),
    ],
)
def test_malformed_notes(note: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_note(note)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (b"\xff\n\n\xe2\x80\x94 a.example AAAAAAA=\n", "not valid UTF-8"),
        (b"x" * (MAX_NOTE_BYTES + 1), "longer than"),
    ],
)
def test_malformed_note_bytes(note: bytes, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_note(note)


def test_parsed_signature_lines() -> None:
    parsed = parse_note(TEXT + "\n\u2014 a.example AAECAwQ=\n")
    assert parsed.text == TEXT
    (signature,) = parsed.signatures
    assert (signature.name, signature.key_id, signature.signature) == (
        "a.example",
        b"\0\1\2\3",
        b"\4",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no final newline", "must end with a newline"),
        ("bell\a\n", "control character"),
        ("\ud800\n", "not valid Unicode"),
        ("x" * MAX_NOTE_BYTES + "\n", "longer than"),
    ],
)
def test_texts_that_cannot_be_signed(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        sign_note(text, [ALICE])


def test_a_note_needs_a_signer() -> None:
    with pytest.raises(NoteError, match="at least one signer"):
        sign_note(TEXT, [])


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "a\u2003b"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(NoteError, match="must be non-empty"):
        NoteSigner(name, Ed25519PrivateKey.generate())


def _vkey(name: str, key_id: str, material: bytes) -> str:
    return f"{name}+{key_id}+{base64.b64encode(material).decode()}"


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("only+two", "has the form"),
        (_vkey("a.example", "ABCDEF01", b"\x01" + b"k" * 32), "has the form"),
        (_vkey("a.example", "abcdef0", b"\x01" + b"k" * 32), "has the form"),
        ("a.example+abcdef01+AQ", "has the form"),
        (_vkey("a.example", "abcdef01", b""), "not of signature type 0x01"),
        (_vkey("a.example", "abcdef01", b"\x04" + b"k" * 32), "not of signature type 0x01"),
        (_vkey("a.example", "abcdef01", b"\x01" + b"k" * 31), "32-byte Ed25519 key"),
        (_vkey("a.example", "abcdef01", b"\x01" + b"k" * 32), "does not match its key"),
        (_vkey("a b", "abcdef01", b"\x01" + b"k" * 32), "must be non-empty"),
    ],
)
def test_bad_verifier_keys(vkey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        NoteVerifier.from_vkey(vkey)


SEED = bytes(range(32))


def _skey(name: str, key_id: str, seed: bytes) -> str:
    return "PRIVATE+KEY+" + _vkey(name, key_id, b"\x01" + seed)


def test_signer_key_round_trip() -> None:
    signer = NoteSigner("a.example", Ed25519PrivateKey.from_private_bytes(SEED))
    parsed = NoteSigner.from_skey(_skey("a.example", signer.key_id.hex(), SEED))
    assert parsed.verifier().vkey == signer.verifier().vkey
    assert repr(parsed) == f"NoteSigner('a.example', key ID {signer.key_id.hex()})"


@pytest.mark.parametrize(
    ("skey", "message"),
    [
        (_vkey("a.example", "abcdef01", b"\x01" + SEED), "starts with PRIVATE\\+KEY\\+"),
        (_skey("a.example", "abcdef01", SEED[:31]), "32-byte Ed25519 seed"),
        (_skey("a.example", "abcdef01", SEED), "does not match its key"),
        ("PRIVATE+KEY+a.example+abcdef01+not base64", "has the form"),
    ],
)
def test_bad_signer_keys_are_refused_without_echoing_them(skey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message) as refused:
        NoteSigner.from_skey(skey)
    assert skey.rsplit("+", 1)[1] not in str(refused.value)

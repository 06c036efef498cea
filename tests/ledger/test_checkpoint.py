"""Checkpoint bodies, signed checkpoints, and cosignature/v1 witness cosignatures."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from comity.errors import ValidationError
from comity.ledger.checkpoint import (
    MAX_TIMESTAMP,
    MAX_TREE_SIZE,
    Checkpoint,
    CosignatureVerifier,
    Cosigner,
    cosigned_message,
    sign_checkpoint,
    verify_checkpoint,
    verify_cosignature,
)
from comity.ledger.errors import CheckpointError, NoteError
from comity.ledger.merkle import EMPTY_ROOT
from comity.ledger.note import (
    NoteSigner,
    NoteVerifier,
    open_note,
    parse_note,
    raw_public_key,
    sign_note,
)

ORIGIN = "comity.example/ledger"
ROOT = hashlib.sha256(b"some root").digest()
LOG = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
WITNESS = Cosigner("witness.example/w1", WITNESS_KEY)
CHECKPOINT = Checkpoint(ORIGIN, 3, ROOT)


# --- Bodies -----------------------------------------------------------------------------


def test_body() -> None:
    root64 = base64.b64encode(ROOT).decode()
    assert CHECKPOINT.body() == f"{ORIGIN}\n3\n{root64}\n"
    with_extensions = Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("ext one", "two"))
    assert with_extensions.body().endswith("\next one\ntwo\n")


_line = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1)


@given(
    origin=_line,
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3),
)
def test_parse_body_round_trips(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


R64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n3\n{R64}", "at least three lines"),
        (f"{ORIGIN}\n3\n", "at least three lines"),
        (f"{ORIGIN}\n3\n{R64}\n\n", "extension line must be a non-empty"),
        (f"\n3\n{R64}\n", "origin must be a non-empty"),
        (f"{ORIGIN}\t\n3\n{R64}\n", "origin must be a non-empty"),
        (f"{ORIGIN}\n03\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n+3\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n-1\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n 3\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n3.0\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n\u0663\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n{'9' * 40}\n{R64}\n", "not a decimal"),
        (f"{ORIGIN}\n{MAX_TREE_SIZE + 1}\n{R64}\n", "not between 0 and 2\\^63"),
        (f"{ORIGIN}\n3\n{R64.rstrip('=')}\n", "not standard padded base64"),
        (f"{ORIGIN}\n3\n{R64.replace('/', '_').replace('+', '-')}x\n", "not standard padded"),
        (f"{ORIGIN}\n3\n{base64.b64encode(ROOT[:31]).decode()}\n", "roots are 32 bytes"),
        (f"{ORIGIN}\n3\n {R64}\n", "not standard padded base64"),
    ],
)
def test_strict_parsing(body: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.parse(body)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origin": ""}, "origin"),
        ({"origin": "two\nlines"}, "origin"),
        ({"size": -1}, "Tree size"),
        ({"size": True}, "Tree size"),
        ({"size": MAX_TREE_SIZE + 1}, "Tree size"),
        ({"root": b"\0" * 12}, "12 bytes"),
        ({"extensions": ("",)}, "extension"),
        ({"extensions": ("a\nb",)}, "extension"),
    ],
)
def test_invalid_checkpoints_cannot_exist(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"origin": ORIGIN, "size": 1, "root": ROOT} | kwargs
    with pytest.raises(CheckpointError, match=message):
        Checkpoint(**fields)


# --- Signed checkpoints -----------------------------------------------------------------


def test_sign_and_verify() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG)
    assert note.startswith(CHECKPOINT.body() + "\n\u2014 comity.example/ledger ")
    assert verify_checkpoint(note, LOG.verifier()) == CHECKPOINT
    assert (
        verify_checkpoint(note.encode(), NoteVerifier.from_vkey(LOG.verifier().vkey)) == CHECKPOINT
    )


def test_a_key_speaks_only_for_its_own_origin() -> None:
    other = NoteSigner("other.example/log", Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError, match="cannot sign a checkpoint of log"):
        sign_checkpoint(CHECKPOINT, other)
    note = sign_note(CHECKPOINT.body(), [other])
    with pytest.raises(CheckpointError, match="is not the key name"):
        verify_checkpoint(note, other.verifier())


def test_a_note_that_is_not_a_checkpoint() -> None:
    with pytest.raises(CheckpointError):
        verify_checkpoint(sign_note("hello\n", [LOG]), LOG.verifier())


SIGNED = sign_checkpoint(CHECKPOINT, LOG).encode()


@given(position=st.integers(0, len(SIGNED) - 1), xor=st.integers(1, 255))
def test_any_changed_byte_of_a_signed_checkpoint_fails(position: int, xor: int) -> None:
    changed = bytearray(SIGNED)
    changed[position] ^= xor
    with pytest.raises(ValidationError):
        verify_checkpoint(bytes(changed), LOG.verifier())


def test_every_changed_byte_of_a_signed_checkpoint_fails() -> None:
    for position in range(len(SIGNED)):
        changed = bytearray(SIGNED)
        changed[position] ^= 0x01
        with pytest.raises(ValidationError):
            verify_checkpoint(bytes(changed), LOG.verifier())


# --- Cosignatures -----------------------------------------------------------------------


def test_cosignature_key_id_and_vkey() -> None:
    public = raw_public_key(WITNESS_KEY.public_key())
    key_id = hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    assert WITNESS.key_id == key_id
    material = base64.b64encode(b"\x04" + public).decode()
    vkey = WITNESS.verifier().vkey
    assert vkey == f"witness.example/w1+{key_id.hex()}+{material}"
    assert CosignatureVerifier.from_vkey(vkey).key_id == key_id
    assert repr(CosignatureVerifier.from_vkey(vkey)) == f"CosignatureVerifier({vkey!r})"
    assert repr(WITNESS) == f"Cosigner('witness.example/w1', key ID {key_id.hex()})"


def test_cosignature_line_layout_and_message() -> None:
    checkpoint = Checkpoint(ORIGIN, 3, ROOT, ("an extension",))
    line = WITNESS.cosign(checkpoint, 1_700_000_000)
    name, encoded = line.removeprefix("\u2014 ").removesuffix("\n").split(" ")
    payload = base64.b64decode(encoded)
    assert name == WITNESS.name
    assert len(payload) == 4 + 8 + 64
    assert payload[:4] == WITNESS.key_id
    assert payload[4:12] == (1_700_000_000).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1700000000\n" + checkpoint.body().encode()
    assert cosigned_message(checkpoint.body().encode(), 1_700_000_000) == message
    WITNESS_KEY.public_key().verify(payload[12:], message)  # raises if not


def test_the_c2sp_example_cosignature_has_our_layout() -> None:
    """The tlog-cosignature spec's example line: key ID, then time 1679315147 (the time
    line in the spec's example message), then 64 signature bytes."""
    note = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN"
        "7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9d"
        "lrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    witness = parse_note(note).signatures[1]
    assert witness.name == "witness.example.com/w1"
    assert len(witness.signature) == 8 + 64
    assert int.from_bytes(witness.signature[:8], "big") == 1679315147


def _cosigned(checkpoint: Checkpoint = CHECKPOINT, timestamp: int = 1_700_000_000) -> str:
    return sign_checkpoint(checkpoint, LOG) + WITNESS.cosign(checkpoint, timestamp)


def test_cosign_and_verify() -> None:
    note = _cosigned()
    assert verify_cosignature(note, WITNESS.verifier()) == 1_700_000_000
    assert verify_checkpoint(note, LOG.verifier()) == CHECKPOINT
    assert open_note(note, [LOG.verifier(), WITNESS.verifier()]).verified == [
        ORIGIN,
        WITNESS.name,
    ]


@pytest.mark.parametrize("timestamp", [0, MAX_TIMESTAMP])
def test_timestamp_bounds(timestamp: int) -> None:
    assert verify_cosignature(_cosigned(timestamp=timestamp), WITNESS.verifier()) == timestamp


@pytest.mark.parametrize("timestamp", [-1, MAX_TIMESTAMP + 1, True])
def test_timestamps_out_of_range_are_refused(timestamp: int) -> None:
    with pytest.raises(NoteError, match="Timestamp"):
        WITNESS.cosign(CHECKPOINT, timestamp)


def test_a_cosignature_on_another_checkpoint_does_not_verify() -> None:
    other = Checkpoint(ORIGIN, 4, ROOT)
    note = sign_checkpoint(CHECKPOINT, LOG) + WITNESS.cosign(other, 1)
    with pytest.raises(NoteError, match=r"cosignature by witness\.example/w1 does not verify"):
        verify_cosignature(note, WITNESS.verifier())


def test_missing_duplicate_and_malformed_cosignatures() -> None:
    with pytest.raises(NoteError, match="no cosignature by"):
        verify_cosignature(sign_checkpoint(CHECKPOINT, LOG), WITNESS.verifier())
    twice = _cosigned() + WITNESS.cosign(CHECKPOINT, 5)
    with pytest.raises(NoteError, match="two cosignatures by"):
        verify_cosignature(twice, WITNESS.verifier())
    line = WITNESS.cosign(CHECKPOINT, 7)
    payload = base64.b64decode(line.split(" ")[2])
    short = line.replace(line.split(" ")[2], base64.b64encode(payload[:-1]).decode() + "\n")
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(sign_checkpoint(CHECKPOINT, LOG) + short, WITNESS.verifier())
    huge = payload[:4] + (2**63).to_bytes(8, "big") + payload[12:]
    too_late = line.replace(line.split(" ")[2], base64.b64encode(huge).decode() + "\n")
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(sign_checkpoint(CHECKPOINT, LOG) + too_late, WITNESS.verifier())


def test_a_log_key_is_not_a_witness_key() -> None:
    """Same key and name, other signature type: the key IDs differ, so a log signature is
    never taken for a cosignature."""
    as_witness = Cosigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    assert as_witness.key_id != LOG.key_id
    with pytest.raises(NoteError, match="no cosignature by"):
        verify_cosignature(sign_checkpoint(CHECKPOINT, LOG), as_witness.verifier())


COSIGNED = _cosigned().encode()
WITNESSED_PART = [
    i
    for i in range(len(COSIGNED))
    if i <= len(CHECKPOINT.body()) or i >= COSIGNED.rindex(b"\xe2\x80\x94")
]


@given(position=st.sampled_from(WITNESSED_PART), xor=st.integers(1, 255))
def test_any_changed_byte_of_the_body_or_cosignature_fails(position: int, xor: int) -> None:
    changed = bytearray(COSIGNED)
    changed[position] ^= xor
    with pytest.raises(ValidationError):
        verify_cosignature(bytes(changed), WITNESS.verifier())


def test_bad_witness_keys() -> None:
    log_vkey = LOG.verifier().vkey
    with pytest.raises(NoteError, match="not of signature type 0x04"):
        CosignatureVerifier.from_vkey(log_vkey)
    vkey = WITNESS.verifier().vkey
    name, key_id, material = vkey.split("+", 2)
    with pytest.raises(NoteError, match="does not match its key"):
        CosignatureVerifier.from_vkey(f"{name}x+{key_id}+{material}")
    short = base64.b64encode(base64.b64decode(material)[:-1]).decode()
    with pytest.raises(NoteError, match="32-byte Ed25519 key"):
        CosignatureVerifier.from_vkey(f"{name}+{key_id}+{short}")

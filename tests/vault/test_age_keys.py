"""Bech32 and the age key encodings: the examples of BIP 173 and of the age
specification, case rules, checksums, and keys that must be refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comity.vault import bech32
from comity.vault.age_keys import (
    HybridIdentity,
    HybridRecipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    parse_identities,
    parse_identity,
    parse_recipient,
)
from comity.vault.errors import AgeError, AgeFailure

# Example keys printed in the age specification (C2SP age.md).
SPEC_X25519_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_X25519_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
SPEC_PQ_IDENTITY = "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
SPEC_PQ_RECIPIENT_START = "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrq"
SPEC_PQ_RECIPIENT_END = (
    "mhh6gjtqmwze9pyyzk3tlhl53k2ykx3qheyty7saeq0d3fzv49zc0k"  # with the checksum
)
SPEC_PQ_RECIPIENT_LENGTH = 1959

# Valid Bech32 strings of BIP 173 (the "Test vectors" section).
BIP173_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
# Invalid ones, and why.
BIP173_INVALID = [
    "\x201nwldj5",  # HRP character out of range
    "\x7f1axkwrx",  # HRP character out of range
    "pzry9x0s0muk",  # no separator
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # too short checksum
    "de1lg7wt\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum calculated with uppercase HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
    "A12Uel5l",  # mixed case
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",  # a Bech32m checksum, not Bech32
]


@pytest.mark.parametrize("text", BIP173_VALID)
def test_bip173_valid_strings_decode_and_reencode(text: str) -> None:
    hrp, data = bech32.decode(text)
    assert bech32.encode(hrp, data) == text.lower()


@pytest.mark.parametrize("text", BIP173_INVALID)
def test_bip173_invalid_strings_are_refused(text: str) -> None:
    with pytest.raises(AgeError) as caught:
        bech32.decode(text)
    assert caught.value.failure == AgeFailure.KEY


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20), st.binary())
def test_bech32_round_trips_any_data(hrp: str, data: bytes) -> None:
    text = bech32.encode(hrp, data)
    assert bech32.decode(text) == (hrp, data)
    assert bech32.decode(text.upper()) == (hrp, data)


@given(st.binary(min_size=1, max_size=40), st.data())
def test_any_single_character_change_breaks_the_checksum(data: bytes, draw: st.DataObject) -> None:
    text = bech32.encode("age", data)
    position = draw.draw(st.integers(4, len(text) - 1))
    replacement = draw.draw(st.sampled_from(bech32.CHARSET.replace(text[position], "")))
    with pytest.raises(AgeError, match="checksum"):
        bech32.decode(text[:position] + replacement + text[position + 1 :])


def test_padding_bits_must_be_zero() -> None:
    # One byte is 8 bits: two 5-bit words with 2 padding bits, which must be zero.
    words = [0b00000, 0b00001]
    check = bech32._polymod([*bech32._hrp_expand("a"), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = "".join(bech32.CHARSET[(check >> 5 * (5 - i)) & 31] for i in range(6))
    text = "a1" + "".join(bech32.CHARSET[w] for w in words) + checksum
    with pytest.raises(AgeError, match="padding"):
        bech32.decode(text)


def test_the_length_is_bounded_but_not_at_ninety() -> None:
    long_recipient = str(HybridIdentity.generate().recipient)
    assert len(long_recipient) > 1900
    with pytest.raises(AgeError, match="longer than"):
        bech32.decode("a1" + "q" * bech32.MAX_LENGTH)


def test_the_specification_x25519_example() -> None:
    identity = X25519Identity.parse(SPEC_X25519_IDENTITY)
    assert str(identity.recipient) == SPEC_X25519_RECIPIENT
    assert identity.secret_text() == SPEC_X25519_IDENTITY
    assert parse_recipient(SPEC_X25519_RECIPIENT) == identity.recipient
    assert SPEC_X25519_IDENTITY not in repr(identity)


def test_the_specification_post_quantum_example() -> None:
    identity = HybridIdentity.parse(SPEC_PQ_IDENTITY)
    recipient = str(identity.recipient)
    assert recipient.startswith(SPEC_PQ_RECIPIENT_START)
    assert recipient.endswith(SPEC_PQ_RECIPIENT_END)
    assert len(recipient) == SPEC_PQ_RECIPIENT_LENGTH
    assert identity.secret_text() == SPEC_PQ_IDENTITY
    assert parse_recipient(recipient) == identity.recipient
    assert isinstance(parse_identity(SPEC_PQ_IDENTITY), HybridIdentity)


def test_keys_are_case_insensitive_bech32_but_not_mixed() -> None:
    assert X25519Identity.parse(SPEC_X25519_IDENTITY.lower()).recipient == X25519Recipient.parse(
        SPEC_X25519_RECIPIENT.upper()
    )
    with pytest.raises(AgeError, match="mixes"):
        X25519Recipient.parse("Age" + SPEC_X25519_RECIPIENT[3:])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SPEC_X25519_RECIPIENT, "not an age X25519 identity"),
        (SPEC_X25519_IDENTITY[:-1] + "Q", "checksum"),
        (bech32.encode("AGE-SECRET-KEY-", bytes(31)).upper(), "31 bytes"),
        ("", "no prefix"),
    ],
)
def test_bad_identities_are_refused(text: str, message: str) -> None:
    with pytest.raises(AgeError, match=message) as caught:
        X25519Identity.parse(text)
    assert caught.value.failure == AgeFailure.KEY


def test_a_recipient_of_another_type_is_refused() -> None:
    with pytest.raises(AgeError, match="not an age X25519 recipient"):
        parse_recipient(bech32.encode("age1tag", bytes(33)))
    with pytest.raises(AgeError, match="1216 bytes"):
        HybridRecipient(bytes(32))


def test_generated_keys_render_and_parse_back() -> None:
    for identity in (X25519Identity.generate(), HybridIdentity.generate()):
        again = parse_identity(identity.secret_text())
        assert again.recipient == identity.recipient
        assert parse_recipient(str(identity.recipient)) == identity.recipient


def test_identity_files_as_age_keygen_writes_them() -> None:
    identity = X25519Identity.generate()
    text = (
        "# created: 2026-01-01T00:00:00Z\n"
        f"# public key: {identity.recipient}\n"
        f"{identity.secret_text()}\n\n"
    )
    (parsed,) = parse_identities(text)
    assert parsed.recipient == identity.recipient
    with pytest.raises(AgeError, match="no identity"):
        parse_identities("# nothing here\n")


def test_passphrases_and_work_factors_are_checked() -> None:
    with pytest.raises(AgeError, match="empty"):
        ScryptRecipient("")
    with pytest.raises(AgeError, match="work factor"):
        ScryptRecipient("correct horse", work_factor=23)
    with pytest.raises(AgeError, match="empty"):
        ScryptIdentity("")

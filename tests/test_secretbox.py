"""Key derivation and sealing of small secrets (AES-256-GCM bound to their row)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import assume, given
from hypothesis import strategies as st

from comity.secretbox import NONCE_BYTES, derive_key, mac, open_sealed, seal, token_hash

keys = st.binary(min_size=32, max_size=32)
payloads = st.binary(max_size=256)
REJECTED = (ValueError, InvalidTag)


@given(key=keys, plaintext=payloads, associated=payloads)
def test_sealed_values_open_with_the_same_key_and_row(
    key: bytes, plaintext: bytes, associated: bytes
) -> None:
    sealed = seal(key, plaintext, associated)
    assert open_sealed(key, sealed, associated) == plaintext
    assert len(sealed) == 1 + NONCE_BYTES + len(plaintext) + 16


@given(key=keys, plaintext=payloads, associated=payloads, data=st.data())
def test_any_flipped_bit_is_rejected(
    key: bytes, plaintext: bytes, associated: bytes, data: st.DataObject
) -> None:
    sealed = bytearray(seal(key, plaintext, associated))
    bit = data.draw(st.integers(min_value=0, max_value=len(sealed) * 8 - 1), label="bit")
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(REJECTED):
        open_sealed(key, bytes(sealed), associated)


@given(key=keys, plaintext=payloads, associated=payloads, other=payloads)
def test_other_associated_data_is_rejected(
    key: bytes, plaintext: bytes, associated: bytes, other: bytes
) -> None:
    sealed = seal(key, plaintext, associated)
    if other == associated:
        assert open_sealed(key, sealed, other) == plaintext
    else:
        with pytest.raises(InvalidTag):
            open_sealed(key, sealed, other)


@given(key=keys, other=keys, plaintext=payloads)
def test_another_key_is_rejected(key: bytes, other: bytes, plaintext: bytes) -> None:
    assume(other != key)
    with pytest.raises(InvalidTag):
        open_sealed(other, seal(key, plaintext, b"row"), b"row")


@given(key=keys, plaintext=payloads, cut=st.integers(min_value=1, max_value=1 + NONCE_BYTES + 16))
def test_truncated_values_are_rejected(key: bytes, plaintext: bytes, cut: int) -> None:
    sealed = seal(key, plaintext, b"row")
    with pytest.raises(REJECTED):
        open_sealed(key, sealed[: len(sealed) - len(plaintext) - cut], b"row")


def test_sealing_twice_uses_fresh_nonces() -> None:
    key = derive_key(b"node secret", "totp-seed")
    assert seal(key, b"same", b"row") != seal(key, b"same", b"row")


@given(secret=st.binary(min_size=1, max_size=64), purpose=st.text(min_size=1, max_size=20))
def test_derived_keys_are_stable_and_separated_by_purpose(secret: bytes, purpose: str) -> None:
    key = derive_key(secret, purpose)
    assert len(key) == 32
    assert derive_key(secret, purpose) == key
    assert derive_key(secret, purpose + "!") != key
    assert derive_key(secret + b"!", purpose) != key
    assert key != secret


def test_token_hash_and_mac() -> None:
    assert token_hash("bearer") == hashlib.sha256(b"bearer").hexdigest()
    expected = hmac.new(b"k" * 32, b"message", hashlib.sha256).hexdigest()
    assert mac(b"k" * 32, "message") == expected
    assert mac(b"j" * 32, "message") != expected

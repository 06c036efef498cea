import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from comity.exchange.key_ids import is_key_id, key_id

RAW = bytes(range(32))


def test_ed25519_key_id_is_the_documented_digest() -> None:
    public = Ed25519PrivateKey.from_private_bytes(RAW).public_key()
    raw = public.public_bytes_raw()
    expected = "ed25519:" + hashlib.sha256(b"ed25519\x00" + raw).digest()[:16].hex()
    assert key_id(public) == expected
    assert is_key_id(expected)


def test_x25519_key_id_is_the_documented_digest() -> None:
    public = X25519PrivateKey.from_private_bytes(RAW).public_key()
    raw = public.public_bytes_raw()
    expected = "x25519:" + hashlib.sha256(b"x25519\x00" + raw).digest()[:16].hex()
    assert key_id(public) == expected
    assert is_key_id(expected)


def test_same_raw_bytes_under_two_algorithms_get_different_ids() -> None:
    raw = X25519PrivateKey.generate().public_key().public_bytes_raw()
    as_ed = Ed25519PublicKey.from_public_bytes(raw)
    as_x = X25519PublicKey.from_public_bytes(raw)
    assert key_id(as_ed).split(":")[1] != key_id(as_x).split(":")[1]


def test_different_keys_get_different_ids_and_the_same_key_the_same_id() -> None:
    one, two = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert key_id(one.public_key()) == key_id(one.public_key())
    assert key_id(one.public_key()) != key_id(two.public_key())


def test_other_key_types_are_refused() -> None:
    with pytest.raises(TypeError):
        key_id(Ed25519PrivateKey.generate())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ed25519:",
        "ed25519:" + "0" * 31,
        "ed25519:" + "A" * 32,
        "rsa:" + "0" * 32,
        "ed25519:" + "0" * 32 + "\n",
        "ed25519:" + "0" * 33,
    ],
)
def test_malformed_key_ids_are_recognised(value: str) -> None:
    assert not is_key_id(value)

"""Bech32 (BIP 173), the encoding of age keys: ``age1…`` recipients and
``AGE-SECRET-KEY-1…`` identities.

This is Bech32, not Bech32m: the checksum constant is 1. As the age specification says,
the 90-character limit of BIP 173 does not apply to the data part (post-quantum
recipients are about 2,000 characters long); :data:`MAX_LENGTH` only bounds the work a
hostile string can cause, and each key type checks the exact length of its data. A
string is all lowercase or all uppercase, never mixed; the checksum is computed over
the lowercase form, and :func:`decode` returns the human-readable part in lowercase.
"""

from __future__ import annotations

from collections.abc import Iterable

from comity.vault.errors import AgeError, AgeFailure

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
MAX_LENGTH = 8192
MAX_HRP_LENGTH = 83
_CHECKSUM_LENGTH = 6
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_VALUES = {char: value for value, char in enumerate(CHARSET)}


def _polymod(values: Iterable[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = ((check & 0x1FFFFFF) << 5) ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                check ^= generator
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(char) >> 5 for char in hrp] + [0] + [ord(char) & 31 for char in hrp]


def _check_hrp(hrp: str) -> None:
    if not 1 <= len(hrp) <= MAX_HRP_LENGTH:
        raise AgeError(AgeFailure.KEY, f"Bech32 prefix must be 1 to {MAX_HRP_LENGTH} characters")
    if any(not 33 <= ord(char) <= 126 for char in hrp):
        raise AgeError(AgeFailure.KEY, "Bech32 prefix has a character outside ASCII 33 to 126")


def _regroup(data: Iterable[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    """Regroups ``from_bits``-bit values into ``to_bits``-bit values (BIP 173's
    ``convertbits``). Without ``pad``, leftover bits must be fewer than ``from_bits``
    and all zero, or the encoding is not canonical."""
    accumulator = 0
    bits = 0
    out: list[int] = []
    mask = (1 << to_bits) - 1
    for value in data:
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & mask)
    if pad:
        if bits:
            out.append((accumulator << (to_bits - bits)) & mask)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & mask:
        raise AgeError(AgeFailure.KEY, "Bech32 data has invalid padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """``hrp`` + ``1`` + ``data`` in Bech32, all lowercase (upper-case it whole if wanted)."""
    hrp = hrp.lower()
    _check_hrp(hrp)
    words = _regroup(data, 8, 5, pad=True)
    check = _polymod([*_hrp_expand(hrp), *words, *([0] * _CHECKSUM_LENGTH)]) ^ 1
    checksum = [(check >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LENGTH)]
    text = hrp + "1" + "".join(CHARSET[word] for word in [*words, *checksum])
    if len(text) > MAX_LENGTH:
        raise AgeError(AgeFailure.KEY, f"Bech32 string would exceed {MAX_LENGTH} characters")
    return text


def decode(text: str) -> tuple[str, bytes]:
    """The lowercase human-readable part and the data of a Bech32 string."""
    if len(text) > MAX_LENGTH:
        raise AgeError(AgeFailure.KEY, f"Bech32 string longer than {MAX_LENGTH} characters")
    if any(not 33 <= ord(char) <= 126 for char in text):
        raise AgeError(AgeFailure.KEY, "Bech32 string has a character outside ASCII 33 to 126")
    lower = text.lower()
    if text not in (lower, text.upper()):
        raise AgeError(AgeFailure.KEY, "Bech32 string mixes upper and lower case")
    separator = lower.rfind("1")
    if separator < 1:
        raise AgeError(AgeFailure.KEY, "Bech32 string has no prefix before the separator '1'")
    if len(lower) - separator - 1 < _CHECKSUM_LENGTH:
        raise AgeError(AgeFailure.KEY, "Bech32 string is too short to hold a checksum")
    hrp = lower[:separator]
    _check_hrp(hrp)
    try:
        words = [_VALUES[char] for char in lower[separator + 1 :]]
    except KeyError as exc:
        raise AgeError(
            AgeFailure.KEY, f"Bech32 data has invalid character {exc.args[0]!r}"
        ) from None
    if _polymod([*_hrp_expand(hrp), *words]) != 1:
        raise AgeError(AgeFailure.KEY, "Bech32 checksum is wrong (a typo in the key?)")
    return hrp, bytes(_regroup(words[:-_CHECKSUM_LENGTH], 5, 8, pad=False))

"""RFC 3161 time-stamps over byte strings: the request, the check of an authority's answer,
and the check of a kept token, later and anywhere. Pure: no database and no network.

Parsing and the CMS signature and certificate-chain checks are rfc3161-client's; the
policy is here. Comity asks for a SHA-256 imprint, a random 64-bit nonce and the signer's
certificate in the token (``certReq``); an answer is accepted only if it is granted,
carries the request's nonce, covers exactly the message asked about, and is signed by a
certificate with the critical ``timeStamping`` extended key usage that chains to the
trusted roots at the token's own time (``genTime``).

The imprint can be given as the message (a checkpoint note: :func:`make_request`,
:func:`check_token`) or as its SHA-256 already computed (an evidence file hashed while
it was encrypted: :func:`make_digest_request`, :func:`check_token_digest`). The request
is encoded here (:func:`request_der`), since rfc3161-client's builder only hashes a
message itself.

A *token* is the DER ``TimeStampToken`` (a CMS ``ContentInfo`` of ``SignedData``, RFC 3161
§2.4.2), byte for byte as the authority signed it: what ``openssl ts -verify -token_in``
reads. rfc3161-client parses whole answers only, so a kept token is checked inside a
granted ``TimeStampResp`` built around it (:func:`_parse_token`).

rfc3161-client parses strictly (DER): an answer whose token carries several certificates
in a non-canonical order is refused as malformed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from rfc3161_client import (
    PKIStatus,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from comity.ledger.errors import TimestampError

SHA256 = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
SHA256_SIZE = 32
_GRANTED_STATUS = bytes.fromhex("3003020100")  # PKIStatusInfo { status granted (0) }
# AlgorithmIdentifier { id-sha256, NULL parameters }, as rfc3161-client and OpenSSL write it.
_SHA256_ALGORITHM = bytes.fromhex("300d06096086480165030402010500")


@dataclass(frozen=True)
class Request:
    """A ``TimeStampReq`` (DER) and what its answer must match."""

    der: bytes
    nonce: int
    digest: bytes
    """SHA-256 of the message: the imprint asked for."""


@dataclass(frozen=True)
class Token:
    """A time-stamp token and what it states."""

    der: bytes
    gen_time: dt.datetime
    """When the authority says it saw the imprint (UTC)."""
    serial: int
    digest: bytes
    """The imprint: SHA-256 of the message the token covers."""


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_integer(value: int) -> bytes:
    """A non-negative INTEGER in its shortest two's-complement form."""
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def request_der(digest: bytes, nonce: int) -> bytes:
    """The DER ``TimeStampReq`` (RFC 3161 §2.4.1) for a SHA-256 ``digest``: version 1,
    the imprint, ``nonce``, ``certReq`` true, no policy and no extensions."""
    imprint = _der(0x30, _SHA256_ALGORITHM + _der(0x04, digest))
    return _der(0x30, _der_integer(1) + imprint + _der_integer(nonce) + _der(0x01, b"\xff"))


def make_digest_request(digest: bytes) -> Request:
    """A request for a token whose imprint is ``digest``, the SHA-256 of the bytes to be
    time-stamped (random 64-bit nonce, certReq)."""
    if len(digest) != SHA256_SIZE:
        raise TimestampError(
            f"A SHA-256 imprint has {SHA256_SIZE} bytes, not {len(digest)}: nothing was asked."
        )
    nonce = secrets.randbits(64)
    return Request(der=request_der(digest, nonce), nonce=nonce, digest=digest)


def make_request(message: bytes) -> Request:
    """A request for a token over ``message`` (SHA-256 imprint, random nonce, certReq)."""
    return make_digest_request(hashlib.sha256(message).digest())


def read_roots(pem: bytes, source: str) -> list[x509.Certificate]:
    """The certificates of a PEM file (``source`` names it in errors)."""
    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError(
            f"{source} holds no PEM certificate that can be read ({exc}); give the "
            "authority's root certificate as '-----BEGIN CERTIFICATE-----' text."
        ) from None
    return roots


def _token(response: TimeStampResponse) -> Token:
    info = response.tst_info
    if info.message_imprint.hash_algorithm != SHA256:
        raise TimestampError(
            f"The token's imprint is not SHA-256 (algorithm "
            f"{info.message_imprint.hash_algorithm.dotted_string}); Comity asks for SHA-256."
        )
    return Token(
        der=response.time_stamp_token(),
        gen_time=info.gen_time.astimezone(dt.UTC),
        serial=info.serial_number,
        digest=info.message_imprint.message,
    )


def _check_imprint(token: Token, expected: bytes) -> None:
    if token.digest != expected:
        raise TimestampError(
            f"The token is for other bytes: its imprint is {token.digest.hex()}, the SHA-256 "
            f"of the time-stamped bytes is {expected.hex()}."
        )


def _check_chain(
    response: TimeStampResponse, token: Token, roots: Sequence[x509.Certificate]
) -> None:
    builder = VerifierBuilder()
    for root in dict.fromkeys(roots):  # the builder refuses the same certificate twice
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(response, token.digest)
    except (VerificationError, ValueError) as exc:
        raise TimestampError(
            f"The token's signature does not verify against the trusted roots: {exc}"
        ) from None


def read_response(answer: bytes, request: Request, roots: Sequence[x509.Certificate]) -> Token:
    """The token of an authority's answer to ``request``, once verified: granted, the
    request's nonce, the request's imprint, and a signature that chains to ``roots``.
    Raises :class:`TimestampError` naming what is wrong."""
    try:
        response = decode_timestamp_response(answer)
    except ValueError as exc:
        raise TimestampError(f"The answer is not an RFC 3161 time-stamp response: {exc}") from None
    if response.status != PKIStatus.GRANTED:
        try:
            status = PKIStatus(response.status).name.lower().replace("_", " ")
        except ValueError:
            status = str(response.status)
        said = "; ".join(response.status_string) or "no reason given"
        raise TimestampError(f"The authority did not grant a time-stamp (status {status}: {said}).")
    try:
        token = _token(response)
    except ValueError as exc:
        raise TimestampError(f"The answer holds no usable time-stamp token: {exc}") from None
    if response.tst_info.nonce != request.nonce:
        raise TimestampError(
            "The token's nonce is not the request's: the answer is not for this request."
        )
    _check_imprint(token, request.digest)
    _check_chain(response, token, roots)
    return token


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _parse_token(token: bytes) -> tuple[TimeStampResponse, Token]:
    """``token`` inside a granted ``TimeStampResp`` (the only form rfc3161-client parses),
    and what it states."""
    body = _GRANTED_STATUS + token
    try:
        response = decode_timestamp_response(b"\x30" + _der_length(len(body)) + body)
        found = _token(response)
    except ValueError as exc:
        raise TimestampError(f"The time-stamp token is malformed: {exc}") from None
    if found.der != token:
        raise TimestampError("The time-stamp token is malformed: bytes follow it.")
    return response, found


def check_token_digest(
    token: bytes, digest: bytes, roots: Sequence[x509.Certificate] = ()
) -> Token:
    """Check a kept token: its imprint must be ``digest`` (a SHA-256); with ``roots``, its
    signature must also chain to them (at its ``genTime``). Raises
    :class:`TimestampError`."""
    response, found = _parse_token(token)
    _check_imprint(found, digest)
    if roots:
        _check_chain(response, found, roots)
    return found


def check_token(token: bytes, message: bytes, roots: Sequence[x509.Certificate] = ()) -> Token:
    """:func:`check_token_digest` for the SHA-256 of ``message``."""
    return check_token_digest(token, hashlib.sha256(message).digest(), roots)

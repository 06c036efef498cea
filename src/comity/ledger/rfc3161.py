"""RFC 3161 time-stamps over byte strings: the request, the check of an authority's answer,
and the check of a kept token, later and anywhere. Pure: no database and no network.

Parsing and the CMS signature and certificate-chain checks are rfc3161-client's; the
policy is here. Comity asks for a SHA-256 imprint, a random 64-bit nonce and the signer's
certificate in the token (``certReq``); an answer is accepted only if it is granted,
carries the request's nonce, covers exactly the message asked about, and is signed by a
certificate with the critical ``timeStamping`` extended key usage that chains to the
trusted roots at the token's own time (``genTime``).

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
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from comity.ledger.errors import TimestampError

SHA256 = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
_GRANTED_STATUS = bytes.fromhex("3003020100")  # PKIStatusInfo { status granted (0) }


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


def make_request(message: bytes) -> Request:
    """A request for a token over ``message`` (SHA-256 imprint, random nonce, certReq)."""
    built = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    nonce = built.nonce
    if nonce is None:  # the builder was asked for one; never without it
        raise TimestampError("The time-stamp request was built without a nonce.")
    return Request(der=built.as_bytes(), nonce=nonce, digest=hashlib.sha256(message).digest())


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


def check_token(token: bytes, message: bytes, roots: Sequence[x509.Certificate] = ()) -> Token:
    """Check a kept token: its imprint must be the SHA-256 of ``message``; with ``roots``,
    its signature must also chain to them (at its ``genTime``). Raises
    :class:`TimestampError`."""
    response, found = _parse_token(token)
    _check_imprint(found, hashlib.sha256(message).digest())
    if roots:
        _check_chain(response, found, roots)
    return found

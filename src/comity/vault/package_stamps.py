"""The RFC 3161 time-stamp tokens of an evidence package: the checkpoint's, whose imprint
must be the SHA-256 of the signed checkpoint note, and each item's, whose imprint must be
the item's SHA-256 and which an ``evidence.timestamped`` entry of the item's chain must
record. With the authorities' roots, each token's signature must chain to them;
without, a note says how to check it with OpenSSL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from comity.errors import ComityError
from comity.ledger import rfc3161
from comity.vault.package_report import PackageReport, check_listed_file


def _signature_note(
    where: str, covered: str, token: rfc3161.Token, roots: Sequence[x509.Certificate]
) -> str:
    """What a checked token's note says: that its signature chains to the roots given,
    or how to check it with OpenSSL."""
    if roots:
        return (
            f"{where}: covers {covered}; signed by the time-stamp authority at "
            f"{token.gen_time.isoformat()} (chains to the roots given)."
        )
    return (
        f"{where}: covers {covered}; check the authority's signature with 'openssl ts "
        f"-verify -in {where} -token_in -CAfile ROOT' (or give --tsa-ca)."
    )


def checkpoint_timestamps(
    report: PackageReport,
    root: Path,
    manifest: Mapping[str, Any],
    stamped: bytes,
    roots: Sequence[x509.Certificate],
) -> None:
    for stamp in (manifest.get("checkpoint") or {}).get("timestamps", []):
        path = check_listed_file(report, root, stamp.get("path"), stamp.get("sha256"))
        if path is None or not stamped:
            continue
        try:
            token = rfc3161.check_token(path.read_bytes(), stamped, roots)
        except ComityError as exc:
            report.fail(str(stamp.get("path")), f"the time-stamp token: {exc.message}")
        else:
            report.notes.append(
                _signature_note(str(stamp.get("path")), "the checkpoint", token, roots)
            )


def item_timestamps(
    report: PackageReport,
    root: Path,
    item: Mapping[str, Any],
    bodies: dict[object, Any],
    roots: Sequence[x509.Certificate],
) -> None:
    """The item's RFC 3161 tokens: listed files, each recorded by an
    ``evidence.timestamped`` entry of the item's chain, whose imprint is the item's
    SHA-256, and with ``roots``, whose signature chains to them."""
    item_id = str(item.get("id"))
    for stamp in item.get("timestamps", []):
        where = str(stamp.get("path"))
        path = check_listed_file(report, root, stamp.get("path"), stamp.get("sha256"))
        if path is None:
            continue
        if not where.startswith(f"timestamps/{item_id}/"):
            report.fail(where, f"not in the time-stamp folder of item {item_id}")
        body = bodies.get(stamp.get("ledger_index")) or {}
        if body.get("type") != "evidence.timestamped" or (body.get("digests") or {}).get(
            "token_sha256"
        ) != stamp.get("sha256"):
            report.fail(where, "no evidence.timestamped entry of the item records this token")
        try:
            token = rfc3161.check_token_digest(
                path.read_bytes(), bytes.fromhex(str(item.get("sha256"))), roots
            )
        except (ComityError, ValueError) as exc:
            message = exc.message if isinstance(exc, ComityError) else str(exc)
            report.fail(where, f"the time-stamp token: {message}")
        else:
            report.notes.append(
                _signature_note(where, f"the SHA-256 of item {item_id}", token, roots)
            )

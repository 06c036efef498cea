"""Where the evidence vault's blobs are kept, as settings: the values of
``COMITY_BLOB_STORE`` (``local``, or ``s3://bucket/optional/prefix`` read into an
:class:`S3Location`), ``COMITY_S3_ENDPOINT_URL`` and ``COMITY_S3_REGION``, each checked and
normalised, and the check across them (:func:`check_blob_store`).

Used by :class:`comity.settings.Settings`; the stores themselves are
:mod:`comity.vault.blobs` and :mod:`comity.vault.blobs_s3`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from comity.errors import ConfigurationError
from comity.urls import is_service_url

if TYPE_CHECKING:
    from comity.settings import Settings

LOCAL_BLOB_STORE = "local"
# S3's rules for bucket names that work in host names: 3-63 lower-case letters, digits,
# dots and hyphens, a letter or digit at each end (no "..", no IPv4 address: see below).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Key prefixes are kept to plain path segments, so that a key means the same thing to
# every S3 implementation, console and command-line tool.
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_REGION = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class S3Location:
    """Where in S3-compatible object storage the vault's blobs are kept: a bucket, and a
    key prefix without leading or trailing ``/`` (empty: the bucket's top level)."""

    bucket: str
    prefix: str


def parse_s3_location(value: str) -> S3Location:
    """``s3://bucket[/prefix]`` read into its parts, or a ``ValueError`` saying why not."""
    rest = value.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket or _is_ipv4(bucket):
        raise ValueError(
            f"{bucket!r} is not a valid S3 bucket name: 3 to 63 lower-case letters, digits, "
            "dots and hyphens, starting and ending with a letter or digit, not an IP address"
        )
    prefix = prefix.strip("/")
    if prefix and not all(_PREFIX_SEGMENT.fullmatch(part) for part in prefix.split("/")):
        raise ValueError(
            f"the key prefix {prefix!r} must be path segments of letters, digits, '.', '_' "
            "and '-' separated by single '/', such as 'comity/evidence'"
        )
    return S3Location(bucket, prefix)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def blob_store_value(value: str) -> str:
    """``COMITY_BLOB_STORE`` as kept: ``local`` (also for an empty variable), or
    ``s3://bucket[/prefix]`` without stray slashes; a ``ValueError`` saying why not."""
    value = value.strip()
    if value in {"", LOCAL_BLOB_STORE}:  # an empty variable is unset
        return LOCAL_BLOB_STORE
    if not value.startswith("s3://"):
        raise ValueError(
            "must be 'local' (blobs in COMITY_VAULT_DIR) or the bucket of an S3-compatible "
            "object store with an optional key prefix, such as 's3://evidence/comity'"
        )
    location = parse_s3_location(value)
    return "/".join(part for part in ("s3:/", location.bucket, location.prefix) if part)


def endpoint_url_value(value: str) -> str:
    """``COMITY_S3_ENDPOINT_URL`` as kept (empty: Amazon S3), without a trailing ``/``; a
    ``ValueError`` saying why not."""
    value = value.strip()
    if value and not is_service_url(value):
        raise ValueError(
            "must be the http:// or https:// URL of an S3-compatible service, without a "
            "user name, password, query or fragment, such as 'https://minio.internal:9000' "
            "(credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    return value.rstrip("/")


def region_value(value: str) -> str:
    """``COMITY_S3_REGION`` as kept (empty: boto3's), or a ``ValueError`` saying why not."""
    value = value.strip()
    if value and not _REGION.fullmatch(value):
        raise ValueError("must be a region name such as 'eu-west-3' (letters, digits, '-' and '_')")
    return value


def check_blob_store(settings: Settings) -> None:
    """Refuse settings that name two places for the blobs, or S3 options that would be
    silently ignored while blobs go to local files."""
    if settings.s3_location is not None:
        if settings.vault_dir is not None:
            raise ConfigurationError(
                f"COMITY_BLOB_STORE is {settings.blob_store} but COMITY_VAULT_DIR is also set: "
                "blobs are kept in one place; unset COMITY_VAULT_DIR.",
                fields={"vault_dir": "conflict"},
            )
        return
    unused = [
        name
        for name, value in (
            ("s3_endpoint_url", settings.s3_endpoint_url),
            ("s3_region", settings.s3_region),
        )
        if value
    ]
    if unused:
        variables = " and ".join(f"COMITY_{name.upper()}" for name in unused)
        raise ConfigurationError(
            f"{variables} {'are' if len(unused) > 1 else 'is'} set but COMITY_BLOB_STORE is "
            "'local': set COMITY_BLOB_STORE to s3://bucket to keep blobs in that object "
            "store, or unset it.",
            fields=dict.fromkeys(unused, "unused"),
        )

"""What the failures of S3-compatible object storage mean to the vault (the store is
:mod:`comity.vault.blobs_s3`): every error of botocore — a refusal of the credentials or
of the bucket's policy, a bucket that does not exist, no credentials at all, a TLS
failure, an endpoint where nothing answers, any other answer of the service — becomes a
:class:`~comity.vault.blobs.BlobStoreError` with a one-line message saying what could
not be done and naming the bucket and the endpoint; a blob that is not there becomes
:class:`~comity.errors.NotFound`, as with the local store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, SSLError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from comity.errors import NotFound
from comity.vault.blobs import BlobStoreError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 answers these (or HTTP 403) when the credentials or the bucket's policy do not allow
# the request.
_REFUSED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
    }
)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "") or str(_status(exc) or "")


class S3Failures:
    """The errors of ``bucket``, reached through ``client``: called with what is being
    done, a context manager that turns botocore's errors into ours (see the module
    docstring)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket
        self.endpoint = client.meta.endpoint_url
        self.where = f"The S3 bucket '{bucket}' at {self.endpoint}"

    @contextlib.contextmanager
    def __call__(self, doing: str, *, missing: str | None = None) -> Iterator[None]:
        """Turns botocore's errors into a :class:`BlobStoreError` saying what could not be
        done; with ``missing``, a blob that is not there into :class:`NotFound`."""
        try:
            yield
        except ClientError as exc:
            if missing is not None and _status(exc) == 404 and _code(exc) != "NoSuchBucket":
                self._check_bucket()  # HEAD answers a bare 404 for a missing bucket too
                raise NotFound(f"The blob {missing} is missing from the store.") from None
            raise self._failure(exc, doing) from exc
        except BotoCoreError as exc:
            raise self._failure(exc, doing) from exc

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            if _status(exc) == 404:
                raise self._no_bucket() from exc
            raise self._failure(exc, "look up the bucket") from exc
        except BotoCoreError as exc:
            raise self._failure(exc, "look up the bucket") from exc

    def _no_bucket(self) -> BlobStoreError:
        return BlobStoreError(
            f"{self.where} does not exist: create it, or correct COMITY_BLOB_STORE "
            "and COMITY_S3_ENDPOINT_URL."
        )

    def _failure(self, exc: Exception, doing: str) -> BlobStoreError:
        if isinstance(exc, ClientError):
            return self._refusal(exc, doing)
        if isinstance(exc, NoCredentialsError):
            return BlobStoreError(
                f"No credentials to {doing} in the S3 bucket '{self._bucket}': set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the node's "
                "environment."
            )
        if isinstance(exc, SSLError):
            return BlobStoreError(
                f"Cannot {doing}: the TLS connection to the S3 endpoint {self.endpoint} "
                f"(bucket '{self._bucket}') failed: {_one_line(exc)}"
            )
        if isinstance(exc, EndpointUnreachable):
            return BlobStoreError(
                f"Cannot {doing}: nothing answers at the S3 endpoint {self.endpoint} "
                f"(bucket '{self._bucket}'); the connection was refused or timed out, or the "
                "host is unknown. Check COMITY_S3_ENDPOINT_URL and that the service is up."
            )
        detail = _one_line(exc)
        return BlobStoreError(
            f"Cannot {doing} in the S3 bucket '{self._bucket}' at {self.endpoint}: {detail}"
        )

    def _refusal(self, exc: ClientError, doing: str) -> BlobStoreError:
        """What the service answered, when it answered with an error."""
        code = _code(exc)
        if code == "NoSuchBucket":
            return self._no_bucket()
        if _status(exc) == 403 or code in _REFUSED:
            return BlobStoreError(
                f"{self.where} refused to {doing} ({code}): check the credentials the "
                "node has (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) "
                "and what the bucket's policy allows them."
            )
        message = _one_line(exc.response.get("Error", {}).get("Message", ""))
        return BlobStoreError(f"{self.where} could not {doing}: {code} {message}".rstrip())

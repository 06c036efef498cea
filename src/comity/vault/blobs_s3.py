"""The vault's blobs in S3-compatible object storage (Amazon S3, MinIO, Garage, Ceph …),
behind the same :class:`~comity.vault.blobs.BlobStore` protocol as the local store.

Keys, under an optional prefix: ``<prefix>/sha256/<hex>`` for a blob (its name),
``<prefix>/tmp/<random>`` for a blob being written. A blob's name is the SHA-256 of its
bytes, known only once the last byte is written, and a writer holds at most one part
(:data:`PART_SIZE`) in memory, whatever the blob's size:

- a blob of at most one part is sent on commit with one ``PutObject`` straight to its
  final key (S3 makes an object visible only once all of it is stored);
- a larger one is sent, while it is hashed, as a multipart upload to a temporary key; on
  commit the upload is completed, copied server-side to the final key (boto3's managed
  copy, multipart for any size) and the temporary key deleted.

When the final key already holds an object of the same size, the same bytes are already
stored and nothing is copied. After a commit, the object under the name must have the
size that was written. A writer left without committing aborts its multipart upload
and deletes its temporary key; a bucket lifecycle rule that aborts incomplete multipart
uploads cleans up after a process that was killed (see docs/evidence.md).

Credentials come from boto3's standard sources (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role), never from Comity's
settings. Every failure of the object store or of the way to it becomes a
:class:`~comity.vault.blobs.BlobStoreError` with a one-line message naming the bucket and
the endpoint; a blob that is not there is :class:`~comity.errors.NotFound`, as with the
local store (:mod:`comity.vault.blobs_s3_errors`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import secrets
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Self

import boto3
from botocore.config import Config

from comity.errors import NotFound
from comity.vault.blobs import BLOB_NAME, READ_CHUNK, BlobStoreError, BlobWriter, Stored, check_name
from comity.vault.blobs_s3_errors import S3Failures

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

# S3 refuses a part smaller than 5 MiB unless it is the last one.
PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000  # S3's limit on the parts of one multipart upload
_TEMPORARY_PATH = re.compile(r"tmp/[0-9a-f]{32}")


class _Body(io.RawIOBase):
    """An object's body as a raw binary stream, failures while reading it included."""

    def __init__(self, body: StreamingBody, store: S3BlobStore, name: str) -> None:
        super().__init__()
        self._body = body
        self._store = store
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        target = memoryview(buffer).cast("B")
        with self._store.failures(f"read the blob {self._name}"):
            data = self._body.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _S3Writer:
    def __init__(self, store: S3BlobStore) -> None:
        self._store = store
        self._hash = hashlib.sha256()
        self._size = 0
        self._buffer = bytearray()
        self._temporary = store.temporary_key()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._temporary_stored = False
        self._open = False
        self._name: str | None = None

    def __enter__(self) -> Self:
        self._open = True
        return self

    def _require_open(self) -> None:
        if not self._open:
            raise BlobStoreError("This blob is not open for writing.")

    def write(self, data: bytes, /) -> int:
        self._require_open()
        try:
            self._append(data)
        except BaseException:
            # Some of these bytes may be hashed but not sent: the blob can only be discarded.
            self._open = False
            raise
        return len(data)

    def _append(self, data: bytes) -> None:
        part_size = self._store.part_size
        self._hash.update(data)
        self._size += len(data)
        rest = memoryview(data)
        while rest:
            # A full part is sent only once more bytes follow it: a blob of exactly one
            # part stays a single PutObject, and every multipart upload has a last part.
            if len(self._buffer) == part_size:
                if len(self._parts) + 1 >= MAX_PARTS:
                    raise BlobStoreError(
                        f"A blob in S3 has at most {MAX_PARTS} parts of {part_size} bytes; "
                        "this one is larger than that."
                    )
                self._send_part()
            room = part_size - len(self._buffer)
            self._buffer += rest[:room]
            rest = rest[room:]

    def _send_part(self) -> None:
        store = self._store
        with store.failures("write a blob"):
            if self._upload_id is None:
                started = store.client.create_multipart_upload(
                    Bucket=store.bucket, Key=self._temporary
                )
                self._upload_id = started["UploadId"]
            number = len(self._parts) + 1
            sent = store.client.upload_part(
                Bucket=store.bucket,
                Key=self._temporary,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=bytes(self._buffer),
            )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        self._buffer.clear()

    def commit(self) -> str:
        self._require_open()
        self._open = False  # one attempt: after a failure the blob can only be discarded
        store = self._store
        name = f"sha256/{self._hash.hexdigest()}"
        key = store.key_of(name)
        if store.stored_size(name) != self._size:  # not there yet (or damaged): store it
            self._store_as(name, key)
            stored = store.stored_size(name)
            if stored != self._size:
                raise BlobStoreError(
                    f"{store.where} holds {stored} bytes under {name} after it was written, "
                    f"not the {self._size} bytes written."
                )
        self._discard()
        self._name = name
        return name

    def _store_as(self, name: str, key: str) -> None:
        store = self._store
        with store.failures(f"write the blob {name}"):
            if self._upload_id is None:
                store.client.put_object(Bucket=store.bucket, Key=key, Body=bytes(self._buffer))
                return
            self._send_part()  # the last part: from one byte to a whole part
            store.client.complete_multipart_upload(
                Bucket=store.bucket,
                Key=self._temporary,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._upload_id = None
            self._temporary_stored = True
        with store.failures(f"copy the blob {name} into place"):
            # The managed copy: one CopyObject up to 8 MiB, a multipart copy above (a
            # single CopyObject stops at 5 GB).
            store.client.copy({"Bucket": store.bucket, "Key": self._temporary}, store.bucket, key)

    def _discard(self) -> None:
        """Abort the multipart upload and delete the temporary object, if there are any."""
        store = self._store
        if self._upload_id is not None:
            # An upload the store no longer knows (aborted already) leaves nothing to remove.
            with (
                contextlib.suppress(NotFound),
                store.failures("remove an unfinished blob", missing=self._temporary),
            ):
                store.client.abort_multipart_upload(
                    Bucket=store.bucket, Key=self._temporary, UploadId=self._upload_id
                )
            self._upload_id = None
        with store.failures("remove an unfinished blob"):
            if self._temporary_stored:
                store.client.delete_object(Bucket=store.bucket, Key=self._temporary)
                self._temporary_stored = False

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        if self._name is not None:
            return
        if exc is None:
            self._discard()
            return
        # The failure on its way out says more than one to clean up after it; what could
        # not be removed is left to the bucket's lifecycle rule.
        with contextlib.suppress(BlobStoreError):
            self._discard()


class S3BlobStore:
    """Blobs as objects of ``bucket``, under ``prefix``, through a boto3 S3 ``client``.

    ``part_size`` is the size of the parts of a multipart upload, and so the memory a
    writer holds; S3 requires at least 5 MiB (tests use smaller parts against a server
    configured for them).
    """

    def __init__(
        self, client: S3Client, bucket: str, prefix: str = "", *, part_size: int = PART_SIZE
    ) -> None:
        if part_size < 1:
            raise ValueError("part_size must be at least one byte")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        # ``with self.failures("do this"):`` turns botocore's errors into one-line ones.
        self.failures = S3Failures(client, bucket)
        self.endpoint = self.failures.endpoint
        self.where = self.failures.where

    @classmethod
    def connect(
        cls, bucket: str, prefix: str = "", *, endpoint_url: str | None, region: str | None
    ) -> S3BlobStore:
        """The store of ``bucket`` at Amazon S3 (``endpoint_url`` ``None``) or at another
        S3-compatible service, with credentials from boto3's standard sources."""
        config = Config(
            connect_timeout=10,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
            # Services other than Amazon's are often reached by an address or a name that
            # has no per-bucket subdomains.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        session = boto3.session.Session(region_name=region)
        return cls(session.client("s3", endpoint_url=endpoint_url, config=config), bucket, prefix)

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def key_of(self, name: str) -> str:
        return self._key(check_name(name))

    def temporary_key(self) -> str:
        return self._key(f"tmp/{secrets.token_hex(16)}")

    def stored_size(self, name: str) -> int | None:
        """The size of the object under ``name``, or ``None`` if there is none."""
        try:
            return self.size(name)
        except NotFound:
            return None

    def writer(self) -> BlobWriter:
        return _S3Writer(self)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        key = self.key_of(name)
        with self.failures(f"read the blob {name}", missing=name):
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        with io.BufferedReader(_Body(answer["Body"], self, name), READ_CHUNK) as stream:
            yield stream

    def exists(self, name: str) -> bool:
        return self.stored_size(name) is not None

    def size(self, name: str) -> int:
        key = self.key_of(name)
        with self.failures(f"look up the blob {name}", missing=name):
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]

    def check(self, name: str) -> bool:
        digest = hashlib.sha256()
        with self.open(name) as stream:
            while chunk := stream.read(READ_CHUNK):
                digest.update(chunk)
        return f"sha256/{digest.hexdigest()}" == name

    def delete(self, name: str) -> None:
        key = self.key_of(name)
        with self.failures(f"delete the blob {name}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def _path(self, key: str) -> str | None:
        """``key`` below the prefix, or ``None`` if it is not under it."""
        start = f"{self.prefix}/" if self.prefix else ""
        return key.removeprefix(start) if key.startswith(start) else None

    def inventory(self) -> Iterator[Stored]:
        pages = self.client.get_paginator("list_objects_v2")
        with self.failures("list the blobs"):
            for page in pages.paginate(Bucket=self.bucket, Prefix=self._key("")):
                for entry in page.get("Contents", []):
                    path = self._path(entry["Key"]) or ""
                    yield Stored(
                        key=entry["Key"],
                        name=path if BLOB_NAME.fullmatch(path) else None,
                        size=entry["Size"],
                        modified=entry["LastModified"],
                        temporary=_TEMPORARY_PATH.fullmatch(path) is not None,
                    )

    def discard(self, key: str) -> None:
        if not _TEMPORARY_PATH.fullmatch(self._path(key) or ""):
            raise BlobStoreError(f"{key!r} is not a temporary blob of this store.")
        with self.failures(f"delete the temporary object {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

"""Preparing large payloads for peer nodes (:func:`prepare_payload`), and what this
node keeps of the payloads it prepared; sending one is :mod:`comity.exchange.payload_send`.

Preparing encrypts a file once, streamed, with age to the X25519 keys of its recipients
(confirmed peers, :func:`~comity.exchange.trust.recipient_keys`), into
``<home>/exchange/outgoing/<payload id>/`` (:mod:`comity.exchange.payload_files`). The
same pass takes the plaintext's SHA-256 (age does), the ciphertext's SHA-256 and the
Merkle leaf hash of every chunk. The signed manifest names all of it, the plaintext's
SHA-256 and size only sealed to the recipients. With it comes the
:class:`~comity.exchange.envelope_format.Attachment` to put in the envelope that tells
the recipients about the payload: file name, plaintext size and SHA-256. One payload
goes to every recipient it names: the file is encrypted once, whatever their number.

Preparing is on this node's ledger (``exchange.payload.prepare``, digests and node ids
only) and in its audit trail. A failure leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comity.audit.services import record
from comity.db import utcnow
from comity.errors import NotFound
from comity.exchange import payload_files as files
from comity.exchange.envelope_fields import envelope_time
from comity.exchange.envelope_format import Attachment
from comity.exchange.key_ids import key_id
from comity.exchange.messaging import local_node_id
from comity.exchange.payload_format import (
    DEFAULT_CHUNK_SIZE,
    Contents,
    Manifest,
    SignedManifest,
    parse_manifest,
    sign_manifest,
)
from comity.exchange.trust import recipient_keys
from comity.identity.permissions import Actor, Permission, require
from comity.ledger import merkle
from comity.ledger.events import record_event
from comity.node import Node
from comity.vault.age import encrypt, encrypt_bytes
from comity.vault.age_keys import X25519Recipient

DEFAULT_LIFETIME = dt.timedelta(days=7)


@dataclass(frozen=True)
class Prepared:
    """A payload ready to send, and the attachment entry its envelope gives."""

    manifest: SignedManifest
    attachment: Attachment


class _ChunkDigests:
    """A writer that passes the ciphertext on and takes, as it goes, its SHA-256 and the
    Merkle leaf hash of each ``chunk_size`` piece (age's helper thread calls it, one
    write at a time)."""

    def __init__(self, out: Any, chunk_size: int) -> None:
        self._out = out
        self._chunk_size = chunk_size
        self._whole = hashlib.sha256()
        self._leaf = hashlib.sha256(merkle.LEAF_PREFIX)
        self._in_leaf = 0
        self.leaves: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._whole.update(data)
        self.size += len(data)
        view = memoryview(data)
        while view:
            piece = view[: self._chunk_size - self._in_leaf]
            self._leaf.update(piece)
            self._in_leaf += len(piece)
            view = view[len(piece) :]
            if self._in_leaf == self._chunk_size:
                self._end_leaf()
        return len(data)

    def _end_leaf(self) -> None:
        self.leaves.append(self._leaf.digest())
        self._leaf = hashlib.sha256(merkle.LEAF_PREFIX)
        self._in_leaf = 0

    def finish(self) -> str:
        """The ciphertext's SHA-256, once everything is written."""
        if self._in_leaf:
            self._end_leaf()
        return self._whole.hexdigest()


def _encrypt(
    source: Path, directory: Path, keys: list[X25519Recipient], chunk_size: int
) -> tuple[_ChunkDigests, str, Contents]:
    with source.open("rb") as reader, (directory / "data").open("xb") as out:
        digests = _ChunkDigests(out, chunk_size)
        result = encrypt(reader, digests, keys)
        out.flush()
        os.fsync(out.fileno())
    contents = Contents(sha256=result.plaintext_sha256.hex(), size=result.plaintext_size)
    return digests, digests.finish(), contents


def prepare_payload(
    node: Node,
    actor: Actor,
    source: Path,
    recipients: Sequence[str],
    *,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    now: dt.datetime | None = None,
) -> Prepared:
    """Encrypt ``source`` for ``recipients`` (confirmed peers) and make its manifest,
    valid for ``lifetime`` (see the module docstring); ``messages:send``. A failure
    leaves nothing behind."""
    require(actor, Permission.MESSAGES_SEND)
    created = envelope_time(now or utcnow(), "created_at")
    with node.uow() as uow:
        keys = recipient_keys(uow.session, recipients, now=created)
        me = local_node_id(uow.session)
    ordered = sorted(keys)
    age_keys = [X25519Recipient(keys[node_id].public_bytes_raw()) for node_id in ordered]
    payload_id = str(uuid.uuid4())
    final = files.outgoing_dir(node, payload_id)
    work = final.with_name(f".{payload_id}.part")
    work.mkdir(mode=0o700)
    try:
        digests, sha256, contents = _encrypt(source, work, age_keys, chunk_size)
        attachment = Attachment(name=source.name, size=contents.size, sha256=contents.sha256)
        signing_key = node.keys.signing_key()
        signed = sign_manifest(
            Manifest(
                payload_id=payload_id,
                sender=me,
                sender_key=key_id(signing_key.public_key()),
                recipients=tuple(ordered),
                size=digests.size,
                sha256=sha256,
                chunk_size=chunk_size,
                chunk_root=merkle.root(digests.leaves).hex(),
                contents=encrypt_bytes(contents.encode(), age_keys),
                created_at=created,
                expires_at=created + lifetime,
            ),
            signing_key,
        )
        files.write_durably(work / "manifest", signed.raw)
        files.write_durably(work / "leaves", b"".join(digests.leaves))
        files.sync_directory(work)
        os.replace(work, final)
        files.sync_directory(final.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    record_payload(
        node, actor, "exchange.payload.prepare", signed.manifest, {"recipients": ordered}
    )
    return Prepared(signed, attachment)


def record_payload(
    node: Node, actor: Actor, action: str, manifest: Manifest, data: dict[str, Any]
) -> None:
    with node.uow() as uow:
        record_event(
            uow.session,
            actor,
            action,
            subject_type="payload",
            subject_id=manifest.payload_id,
            digests={"sha256": manifest.sha256, "chunk_root": manifest.chunk_root},
            data={**data, "size": manifest.size},
        )
        record(
            uow.session,
            actor,
            action,
            target_type="payload",
            target_id=manifest.payload_id,
            detail={**data, "sha256": manifest.sha256, "size": manifest.size},
        )
        uow.commit()


def outgoing_leaves(node: Node, payload_id: str) -> list[bytes]:
    """The Merkle leaf hashes of the chunks of a payload this node prepared."""
    data = (files.outgoing_dir(node, payload_id) / "leaves").read_bytes()
    size = merkle.HASH_SIZE
    return [data[start : start + size] for start in range(0, len(data), size)]


def outgoing_manifest(node: Node, payload_id: str) -> SignedManifest:
    """The manifest of a payload this node prepared and still holds."""
    path = files.outgoing_dir(node, payload_id) / "manifest"
    try:
        return parse_manifest(path.read_bytes())
    except FileNotFoundError:
        raise NotFound(f"This node holds no prepared payload {payload_id!r}.") from None

"""What this node does with the payloads it received, beyond receiving them: opening one
for the attachment of an envelope that names it (:func:`open_payload`), and giving up
the ones whose manifest expired before they were complete (:func:`sweep_expired`).

A received payload is the age ciphertext, kept as it came in
``<home>/exchange/incoming/<sha256>`` (:mod:`comity.exchange.payload_files`); its
plaintext exists only where :func:`open_payload` writes it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import delete, select

from comity.audit.services import record
from comity.db import utcnow
from comity.errors import NotFound
from comity.exchange import payload_files as files
from comity.exchange.envelope_format import Attachment
from comity.exchange.payload_errors import PayloadReason, PayloadRejected
from comity.exchange.payload_format import DEFAULT_CLOCK_SKEW
from comity.exchange.payload_models import IncomingChunk, IncomingPayload, PayloadStatus
from comity.identity.permissions import Actor, Permission, require, system_actor
from comity.node import Node
from comity.vault.age import decrypt_file
from comity.vault.age_keys import X25519Identity


def sweep_expired(node: Node, *, now: dt.datetime | None = None) -> int:
    """Mark the payloads still receiving when their manifest expired (beyond the clock
    skew) as expired and remove their partial files; the number expired."""
    cutoff = (now or utcnow()) - DEFAULT_CLOCK_SKEW
    with node.uow() as uow:
        stale = list(
            uow.session.scalars(
                select(IncomingPayload).where(
                    IncomingPayload.status == PayloadStatus.RECEIVING,
                    IncomingPayload.expires_at < cutoff,
                )
            )
        )
        for row in stale:
            row.status = PayloadStatus.EXPIRED
            row.updated_at = utcnow()
            uow.session.execute(delete(IncomingChunk).where(IncomingChunk.payload_id == row.id))
            record(
                uow.session,
                system_actor("payload-sweep", ()),
                "exchange.payload.expire",
                target_type="payload",
                target_id=row.id,
                detail={"sha256": row.sha256, "size": row.size},
            )
        uow.commit()
    for row in stale:
        files.partial_path(node, row.id).unlink(missing_ok=True)
    return len(stale)


def open_payload(
    node: Node, actor: Actor, sender: str, attachment: Attachment, target: Path
) -> Path:
    """Decrypt the payload ``sender`` sent for ``attachment`` (an envelope's attachment
    entry) into ``target``, streamed, with this node's key; ``messages:read``.
    ``target`` appears only once the plaintext has authenticated and has the
    attachment's SHA-256 and size."""
    require(actor, Permission.MESSAGES_READ)
    with node.uow() as uow:
        row = uow.session.scalars(
            select(IncomingPayload)
            .where(
                IncomingPayload.sender == sender,
                IncomingPayload.content_sha256 == attachment.sha256,
                IncomingPayload.content_size == attachment.size,
                IncomingPayload.status == PayloadStatus.COMPLETE,
            )
            .order_by(IncomingPayload.completed_at)
        ).first()
    if row is None:
        raise NotFound(
            f"No complete payload from {sender} holds {attachment.name!r} "
            f"(SHA-256 {attachment.sha256}); it may still be on its way."
        )
    temporary = target.with_name(f".{target.name}.{row.id}.part")
    identity = X25519Identity(node.keys.encryption_key().private_bytes_raw())
    try:
        result = decrypt_file(files.incoming_path(node, row.sha256), temporary, [identity])
        found = (result.plaintext_sha256.hex(), result.plaintext_size)
        if found == (attachment.sha256, attachment.size):
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    if found != (attachment.sha256, attachment.size):
        raise PayloadRejected(
            PayloadReason.UNDECRYPTABLE,
            f"Payload {row.id} decrypts to a file of another SHA-256 or size than its "
            "sender announced; it was not kept.",
        )
    with node.uow() as uow:
        record(
            uow.session,
            actor,
            "exchange.payload.open",
            target_type="payload",
            target_id=row.id,
            detail={"sha256": attachment.sha256, "size": attachment.size},
        )
        uow.commit()
    return target

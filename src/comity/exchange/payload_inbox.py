"""Receiving large payloads from peer nodes: offers, chunks and completion.

A peer **offers** a payload by its signed manifest (:func:`receive_offer`). The manifest
is the authentication: it must come from a confirmed peer, with a key valid when it was
made, be addressed to this node, be current, and its sealed contents must open with this
node's key (:mod:`comity.exchange.payload_checks`). A first offer is recorded (a row, a
file of the payload's size with its space reserved, an audit event); a repeated one
changes nothing. Both answer where the payload stands — which chunks are still missing —
so that a sender that was interrupted, or restarted, resumes from there and needs to
remember nothing.

A **chunk** (:func:`receive_chunk`) needs no credential of its own: it is taken only if
its length and its Merkle inclusion proof match the signed manifest, so nobody but the
sender (or someone relaying its exact bytes) can add anything. Checked before a byte is
written, it is written at its offset and made durable, and only then is its row
committed; a chunk already held is not written again. Chunks may come in any order and
in parallel.

When the last chunk is held the payload is **completed**, once: the whole ciphertext's
SHA-256 is checked against the manifest, the file is renamed to
``<home>/exchange/incoming/<sha256>``, and the status, a ledger event
``exchange.payload.receive`` (digests only) and an audit event commit together. A
process stopped anywhere in this resumes it on the next offer or chunk. Offers,
completions and refusals are audited; chunks one by one are not. Opening a received
payload is :mod:`comity.exchange.payload_store`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from comity.audit.services import record, record_refusal
from comity.db import utcnow
from comity.errors import Conflict, NotFound
from comity.exchange import payload_files as files
from comity.exchange import payload_store
from comity.exchange.envelope_fields import UUID4
from comity.exchange.messaging import local_node_id
from comity.exchange.payload_checks import (
    check_chunk,
    decode_proof,
    open_contents,
    verify_manifest,
)
from comity.exchange.payload_digests import RunningDigests
from comity.exchange.payload_errors import ManifestConflict, PayloadRejected
from comity.exchange.payload_format import DEFAULT_CLOCK_SKEW, Contents, Manifest, parse_manifest
from comity.exchange.payload_models import IncomingChunk, IncomingPayload, PayloadStatus
from comity.exchange.trust import sender_keys
from comity.identity.permissions import Actor
from comity.ledger.events import record_event
from comity.node import Node


@dataclass(frozen=True)
class PayloadState:
    """Where a received payload stands; ``missing`` lists the chunks still to send as
    ranges ``(first, end)``, ``end`` excluded (``None`` when not asked for)."""

    payload_id: str
    status: str
    size: int
    chunk_size: int
    chunks: int
    held: int
    missing: tuple[tuple[int, int], ...] | None


def _ranges(numbers: list[int], chunks: int) -> tuple[tuple[int, int], ...]:
    """The ranges of ``0 … chunks - 1`` not in ``numbers`` (sorted)."""
    missing: list[tuple[int, int]] = []
    start = 0
    for number in [*numbers, chunks]:
        if number > start:
            missing.append((start, number))
        start = number + 1
    return tuple(missing)


def _of(
    row: IncomingPayload, held: int, missing: tuple[tuple[int, int], ...] | None
) -> PayloadState:
    return PayloadState(
        payload_id=row.id,
        status=row.status,
        size=row.size,
        chunk_size=row.chunk_size,
        chunks=row.chunks,
        held=held,
        missing=missing,
    )


def _state(node: Node, payload_id: str, *, missing: bool = True) -> PayloadState:
    with node.uow() as uow:
        row = uow.session.get(IncomingPayload, payload_id)
        if row is None:
            raise NotFound(f"This node holds no payload {payload_id!r}; offer its manifest.")
        if row.status != PayloadStatus.RECEIVING:
            held = row.chunks if row.status == PayloadStatus.COMPLETE else 0
            return _of(row, held, () if missing else None)
        if not missing:
            return _of(row, _count(uow.session, payload_id), None)
        numbers = uow.session.scalars(
            select(IncomingChunk.number)
            .where(IncomingChunk.payload_id == payload_id)
            .order_by(IncomingChunk.number)
        ).all()
    return _of(row, len(numbers), _ranges(list(numbers), row.chunks))


def payload_state(node: Node, payload_id: str) -> PayloadState:
    """Where the payload ``payload_id`` stands (a random UUID only its sender and
    recipients know)."""
    if not UUID4.match(payload_id):
        raise NotFound(f"{payload_id[:40]!r} is not a payload id.")
    return _state(node, payload_id)


def _peer(actor: Actor, sender: str) -> Actor:
    """The delivering peer as the audit trail names it (its address and agent kept)."""
    return dataclasses.replace(actor, label=f"peer:{sender}", via="peer")


def _verified(node: Node, actor: Actor, data: bytes, now: dt.datetime) -> tuple[Manifest, Contents]:
    """The manifest in ``data`` and its contents once every check passed; a refusal is
    audited."""
    try:
        signed = parse_manifest(data)
        with node.uow() as uow:
            me = local_node_id(uow.session)
            verify_manifest(signed, me=me, sender_keys=sender_keys(uow.session), now=now)
        contents = open_contents(signed.manifest, [node.keys.encryption_key()])
    except PayloadRejected as exc:
        record_refusal(
            node.sessions,
            actor,
            "exchange.payload.offer",
            detail={"reason": exc.reason.value, "message": exc.message[:300]},
        )
        raise
    return signed.manifest, contents


def receive_offer(
    node: Node, actor: Actor, data: bytes, *, now: dt.datetime | None = None
) -> PayloadState:
    """Take the offer of a payload by its signed manifest ``data`` (see the module
    docstring); the answer says which chunks to send. ``actor`` is whoever delivered it."""
    manifest, contents = _verified(node, actor, data, now or utcnow())
    payload_store.sweep_expired(node)
    payload_id = manifest.payload_id
    with node.uow() as uow:
        row = uow.session.get(IncomingPayload, payload_id)
    if row is not None:
        if row.manifest != data:
            raise ManifestConflict(
                f"This node holds another manifest for payload {payload_id}; a payload id "
                "names one payload only."
            )
        if row.status == PayloadStatus.RECEIVING:
            _complete_if_held(node, payload_id)
        return _state(node, payload_id)
    files.make_partial(files.partial_path(node, payload_id), manifest.size)
    try:
        with node.uow() as uow:
            uow.session.add(
                IncomingPayload(
                    id=payload_id,
                    sender=manifest.sender,
                    manifest=data,
                    size=manifest.size,
                    sha256=manifest.sha256,
                    chunk_size=manifest.chunk_size,
                    chunks=manifest.chunks,
                    content_sha256=contents.sha256,
                    content_size=contents.size,
                    expires_at=manifest.expires_at,
                )
            )
            record(
                uow.session,
                _peer(actor, manifest.sender),
                "exchange.payload.offer",
                target_type="payload",
                target_id=payload_id,
                detail={"sha256": manifest.sha256, "size": manifest.size},
            )
            uow.commit()
    except IntegrityError:
        # Offered twice at once: the other offer recorded it; answer as to a repeat.
        return receive_offer(node, actor, data, now=now)
    return _state(node, payload_id)


def _manifest(row: IncomingPayload) -> Manifest:
    """The stored manifest (checked when it was offered)."""
    return parse_manifest(row.manifest).manifest


def _open_row(
    node: Node, payload_id: str, number: int, now: dt.datetime
) -> tuple[IncomingPayload, bool]:
    """The payload's row, and whether chunk ``number`` of it is held."""
    with node.uow() as uow:
        row = uow.session.get(IncomingPayload, payload_id) if UUID4.match(payload_id) else None
        held = row is not None and uow.session.get(IncomingChunk, (payload_id, number)) is not None
    if row is None:
        raise NotFound(f"This node holds no payload {payload_id[:40]!r}; offer its manifest.")
    if row.status == PayloadStatus.EXPIRED or (
        row.status == PayloadStatus.RECEIVING and now - row.expires_at > DEFAULT_CLOCK_SKEW
    ):
        raise Conflict(
            f"Payload {payload_id} expired before it was complete; prepare and send it anew.",
            fields={"status": PayloadStatus.EXPIRED},
        )
    return row, held


def receive_chunk(
    node: Node,
    payload_id: str,
    number: int,
    data: bytes,
    proof: str,
    *,
    digests: RunningDigests | None = None,
    now: dt.datetime | None = None,
) -> PayloadState:
    """Take chunk ``number`` of an offered payload, with its inclusion ``proof`` (the
    ``Comity-Chunk-Proof`` header), as the module docstring says; a refused chunk
    changes nothing. ``digests`` takes the payload's SHA-256 as chunks arrive (the web
    app's). The answer gives the payload's status and how many chunks are held, not
    which (an offer or the status says that)."""
    row, held = _open_row(node, payload_id, number, now or utcnow())
    if row.status != PayloadStatus.RECEIVING or held:
        return _state(node, payload_id, missing=False)
    manifest = _manifest(row)
    if not 0 <= number < manifest.chunks:
        raise NotFound(f"Payload {payload_id} has chunks 0 to {manifest.chunks - 1}.")
    check_chunk(manifest, number, data, decode_proof(proof))
    offset, _ = manifest.chunk_span(number)
    partial = files.partial_path(node, payload_id)
    try:
        with files.locked(partial, exclusive=False) as descriptor:
            files.write_at(descriptor, offset, data)
            count = _record_chunk(node, payload_id, number)
            if digests is not None:
                digests.add(manifest, number, data, descriptor)
    except FileNotFoundError:
        # Completed by another request meanwhile (renamed under an exclusive lock).
        return _state(node, payload_id, missing=False)
    status = row.status
    if count == row.chunks:
        status = _complete_if_held(node, payload_id, digests)
    return dataclasses.replace(_of(row, count, missing=None), status=status)


def _record_chunk(node: Node, payload_id: str, number: int) -> int:
    """Record chunk ``number`` as held, once its bytes are durable; how many are held.
    The payload's row is locked first, so that no chunk is recorded after completion."""
    with node.uow() as uow:
        status = uow.session.scalar(
            select(IncomingPayload.status).where(IncomingPayload.id == payload_id).with_for_update()
        )
        if status == PayloadStatus.RECEIVING:
            exists = uow.session.get(IncomingChunk, (payload_id, number)) is not None
            if not exists:  # else the same chunk came twice at once: the same bytes
                uow.session.add(IncomingChunk(payload_id=payload_id, number=number))
                uow.session.flush()
        count = _count(uow.session, payload_id)
        uow.commit()
    return count


def _count(session: Session, payload_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(IncomingChunk)
            .where(IncomingChunk.payload_id == payload_id)
        )
        or 0
    )


def _complete_if_held(node: Node, payload_id: str, digests: RunningDigests | None = None) -> str:
    """Complete the payload if every chunk is held and it is not complete yet; the
    payload's status then."""
    with node.uow() as uow:
        row = uow.session.get(IncomingPayload, payload_id)
        held = _count(uow.session, payload_id)
    if row is None or row.status != PayloadStatus.RECEIVING or held < row.chunks:
        return row.status if row is not None else PayloadStatus.RECEIVING
    partial = files.partial_path(node, payload_id)
    target = files.incoming_path(node, row.sha256)
    try:
        with files.locked(partial, exclusive=True) as descriptor:
            taken = digests.take(payload_id, row.chunks) if digests is not None else None
            _complete(node, row, descriptor, partial, target, digest=taken)
    except FileNotFoundError:
        # Renamed by an earlier completion that stopped before it was recorded (or by
        # one that is recording it now): the file in place is checked again.
        with files.locked(target, exclusive=True) as descriptor:
            _complete(node, row, descriptor, None, target, digest=None)
    return PayloadStatus.COMPLETE


def _complete(
    node: Node,
    row: IncomingPayload,
    descriptor: int,
    partial: Path | None,
    target: Path,
    *,
    digest: str | None,
) -> None:
    """Under the exclusive lock: check the whole ciphertext (``digest``, taken as the
    chunks arrived, or read through now), put it in place and record it, once."""
    with node.uow() as uow:
        status = uow.session.scalar(
            select(IncomingPayload.status).where(IncomingPayload.id == row.id)
        )
    if status != PayloadStatus.RECEIVING:
        return
    if (digest or files.file_sha256(descriptor)) != row.sha256:
        # Every chunk was checked before it was written, so only a damaged disk (or a
        # file changed behind the node's back) gets here: receive it all again.
        with node.uow() as uow:
            uow.session.execute(delete(IncomingChunk).where(IncomingChunk.payload_id == row.id))
            uow.commit()
        raise Conflict(
            f"Payload {row.id} does not have the SHA-256 its manifest gives although every "
            "chunk matched; its chunks were dropped, send them again.",
            fields={"status": "damaged"},
        )
    if partial is not None:
        files.move_into_place(partial, target)
    with node.uow() as uow:
        moved = uow.session.execute(
            update(IncomingPayload)
            .where(IncomingPayload.id == row.id, IncomingPayload.status == PayloadStatus.RECEIVING)
            .values(status=PayloadStatus.COMPLETE, completed_at=utcnow(), updated_at=utcnow())
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return  # recorded by a completion that ran meanwhile
        peer = Actor(label=f"peer:{row.sender}", via="peer")
        digests = {"sha256": row.sha256}
        record_event(
            uow.session,
            peer,
            "exchange.payload.receive",
            subject_type="payload",
            subject_id=row.id,
            digests=digests,
            data={"sender": row.sender, "size": row.size},
        )
        record(
            uow.session,
            peer,
            "exchange.payload.receive",
            target_type="payload",
            target_id=row.id,
            detail={"sha256": row.sha256, "size": row.size},
        )
        uow.session.execute(delete(IncomingChunk).where(IncomingChunk.payload_id == row.id))
        uow.commit()

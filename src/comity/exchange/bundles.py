"""The offline route: messages carried between nodes as bundle files (``comity messages
export`` and ``import``) where no network joins them — an air-gapped office, a country
whose connection is cut. The format is :mod:`comity.exchange.bundle_format`.

- :func:`export_bundle` puts in a bundle, signed by this node, the envelopes waiting for
  one peer: the deliveries queued, and those accepted there but not yet delivered, as a
  delivery round posts them. Their deliveries do not change: they stay due over the
  network too, and whichever route brings a receipt first moves them on; the other
  route's answer is then a repeat. The export is audited and on the ledger with the
  bundle's SHA-256 and the messages it holds.
- :func:`import_bundle` refuses a bundle whole — nothing inside looked at, nothing
  changed — unless its form, its items' digests and its signature by a peer on the trust
  list hold and it is addressed to this node. Then, for an **envelopes** bundle, each
  envelope goes through :func:`~comity.exchange.inbox.receive_envelope`, exactly as if
  it had been posted to the envelope route (same checks, receipts, records; a repeat is
  answered with the receipts given then), and the answers travel back in a reply bundle
  of kind **answers**; for an answers bundle, each answer is recorded as the delivery
  round records an HTTP answer (:func:`~comity.exchange.delivery.record_answer`). A
  bundle's import is audited and on the ledger once, however often it is imported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from comity.audit.models import AuditEvent
from comity.audit.services import record
from comity.db import utcnow
from comity.errors import Conflict, NotFound
from comity.exchange.bundle_format import (
    FORMAT,
    MAGIC,
    MAX_BUNDLE_BYTES,
    MAX_ITEMS,
    MAX_MANIFEST_BYTES,
    Answer,
    Bundle,
    BundleInvalid,
    BundleKind,
    make_bundle,
    parse_answer,
    parse_bundle,
    verify_bundle,
)
from comity.exchange.delivery import POLL_FOR, Attempt, record_answer
from comity.exchange.envelope import SenderStatus
from comity.exchange.inbox import Received, as_answer, receive_envelope
from comity.exchange.message_models import (
    DeliveryState,
    ExchangeDelivery,
    ExchangeOutboxMessage,
)
from comity.exchange.messaging import local_node_id
from comity.exchange.models import ExchangePeer, PeerStatus
from comity.exchange.receipts import envelope_digest
from comity.exchange.transport import PostAnswer
from comity.exchange.trust import sender_keys
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.events import JsonValue, record_event
from comity.node import Node

EXPORT_ACTION = "messages.bundle.export"
IMPORT_ACTION = "messages.bundle.import"
_ROOM = MAX_BUNDLE_BYTES - len(MAGIC) - 4 - MAX_MANIFEST_BYTES
"""What the envelopes of one bundle may weigh together, whatever its manifest's size."""


@dataclass(frozen=True)
class Exported:
    """A bundle made for ``recipient``: its bytes, its SHA-256, the messages in it, and
    how many more deliveries wait that did not fit (for the next bundle)."""

    data: bytes
    sha256: str
    recipient: str
    message_ids: tuple[str, ...]
    left: int


@dataclass(frozen=True)
class Imported:
    """What a bundle brought. For an envelopes bundle: the answer to each envelope and
    the reply bundle to carry back. For an answers bundle: each delivery after its
    answer, and the digests of envelopes answered that this node did not send to the
    bundle's node. ``first`` is false when the same bundle was imported before."""

    kind: BundleKind
    sha256: str
    sender: str
    first: bool
    received: tuple[Received, ...] = ()
    reply: bytes = b""
    attempts: tuple[Attempt, ...] = ()
    unmatched: tuple[str, ...] = ()


def _peer_for_export(session: Session, node_id: str) -> None:
    peer = session.get(ExchangePeer, node_id)
    if peer is None:
        raise NotFound(f"{node_id!r} is not a peer of this node; 'comity peers list'.")
    if peer.status != PeerStatus.CONFIRMED:
        raise Conflict(f"The peer {node_id} is {peer.status}; messages go only to confirmed peers.")


def _waiting(session: Session, recipient: str, now: dt.datetime) -> list[tuple[str, int]]:
    """The messages waiting for ``recipient``, oldest first, with their envelopes' sizes:
    queued within their deadline, or accepted there and still worth posting again."""
    rows = session.execute(
        select(ExchangeOutboxMessage.message_id, func.length(ExchangeOutboxMessage.envelope))
        .join(ExchangeDelivery, ExchangeDelivery.message_id == ExchangeOutboxMessage.message_id)
        .where(
            ExchangeDelivery.recipient == recipient,
            or_(
                and_(
                    ExchangeDelivery.state == DeliveryState.QUEUED,
                    ExchangeDelivery.deadline > now,
                ),
                and_(
                    ExchangeDelivery.state == DeliveryState.ACCEPTED,
                    ExchangeOutboxMessage.created_at >= now - POLL_FOR,
                ),
            ),
        )
        .order_by(
            ExchangeOutboxMessage.created_at,
            ExchangeOutboxMessage.sequence,
            ExchangeOutboxMessage.message_id,
        )
    ).all()
    return [(message_id, size) for message_id, size in rows]


def export_bundle(
    node: Node,
    actor: Actor,
    recipient: str,
    *,
    save: Callable[[bytes], object],
    now: dt.datetime | None = None,
) -> Exported:
    """Make the bundle of the messages waiting for ``recipient`` (see the module), hand
    it to ``save`` (which writes it out), then record the export. Nothing is recorded if
    ``save`` raises. At most :data:`MAX_ITEMS` envelopes and :data:`MAX_BUNDLE_BYTES`:
    what does not fit is counted in :attr:`Exported.left`, for another bundle."""
    require(actor, Permission.MESSAGES_MANAGE)
    moment = now or utcnow()
    with node.uow() as uow:
        session = uow.session
        _peer_for_export(session, recipient)
        waiting = _waiting(session, recipient, moment)
        chosen: list[str] = []
        weight = 0
        for message_id, size in waiting:
            if len(chosen) == MAX_ITEMS or weight + size > _ROOM:
                break
            chosen.append(message_id)
            weight += size
        if not chosen:
            raise Conflict(f"No message waits for {recipient}; no bundle was written.")
        envelopes = [session.get_one(ExchangeOutboxMessage, m).envelope for m in chosen]
        me = local_node_id(session)
    data = make_bundle(
        node.keys.signing_key(),
        BundleKind.ENVELOPES,
        sender=me,
        recipient=recipient,
        created=moment,
        items=envelopes,
    )
    exported = Exported(
        data, envelope_digest(data), recipient, tuple(chosen), len(waiting) - len(chosen)
    )
    save(data)
    with node.uow() as uow:
        _record_bundle(
            uow.session,
            actor,
            EXPORT_ACTION,
            exported.sha256,
            {"to": recipient, "bytes": len(data), "messages": list(exported.message_ids)},
        )
        uow.commit()
    return exported


def _record_bundle(
    session: Session, actor: Actor, action: str, sha256: str, data: dict[str, JsonValue]
) -> None:
    detail = {"bundle": sha256, **data}
    record(session, actor, action, target_type="bundle", target_id=sha256, detail=detail)
    record_event(
        session,
        actor,
        "exchange." + action.removeprefix("messages."),
        subject_type="bundle",
        subject_id=sha256,
        digests={"bundle": sha256},
        data=detail,
    )


def check_bundle(node: Node, data: bytes) -> Bundle:
    """The bundle, once its form, its items' digests, its addressing to this node and
    its signature by a confirmed (or suspended) peer hold; :class:`BundleInvalid`
    otherwise, before anything inside it is looked at."""
    bundle = parse_bundle(data)
    manifest = bundle.manifest
    with node.uow() as uow:
        me = local_node_id(uow.session)
        sender = sender_keys(uow.session)(manifest.sender)
    if manifest.recipient != me:
        raise BundleInvalid(
            f"This bundle is for {manifest.recipient}, not for this node ({me}).",
            fields={"to": manifest.recipient},
        )
    if sender.status not in (SenderStatus.CONFIRMED, SenderStatus.SUSPENDED):
        raise BundleInvalid(
            f"The bundle comes from {manifest.sender}, which is {sender.status.value} here; "
            "only a peer's bundles are taken.",
            fields={"from": manifest.sender},
        )
    verify_bundle(bundle, sender.keys)
    return bundle


def _first_import(node: Node, actor: Actor, bundle: Bundle) -> bool:
    """Record the bundle's import unless it was imported before; whether it is new."""
    with node.uow() as uow:
        seen = uow.session.scalars(
            select(AuditEvent.id).where(
                AuditEvent.action == IMPORT_ACTION,
                AuditEvent.target_type == "bundle",
                AuditEvent.target_id == bundle.sha256,
            )
        ).first()
        if seen is not None:
            return False
        manifest = bundle.manifest
        _record_bundle(
            uow.session,
            actor,
            IMPORT_ACTION,
            bundle.sha256,
            {"from": manifest.sender, "kind": manifest.kind.value, "items": len(bundle.items)},
        )
        uow.commit()
    return True


def _receive_all(node: Node, bundle: Bundle, first: bool, now: dt.datetime) -> Imported:
    received = tuple(
        receive_envelope(node, item, user_agent=f"{FORMAT} {bundle.sha256}", now=now)
        for item in bundle.items
    )
    answers = [
        Answer(envelope_digest(item), answer.status, answer.body)
        for item, answer in zip(bundle.items, map(as_answer, received), strict=True)
    ]
    reply = make_bundle(
        node.keys.signing_key(),
        BundleKind.ANSWERS,
        sender=bundle.manifest.recipient,
        recipient=bundle.manifest.sender,
        created=now,
        items=[answer.encode() for answer in answers],
    )
    return Imported(
        BundleKind.ENVELOPES, bundle.sha256, bundle.manifest.sender, first, received, reply
    )


def _delivery_for(node: Node, envelope_sha256: str, recipient: str) -> int | None:
    with node.uow() as uow:
        return uow.session.scalars(
            select(ExchangeDelivery.id)
            .join(
                ExchangeOutboxMessage,
                ExchangeOutboxMessage.message_id == ExchangeDelivery.message_id,
            )
            .where(
                ExchangeOutboxMessage.envelope_sha256 == envelope_sha256,
                ExchangeDelivery.recipient == recipient,
            )
        ).first()


def import_bundle(
    node: Node, actor: Actor, data: bytes, *, now: dt.datetime | None = None
) -> Imported:
    """Import a bundle of either kind (see the module). Raises :class:`BundleInvalid`,
    having changed nothing, for a bundle refused whole."""
    require(actor, Permission.MESSAGES_MANAGE)
    moment = now or utcnow()
    bundle = check_bundle(node, data)
    sender = bundle.manifest.sender
    if bundle.manifest.kind is BundleKind.ENVELOPES:
        return _receive_all(node, bundle, _first_import(node, actor, bundle), moment)
    answers = [parse_answer(item) for item in bundle.items]
    first = _first_import(node, actor, bundle)
    attempts: list[Attempt] = []
    unmatched: list[str] = []
    for answer in answers:
        delivery_id = _delivery_for(node, answer.envelope_sha256, sender)
        if delivery_id is None:
            unmatched.append(answer.envelope_sha256)
            continue
        posted = PostAnswer(answer.status, answer.body)
        attempts.append(record_answer(node, actor, delivery_id, posted, now=moment))
    return Imported(
        BundleKind.ANSWERS,
        bundle.sha256,
        sender,
        first,
        attempts=tuple(attempts),
        unmatched=tuple(unmatched),
    )

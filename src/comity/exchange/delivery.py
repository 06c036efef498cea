"""Delivery rounds: posting what the outbox holds to its recipients, and recording what
comes back. :func:`deliver_due` is what ``comity messages deliver`` and the timer of
``comity serve`` (:mod:`comity.exchange.schedule`) run. Each step is its own unit of work,
and no transaction is open while a peer answers:

1. **End what can no longer succeed**: a delivery with no acceptance by its deadline (the
   receipt timeout, or the envelope's expiry if sooner) fails with ``no_receipt``; one to
   a peer revoked since fails with ``recipient_revoked``. Final, audited, on the ledger.
   The inbox's stale holds are released too (:func:`~comity.exchange.inbox.release_stale_holds`).
2. **Claim the due deliveries** (queued or accepted, next attempt due, recipient
   confirmed): the attempt is counted and the next one set by back-off *before* anything
   is posted, so that a node stopping mid-post posts once more later — the receiver
   answers a repeat with the receipts it gave — and never loses a delivery.
3. **Post and record**: each envelope goes to the recipient's endpoint, one after another
   in the order claimed (a thread of their own posts them); the receipts in the answers
   are verified and stored (:func:`~comity.exchange.outbox.apply_receipt`) meanwhile, the
   answers that came back during one unit of work in the next. A
   signed rejection ends the delivery; an unreachable peer, an unsigned refusal (a peer
   that has not confirmed us yet, say) or an answer without a valid receipt is noted and
   tried again.

A delivery the receiver accepted but holds (a message before it is missing there) is
posted again on the same back-off, until the receiver's delivery receipt comes back, and
at most until the receiver would give up waiting (30 days and a day after it was sent).

Back-off: 30 seconds, doubled at each attempt up to an hour, times a random factor from
0.5 to 1, so that the deliveries held up by a peer that comes back do not all go at once.
"""

from __future__ import annotations

import datetime as dt
import queue
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from comity.db import utcnow
from comity.errors import PeerUnreachable
from comity.exchange.envelope_format import MAX_LIFETIME
from comity.exchange.inbox_order import release_stale_holds
from comity.exchange.message_models import DeliveryState, ExchangeDelivery, ExchangeOutboxMessage
from comity.exchange.models import ExchangePeer, PeerStatus
from comity.exchange.outbox import fail_delivery
from comity.exchange.outbox_receipts import apply_receipt
from comity.exchange.receipts import ReceiptInvalid
from comity.exchange.transport import EnvelopeTransport, PostAnswer, envelopes_url
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node

BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)
ROUND_SIZE = 100
POLL_FOR = MAX_LIFETIME + dt.timedelta(days=1)
PRELOAD_BYTES = 8 * 1024 * 1024
"""Envelopes of a round read with its claims, up to this many bytes; the others are read
one at a time when their turn comes."""
NO_RECEIPT = "no_receipt"
RECIPIENT_REVOKED = "recipient_revoked"


def backoff(attempts: int, jitter: float) -> dt.timedelta:
    """The wait after ``attempts`` attempts; ``jitter`` is drawn from [0, 1)."""
    delay: dt.timedelta = min(MAX_DELAY, BASE_DELAY * 2 ** min(attempts - 1, 16))
    return delay * (0.5 + jitter / 2)


@dataclass(frozen=True)
class Attempt:
    """One post of a round, and the delivery's state after it."""

    message_id: str
    recipient: str
    state: str
    error: str = ""


@dataclass(frozen=True)
class Ended:
    message_id: str
    recipient: str
    failure: str


@dataclass(frozen=True)
class DeliveryRound:
    ended: tuple[Ended, ...]
    attempts: tuple[Attempt, ...]
    holds_released: int


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    message_id: str
    recipient: str
    url: str
    envelope: bytes | None = field(default=None, repr=False)


def _end_hopeless(node: Node, actor: Actor, now: dt.datetime) -> list[Ended]:
    ended: list[Ended] = []
    with node.uow() as uow:
        session = uow.session
        rows = session.execute(
            select(ExchangeDelivery, ExchangePeer.status)
            .join(ExchangePeer, ExchangePeer.node_id == ExchangeDelivery.recipient)
            .where(
                ExchangeDelivery.state == DeliveryState.QUEUED,
                or_(ExchangeDelivery.deadline <= now, ExchangePeer.status == PeerStatus.REVOKED),
            )
            .order_by(ExchangeDelivery.id)
        ).all()
        for delivery, status in rows:
            if status == PeerStatus.REVOKED:
                failure = RECIPIENT_REVOKED
                explanation = (
                    f"{delivery.recipient} was revoked here before it accepted the message."
                )
            else:
                failure = NO_RECEIPT
                explanation = (
                    f"No acceptance receipt from {delivery.recipient} by "
                    f"{delivery.deadline:%Y-%m-%d %H:%M} UTC"
                    + (f"; last error: {delivery.last_error}" if delivery.last_error else ".")
                )
            fail_delivery(
                session, actor, delivery, failure=failure, explanation=explanation, now=now
            )
            ended.append(Ended(delivery.message_id, delivery.recipient, failure))
        uow.commit()
    return ended


def _claim(node: Node, now: dt.datetime, jitter: Callable[[], float]) -> list[_Claim]:
    claims: list[_Claim] = []
    with node.uow() as uow:
        rows = uow.session.execute(
            select(
                ExchangeDelivery,
                ExchangePeer.endpoint,
                ExchangeOutboxMessage.created_at,
                func.length(ExchangeOutboxMessage.envelope),
            )
            .join(ExchangePeer, ExchangePeer.node_id == ExchangeDelivery.recipient)
            .join(
                ExchangeOutboxMessage,
                ExchangeOutboxMessage.message_id == ExchangeDelivery.message_id,
            )
            .where(
                ExchangeDelivery.state.in_([DeliveryState.QUEUED, DeliveryState.ACCEPTED]),
                ExchangeDelivery.next_attempt_at <= now,
                ExchangePeer.status == PeerStatus.CONFIRMED,
            )
            .order_by(ExchangeDelivery.next_attempt_at, ExchangeDelivery.id)
            .limit(ROUND_SIZE)
            .with_for_update(skip_locked=True, of=ExchangeDelivery)
        ).all()
        budget = PRELOAD_BYTES
        preload: set[str] = set()
        for delivery, endpoint, created_at, size in rows:
            if delivery.state == DeliveryState.ACCEPTED and now - created_at > POLL_FOR:
                delivery.next_attempt_at = None
                continue
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.next_attempt_at = now + backoff(delivery.attempts, jitter())
            claims.append(
                _Claim(
                    delivery.id, delivery.message_id, delivery.recipient, envelopes_url(endpoint)
                )
            )
            if delivery.message_id not in preload and (size or 0) <= budget:
                preload.add(delivery.message_id)
                budget -= size or 0
        envelopes = {
            row.message_id: row.envelope
            for row in uow.session.execute(
                select(ExchangeOutboxMessage.message_id, ExchangeOutboxMessage.envelope).where(
                    ExchangeOutboxMessage.message_id.in_(preload)
                )
            )
        }
        uow.commit()
    return [
        _Claim(
            claim.delivery_id,
            claim.message_id,
            claim.recipient,
            claim.url,
            envelopes.get(claim.message_id),
        )
        for claim in claims
    ]


def _refusal(answer: PostAnswer, recipient: str) -> str:
    reason = (
        answer.body.get("fields", {}).get("reason", "")
        if isinstance(answer.body.get("fields"), dict)
        else ""
    )
    message = answer.body.get("message", "")
    text = f"{recipient} refused it (HTTP {answer.status}"
    text += f", {reason})" if isinstance(reason, str) and reason else ")"
    if isinstance(message, str) and message:
        text += f": {' '.join(message.split())[:300]}"
    return text


def _record(
    session: Session, actor: Actor, delivery_id: int, answer: PostAnswer, *, now: dt.datetime
) -> Attempt:
    raws = answer.body.get("receipts")
    problems: list[str] = []
    delivery = session.get_one(ExchangeDelivery, delivery_id)
    recipient = delivery.recipient
    for raw in raws if isinstance(raws, list) else []:
        if not isinstance(raw, str):
            problems.append("a receipt that is not a string")
            continue
        try:
            apply_receipt(session, actor, raw.encode("utf-8"), receiver=recipient, now=now)
        except ReceiptInvalid as exc:
            problems.append(exc.message)
    error = ""
    if delivery.state == DeliveryState.QUEUED:
        if answer.status >= 400:
            error = _refusal(answer, recipient)
        else:
            error = f"{recipient} answered without a valid acceptance receipt"
        if problems:
            error += " (" + "; ".join(problems)[:500] + ")"
        delivery.last_error = error
    return Attempt(delivery.message_id, recipient, delivery.state, error)


def record_answer(
    node: Node, actor: Actor, delivery_id: int, answer: PostAnswer, *, now: dt.datetime
) -> Attempt:
    """Record a recipient's answer to a delivery's envelope, in one unit of work: the
    receipts it carries verified and stored (:func:`apply_receipt`), and the reason noted
    if the delivery is still queued after them. An answer over HTTP, or carried back in a
    reply bundle (:mod:`comity.exchange.bundles`): both are recorded the same way."""
    with node.uow() as uow:
        attempt = _record(uow.session, actor, delivery_id, answer, now=now)
        uow.commit()
        return attempt


def _note_error(session: Session, claim: _Claim, error: str) -> Attempt:
    delivery = session.get_one(ExchangeDelivery, claim.delivery_id)
    delivery.last_error = error
    return Attempt(claim.message_id, claim.recipient, delivery.state, error)


def _post(node: Node, transport: EnvelopeTransport, claim: _Claim) -> PostAnswer | str:
    """The recipient's answer to the claim's envelope, or why it could not be posted."""
    envelope = claim.envelope
    if envelope is None:
        with node.uow() as uow:
            envelope = uow.session.get_one(ExchangeOutboxMessage, claim.message_id).envelope
    try:
        return transport.post_envelope(claim.url, envelope)
    except PeerUnreachable as exc:
        return exc.message


def _record_answers(
    node: Node, actor: Actor, posted: Sequence[tuple[_Claim, PostAnswer | str]], now: dt.datetime
) -> list[Attempt]:
    """Answers of a round, recorded in one unit of work. A stop before it commits loses
    nothing: the deliveries were claimed, so they are posted again later, and the
    receiver answers a repeat with the receipts it gave."""
    if not posted:
        return []
    with node.uow() as uow:
        session = uow.session
        attempts = [
            _note_error(session, claim, outcome)
            if isinstance(outcome, str)
            else _record(session, actor, claim.delivery_id, outcome, now=now)
            for claim, outcome in posted
        ]
        uow.commit()
    return attempts


_Posted = tuple[_Claim, PostAnswer | str] | BaseException | None


def _post_all(
    node: Node,
    transport: EnvelopeTransport,
    claims: Sequence[_Claim],
    answers: queue.SimpleQueue[_Posted],
    stop: threading.Event,
) -> None:
    """Post the claims one after another, in order, handing on each answer; then None,
    or what went wrong."""
    try:
        for claim in claims:
            if stop.is_set():
                break
            answers.put((claim, _post(node, transport, claim)))
    except BaseException as exc:  # noqa: BLE001 - handed to the round, which raises it
        answers.put(exc)
    else:
        answers.put(None)


def _post_and_record(
    node: Node,
    actor: Actor,
    transport: EnvelopeTransport,
    claims: Sequence[_Claim],
    now: dt.datetime,
) -> list[Attempt]:
    """Post the claims in order (in a thread of their own) while the answers already back
    are recorded, a unit of work for those that came during the last one: the receiver
    checks an envelope while the sender records the answer to the one before."""
    if not claims:
        return []
    answers: queue.SimpleQueue[_Posted] = queue.SimpleQueue()
    stop = threading.Event()
    poster = threading.Thread(
        target=_post_all,
        args=(node, transport, claims, answers, stop),
        name="comity-delivery-posts",
        daemon=True,
    )
    poster.start()
    attempts: list[Attempt] = []
    try:
        while True:
            batch = [answers.get()]
            while not answers.empty():
                batch.append(answers.get())
            posted = [item for item in batch if isinstance(item, tuple)]
            attempts += _record_answers(node, actor, posted, now)
            for item in batch:
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    return attempts
    finally:
        stop.set()
        poster.join()


def deliver_due(
    node: Node,
    actor: Actor,
    transport: EnvelopeTransport,
    *,
    now: dt.datetime | None = None,
    jitter: Callable[[], float] = random.random,
) -> DeliveryRound:
    """One delivery round (see the module); what it ended and what it posted."""
    require(actor, Permission.MESSAGES_MANAGE)
    moment = now or utcnow()
    ended = _end_hopeless(node, actor, moment)
    released = release_stale_holds(node, actor, now=moment)
    attempts = _post_and_record(node, actor, transport, _claim(node, moment, jitter), moment)
    return DeliveryRound(tuple(ended), tuple(attempts), released)

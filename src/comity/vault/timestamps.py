"""RFC 3161 time-stamps over evidence items: optional, on when ``COMITY_VAULT_TIMESTAMPS``
is set, by the authority of ``COMITY_TSA_URL`` whose tokens must chain to the roots of
``COMITY_TSA_CA_FILE`` (see ``docs/evidence.md``).

A token's message imprint is the item's plaintext SHA-256, the one taken at ingest in
the same pass as the encryption: the authority never sees the file, and whoever holds
the file can check the token without Comity (``openssl ts -verify -data FILE -in TOKEN
-token_in -CAfile ROOT``). The protocol and the checks are those of the checkpoints'
time-stamps (:func:`comity.ledger.timestamping.request_digest_token`, over
:mod:`comity.ledger.rfc3161`, asked in turn by
:func:`comity.ledger.timestamping.stamp_in_turn`): an answer is kept only once it is
granted, carries the request's nonce and the item's SHA-256, and chains to the roots.

**When.** :func:`stamp_new_item` runs once an item is committed (``add_file`` calls it
for each item it creates), never inside a database transaction. The verified token is
then stored in one unit of work with everything that records it: the row of
``vault_item_timestamps``, the custody row ``timestamped``, the ledger event
``evidence.timestamped`` (the item's SHA-256, the token's SHA-256, the authority and its
``genTime``) and an audit record ``evidence.timestamp``. An authority that cannot be
reached, or answers with anything that does not verify, never undoes or fails the
ingest: the failure is audited (``evidence.timestamp``, outcome ``failure``) and the item
waits without a token for :func:`timestamp_pending_items` — run by
``comity evidence timestamp`` and by the checkpoint duty of ``comity serve`` — which asks
for the items without a token, oldest first (so that none waits for ever behind newer
ones), at most :data:`MAX_PER_RUN` a run; the first failure ends a run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record, record_refusal
from comity.errors import ComityError, ConfigurationError, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger import rfc3161
from comity.ledger.events import record_event
from comity.ledger.timestamping import Progress, Run, request_digest_token, stamp_in_turn
from comity.node import Node
from comity.vault.access import require_recorded
from comity.vault.models import VaultCustody, VaultItem, VaultItemTimestamp, VaultTombstone

MAX_PER_RUN = 100
ACTION = "evidence.timestamp"
NOT_ON = (
    "Time-stamping of evidence is off: set COMITY_VAULT_TIMESTAMPS=true, with COMITY_TSA_URL "
    "and COMITY_TSA_CA_FILE naming the RFC 3161 authority (see docs/evidence.md)."
)


@dataclass(frozen=True)
class ItemStamp:
    """A token kept for an item, and the ledger entry that records it."""

    item_id: str
    authority: str
    gen_time: dt.datetime
    token: bytes
    ledger_index: int


@dataclass(frozen=True)
class ItemStampFailure:
    """Why an item was not time-stamped (it stays pending)."""

    item_id: str
    authority: str
    error: ComityError


@dataclass(frozen=True)
class ItemStampRun(Run[ItemStamp, ItemStampFailure]):
    """A run over the items without a token, oldest first."""


def item_tokens(session: Session, item_id: str) -> list[tuple[VaultItemTimestamp, int | None]]:
    """The tokens kept for an item, oldest first, each with the ledger index of the event
    that recorded it (``None`` only if its custody row is missing: damage)."""
    rows = session.scalars(
        select(VaultItemTimestamp)
        .where(VaultItemTimestamp.item_id == item_id)
        .order_by(VaultItemTimestamp.id)
    ).all()
    recorded = {
        row.detail.get("timestamp_id"): row.ledger_index
        for row in session.scalars(
            select(VaultCustody).where(
                VaultCustody.item_id == item_id, VaultCustody.action == "timestamped"
            )
        )
    }
    return [(row, recorded.get(row.id)) for row in rows]


def _audit_failure(node: Node, actor: Actor, failure: ItemStampFailure) -> ItemStampFailure:
    record_refusal(
        node.sessions,
        actor,
        ACTION,
        outcome=Outcome.FAILURE,
        target_type="vault_item",
        target_id=failure.item_id,
        detail={
            "authority": failure.authority,
            "error": failure.error.code,
            "reason": failure.error.message,
        },
    )
    return failure


def _store(node: Node, actor: Actor, item_id: str, sha256: str, token: rfc3161.Token) -> ItemStamp:
    url = node.settings.tsa_url
    gen_time = token.gen_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    with node.uow() as uow:
        session = uow.session
        event = record_event(
            session,
            actor,
            "evidence.timestamped",
            subject_type="vault_item",
            subject_id=item_id,
            digests={"sha256": sha256, "token_sha256": hashlib.sha256(token.der).hexdigest()},
            data={"authority": url, "gen_time": gen_time},
        )
        row = VaultItemTimestamp(
            item_id=item_id, authority=url, token=token.der, gen_time=token.gen_time
        )
        session.add(row)
        session.flush()
        session.add(
            VaultCustody(
                item_id=item_id,
                action="timestamped",
                actor=actor.label[:100],
                ledger_index=event.index,
                detail={"authority": url, "gen_time": gen_time, "timestamp_id": row.id},
            )
        )
        record(
            session,
            actor,
            ACTION,
            target_type="vault_item",
            target_id=item_id,
            detail={
                "authority": url,
                "gen_time": gen_time,
                "serial": str(token.serial),
                "ledger": event.index,
            },
        )
        uow.commit()
    return ItemStamp(item_id, url, token.gen_time, token.der, event.index)


def _stamp(
    node: Node,
    actor: Actor,
    pending: Sequence[tuple[str, str]],
    *,
    roots: Sequence[x509.Certificate],
    progress: Progress | None = None,
) -> tuple[list[ItemStamp], ItemStampFailure | None]:
    """Ask for, verify and keep the tokens of ``pending`` items (id, SHA-256) in turn;
    the first failure ends the run, and is audited and returned."""
    url = node.settings.tsa_url
    stamped, refused = stamp_in_turn(
        pending,
        lambda http, item: request_digest_token(http, url, bytes.fromhex(item[1]), roots),
        lambda item, token: _store(node, actor, item[0], item[1], token),
        progress,
    )
    if refused is None:
        return stamped, None
    (item_id, _), error = refused
    return stamped, _audit_failure(node, actor, ItemStampFailure(item_id, url, error))


def stamp_new_item(
    node: Node, actor: Actor, item_id: str, sha256: str
) -> ItemStamp | ItemStampFailure | None:
    """Time-stamp an item just committed by ``actor`` (who was allowed to add it), if the
    node time-stamps evidence; ``None`` if it does not. Never raises for the authority or
    its roots: a failure is audited and returned, and the item stays pending."""
    if not node.settings.vault_timestamps:
        return None
    try:
        roots = node.settings.tsa_roots()
    except ConfigurationError as exc:  # the roots file went missing since the start
        return _audit_failure(node, actor, ItemStampFailure(item_id, node.settings.tsa_url, exc))
    stamped, failure = _stamp(node, actor, [(item_id, sha256)], roots=roots)
    return stamped[0] if failure is None else failure


def _pending(session: Session, limit: int) -> tuple[list[tuple[str, str]], int]:
    """Up to ``limit`` items without a token (and not deleted), oldest first: (id,
    SHA-256); and how many there are."""
    waiting = (
        ~select(VaultItemTimestamp.id).where(VaultItemTimestamp.item_id == VaultItem.id).exists()
    ) & ~select(VaultTombstone.item_id).where(VaultTombstone.item_id == VaultItem.id).exists()
    rows = session.execute(
        select(VaultItem.id, VaultItem.sha256)
        .where(waiting)
        .order_by(VaultItem.added_at, VaultItem.id)
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count(VaultItem.id)).where(waiting)) or 0
    return [(item_id, sha256) for item_id, sha256 in rows], total


def timestamp_pending_items(
    node: Node,
    actor: Actor,
    *,
    limit: int = MAX_PER_RUN,
    progress: Progress | None = None,
) -> ItemStampRun:
    """Time-stamp the items that have no token yet, oldest first, at most ``limit`` (see
    the module docstring). ``actor`` needs ``evidence:read`` and ``ledger:manage``.

    Raises before asking anything: :class:`~comity.errors.PermissionDenied`;
    :class:`~comity.errors.ConfigurationError` if evidence time-stamping is off or the
    roots file cannot be read; :class:`~comity.errors.ValidationError` if ``limit`` is out
    of range. What the authority does is *returned*: a failure ends the run, is audited,
    and is in :attr:`ItemStampRun.failure`.
    """
    require_recorded(node, actor, Permission.EVIDENCE_READ, ACTION)
    require_recorded(node, actor, Permission.LEDGER_MANAGE, ACTION)
    if not node.settings.vault_timestamps:
        raise ConfigurationError(NOT_ON)
    if not 1 <= limit <= MAX_PER_RUN:
        raise ValidationError(
            f"Time-stamp 1 to {MAX_PER_RUN} items per run.", fields={"limit": "range"}
        )
    roots = node.settings.tsa_roots()
    with node.uow() as uow:  # a read, ended before the authority is asked
        pending, waiting = _pending(uow.session, limit)
    stamped, failure = _stamp(node, actor, pending, roots=roots, progress=progress)
    return ItemStampRun(node.settings.tsa_url, stamped, failure, waiting - len(stamped))

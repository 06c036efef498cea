"""Time-stamping this node's checkpoints by an RFC 3161 authority: optional, on when
``COMITY_TSA_URL`` and ``COMITY_TSA_CA_FILE`` are set (see ``docs/administration.md``).

A time-stamp token proves that a checkpoint existed by the token's ``genTime``, on the
word of a third party that neither this node nor its partners control. The token covers
the exact bytes of the checkpoint's signed note (``row.note`` in UTF-8: the checkpoint
text and the node's signature line, without cosignatures), hashed with SHA-256; the
protocol and the checks are :mod:`comity.ledger.rfc3161`. Tokens are kept in the
append-only ``ledger_timestamps``, travel in proof files, and are checked again by
``comity ledger verify``. The format is in ``docs/formats/ledger.md``.

**When.** A checkpoint is made and committed first, as without time-stamping; the network
is never reached inside a database transaction (SQLite takes its write lock at ``BEGIN``).
:func:`timestamp_pending` then reads which checkpoints have no token yet, ends that read,
and asks the authority for each, newest first and at most :data:`MAX_PER_RUN`. Each
answer is verified (granted, the request's nonce, the note's imprint, a signature that
chains to the configured roots) before its token is stored, with its audit event, in a
short transaction of its own. The first checkpoint the authority does not stamp ends the
run: the failure is audited with its reason and the checkpoints left stay pending, so an
authority that is down never stops checkpoints from being made, and the next run retries.
``comity ledger checkpoint`` runs it after each checkpoint, ``comity ledger timestamp``
on demand, and a scheduler inside ``comity serve`` may call it on a timer.

The time-stamps of evidence items (:mod:`comity.vault.timestamps`) use the same request
(:func:`request_digest_token`), the same run (:func:`stamp_in_turn`) and its outcome
(:class:`Run`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comity.audit.models import Outcome
from comity.audit.services import record, record_refusal
from comity.errors import ConfigurationError, PeerAnswerInvalid, PeerUnreachable, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.ledger import rfc3161
from comity.ledger.errors import TimestampError
from comity.ledger.models import LedgerCheckpoint, LedgerTimestamp
from comity.ledger.transport import HttpTransport
from comity.node import Node

MAX_PER_RUN = 100
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
NOT_CONFIGURED = (
    "Time-stamping is off: set COMITY_TSA_URL to an RFC 3161 authority and "
    "COMITY_TSA_CA_FILE to the PEM file of its root certificate(s) "
    "(see docs/administration.md)."
)

Progress = Callable[[int, int], None]
"""Called with (how many are stamped so far, how many this run asks for)."""

_Asked = TypeVar("_Asked")
_Kept = TypeVar("_Kept")
_Failure = TypeVar("_Failure")


@dataclass(frozen=True)
class Stamped:
    size: int
    gen_time: dt.datetime
    token: bytes


@dataclass(frozen=True)
class StampFailure:
    size: int
    error: PeerUnreachable | PeerAnswerInvalid


@dataclass(frozen=True)
class Run(Generic[_Kept, _Failure]):
    """What one run of time-stamping did: the tokens kept, in the order asked, the
    failure that ended it early if any, and how many still have no token."""

    authority: str
    stamped: list[_Kept]
    failure: _Failure | None
    pending: int

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class StampRun(Run[Stamped, StampFailure]):
    """A run over this node's checkpoints, newest first."""


@dataclass(frozen=True)
class _Pending:
    checkpoint_id: int
    size: int
    note: str


def timestamps(session: Session, checkpoint: LedgerCheckpoint) -> Sequence[LedgerTimestamp]:
    """The tokens kept for ``checkpoint``, oldest first."""
    return session.scalars(
        select(LedgerTimestamp)
        .where(LedgerTimestamp.checkpoint_id == checkpoint.id)
        .order_by(LedgerTimestamp.id)
    ).all()


def _pending(session: Session, limit: int) -> tuple[list[_Pending], int]:
    """Up to ``limit`` checkpoints without a token, newest first; and how many there are."""
    unstamped = (
        ~select(LedgerTimestamp.id)
        .where(LedgerTimestamp.checkpoint_id == LedgerCheckpoint.id)
        .exists()
    )
    rows = session.execute(
        select(LedgerCheckpoint.id, LedgerCheckpoint.size, LedgerCheckpoint.note)
        .where(unstamped)
        .order_by(LedgerCheckpoint.size.desc())
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count(LedgerCheckpoint.id)).where(unstamped)) or 0
    return [_Pending(*row) for row in rows], total


def request_token(
    http: HttpTransport, url: str, note: str, roots: Sequence[x509.Certificate]
) -> rfc3161.Token:
    """Ask the authority at ``url`` for a token over ``note``'s UTF-8 bytes and verify it
    (see :func:`request_digest_token`)."""
    return request_digest_token(http, url, hashlib.sha256(note.encode("utf-8")).digest(), roots)


def request_digest_token(
    http: HttpTransport, url: str, digest: bytes, roots: Sequence[x509.Certificate]
) -> rfc3161.Token:
    """Ask the authority at ``url`` for a token whose imprint is ``digest`` (a SHA-256)
    and verify it.

    Raises :class:`~comity.errors.PeerUnreachable` if the authority cannot be reached or
    answers with an HTTP error, :class:`~comity.errors.PeerAnswerInvalid` if its answer is
    not a granted, verified token for this request.
    """
    request = rfc3161.make_digest_request(digest)
    answer = http.post_bytes(url, request.der, content_type=QUERY_TYPE, accept=REPLY_TYPE)
    try:
        return rfc3161.read_response(answer, request, roots)
    except TimestampError as exc:
        raise PeerAnswerInvalid(
            f"The time-stamping authority {url} gave no usable token: {exc.message}"
        ) from None


def stamp_in_turn(
    pending: Sequence[_Asked],
    ask: Callable[[HttpTransport, _Asked], rfc3161.Token],
    keep: Callable[[_Asked, rfc3161.Token], _Kept],
    progress: Progress | None,
) -> tuple[list[_Kept], tuple[_Asked, PeerUnreachable | PeerAnswerInvalid] | None]:
    """Ask for a verified token for each of ``pending`` in turn, over one HTTP client,
    and ``keep`` each as it comes (in a transaction of its own, never while asking). The
    first one the authority does not stamp ends the run: it is returned with its error,
    for the caller to audit; the rest stay pending."""
    kept: list[_Kept] = []
    if progress is not None:
        progress(0, len(pending))
    with HttpTransport() as http:
        for asked in pending:
            try:
                token = ask(http, asked)
            except (PeerUnreachable, PeerAnswerInvalid) as exc:
                return kept, (asked, exc)
            kept.append(keep(asked, token))
            if progress is not None:
                progress(len(kept), len(pending))
    return kept, None


def _store(node: Node, actor: Actor, url: str, item: _Pending, token: rfc3161.Token) -> Stamped:
    with node.uow() as uow:
        uow.session.add(
            LedgerTimestamp(
                checkpoint_id=item.checkpoint_id,
                authority=url,
                token=token.der,
                gen_time=token.gen_time,
            )
        )
        record(
            uow.session,
            actor,
            "ledger.timestamp",
            target_type="checkpoint",
            target_id=str(item.size),
            detail={
                "authority": url,
                "gen_time": token.gen_time.isoformat(),
                "serial": str(token.serial),
            },
        )
        uow.commit()
    return Stamped(item.size, token.gen_time, token.der)


def timestamp_pending(
    node: Node,
    actor: Actor,
    *,
    limit: int = MAX_PER_RUN,
    progress: Progress | None = None,
) -> StampRun:
    """Time-stamp the checkpoints that have no token yet, newest first, at most ``limit``
    (see the module docstring). The one call a scheduler needs: ``node`` is the running
    node, ``actor`` who acts (it needs ``ledger:manage``).

    Raises before asking anything: :class:`~comity.errors.PermissionDenied`;
    :class:`~comity.errors.ConfigurationError` if time-stamping is off or the roots file
    cannot be read; :class:`~comity.errors.ValidationError` if ``limit`` is out of range.
    What the authority does is *returned*, never raised: a failure ends the run, is
    audited as ``ledger.timestamp`` with outcome ``failure``, and is in
    :attr:`StampRun.failure`.
    """
    require(actor, Permission.LEDGER_MANAGE)
    url = node.settings.tsa_url
    if not url:
        raise ConfigurationError(NOT_CONFIGURED)
    if not 1 <= limit <= MAX_PER_RUN:
        raise ValidationError(
            f"Time-stamp 1 to {MAX_PER_RUN} checkpoints per run.", fields={"limit": "range"}
        )
    roots = node.settings.tsa_roots()
    with node.uow() as uow:  # a read, ended before the authority is asked
        pending, waiting = _pending(uow.session, limit)
    stamped, refused = stamp_in_turn(
        pending,
        lambda http, item: request_token(http, url, item.note, roots),
        lambda item, token: _store(node, actor, url, item, token),
        progress,
    )
    failure: StampFailure | None = None
    if refused is not None:
        item, exc = refused
        record_refusal(
            node.sessions,
            actor,
            "ledger.timestamp",
            outcome=Outcome.FAILURE,
            target_type="checkpoint",
            target_id=str(item.size),
            detail={"authority": url, "error": exc.code, "reason": exc.message},
        )
        failure = StampFailure(item.size, exc)
    return StampRun(url, stamped, failure, waiting - len(stamped))

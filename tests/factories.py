"""Row factories for tests: users in a ready state, with traits for the states that matter;
ledger events and witness cosignatures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import pyotp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from comity.audit.models import AuditEvent
from comity.db import utcnow
from comity.identity.authn import SessionView, login, resolve_session
from comity.identity.mfa import _seal_key
from comity.identity.models import User
from comity.identity.passwords import hash_password
from comity.identity.permissions import Actor, Role, permissions_for
from comity.identity.users import create_user
from comity.ledger import checkpoints
from comity.ledger.checkpoint import Cosigner, verify_checkpoint
from comity.ledger.cosignatures import receive_cosignature
from comity.ledger.events import RecordedEvent, record_event
from comity.ledger.services import add_witness
from comity.node import Node, local_operator
from comity.secretbox import seal
from comity.settings import Settings

DEFAULT_PASSWORD = "correct horse battery staple"
CLIENT_IP = "192.0.2.10"  # the address sign_in and view_of act from
_counter = itertools.count(1)


@dataclass(frozen=True)
class MadeUser:
    id: str
    username: str
    password: str
    totp_secret: str | None
    roles: tuple[Role, ...]

    def totp_now(self) -> str:
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).now()


@cache
def _password_hash(password: str) -> str:
    """Argon2 is slow on purpose; users made with the same password share one hash."""
    return hash_password(password)


def make_user(
    node: Node,
    *roles: Role,
    username: str | None = None,
    password: str = DEFAULT_PASSWORD,
    must_change_password: bool = False,
    totp: bool | None = None,
    active: bool = True,
) -> MadeUser:
    """A user with ``roles`` who has chosen ``password`` and, by default, enrolled TOTP
    when the role requires it (administrators)."""
    roles = roles or (Role.DOCUMENTER,)
    name = username or f"user{next(_counter)}"
    with_totp = (Role.ADMINISTRATOR in roles) if totp is None else totp
    secret = pyotp.random_base32() if with_totp else None
    with node.uow() as uow:
        created = create_user(uow, local_operator(), username=name, roles=[r.value for r in roles])
        user = uow.session.get(User, created.user.id)
        assert user is not None
        user.password_hash = _password_hash(password)
        user.must_change_password = must_change_password
        user.is_active = active
        if secret is not None:
            user.totp_secret = seal(_seal_key(node.settings), secret.encode(), user.id.encode())
            user.totp_enabled_at = utcnow()
        uow.commit()
        return MadeUser(user.id, name, password, secret, tuple(roles))


def actor_for(user: MadeUser) -> Actor:
    """The actor of ``user`` in a complete session: every permission its roles grant."""
    roles = frozenset(user.roles)
    return Actor(
        label=user.username,
        via="session",
        permissions=permissions_for(roles),
        user_id=user.id,
        roles=roles,
    )


def sign_in(
    node: Node, user: MadeUser, *, ip: str = CLIENT_IP, settings: Settings | None = None
) -> str:
    """Log ``user`` in with their password; the session cookie's token."""
    with node.uow() as uow:
        grant = login(
            uow, settings or node.settings, username=user.username, password=user.password, ip=ip
        )
    return grant.token


def view_of(node: Node, token: str, *, settings: Settings | None = None) -> SessionView:
    """The live session behind ``token`` (which must be live)."""
    with node.uow() as uow:
        view = resolve_session(uow, settings or node.settings, token, ip=CLIENT_IP)
    assert view is not None
    return view


def audit_events(node: Node, action: str) -> list[AuditEvent]:
    """The committed audit events of ``action``, oldest first."""
    with node.uow() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def append_events(node: Node, count: int, *, checkpoint: bool = False) -> list[RecordedEvent]:
    """``count`` events appended to the ledger (and committed), then maybe a checkpoint."""
    with node.uow() as uow:
        recorded = [
            record_event(uow.session, local_operator(), "test.event", data={"n": number})
            for number in range(count)
        ]
        if checkpoint:
            checkpoints.ensure_checkpoint(uow.session, node.keys)
        uow.commit()
    return recorded


def cosign_latest(node: Node, name: str = "witness.example.org") -> Cosigner:
    """A witness the node knows, whose cosignature of the latest checkpoint it received
    (through the service a witness's POST reaches)."""
    witness = Cosigner(name, Ed25519PrivateKey.generate())
    with node.uow() as uow:
        add_witness(uow, local_operator(), vkey=witness.verifier().vkey)
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
        assert latest is not None
        signed = verify_checkpoint(latest.note, checkpoints.verifier(uow.session, node.keys))
    line = witness.cosign(signed, int(utcnow().timestamp()))
    with node.uow() as uow:
        received = receive_cosignature(
            uow, local_operator(), checkpoint_note=latest.note, cosignature_line=line
        )
    assert received.created
    return witness

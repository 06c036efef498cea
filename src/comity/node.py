"""One running node: its settings, database and keys, and the first-start set-up.

Both entry points (the web app and the CLI) open a :class:`Node` from settings; nothing
here runs at import time.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from comity import db
from comity.audit.services import record
from comity.identity.models import Organisation, User
from comity.identity.permissions import Actor, Role, cli_actor
from comity.identity.users import create_user
from comity.keys import LocalKeyStore
from comity.ledger import checkpoints
from comity.ledger.events import record_event
from comity.records.vocabularies import ensure_shipped
from comity.settings import Settings, ensure_secret_file


@dataclass(frozen=True)
class Node:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: LocalKeyStore

    @classmethod
    def open(cls, settings: Settings) -> Node:
        engine = db.make_engine(settings.resolved_database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=db.make_session_factory(engine),
            keys=LocalKeyStore(settings.home / "keys"),
        )

    def uow(self) -> db.UnitOfWork:
        return db.UnitOfWork(self.sessions)

    def close(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True)
class InitReport:
    organisation: str
    fingerprint: str
    admin_username: str | None
    one_time_password: str | None


def local_operator() -> Actor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return cli_actor(name)


def initialise(settings: Settings, *, admin_username: str = "admin") -> tuple[Node, InitReport]:
    """Make whatever is missing: data directory, secret, keys, schema, organisation, admin,
    and the shipped vocabularies of records that are missing or older than this release's.

    Safe to run again: an existing node is left as it is, and no second administrator
    is made once any user exists.
    """
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = ensure_secret_file(settings)
    node = Node.open(settings)
    if not node.keys.exists():
        node.keys.create()
    db.upgrade(node.engine)
    actor = local_operator()
    admin: str | None = None
    password: str | None = None
    with node.uow() as uow:
        session = uow.session
        org = session.scalars(select(Organisation).where(Organisation.is_local.is_(True))).first()
        if org is None:
            org = Organisation(
                name=settings.node_name, country=settings.node_country, is_local=True
            )
            session.add(org)
            session.flush()
            record(
                session,
                actor,
                "node.init",
                target_type="organisation",
                target_id=org.id,
                detail={"name": org.name, "fingerprint": node.keys.fingerprint()},
            )
            # The genesis entry of the ledger names the key that signs its checkpoints.
            record_event(
                session,
                actor,
                "node.init",
                subject_type="organisation",
                subject_id=org.id,
                data={
                    "log_key": checkpoints.verifier(session, node.keys).vkey,
                    "fingerprint": node.keys.fingerprint(),
                },
            )
            checkpoints.ensure_checkpoint(session, node.keys)
            uow.commit()
        org_name = org.name
        if ensure_shipped(session):
            uow.commit()
        if (session.scalar(select(func.count(User.id))) or 0) == 0:
            created = create_user(
                uow,
                actor,
                username=admin_username,
                roles=[Role.ADMINISTRATOR.value],
                display_name="Administrator",
            )
            admin, password = created.user.username, created.one_time_password
    return node, InitReport(
        organisation=org_name,
        fingerprint=node.keys.fingerprint(),
        admin_username=admin,
        one_time_password=password,
    )

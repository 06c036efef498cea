"""Migrations: a full round trip with data in it, and no drift between models and migrations,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine, delete, func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from comity import db
from comity.audit.models import AuditEvent
from comity.audit.services import record
from comity.db import Base, utcnow
from comity.errors import InvalidCredentials
from comity.exchange.descriptor import Descriptor, node_keys, sign_descriptor
from comity.exchange.envelope import seal
from comity.exchange.inbox import receive_envelope
from comity.exchange.outbox import send_message
from comity.exchange.payload_models import IncomingChunk, IncomingPayload
from comity.exchange.peers import add_peer, confirm_peer
from comity.identity.authn import login
from comity.identity.models import RecoveryCode
from comity.identity.organisations import local_organisation
from comity.identity.permissions import Role, cli_actor
from comity.identity.tokens import create_token
from comity.ledger.events import record_event
from comity.ledger.following import follow_log
from comity.ledger.models import LedgerAlarm
from comity.ledger.note import NoteSigner
from comity.ledger.timestamping import timestamp_pending
from comity.migrations import SEARCH_INDEX, modelled
from comity.node import Node, initialise
from comity.records.custom_fields import add_custom_field
from comity.records.editing import create_record
from comity.records.searching import SearchQuery, save_search
from comity.secretbox import token_hash
from comity.settings import load_settings
from comity.vault.captures import add_capture
from comity.vault.deletion import approve_deletion, request_deletion
from comity.vault.deletion_closing import withdraw_deletion
from comity.vault.derive import add_derived
from comity.vault.ingest import add_file
from comity.vault.inputs import Acquisition
from comity.vault.items import download
from comity.vault.timestamps import timestamp_pending_items
from comity.vault.uploads import start_upload, write_chunk
from conftest import TEST_SECRET
from factories import cosign_latest, make_user, sign_in
from ledger.tsa import running_authority, with_authority

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables at all) of each kind."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_database"))
    return f"sqlite:///{tmp_path / 'empty.db'}"


def head(url: str) -> str | None:
    return ScriptDirectory.from_config(db.alembic_config(url)).get_current_head()


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return db.current_revision(conn)


def tables(engine: Engine) -> set[str]:
    """The tables the models describe (the search index, made by hand, is left out)."""
    return {t for t in inspect(engine).get_table_names() if not t.startswith(SEARCH_INDEX)}


def leftovers(engine: Engine) -> set[str]:
    """Schema objects other than tables: triggers and indexes, or functions on PostgreSQL."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger', 'view')"
        else:
            query = (
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public'"
            )
        return {name for name in conn.scalars(text(query)) if not name.startswith("sqlite_")}


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def partner_descriptor(signing: Ed25519PrivateKey) -> bytes:
    """The signed descriptor of a made-up peer node with fresh keys."""
    now = utcnow().replace(microsecond=0)
    keys = node_keys(signing.public_key(), X25519PrivateKey.generate().public_key(), now)
    descriptor = Descriptor(
        node="partner-node.example",
        name="Partner",
        kind="ngo",
        country="",
        endpoints=("https://partner.example",),
        log_origin="comity/partner-node.example",
        log_key=NoteSigner("comity/partner-node.example", signing).verifier().vkey,
        keys=tuple(keys),
        issued_at=now,
        expires_at=now + dt.timedelta(days=1),
    )
    return sign_descriptor(descriptor, signing).raw


def fill(node: Node, tmp_path: Path) -> None:
    """Put at least one row in every table, through the services where they exist."""
    admin = make_user(node, Role.ADMINISTRATOR)
    sign_in(node, admin)
    with node.uow() as uow, pytest.raises(InvalidCredentials):
        login(uow, node.settings, username=admin.username, password="not the password!")
    with node.uow() as uow:
        create_token(
            uow,
            node.settings,
            cli_actor("tester"),
            user_id=admin.id,
            name="backup",
            scopes=["node:view"],
            days=1,
        )
        uow.session.add(RecoveryCode(user_id=admin.id, code_hash=token_hash("abcdefgh")))
        record_event(uow.session, cli_actor("tester"), "test.event", personal={"name": "W"})
        uow.session.add(LedgerAlarm(origin="comity/other", kind="split_view", evidence="…"))
        uow.commit()
    cosign_latest(node)
    other_log = NoteSigner("comity/other", Ed25519PrivateKey.generate()).verifier()
    with node.uow() as uow:
        follow_log(uow, cli_actor("tester"), vkey=other_log.vkey, url="https://other.example")
    evidence = tmp_path / "evidence.txt"
    evidence.write_bytes(b"what was seen\n")
    added = add_file(node, cli_actor("tester"), evidence)
    download(node, cli_actor("tester"), added.item_id, tmp_path / "evidence-copy.txt")
    upload = start_upload(
        node, cli_actor("tester"), name="upload.txt", size=5, acquisition=Acquisition()
    )
    write_chunk(node, cli_actor("tester"), upload.id, "bytes 0-4/5", b"heard")
    add_capture(node, cli_actor("tester"), "https://example.org/", utcnow(), {"html": evidence})
    (tmp_path / "evidence-redacted.txt").write_bytes(b"what was [redacted]\n")
    copy = add_derived(
        node, cli_actor("tester"), added.item_id, tmp_path / "evidence-redacted.txt", "redact"
    )
    mistaken = request_deletion(node, cli_actor("tester"), copy.item_id, "Wrong item", "2027/0")
    withdraw_deletion(node, cli_actor("tester"), mistaken.id, "The order names another file")
    deletion = request_deletion(node, cli_actor("tester"), copy.item_id, "Court order", "2027/1")
    approve_deletion(node, cli_actor("other"), deletion.id)
    person = create_record(node, cli_actor("tester"), "person", {"name": "W", "protected": True})
    incident = create_record(
        node,
        cli_actor("tester"),
        "incident",
        {"title": "Attack", "country": "UA", "links": [{"type": "victim", "target": person.id}]},
    )
    create_record(node, cli_actor("tester"), "act", {"incident": incident.id, "crimes": ["art7"]})
    add_custom_field(
        node, cli_actor("tester"), kind="person", name="clan", label="Clan", type="text"
    )
    save_search(node, cli_actor("tester"), "Attacks", SearchQuery(text="attack"))
    partner = Ed25519PrivateKey.generate()
    with node.uow() as uow:
        peer = add_peer(uow, cli_actor("tester"), partner_descriptor(partner))
    with node.uow() as uow:
        confirm_peer(uow, cli_actor("tester"), peer.node_id, peer.row.fingerprint)
    sent = send_message(
        node, cli_actor("tester"), to=[peer.node_id], message_type="note.test", body=b"Hello."
    )
    with node.uow() as uow:
        me = local_organisation(uow.session).id
    now = utcnow()
    reply = seal(
        sender=peer.node_id,
        signing_key=partner,
        recipients={me: node.keys.encryption_key().public_key()},
        conversation_id=sent.message.conversation_id,
        sequence=1,
        message_type="note.test",
        body=b"Hello to you.",
        sent_at=now,
        expires_at=now + dt.timedelta(hours=1),
    )
    assert receive_envelope(node, reply).receipts
    with node.uow() as uow:  # a payload from it, on its way (its protocol needs two nodes)
        uow.session.add(
            IncomingPayload(
                id="0b6f1d2e-3c4a-4e5f-8a9b-0c1d2e3f4a5b",
                sender="partner-node.example",
                manifest=b"{}",
                size=1,
                sha256="00" * 32,
                chunk_size=65536,
                chunks=1,
                content_sha256="00" * 32,
                content_size=0,
                expires_at=utcnow(),
            )
        )
        uow.session.flush()
        uow.session.add(IncomingChunk(payload_id="0b6f1d2e-3c4a-4e5f-8a9b-0c1d2e3f4a5b", number=0))
        uow.commit()
    with running_authority(tmp_path / "tsa") as authority:
        stamping = with_authority(node, authority.url, authority.ca_file)
        assert timestamp_pending(stamping, cli_actor("tester")).ok
        items = stamping.settings.model_copy(update={"vault_timestamps": True})
        stamping = dataclasses.replace(stamping, settings=items)
        assert timestamp_pending_items(stamping, cli_actor("tester")).ok


def test_upgrade_downgrade_and_upgrade_again_with_data(empty_database: str, tmp_path: Path) -> None:
    engine = db.make_engine(empty_database)
    try:
        assert tables(engine) == set()
        db.upgrade(engine)
        assert revision(engine) == head(empty_database)
        assert tables(engine) == set(Base.metadata.tables) | {"alembic_version"}

        settings = load_settings(
            home=tmp_path / "home", database_url=empty_database, secret_key=TEST_SECRET
        )
        node, _ = initialise(settings)
        try:
            fill(node, tmp_path)
        finally:
            node.close()
        assert all(count > 0 for count in row_counts(engine).values()), row_counts(engine)

        db.downgrade(engine, "base")
        assert revision(engine) is None
        assert tables(engine) <= {"alembic_version"}
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert leftovers(engine) == set()

        db.upgrade(engine)
        assert revision(engine) == head(empty_database)
        assert set(row_counts(engine).values()) == {0}
        with db.UnitOfWork(db.make_session_factory(engine)) as uow:
            record(uow.session, cli_actor("tester"), "migration.check")
            uow.commit()
        with engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(delete(AuditEvent))
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_database: str) -> None:
    engine = db.make_engine(empty_database)
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": modelled}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()

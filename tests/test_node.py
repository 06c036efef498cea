"""First start of a node: data directory, secret, keys, schema, organisation, administrator."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from comity.errors import ConfigurationError
from comity.identity.authn import login, resolve_session
from comity.identity.models import Organisation, User
from comity.keys import ENCRYPTION_FILE, SIGNING_FILE, LocalKeyStore
from comity.node import InitReport, Node, initialise
from comity.settings import Settings, load_settings
from factories import audit_events


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_initialise_makes_the_organisation_keys_and_administrator(
    initialised: tuple[Node, InitReport],
) -> None:
    node, report = initialised
    home = node.settings.home
    assert mode(home) == 0o700
    assert mode(home / "keys") == 0o700
    assert mode(home / "keys" / SIGNING_FILE) == 0o600
    assert mode(home / "keys" / ENCRYPTION_FILE) == 0o600
    assert report.organisation == node.settings.node_name
    assert re.fullmatch(r"[0-9a-f]{4}( [0-9a-f]{4}){7}", report.fingerprint)
    assert report.fingerprint == node.keys.fingerprint()
    assert report.admin_username == "admin"
    assert report.one_time_password

    with node.uow() as uow:
        org = uow.session.scalars(select(Organisation)).one()
        admin = uow.session.scalars(select(User)).one()
    assert (org.name, org.is_local) == (node.settings.node_name, True)
    assert (admin.username, admin.role_names, admin.organisation_id) == (
        "admin",
        ["administrator"],
        org.id,
    )
    [event] = audit_events(node, "node.init")
    assert event.detail == {"name": org.name, "fingerprint": report.fingerprint}
    assert event.via == "cli"

    with node.uow() as uow:
        grant = login(uow, node.settings, username="admin", password=report.one_time_password or "")
    with node.uow() as uow:
        view = resolve_session(uow, node.settings, grant.token)
    assert view is not None
    assert (view.must_change_password, view.must_enrol_second_factor) == (True, True)
    assert view.actor.permissions == frozenset()


def test_initialise_again_changes_nothing(initialised: tuple[Node, InitReport]) -> None:
    node, report = initialised
    keys = {
        name: (node.keys.directory / name).read_bytes() for name in (SIGNING_FILE, ENCRYPTION_FILE)
    }
    renamed = node.settings.model_copy(update={"node_name": "Another Name"})
    again, second = initialise(renamed, admin_username="second-admin")
    again.close()
    assert (second.organisation, second.fingerprint) == (report.organisation, report.fingerprint)
    assert (second.admin_username, second.one_time_password) == (None, None)
    assert keys == {name: (node.keys.directory / name).read_bytes() for name in keys}
    with node.uow() as uow:
        assert uow.session.scalar(select(func.count(Organisation.id))) == 1
        assert uow.session.scalars(select(User.username)).all() == ["admin"]
    assert len(audit_events(node, "node.init")) == 1
    assert len(audit_events(node, "user.create")) == 1


def test_initialise_without_a_secret_writes_one(tmp_path: Path, database_url: str) -> None:
    settings = load_settings(home=tmp_path / "fresh", database_url=database_url)
    node, report = initialise(settings)
    node.close()
    secret_file = tmp_path / "fresh" / "secret.key"
    assert mode(secret_file) == 0o600
    assert node.settings.secret_bytes() == secret_file.read_text(encoding="ascii").strip().encode()
    assert report.admin_username == "admin"


def test_the_fingerprint_is_stable_and_per_node(settings: Settings, tmp_path: Path) -> None:
    store = LocalKeyStore(settings.home / "keys")
    store.create()
    first = store.fingerprint()
    assert LocalKeyStore(settings.home / "keys").fingerprint() == first
    other = LocalKeyStore(tmp_path / "elsewhere")
    other.create()
    assert other.fingerprint() != first
    with pytest.raises(FileExistsError):
        store.create()
    assert store.fingerprint() == first


def test_key_files_others_can_read_are_refused(settings: Settings) -> None:
    store = LocalKeyStore(settings.home / "keys")
    store.create()
    (store.directory / SIGNING_FILE).chmod(0o640)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        store.fingerprint()


def test_key_files_must_hold_the_right_kind_of_key(settings: Settings, tmp_path: Path) -> None:
    store = LocalKeyStore(settings.home / "keys")
    store.create()
    other = LocalKeyStore(tmp_path / "other")
    other.create()
    (store.directory / SIGNING_FILE).write_bytes((other.directory / ENCRYPTION_FILE).read_bytes())
    with pytest.raises(ConfigurationError, match="Ed25519"):
        store.signing_key()

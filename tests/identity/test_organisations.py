"""Organisations: this node's own and the peers it knows."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from comity.errors import Conflict, NotFound, PermissionDenied, ValidationError
from comity.identity.models import Organisation, OrganisationKind
from comity.identity.organisations import (
    add_peer,
    get_organisation,
    list_organisations,
    local_organisation,
    update_organisation,
)
from comity.identity.permissions import Actor, Role
from comity.node import Node
from factories import actor_for, audit_events, make_user


def manager(node: Node) -> Actor:
    return actor_for(make_user(node, Role.ADMINISTRATOR))


def organisation_count(node: Node) -> int:
    with node.uow() as uow:
        return uow.session.scalar(select(func.count(Organisation.id))) or 0


def test_the_local_organisation_is_named_by_the_settings(node: Node) -> None:
    with node.uow() as uow:
        local = local_organisation(uow.session)
    assert (local.name, local.is_local, local.kind) == (node.settings.node_name, True, "ngo")


def test_add_peer_and_list_local_first(node: Node) -> None:
    actor = manager(node)
    with node.uow() as uow:
        peer = add_peer(
            uow,
            actor,
            name="  Bureau of Mutual Assistance ",
            kind="central_authority",
            country="nl",
            description=" Handles MLA requests. ",
        )
    with node.uow() as uow:
        add_peer(uow, actor, name="Aid Lawyers Collective", kind="legal_aid")
    with node.uow() as uow:
        names = [org.name for org in list_organisations(uow, actor)]
        stored = get_organisation(uow, actor, peer.id)
    assert names == [
        node.settings.node_name,
        "Aid Lawyers Collective",
        "Bureau of Mutual Assistance",
    ]
    assert (stored.name, stored.kind, stored.country, stored.description, stored.is_local) == (
        "Bureau of Mutual Assistance",
        "central_authority",
        "NL",
        "Handles MLA requests.",
        False,
    )
    first = audit_events(node, "organisation.create")[0]
    assert (first.target_id, first.detail) == (
        peer.id,
        {"name": "Bureau of Mutual Assistance", "kind": "central_authority", "country": "NL"},
    )


def test_invalid_organisations_are_refused_with_every_field(node: Node) -> None:
    with node.uow() as uow, pytest.raises(ValidationError) as caught:
        add_peer(uow, manager(node), name="   ", kind="cartel", country="NLD")
    assert set(caught.value.fields) == {"name", "kind", "country"}
    with node.uow() as uow, pytest.raises(ValidationError) as caught:
        add_peer(uow, manager(node), name="n" * 201, kind="court", country="N1")
    assert set(caught.value.fields) == {"name", "country"}
    assert organisation_count(node) == 1


@pytest.mark.parametrize("kind", list(OrganisationKind))
def test_every_kind_is_accepted(node: Node, kind: OrganisationKind) -> None:
    with node.uow() as uow:
        org = add_peer(uow, manager(node), name=f"Peer {kind}", kind=kind.value)
    assert org.kind == kind.value


def test_names_are_unique_ignoring_case(node: Node) -> None:
    actor = manager(node)
    with node.uow() as uow, pytest.raises(Conflict) as caught:
        add_peer(uow, actor, name=node.settings.node_name.upper(), kind="ngo")
    assert caught.value.fields == {"name": "taken"}
    assert organisation_count(node) == 1


def test_update_organisation(node: Node) -> None:
    actor = manager(node)
    with node.uow() as uow:
        peer = add_peer(uow, actor, name="Old Name", kind="ngo", country="FR")
        local_id = local_organisation(uow.session).id
    with node.uow() as uow:
        update_organisation(
            uow, actor, peer.id, name="OLD NAME", kind="court", country="be", description="d"
        )
    with node.uow() as uow:
        stored = get_organisation(uow, actor, peer.id)
    assert (stored.name, stored.kind, stored.country, stored.description) == (
        "OLD NAME",
        "court",
        "BE",
        "d",
    )
    assert stored.updated_at > stored.created_at
    [event] = audit_events(node, "organisation.update")
    assert event.detail == {
        "before": {"name": "Old Name", "kind": "ngo", "country": "FR"},
        "after": {"name": "OLD NAME", "kind": "court", "country": "BE"},
    }
    with node.uow() as uow, pytest.raises(Conflict):
        update_organisation(uow, actor, local_id, name="old name", kind="ngo")
    with node.uow() as uow, pytest.raises(ValidationError):
        update_organisation(uow, actor, peer.id, name="Fine", kind="unknown")
    with node.uow() as uow, pytest.raises(NotFound):
        update_organisation(uow, actor, "no-such-id", name="Fine", kind="ngo")
    with node.uow() as uow:
        assert get_organisation(uow, actor, local_id).name == node.settings.node_name
        assert get_organisation(uow, actor, peer.id).name == "OLD NAME"
        with pytest.raises(NotFound):
            get_organisation(uow, actor, "no-such-id")


def test_reading_and_managing_need_their_permissions(node: Node) -> None:
    documenter = actor_for(make_user(node, Role.DOCUMENTER))
    investigator = actor_for(make_user(node, Role.INVESTIGATOR))
    with node.uow() as uow:
        local_id = local_organisation(uow.session).id
        with pytest.raises(PermissionDenied):
            list_organisations(uow, documenter)
        with pytest.raises(PermissionDenied):
            get_organisation(uow, documenter, local_id)
        assert len(list_organisations(uow, investigator)) == 1
    with node.uow() as uow, pytest.raises(PermissionDenied):
        add_peer(uow, investigator, name="Peer", kind="ngo")
    with node.uow() as uow, pytest.raises(PermissionDenied):
        update_organisation(uow, investigator, local_id, name="Renamed", kind="ngo")
    assert organisation_count(node) == 1
    assert audit_events(node, "organisation.update") == []

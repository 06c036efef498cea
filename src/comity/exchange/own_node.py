"""This node as its peers see it: its descriptor, issued and signed on demand from its
organisation, settings and keys (the format is :mod:`comity.exchange.descriptor`; the
trust list of other nodes is :mod:`comity.exchange.peers`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from comity.db import utcnow
from comity.exchange.descriptor import Descriptor, SignedDescriptor, node_keys, sign_descriptor
from comity.identity.organisations import local_organisation
from comity.keys import KeyStore
from comity.ledger import checkpoints
from comity.settings import Settings

DESCRIPTOR_DAYS = 365


def _whole_seconds(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def local_descriptor(
    session: Session, settings: Settings, keys: KeyStore, *, now: dt.datetime | None = None
) -> SignedDescriptor:
    """This node's descriptor, issued now and valid for a year, signed with its key.

    Its node id is the id of the node's own organisation (the one its ledger's origin
    names); its endpoint is :attr:`Settings.base_url`.
    """
    organisation = local_organisation(session)
    issued = _whole_seconds(now or utcnow())
    signing = keys.signing_key()
    descriptor = Descriptor(
        node=organisation.id,
        name=organisation.name,
        kind=organisation.kind,
        country=organisation.country,
        endpoints=(settings.base_url,),
        log_origin=checkpoints.origin(session),
        log_key=checkpoints.verifier(session, keys).vkey,
        keys=tuple(
            node_keys(
                signing.public_key(),
                keys.encryption_key().public_key(),
                _whole_seconds(min(organisation.created_at, issued)),
            )
        ),
        issued_at=issued,
        expires_at=issued + dt.timedelta(days=DESCRIPTOR_DAYS),
    )
    return sign_descriptor(descriptor, signing)

"""Fields an organisation adds to a kind of record, without code.

A custom field has a name, a label, a type (text, long text, date, whole number, yes/no,
one term or several terms of a vocabulary) and may be marked identifying, which seals it
at rest and hides it on protected records like the built-in identifying fields. Once
added, a field is part of the record's schema for every write path (form, API, import)
and stays: old revisions that hold it must keep their meaning, so fields are not removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from comity.audit.services import record as audit
from comity.errors import Conflict, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.events import record_event
from comity.node import Node
from comity.records.models import CustomField, Vocabulary
from comity.records.schema import BUILT_IN, CUSTOM_TYPES, FieldType, parse_kind

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class CustomFieldView:
    kind: str
    name: str
    label: str
    type: str
    vocabulary: str | None
    identifying: bool


def _view(row: CustomField) -> CustomFieldView:
    return CustomFieldView(row.kind, row.name, row.label, row.type, row.vocabulary, row.identifying)


def add_custom_field(
    node: Node,
    actor: Actor,
    *,
    kind: str,
    name: str,
    label: str,
    type: str,
    vocabulary: str | None = None,
    identifying: bool = False,
) -> CustomFieldView:
    require(actor, Permission.RECORDS_CONFIGURE)
    record_kind = parse_kind(kind)
    if not _NAME.match(name):
        raise ValidationError(
            "A field's name is 2 to 41 lower-case letters, digits or _, starting with a letter."
        )
    if name in {spec.name for spec in BUILT_IN[record_kind]}:
        raise ValidationError(f"A {record_kind} already has a built-in field '{name}'.")
    label = " ".join(label.split())
    if not label or len(label) > 200:
        raise ValidationError("Give the field a label of 1 to 200 characters.")
    allowed = ", ".join(t.value for t in CUSTOM_TYPES)
    if type not in allowed.split(", "):
        raise ValidationError(f"'{type}' is not a type of custom field. Choose one of: {allowed}.")
    field_type = FieldType(type)
    needs_vocabulary = field_type in (FieldType.TERM, FieldType.TERMS)
    if needs_vocabulary != (vocabulary is not None):
        raise ValidationError("Name a vocabulary for a term field, and only for one.")
    with node.uow() as uow:
        session = uow.session
        if vocabulary is not None and session.get(Vocabulary, vocabulary) is None:
            raise ValidationError(f"No vocabulary is named '{vocabulary}'.")
        taken = session.scalar(
            select(CustomField.id).where(
                CustomField.kind == record_kind.value, CustomField.name == name
            )
        )
        if taken is not None:
            raise Conflict(f"A {record_kind} already has a custom field '{name}'.")
        row = CustomField(
            kind=record_kind.value,
            name=name,
            label=label,
            type=field_type.value,
            vocabulary=vocabulary,
            identifying=identifying,
            created_by=actor.label,
        )
        session.add(row)
        session.flush()
        detail: dict[str, str | bool | None] = {
            "kind": record_kind.value,
            "name": name,
            "type": field_type.value,
            "vocabulary": vocabulary,
            "identifying": identifying,
        }
        record_event(
            session,
            actor,
            "records.custom_field_added",
            subject_type="custom_field",
            subject_id=f"{record_kind.value}.{name}",
            data=detail,
        )
        audit(
            session,
            actor,
            "records.custom_field.add",
            target_type="custom_field",
            target_id=f"{record_kind.value}.{name}",
            detail=detail,
        )
        uow.commit()
        return _view(row)


def list_custom_fields(node: Node, actor: Actor) -> list[CustomFieldView]:
    require(actor, Permission.RECORDS_READ)
    with node.uow() as uow:
        rows = uow.session.scalars(select(CustomField).order_by(CustomField.kind, CustomField.id))
        return [_view(row) for row in rows]

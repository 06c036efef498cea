"""Which field of a record each column of an imported table gives.

A column gives the field whose name or label is its header, compared without regard to
case, with spaces and underscores alike (``Date of birth``, ``birth_date`` and
``BIRTH DATE`` all give ``birth_date``), or the links of a type the kind of record may
have (``victim``, ``Suspected perpetrator`` …). A mapping given by the person importing
overrides that: ``header → field name`` (or a link type, or a label), or ``header → ""``
to ignore the column. The columns an export adds beside the fields (``id``,
``revision``, ``pseudonym``, ``withheld``, who created and changed the record, when)
are ignored, so an exported file imports again as it is. Any other column is *unknown*
and reported, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from comity.errors import ValidationError
from comity.records.schema import LINK_TYPES, FieldSpec, FieldType, Kind

# What an export writes beside the fields (see comity.records.exporting); "title" is also
# a field of an incident, and a column named so gives that field there.
EXPORT_COLUMNS = (
    "id",
    "revision",
    "title",
    "pseudonym",
    "withheld",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
)


def column_key(text: str) -> str:
    """A header or field name as compared: case-folded, underscores as spaces."""
    return " ".join(text.replace("_", " ").casefold().split())


@dataclass
class ColumnPlan:
    """What each column gives: a field (``fields``: field name → header), links of a
    type (``links``: header, link type), or nothing (``ignored``, ``unknown``)."""

    fields: dict[str, str] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def described(self) -> dict[str, str]:
        """Each header read, and what it gives (``name``, ``link victim``)."""
        given = {header: name for name, header in self.fields.items()}
        given |= {header: f"link {link}" for header, link in self.links}
        return given


def _choices(kind: Kind, specs: Mapping[str, FieldSpec]) -> dict[str, tuple[str, str]]:
    """Every name and label a column may be headed with, and what it gives."""
    choices: dict[str, tuple[str, str]] = {}
    for spec in specs.values():
        if spec.type is not FieldType.LINKS:
            for text in (spec.name, spec.label):
                choices.setdefault(column_key(text), ("field", spec.name))
    for link in LINK_TYPES.values():
        if kind in link.sources:
            for text in (link.name, link.label):
                choices.setdefault(column_key(text), ("link", link.name))
    return choices


def allowed_names(kind: Kind, specs: Mapping[str, FieldSpec]) -> str:
    fields = [name for name, spec in specs.items() if spec.type is not FieldType.LINKS]
    links = [name for name, link in LINK_TYPES.items() if kind in link.sources]
    return f"fields: {', '.join(fields)}; links: {', '.join(links)}"


def plan_columns(
    kind: Kind,
    specs: Mapping[str, FieldSpec],
    headers: Sequence[str],
    mapping: Mapping[str, str] | None,
) -> ColumnPlan:
    """The plan of ``headers`` for records of ``kind``; a mapping that names a column the
    file lacks or a field the kind lacks, or two columns for one field, is refused."""
    choices = _choices(kind, specs)
    mapping = dict(mapping or {})
    for header, target in mapping.items():
        if header not in headers:
            raise ValidationError(
                f"The mapping names the column '{header}', which the file does not have. "
                f"Its columns: {', '.join(headers)}."
            )
        if target.strip() and column_key(target) not in choices:
            raise ValidationError(
                f"The column '{header}' is mapped to '{target}', which records of kind "
                f"{kind} do not have. Their {allowed_names(kind, specs)}."
            )
    plan = ColumnPlan()
    for header in headers:
        if header in mapping and not mapping[header].strip():
            plan.ignored.append(header)
            continue
        chosen = choices.get(column_key(mapping.get(header, header)))
        if chosen is None:
            if column_key(header) in {column_key(name) for name in EXPORT_COLUMNS}:
                plan.ignored.append(header)
            else:
                plan.unknown.append(header)
            continue
        what, name = chosen
        if what == "link":
            plan.links.append((header, name))
        elif name in plan.fields:
            raise ValidationError(
                f"The columns '{plan.fields[name]}' and '{header}' both give the field "
                f"'{name}'; map or ignore one of them."
            )
        else:
            plan.fields[name] = header
    return plan

"""The form of a record, built from the field specs of its kind (built-in and custom):
which fields it shows and sends, which it withholds, how it shows their values, and the
values read back from what is posted (the records pages' posted forms come as
:data:`Posted`).

A protected record edited by someone not cleared to see its identifying fields shows
none of them and sends none back (the service keeps what they hold), and shows its
protection as set without sending it, since only someone cleared may lift it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData

from comity.errors import ValidationError
from comity.records.schema import LINK_TYPES, FieldSpec, FieldType, Kind, LinkType
from comity.web.pages.records_scope import Params


async def posted_form(request: Request) -> FormData:
    """The posted form (already read, and cached, by the page guard's CSRF check)."""
    return await request.form()


Posted = Annotated[FormData, Depends(posted_form)]
BLANK_LINK_ROWS = 2
MAX_LINK_ROWS = 200
INPUT_TYPES = {
    FieldType.TEXT: "text",
    FieldType.DATE: "text",
    FieldType.INTEGER: "number",
    FieldType.LATITUDE: "text",
    FieldType.LONGITUDE: "text",
    FieldType.RECORD: "text",
}


@dataclass(frozen=True)
class RecordForm:
    kind: Kind
    fields: tuple[FieldSpec, ...]
    withheld: tuple[FieldSpec, ...]
    protection_locked: bool
    link_types: tuple[LinkType, ...]
    has_links: bool


def form_of(kind: Kind, specs: Mapping[str, FieldSpec], *, hide_identifying: bool) -> RecordForm:
    """The form of a record of ``kind``; ``hide_identifying`` when it is protected and the
    person editing it is not cleared."""
    shown = []
    withheld = []
    for spec in specs.values():
        if spec.type is FieldType.LINKS:
            continue
        if hide_identifying and (spec.identifying or spec.name == "protected"):
            if spec.identifying:
                withheld.append(spec)
            continue
        shown.append(spec)
    return RecordForm(
        kind=kind,
        fields=tuple(shown),
        withheld=tuple(withheld),
        protection_locked=hide_identifying and "protected" in specs,
        link_types=tuple(link for link in LINK_TYPES.values() if kind in link.sources),
        has_links="links" in specs,
    )


def _text(posted: Params, name: str) -> str:
    value = posted.get(name, "")
    return value if isinstance(value, str) else ""


def _texts(posted: Params, name: str) -> list[str]:
    return [v for v in posted.getlist(name) if isinstance(v, str) and v]


def base_revision(posted: Params) -> int:
    """The revision a posted form started from (its hidden ``base_revision``)."""
    given = posted.get("base_revision", "")
    if not isinstance(given, str) or not given.isdigit():
        raise ValidationError("The form does not say which revision it started from; reload it.")
    return int(given)


def read_links(posted: Params) -> list[dict[str, str]]:
    """The link rows posted (a type and a target each), those with no target left out;
    one with a target but no type is kept, for the check to refuse by name."""
    rows = zip(posted.getlist("link_type"), posted.getlist("link_target"), strict=False)
    return [
        {"type": kind, "target": target.strip()}
        for kind, target in list(rows)[:MAX_LINK_ROWS]
        if isinstance(kind, str) and isinstance(target, str) and target.strip()
    ]


def read_form(form: RecordForm, posted: Params) -> dict[str, Any]:
    """The values of the fields ``form`` shows, as posted (an empty one clears its field)."""
    values: dict[str, Any] = {}
    for spec in form.fields:
        if spec.type is FieldType.TERMS:
            values[spec.name] = _texts(posted, spec.name)
        elif spec.type is FieldType.BOOLEAN:
            values[spec.name] = "yes" if _text(posted, spec.name) == "yes" else ""
        else:
            values[spec.name] = _text(posted, spec.name)
    if form.has_links:
        values["links"] = read_links(posted)
    return values


def link_rows(links: list[dict[str, str]], blank: int = BLANK_LINK_ROWS) -> list[dict[str, str]]:
    """The rows of the links table: the links, then ``blank`` empty rows to add more."""
    return [*links, *({"type": "", "target": ""} for _ in range(blank))]


def chosen(value: Any) -> list[str]:
    """A term field's value as the list of codes it holds (for ``selected``)."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(code) for code in value or ()]


def shown_value(value: Any) -> str:
    """A scalar field's value as its input shows it (and posts it back unchanged)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)

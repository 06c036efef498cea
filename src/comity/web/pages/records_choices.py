"""What the records pages offer to choose from: the kinds of record and their fields
(built-in and custom), the terms of each vocabulary grouped under their broadest term
(for the selects of forms and filters, and the labels shown beside codes), and the
countries named in the reader's language.

Each reading opens and closes its own unit of work, as the services do: on SQLite a unit
of work holds the write lock from its first statement, so a page must not keep one open
while it calls a service."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from babel import Locale

from comity.i18n import mark
from comity.identity.permissions import Actor
from comity.node import Node
from comity.records.models import Term
from comity.records.schema import FieldSpec, Kind, fields_of
from comity.records.vocabularies import list_vocabularies, terms_of
from comity.records.writing import custom_specs

KIND_NAMES: dict[str, str] = {
    Kind.INCIDENT: mark("Incident"),
    Kind.ACT: mark("Act"),
    Kind.PERSON: mark("Person"),
    Kind.ORGANISATION: mark("Organisation"),
    Kind.SOURCE: mark("Source"),
}
NEW_LABELS: dict[str, str] = {
    Kind.INCIDENT: mark("New incident"),
    Kind.ACT: mark("New act"),
    Kind.PERSON: mark("New person"),
    Kind.ORGANISATION: mark("New organisation"),
    Kind.SOURCE: mark("New source"),
}


@dataclass(frozen=True)
class TermOption:
    code: str
    label: str
    depth: int
    retired: bool


@dataclass(frozen=True)
class TermGroup:
    """A top-level term with the terms under it (``label`` set), or one alone (``None``)."""

    label: str | None
    options: tuple[TermOption, ...]


@dataclass(frozen=True)
class Picker:
    vocabulary: str
    title: str
    groups: tuple[TermGroup, ...]
    labels: dict[str, str]


def _below(code: str, children: dict[str | None, list[Term]], depth: int) -> Iterator[TermOption]:
    for term in children.get(code, []):
        yield TermOption(term.code, term.label, depth, term.retired)
        yield from _below(term.code, children, depth + 1)


def picker(name: str, title: str, terms: Iterable[Term]) -> Picker:
    """The terms of vocabulary ``name`` (in their order) grouped by top-level term."""
    children: dict[str | None, list[Term]] = {}
    labels: dict[str, str] = {}
    for term in terms:
        children.setdefault(term.parent, []).append(term)
        labels[term.code] = term.label
    groups = []
    for top in children.get(None, []):
        itself = TermOption(top.code, top.label, 0, top.retired)
        below = tuple(_below(top.code, children, 1))
        groups.append(TermGroup(top.label if below else None, (itself, *below)))
    return Picker(name, title, tuple(groups), labels)


def pickers(node: Node, actor: Actor, names: Iterable[str] | None = None) -> dict[str, Picker]:
    """The pickers of the vocabularies ``names`` (default: every vocabulary loaded)."""
    with node.uow() as uow:
        if names is None:
            names = [vocabulary.name for vocabulary in list_vocabularies(uow, actor)]
        found = {}
        for name in names:
            vocabulary, terms = terms_of(uow, actor, name)
            found[name] = picker(name, vocabulary.title, terms)
        return found


def specs_of(node: Node, kind: Kind) -> dict[str, FieldSpec]:
    """The fields of ``kind``: built-in, then those the organisation added."""
    with node.uow() as uow:
        return fields_of(kind, custom_specs(uow.session, kind))


@cache
def countries(locale: str) -> tuple[tuple[str, str], ...]:
    """(code, name in ``locale``) of every country a record may name, by name."""
    names = Locale.parse(locale).territories
    codes = [code for code in Locale("en").territories if isinstance(code, str) and len(code) == 2]
    return tuple(sorted(((c, names.get(c, c)) for c in codes), key=lambda p: p[1].casefold()))

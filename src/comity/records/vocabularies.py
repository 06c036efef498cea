"""Controlled vocabularies: shipped as versioned data, importable and extensible.

A vocabulary is a JSON file (format in ``docs/vocabularies.md``): a name, a version, a
title and its terms, each with a code, a label and optionally a broader term (parent).
The node ships the crimes of the Rome Statute, a human-rights violation typology,
conflict event types, source grading and a few small lists (``vocabularies/*.json`` in
this package); :func:`ensure_shipped` loads any that are missing or older than the files,
and an organisation imports its own, or a newer version of a shipped one, with
:func:`import_vocabulary` (audited, on the ledger). A term that a new version drops is
retired, not removed: old records still show it, new writes may not use it.

A value written to a term field is checked here (:func:`check_terms`); a term outside
the vocabulary is refused with the allowed choices, the closest first.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import UnitOfWork
from comity.errors import NotFound, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.canonical import canonical_json
from comity.ledger.events import record_event
from comity.records.models import Term, Vocabulary
from comity.records.text import words

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
SHOWN_CHOICES = 12


class TermFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    parent: Code | None = None
    reference: Annotated[str, StringConstraints(max_length=200)] = ""
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class VocabularyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    version: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: str = ""
    source: str = ""
    terms: list[TermFile] = Field(min_length=1)


@dataclass(frozen=True)
class LoadReport:
    name: str
    version: str
    previous_version: str | None
    added: int
    retired: int


def parse_vocabulary(raw: bytes) -> VocabularyFile:
    """A vocabulary file, checked: valid JSON of the format, unique codes, parents first."""
    try:
        parsed = VocabularyFile.model_validate_json(raw)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationError(
            f"Not a vocabulary file: {where}: {first['msg']} ({exc.error_count()} problem(s))."
        ) from None
    seen: set[str] = set()
    for term in parsed.terms:
        if term.code in seen:
            raise ValidationError(
                f"Vocabulary '{parsed.name}': the code '{term.code}' is repeated."
            )
        if term.parent is not None and term.parent not in seen:
            raise ValidationError(
                f"Vocabulary '{parsed.name}': the term '{term.code}' names the parent "
                f"'{term.parent}', which is not an earlier term."
            )
        seen.add(term.code)
    return parsed


def shipped() -> list[VocabularyFile]:
    """The vocabularies shipped with this release."""
    folder = resources.files("comity.records").joinpath("vocabularies")
    return [
        parse_vocabulary(entry.read_bytes())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    ]


def _store(
    session: Session, vocabulary: VocabularyFile, loaded_by: str, *, shipped: bool
) -> LoadReport:
    row = session.get(Vocabulary, vocabulary.name)
    previous = None if row is None else row.version
    if row is None:
        row = Vocabulary(name=vocabulary.name)
        session.add(row)
    row.version = vocabulary.version
    row.title = vocabulary.title
    row.description = vocabulary.description
    row.source = vocabulary.source
    row.shipped = shipped
    row.loaded_by = loaded_by
    session.flush()
    existing = {
        term.code: term
        for term in session.scalars(select(Term).where(Term.vocabulary == vocabulary.name))
    }
    added = 0
    for position, entry in enumerate(vocabulary.terms):
        term = existing.pop(entry.code, None)
        if term is None:
            term = Term(vocabulary=vocabulary.name, code=entry.code)
            session.add(term)
            added += 1
        term.label = entry.label
        term.parent = entry.parent
        term.reference = entry.reference
        term.description = entry.description
        term.position = position
        term.retired = False
    for term in existing.values():
        term.retired = True
    session.flush()
    return LoadReport(vocabulary.name, vocabulary.version, previous, added, len(existing))


def ensure_shipped(session: Session) -> list[LoadReport]:
    """Load the shipped vocabularies that are missing or at another version (no commit).

    Shipped data, not a person's act: nothing is audited or put on the ledger here; the
    version loaded is kept in ``records_vocabularies``.
    """
    versions = dict(session.execute(select(Vocabulary.name, Vocabulary.version)).all())
    return [
        _store(session, vocabulary, "comity", shipped=True)
        for vocabulary in shipped()
        if versions.get(vocabulary.name) != vocabulary.version
    ]


def import_vocabulary(uow: UnitOfWork, actor: Actor, raw: bytes) -> LoadReport:
    """Import an organisation's vocabulary, or a new version of one (audited, on the ledger)."""
    require(actor, Permission.RECORDS_CONFIGURE)
    vocabulary = parse_vocabulary(raw)
    session = uow.session
    current = session.get(Vocabulary, vocabulary.name)
    if current is not None and current.version == vocabulary.version:
        raise ValidationError(
            f"Vocabulary '{vocabulary.name}' is already at version {vocabulary.version}; "
            "give the changed file a new version."
        )
    report = _store(session, vocabulary, actor.label, shipped=False)
    digest = hashlib.sha256(canonical_json(json.loads(raw))).hexdigest()
    record_event(
        session,
        actor,
        "records.vocabulary_imported",
        subject_type="vocabulary",
        subject_id=vocabulary.name,
        digests={"sha256": digest},
        data={"version": vocabulary.version, "added": report.added, "retired": report.retired},
    )
    record(
        session,
        actor,
        "records.vocabulary.import",
        target_type="vocabulary",
        target_id=vocabulary.name,
        detail={"version": vocabulary.version, "previous": report.previous_version},
    )
    uow.commit()
    return report


def list_vocabularies(uow: UnitOfWork, actor: Actor) -> list[Vocabulary]:
    require(actor, Permission.RECORDS_READ)
    return list(uow.session.scalars(select(Vocabulary).order_by(Vocabulary.name)))


def terms_of(uow: UnitOfWork, actor: Actor, name: str) -> tuple[Vocabulary, list[Term]]:
    require(actor, Permission.RECORDS_READ)
    vocabulary = uow.session.get(Vocabulary, name)
    if vocabulary is None:
        raise NotFound(f"No vocabulary is named '{name}'.")
    terms = uow.session.scalars(select(Term).where(Term.vocabulary == name).order_by(Term.position))
    return vocabulary, list(terms)


def _choices(wrong: str, allowed: Sequence[str], labels: Mapping[str, str]) -> str:
    """The allowed codes, those like ``wrong`` first: codes spelt alike, then terms whose
    label holds the words of ``wrong`` (so 'shelling' offers artillery shelling)."""
    close = difflib.get_close_matches(wrong, allowed, n=SHOWN_CHOICES, cutoff=0.5)
    wanted = set(words(wrong))
    close += [
        code
        for code in allowed
        if code not in close and wanted and wanted <= set(words(labels.get(code, "")))
    ]
    rest = [code for code in allowed if code not in close]
    shown = (close + rest)[:SHOWN_CHOICES]
    more = len(allowed) - len(shown)
    return ", ".join(shown) + (f" … and {more} more" if more > 0 else "")


class TermIndex:
    """The active terms of the vocabularies a write uses, read once per unit of work."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._active: dict[str, list[str]] = {}
        self._allowed: dict[str, frozenset[str]] = {}
        self._parents: dict[str, dict[str, str | None]] = {}
        self._labels: dict[str, dict[str, str]] = {}

    def _load(self, vocabulary: str) -> None:
        if vocabulary in self._active:
            return
        rows = self._session.execute(
            select(Term.code, Term.parent, Term.retired, Term.label)
            .where(Term.vocabulary == vocabulary)
            .order_by(Term.position)
        )
        active: list[str] = []
        parents: dict[str, str | None] = {}
        labels: dict[str, str] = {}
        for code, parent, retired, label in rows:
            parents[code] = parent
            labels[code] = label
            if not retired:
                active.append(code)
        if not parents:
            raise ValidationError(f"The vocabulary '{vocabulary}' is not loaded on this node.")
        self._active[vocabulary] = active
        self._allowed[vocabulary] = frozenset(active)
        self._parents[vocabulary] = parents
        self._labels[vocabulary] = labels

    def check(
        self, field: str, vocabulary: str, codes: Iterable[str], keep: Iterable[str] = ()
    ) -> list[str]:
        """``codes`` if every one is an active term of ``vocabulary``, else a refusal.

        A retired term in ``keep`` (what the record already holds) stays allowed, so a
        record classified before a new version of the vocabulary can still be corrected.
        """
        self._load(vocabulary)
        active = self._active[vocabulary]
        known = self._allowed[vocabulary]
        kept = [code for code in keep if code not in known and code in self._parents[vocabulary]]
        if kept:
            known = known | frozenset(kept)
        checked: list[str] = []
        for code in codes:
            if code not in known:
                raise ValidationError(
                    f"{field}: '{code}' is not a term of the vocabulary '{vocabulary}'. "
                    f"Allowed: {_choices(code, active, self._labels[vocabulary])}.",
                    fields={field: f"not in {vocabulary}"},
                )
            if code not in checked:
                checked.append(code)
        return checked

    def label(self, vocabulary: str, code: str) -> str:
        self._load(vocabulary)
        return self._labels[vocabulary].get(code, code)

    def with_broader(self, vocabulary: str, code: str) -> list[str]:
        """``code`` and every broader term above it, for filters on a broader term."""
        self._load(vocabulary)
        parents = self._parents[vocabulary]
        chain: list[str] = []
        current: str | None = code
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        return chain

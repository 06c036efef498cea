"""Creating many records at once, at import speed, with the same checks as one by one.

:class:`BulkWriter` is what the importer and the demo generator use. Every row goes
through the same :func:`~comity.records.schema.check_fields`, sealing and derivation as
a single save; what differs is that rows are written with one bulk insert per table
(:mod:`comity.records.bulk_insert`) and that the ledger receives one event per batch
instead of one per record: the event ``records.batch`` names how many records of each
kind it created, digests the list of their ids (so the set of records is fixed), and
commits, salted, to their whole content (one commitment for the batch; its salt opens it
for a court like any other). Each record's revision 1 points at that entry. A link may
name a record created earlier in the same batch.

Nothing is written until :meth:`BulkWriter.flush`, and nothing is committed here: the
caller's unit of work commits every batch of an import together, or none of them. The
importer and the demo run their units of work inside :func:`older_objects_set_aside` and
:func:`~comity.records.bulk_insert.larger_page_cache`.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from comity.db import Base, utcnow
from comity.errors import ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.events import record_event
from comity.records import search_index
from comity.records.bulk_insert import insert_rows
from comity.records.dates import parse_date
from comity.records.models import Facet, Link, Record, Revision, new_record_id
from comity.records.protection import Sealer
from comity.records.schema import FieldSpec, Kind, check_fields
from comity.records.writing import SessionTargets, Writer, derive, record_title


def _table(model: type[Base]) -> Table:
    """The Core table of ``model``: bulk inserts skip the ORM's per-row work."""
    return cast(Table, model.__table__)


@contextmanager
def older_objects_set_aside() -> Iterator[None]:
    """Run the block with the objects that exist when it starts out of the garbage
    collector's sight (:func:`gc.freeze`), and give them back when it ends.

    A bulk write keeps thousands of objects alive from one batch to the next, which sets
    off full collections, and each walks every object of the process (the application's
    modules, SQLAlchemy's caches …): a tenth of an import's time. Set aside, those are
    not walked; what the block makes is collected as usual. Objects of other threads are
    set aside too, never lost: all come back at the end."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_CHUNK = 500  # values in one ``IN (…)``, well under every engine's limit of parameters


@dataclass
class _Pending:
    rows: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    facets: list[tuple[int, str, str]] = field(default_factory=list)
    links: list[tuple[int, str, str]] = field(default_factory=list)
    texts: list[list[str]] = field(default_factory=list)
    contents: list[dict[str, Any]] = field(default_factory=list)


class _BatchTargets(SessionTargets):
    """Targets in the database, or queued earlier in this batch.

    The kind of a stored record found once is kept for the writer's unit of work (a
    record's kind never changes), and :meth:`prefetch` finds many at once, so rows that
    link to the same records do not each ask the database again."""

    def __init__(self, session: Session, queued: dict[str, Kind]) -> None:
        super().__init__(session)
        self._queued = queued
        self._found: dict[str, Kind | None] = {}

    def record_kind(self, record_id: str) -> Kind | None:
        queued = self._queued.get(record_id)
        if queued is not None:
            return queued
        if record_id not in self._found:
            self._found[record_id] = super().record_kind(record_id)
        return self._found[record_id]

    def prefetch(self, record_ids: Iterable[str]) -> None:
        """Find at once the kinds of the stored records among ``record_ids``."""
        wanted = sorted({i for i in record_ids if i not in self._found and i not in self._queued})
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            self._found.update(dict.fromkeys(chunk))
            rows = self._session.execute(
                select(Record.id, Record.kind).where(
                    Record.id.in_(chunk), Record.deleted.is_(False)
                )
            )
            self._found.update({record_id: Kind(kind) for record_id, kind in rows})


class BulkWriter:
    """Queues checked records and writes them in batches inside the caller's unit of work.

    A reference is refused if a record of the same kind on the node, or queued in this
    writer, already has it. The references held on the node are looked up many at a time
    with :meth:`prefetch_references` (the importer does so for each chunk of rows), or
    one by one when not; with ``references_at_flush`` (the demo, which stops at any
    refusal) those of a whole batch are looked up by :meth:`flush`, which refuses the
    batch before writing anything if one is taken.
    """

    def __init__(
        self,
        session: Session,
        actor: Actor,
        sealer: Sealer,
        *,
        references_at_flush: bool = False,
    ) -> None:
        require(actor, Permission.RECORDS_WRITE)
        self._writer = Writer(session, actor, sealer)
        self.session = session
        self.actor = actor
        self.sealer = sealer
        self._queued: dict[str, Kind] = {}
        self._references: dict[tuple[Kind, str], str] = {}
        self._stored: dict[tuple[Kind, str], bool] = {}
        self._specs: dict[Kind, dict[str, FieldSpec]] = {}
        self._at_flush = references_at_flush
        self._targets = _BatchTargets(session, self._queued)
        self._pending = _Pending()
        self.created = 0

    def prefetch_references(self, kind: Kind, references: Iterable[str]) -> None:
        """Look up at once which of ``references`` records of ``kind`` on the node hold."""
        wanted = sorted({r for r in references if r and (kind, r) not in self._stored})
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            self._stored.update(dict.fromkeys(((kind, r) for r in chunk), False))
            held = self.session.scalars(
                select(Record.reference).where(
                    Record.kind == kind.value, Record.reference.in_(chunk)
                )
            )
            self._stored.update(dict.fromkeys(((kind, str(r)) for r in held), True))

    def prefetch_targets(self, record_ids: Iterable[str]) -> None:
        """Look up at once the kinds of the stored records that rows will link to."""
        self._targets.prefetch(record_ids)

    def _held(self, kind: Kind, reference: str) -> bool:
        """Whether a record of ``kind`` on the node holds ``reference``."""
        if (kind, reference) not in self._stored:
            self.prefetch_references(kind, [reference])
        return self._stored[(kind, reference)]

    @staticmethod
    def _taken(kind: Kind, reference: str) -> ValidationError:
        return ValidationError(
            f"Another {kind} already has the reference '{reference}'.",
            fields={"reference": "already used"},
        )

    def _specs_of(self, kind: Kind) -> dict[str, FieldSpec]:
        if kind not in self._specs:
            self._specs[kind] = self._writer.specs(kind)
        return self._specs[kind]

    def check(self, kind: Kind, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` checked as a new record of ``kind`` would be (nothing queued)."""
        specs = self._specs_of(kind)
        checked = check_fields(kind, values, specs, self._writer.terms, self._targets)
        reference = checked.get("reference")
        if reference is not None and (
            (kind, reference) in self._references
            or (not self._at_flush and self._held(kind, reference))
        ):
            raise self._taken(kind, reference)
        return checked

    def add(self, kind: Kind, values: Mapping[str, Any]) -> str:
        """Check ``values`` and queue a new record; returns its id (usable in later links)."""
        checked = self.check(kind, values)
        specs = self._specs_of(kind)
        record_id = new_record_id()
        protected = bool(checked.get("protected"))
        pseudonym = self.sealer.pseudonym(kind.value, record_id)
        public = {n: v for n, v in checked.items() if not specs[n].identifying}
        identifying = {n: v for n, v in checked.items() if specs[n].identifying}
        date = parse_date(public["date"]) if "date" in public else None
        now = utcnow()
        index = len(self._pending.rows)
        self._pending.rows.append(
            {
                "id": record_id,
                "kind": kind.value,
                "reference": checked.get("reference"),
                "revision": 1,
                "title": record_title(kind, checked, pseudonym, not protected),
                "protected": protected,
                "deleted": False,
                "earliest": None if date is None else date.earliest,
                "latest": None if date is None else date.latest,
                "latitude": public.get("latitude"),
                "longitude": public.get("longitude"),
                "public": public,
                "sealed": self.sealer.seal(record_id, 1, identifying),
                "created_by": self.actor.label,
                "created_at": now,
                "updated_by": self.actor.label,
                "updated_at": now,
            }
        )
        derived = derive(
            kind, checked, specs, self._writer.terms, protected=protected, pseudonym=pseudonym
        )
        self._pending.facets += [(index, n, v) for n, v in derived.facets]
        self._pending.links += [(index, t, v) for t, v in derived.links]
        self._pending.texts.append(derived.texts)
        self._pending.contents.append({"id": record_id, "kind": kind.value, "fields": checked})
        self._queued[record_id] = kind
        if checked.get("reference") is not None:
            self._references[(kind, checked["reference"])] = record_id
        return record_id

    def _refuse_references_held(self, rows: list[dict[str, Any]]) -> None:
        """Refuse the batch if a record on the node holds one of its references."""
        for kind in Kind:
            self.prefetch_references(
                kind, [row["reference"] for row in rows if row["kind"] == kind.value]
            )
        for row in rows:
            kind = Kind(row["kind"])
            if row["reference"] is not None and self._stored[(kind, row["reference"])]:
                raise self._taken(kind, row["reference"])

    @property
    def queued(self) -> int:
        return len(self._pending.rows)

    def flush(self) -> None:
        """Write the queued records: one ledger event, one bulk insert per table."""
        pending = self._pending
        if not pending.rows:
            return
        session = self.session
        if self._at_flush:
            self._refuse_references_held(pending.rows)
        ids = [row["id"] for row in pending.rows]
        kinds = Counter(row["kind"] for row in pending.rows)
        content = "\n".join(
            json.dumps(c, sort_keys=True, ensure_ascii=False) for c in pending.contents
        )
        event = record_event(
            session,
            self.actor,
            "records.batch",
            subject_type="records",
            subject_id=ids[0],
            digests={"ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()},
            personal={"content": content},
            data={"count": len(ids), "kinds": dict(sorted(kinds.items()))},
        )
        insert_rows(session, _table(Record), pending.rows)
        insert_rows(
            session,
            _table(Revision),
            [
                {
                    "record_id": row["id"],
                    "number": 1,
                    "kind": row["kind"],
                    "public": row["public"],
                    "sealed": row["sealed"],
                    "deleted": False,
                    "author": self.actor.label,
                    "at": row["created_at"],
                    "note": "",
                    "restored_from": None,
                    "ledger_index": event.index,
                }
                for row in pending.rows
            ],
        )
        insert_rows(
            session,
            _table(Facet),
            [{"record_id": ids[i], "name": n, "value": v} for i, n, v in pending.facets],
        )
        insert_rows(
            session,
            _table(Link),
            [{"source_id": ids[i], "type": t, "target": v} for i, t, v in pending.links],
        )
        search_index.insert_many(session, list(zip(ids, pending.texts, strict=True)))
        self.created += len(ids)
        self._pending = _Pending()

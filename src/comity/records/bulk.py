"""Creating many records at once, at import speed, with the same checks as one by one.

:class:`BulkWriter` is what the importer and the demo generator use. Every row goes
through the same :func:`~comity.records.schema.check_fields`, sealing and derivation as
a single save; what differs is that rows are written with one multi-row ``INSERT`` per
table and that the ledger receives one event per batch instead of one per record: the
event ``records.batch`` names how many records of each kind it created, digests the list
of their ids (so the set of records is fixed), and commits, salted, to their whole
content (one commitment for the batch; its salt opens it for a court like any other).
Each record's revision 1 points at that entry. A link may name a record created earlier
in the same batch.

Nothing is written until :meth:`BulkWriter.flush`, and nothing is committed here: the
caller's unit of work commits every batch of an import together, or none of them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from comity.db import Base, utcnow
from comity.errors import ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.ledger.events import record_event
from comity.records import search_index
from comity.records.dates import parse_date
from comity.records.models import Facet, Link, Record, Revision, new_record_id
from comity.records.protection import Sealer
from comity.records.schema import Kind, check_fields
from comity.records.writing import SessionTargets, Writer, derive, record_title


def _table(model: type[Base]) -> Table:
    """The Core table of ``model``: multi-row inserts skip the ORM's per-row work."""
    return cast(Table, model.__table__)


@dataclass
class _Pending:
    rows: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    facets: list[tuple[int, str, str]] = field(default_factory=list)
    links: list[tuple[int, str, str]] = field(default_factory=list)
    texts: list[list[str]] = field(default_factory=list)
    contents: list[dict[str, Any]] = field(default_factory=list)


class _BatchTargets(SessionTargets):
    """Targets in the database, or queued earlier in this batch."""

    def __init__(self, session: Session, queued: dict[str, Kind]) -> None:
        super().__init__(session)
        self._queued = queued

    def record_kind(self, record_id: str) -> Kind | None:
        return self._queued.get(record_id) or super().record_kind(record_id)


class BulkWriter:
    """Queues checked records and writes them in batches inside the caller's unit of work."""

    def __init__(self, session: Session, actor: Actor, sealer: Sealer) -> None:
        require(actor, Permission.RECORDS_WRITE)
        self._writer = Writer(session, actor, sealer)
        self.session = session
        self.actor = actor
        self.sealer = sealer
        self._queued: dict[str, Kind] = {}
        self._references: dict[tuple[Kind, str], str] = {}
        self._targets = _BatchTargets(session, self._queued)
        self._pending = _Pending()
        self.created = 0

    def check(self, kind: Kind, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` checked as a new record of ``kind`` would be (nothing queued)."""
        specs = self._writer.specs(kind)
        checked = check_fields(kind, values, specs, self._writer.terms, self._targets)
        reference = checked.get("reference")
        if reference is not None:
            taken = (kind, reference) in self._references or self.session.scalar(
                select(Record.id).where(Record.kind == kind.value, Record.reference == reference)
            )
            if taken:
                raise ValidationError(
                    f"Another {kind} already has the reference '{reference}'.",
                    fields={"reference": "already used"},
                )
        return checked

    def add(self, kind: Kind, values: Mapping[str, Any]) -> str:
        """Check ``values`` and queue a new record; returns its id (usable in later links)."""
        checked = self.check(kind, values)
        specs = self._writer.specs(kind)
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

    @property
    def queued(self) -> int:
        return len(self._pending.rows)

    def flush(self) -> None:
        """Write the queued records: one ledger event, one multi-row insert per table."""
        pending = self._pending
        if not pending.rows:
            return
        session = self.session
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
        keys = dict(
            session.execute(
                insert(_table(Record)).returning(Record.id, Record.key), pending.rows
            ).all()
        )
        session.execute(
            insert(_table(Revision)),
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
        if pending.facets:
            session.execute(
                insert(_table(Facet)),
                [{"record_id": ids[i], "name": n, "value": v} for i, n, v in pending.facets],
            )
        if pending.links:
            session.execute(
                insert(_table(Link)),
                [{"source_id": ids[i], "type": t, "target": v} for i, t, v in pending.links],
            )
        search_index.insert_many(
            session, [(keys[ids[i]], texts) for i, texts in enumerate(pending.texts)]
        )
        self.created += len(ids)
        self._pending = _Pending()

"""Demo data: a node filled with a clearly fictional, documented conflict (``comity demo``).

:func:`fill` invents incidents over several years in the made-up land of
:mod:`comity.records.demo_world` (:mod:`comity.records.demo_generator`: armed units with
their chain of command, sources graded for reliability and credibility, victims and
witnesses, some protected, acts classified with the Rome Statute and violation types,
descriptions in English, French, Arabic and Ukrainian) and writes them through
:class:`~comity.records.bulk.BulkWriter`, so every record is checked, sealed, indexed
and on the ledger exactly as an import's would be. Each batch is its own unit of work,
committed before the next, so a million incidents need no giant transaction; a demo cut
short leaves whole batches, all marked demo. With ``evidence``, a few invented photos and
statements are first added to the vault (:mod:`comity.records.demo_files`) and linked.

The first batch's unit of work records one audit event (``records.demo``: the seed, the
number of incidents asked for, the evidence items). Every record's reference starts with
``DEMO-``, which is how demo data is told from real records (:func:`holdings`): the demo
refuses a node that already holds demo data, and a node with real records unless told to
mix them (``alongside``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from comity.audit.services import record as audit
from comity.errors import Conflict, ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.records.bulk import BulkWriter, older_objects_set_aside
from comity.records.bulk_insert import larger_page_cache
from comity.records.demo_files import PHOTOS, STATEMENTS, add_evidence
from comity.records.demo_generator import PREFIX, DemoGenerator, plan
from comity.records.models import Record
from comity.records.schema import Kind
from comity.records.viewing import sealer_of

DEFAULT_INCIDENTS = 300
DEFAULT_SEED = 1
BATCH = 2000
MAX_INCIDENTS = 10_000_000

Progress = Callable[[int, int], None]
"""Called with the incidents written so far and the number to write."""


@dataclass(frozen=True)
class Holdings:
    """How many records a node holds that are demo data, and how many are not."""

    demo: int
    other: int


@dataclass(frozen=True)
class DemoReport:
    counts: dict[str, int]
    items: int
    seconds: float

    @property
    def records(self) -> int:
        return sum(self.counts.values())


def holdings(node: Node, actor: Actor) -> Holdings:
    require(actor, Permission.RECORDS_READ)
    is_demo = func.substr(Record.reference, 1, len(PREFIX)) == PREFIX
    with node.uow() as uow:
        total = uow.session.scalar(select(func.count()).select_from(Record)) or 0
        demo = uow.session.scalar(select(func.count()).select_from(Record).where(is_demo)) or 0
    return Holdings(demo=demo, other=total - demo)


def _refuse_unless_fit(node: Node, actor: Actor, *, alongside: bool) -> None:
    held = holdings(node, actor)
    if held.demo:
        raise Conflict(
            f"This node already holds demo data ({held.demo:,} records). A second demo would "
            "repeat its references; make a new node (another COMITY_HOME and database) for it."
        )
    if held.other and not alongside:
        raise Conflict(
            f"This node holds records that are not demo data ({held.other:,}); the demo would "
            "mix invented records with them. Use a new node for the demo, or confirm that "
            "you want both (--yes)."
        )


def fill(
    node: Node,
    actor: Actor,
    *,
    incidents: int = DEFAULT_INCIDENTS,
    seed: int = DEFAULT_SEED,
    evidence: bool = True,
    alongside: bool = False,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> DemoReport:
    """Write the demo data of ``seed`` with ``incidents`` incidents (see the module)."""
    require(actor, Permission.RECORDS_WRITE)
    if not 1 <= incidents <= MAX_INCIDENTS:
        raise ValidationError(f"Ask for 1 to {MAX_INCIDENTS:,} incidents.")
    if batch < 1:
        raise ValidationError("A batch holds at least one record.")
    _refuse_unless_fit(node, actor, alongside=alongside)
    started = time.perf_counter()
    items: dict[str, list[str]] = {}
    if evidence:
        upto = max(PHOTOS, STATEMENTS)
        first = [v for kind, v in plan(seed, incidents, upto=upto) if kind is Kind.INCIDENT]
        items = add_evidence(node, actor, first)
    item_count = sum(len(linked) for linked in items.values())
    counts: Counter[str] = Counter()
    generator = DemoGenerator(seed, incidents)
    sealer = sealer_of(node)
    # The units, interviewers and sources every later incident links to (a few thousand
    # at most): each batch looks up their kinds at once instead of one link at a time.
    foundation: list[str] = []
    done = 0
    while done < incidents:
        with older_objects_set_aside(), node.uow() as uow, larger_page_cache(uow.session):
            writer = BulkWriter(uow.session, actor, sealer, references_at_flush=True)

            def add(kind: Kind, values: dict[str, Any], writer: BulkWriter = writer) -> str:
                record_id = writer.add(kind, values)
                counts[kind.value] += 1
                return record_id

            if not counts:  # the first batch: its commit starts the demo, audited
                audit(
                    uow.session,
                    actor,
                    "records.demo",
                    target_type="records",
                    detail={"seed": seed, "incidents": incidents, "items": item_count},
                )

                def add_foundation(kind: Kind, values: dict[str, Any]) -> str:
                    record_id = add(kind, values)
                    foundation.append(record_id)
                    return record_id

                generator.foundation(add_foundation)
            else:
                writer.prefetch_targets(foundation)
            while done < incidents and writer.queued < batch:
                generator.incident(add, items)
                done += 1
            writer.flush()
            uow.commit()
        if progress is not None:
            progress(done, incidents)
    return DemoReport(
        counts=dict(sorted(counts.items())),
        items=item_count,
        seconds=time.perf_counter() - started,
    )

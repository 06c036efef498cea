"""``comity demo``: fill a node with clearly fictional demo data, to see a living system.

The data (:mod:`comity.records.demo`) is an invented conflict in an invented land:
incidents over several years with their victims, witnesses, acts, armed units and
sources, and a few invented photos and statements in the evidence vault. Every record's
reference starts with ``DEMO-``. The command refuses a node that already holds demo
data, and one that holds other records unless ``--yes`` is given.
"""

from __future__ import annotations

from typing import Annotated

import typer

from comity.cli.common import console, errors, opened_node, plural, progress_bar, table
from comity.node import local_operator
from comity.records.demo import DEFAULT_INCIDENTS, DEFAULT_SEED, MAX_INCIDENTS, DemoReport, fill
from comity.records.demo_files import PHOTOS, STATEMENTS

TRY_NEXT = (
    ("see it in the browser (sign in as the administrator 'comity init' made)", "comity serve"),
    (
        "attacks on markets in 2021 and 2022",
        "comity records search market --kind incident --from 2021 --to 2022",
    ),
    (
        "war crimes in the Varesh region with a victim who is a girl or woman",
        "comity records search --term rome-statute:art8 --region Varesh --victim-sex female",
    ),
    ("incidents written in Ukrainian, Arabic or French", "comity records search Вареш"),
    ("", "comity records search فارش"),
    ("", "comity records search école"),
    ("the invented photos and statements", "comity evidence list"),
)


def demo(
    incidents: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_INCIDENTS,
            help="How many incidents to invent (each with its victims, witnesses and acts).",
        ),
    ] = DEFAULT_INCIDENTS,
    seed: Annotated[
        int, typer.Option(help="The same seed and number of incidents make the same data.")
    ] = DEFAULT_SEED,
    evidence: Annotated[
        bool,
        typer.Option(
            "--evidence/--no-evidence",
            help="Also add a few invented photos and statements to the evidence vault.",
        ),
    ] = True,
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Add the demo data even though the node holds other records."),
    ] = False,
) -> None:
    """Fill this node with a clearly fictional dataset, to try Comity on.

    Incidents in an invented land over several years, with victims and witnesses (some
    protected), armed units and their commanders, graded sources, acts classified with
    the Rome Statute, descriptions in English, French, Arabic and Ukrainian, and invented
    evidence files. Every record's reference starts with DEMO-.

    Example: comity demo --incidents 1000
    """
    actor = local_operator()
    with opened_node() as node:
        if evidence:
            first = min(incidents, max(PHOTOS, STATEMENTS))
            errors.print(f"Adding invented evidence files for the first {first} incidents…")
        with progress_bar("Inventing incidents", enabled=True) as advance:
            report = fill(
                node,
                actor,
                incidents=incidents,
                seed=seed,
                evidence=evidence,
                alongside=yes,
                progress=advance,
            )
    _summary(report)


def _summary(report: DemoReport) -> None:
    rows = table("kind", "records", title="Demo data written", whole=("kind", "records"))
    for kind, count in report.counts.items():
        rows.add_row(kind, f"{count:,}")
    rows.add_row("all", f"{report.records:,}")
    console.print(rows)
    rate = report.records / report.seconds if report.seconds else 0.0
    console.print(
        f"{plural(report.items, 'evidence item')} added and linked. "
        f"Took {report.seconds:,.1f} s ({rate:,.0f} records/s)."
    )
    console.print("Try next:")
    for what, command in TRY_NEXT:
        console.print(f"  {command}" + (f"    # {what}" if what else ""), soft_wrap=True)

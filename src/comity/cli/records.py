"""``comity records``: documentation records — create, show, correct, see the history of,
restore and delete incidents, acts, persons, organisations and sources. The group's other
commands live in modules of their own, registered here: ``search``
(:mod:`comity.cli.records_search`), ``import`` and ``export``
(:mod:`comity.cli.records_io`), ``report`` (:mod:`comity.cli.records_report`), ``vocab``
and ``field`` (:mod:`comity.cli.records_vocab`).

Field values are given as ``--set name=value`` (terms of a vocabulary separated by ``;``,
an empty value clears a field on ``edit``) or all at once as a JSON object with
``--fields FILE`` (``-`` for standard input); links as ``--link type=record-id``.
Every change names the revision it starts from (``--base-revision``): if someone saved a
newer one meanwhile, the change is refused rather than silently overwriting theirs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from comity.cli import records_io, records_report, records_search, records_vocab
from comity.cli.common import JsonOutput, console, field, iso, opened_node, print_json, table, when
from comity.errors import ValidationError
from comity.node import local_operator
from comity.records import editing, viewing
from comity.records.viewing import RecordView

app = typer.Typer(
    help=(
        "Documentation records: incidents, acts, persons, organisations and sources, "
        "classified with controlled vocabularies, every change kept as a revision.\n\n"
        "Example: comity records create incident --set title='Shelling of the market' "
        "--set date='2024-03-03T09:00/2024-03-03T10:30' --set country=UA"
    ),
    no_args_is_help=True,
)
app.command("search")(records_search.search)
app.command("import")(records_io.import_records)
app.command("export")(records_io.export_records)
app.command("report")(records_report.report)
app.add_typer(records_vocab.vocab_app, name="vocab")
app.add_typer(records_vocab.field_app, name="field")

RecordId = Annotated[str, typer.Argument(help="The record's id (from 'comity records search').")]
Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="A field's value, as name=value (repeat for more; terms separated by ';').",
    ),
]
Links = Annotated[
    list[str] | None,
    typer.Option("--link", help="A link, as type=target-id (victim, witness, evidence …)."),
]
FieldsFile = Annotated[
    Path | None,
    typer.Option("--fields", help="A JSON object of fields (- for standard input)."),
]
Note = Annotated[str, typer.Option("--note", help="Why (kept with the revision).")]
Base = Annotated[
    int,
    typer.Option(
        "--base-revision",
        help="The revision the change starts from (see 'records show'); a newer one refuses it.",
    ),
]


def _pairs(options: list[str] | None, what: str) -> list[tuple[str, str]]:
    pairs = []
    for option in options or []:
        name, sep, value = option.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"Give {what} as name=value, not '{option}'.")
        pairs.append((name.strip(), value))
    return pairs


def _fields(sets: list[str] | None, fields_file: Path | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if fields_file is not None:
        raw = sys.stdin.read() if str(fields_file) == "-" else fields_file.read_text("utf-8")
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"The fields are not JSON: {exc}.") from None
        if not isinstance(loaded, dict):
            raise ValidationError("The fields must be a JSON object of name: value.")
        values.update(loaded)
    values.update(_pairs(sets, "--set"))
    return values


def _links(current: list[dict[str, str]], add: list[str] | None) -> list[dict[str, str]]:
    return current + [{"type": t, "target": v.strip()} for t, v in _pairs(add, "--link")]


def record_json(view: RecordView) -> dict[str, Any]:
    return {
        "id": view.id,
        "kind": view.kind,
        "revision": view.revision,
        "title": view.title,
        "protected": view.protected,
        "deleted": view.deleted,
        "pseudonym": view.pseudonym,
        "fields": view.fields,
        "withheld": list(view.withheld),
        "earliest": view.earliest,
        "latest": view.latest,
        "created_by": view.created_by,
        "created_at": iso(view.created_at),
        "updated_by": view.updated_by,
        "updated_at": iso(view.updated_at),
        "linked_from": view.linked_from,
    }


def _print(view: RecordView) -> None:
    field("Record", f"{view.kind} {view.id}")
    field("Title", view.title)
    field("Revision", f"{view.revision} — {view.updated_by}, {when(view.updated_at)}")
    if view.protected:
        field("Protected", "yes" + (f" (pseudonym {view.pseudonym})" if view.pseudonym else ""))
    if view.deleted:
        field("Deleted", "yes (restore an earlier revision to bring it back)")
    if view.earliest or view.latest:
        field("Interval", f"{view.earliest or '…'} to {view.latest or '…'}")
    for name, value in view.fields.items():
        if name == "links":
            for link in value:
                field(f"Link {link['type']}", link["target"])
        else:
            field(name, "; ".join(value) if isinstance(value, list) else str(value))
    for name in view.withheld:
        field(name, viewing.WITHHELD)
    for link in view.linked_from:
        field(f"Linked from ({link['type']})", f"{link['kind']} {link['source']}")


@app.command()
def create(
    kind: Annotated[str, typer.Argument(help="incident, act, person, organisation or source.")],
    *,
    sets: Sets = None,
    links: Links = None,
    fields_file: FieldsFile = None,
    note: Note = "",
    as_json: JsonOutput = False,
) -> None:
    """Create a record (revision 1, on the ledger).

    Example: comity records create person --set name='Witness A' --set protected=yes
    """
    values = _fields(sets, fields_file)
    if links:
        values["links"] = _links(list(values.get("links") or []), links)
    with opened_node() as node:
        view = editing.create_record(node, local_operator(), kind, values, note=note)
    if as_json:
        print_json(record_json(view))
    else:
        console.print(f"Created {view.kind} {view.id} (revision 1).")


@app.command()
def show(record_id: RecordId, as_json: JsonOutput = False) -> None:
    """Show a record's current fields, links and the records that link to it.

    Example: comity records show 9f3b2c1e-0d4a-4e8f-9a51-6c2d7e8f1a20 --json
    """
    with opened_node() as node:
        view = viewing.get_record(node, local_operator(), record_id)
    if as_json:
        print_json(record_json(view))
    else:
        _print(view)


@app.command()
def edit(
    record_id: RecordId,
    *,
    base_revision: Base,
    sets: Sets = None,
    links: Links = None,
    unlink: Annotated[
        list[str] | None, typer.Option("--unlink", help="Remove a link, as type=target-id.")
    ] = None,
    fields_file: FieldsFile = None,
    note: Note = "",
    as_json: JsonOutput = False,
) -> None:
    """Correct a record: the changes become a new revision; the old values stay in its history.

    Example: comity records edit 3f2c… --base-revision 1 --set date=2024-03-04 --note 'Witness 2'
    """
    changes = _fields(sets, fields_file)
    with opened_node() as node:
        actor = local_operator()
        if links or unlink:
            current = viewing.get_record(node, actor, record_id).fields.get("links") or []
            removed = [{"type": t, "target": v.strip()} for t, v in _pairs(unlink, "--unlink")]
            kept = [link for link in current if link not in removed]
            changes["links"] = _links(kept, links)
        view = editing.change_record(
            node, actor, record_id, changes, base_revision=base_revision, note=note
        )
    if as_json:
        print_json(record_json(view))
    else:
        console.print(f"Saved revision {view.revision} of {view.kind} {view.id}.")


@app.command()
def history(record_id: RecordId, as_json: JsonOutput = False) -> None:
    """Every revision of a record: who, when, why, and which fields changed.

    Example: comity records history 9f3b2c1e-0d4a-4e8f-9a51-6c2d7e8f1a20
    """
    with opened_node() as node:
        revisions = viewing.history(node, local_operator(), record_id)
    if as_json:
        print_json(
            [
                {
                    "revision": r.number,
                    "author": r.author,
                    "at": iso(r.at),
                    "note": r.note,
                    "restored_from": r.restored_from,
                    "deleted": r.deleted,
                    "changed": list(r.changed),
                }
                for r in revisions
            ]
        )
        return
    rows = table("rev", "by", "at", "changed", "note", whole=("rev", "at"))
    for r in revisions:
        note = r.note + (f" (restored {r.restored_from})" if r.restored_from else "")
        note += " [deleted]" if r.deleted else ""
        rows.add_row(str(r.number), r.author, when(r.at), ", ".join(r.changed), note)
    console.print(rows)


@app.command()
def diff(
    record_id: RecordId,
    revision: Annotated[int, typer.Argument(help="The revision to compare with the one before.")],
    against: Annotated[
        int | None, typer.Option("--against", help="Compare with this revision instead.")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """What a revision changed: each field before and after.

    Example: comity records diff 9f3b2c1e-0d4a-4e8f-9a51-6c2d7e8f1a20 2
    """
    with opened_node() as node:
        changes = viewing.diff(node, local_operator(), record_id, revision, against)
    if as_json:
        print_json([{"field": c.name, "before": c.before, "after": c.after} for c in changes])
        return
    rows = table("field", "before", "after", whole=("field",))
    for change in changes:
        rows.add_row(change.name, _cell(change.before), _cell(change.after))
    console.print(rows)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)


@app.command()
def restore(
    record_id: RecordId,
    revision: Annotated[int, typer.Argument(help="The revision whose content to bring back.")],
    base_revision: Base,
    note: Note = "",
) -> None:
    """Bring back an earlier revision's content, as a new revision (nothing is lost).

    Example: comity records restore 9f3b2c1e-0d4a-4e8f-9a51-6c2d7e8f1a20 1 --base-revision 3
    """
    with opened_node() as node:
        view = editing.restore_revision(
            node, local_operator(), record_id, revision, base_revision=base_revision, note=note
        )
    console.print(f"Saved revision {view.revision}, with the content of revision {revision}.")


@app.command()
def delete(
    record_id: RecordId,
    base_revision: Base,
    note: Annotated[str, typer.Option("--note", help="Why the record is deleted (required).")],
) -> None:
    """Mark a record deleted (a revision: restoring an earlier one brings it back).

    Example: comity records delete 9f3b2c1e-… --base-revision 2 --note 'Entered twice'
    """
    with opened_node() as node:
        view = editing.delete_record(
            node, local_operator(), record_id, base_revision=base_revision, note=note
        )
    console.print(f"Deleted {view.kind} {view.id} (revision {view.revision}).")

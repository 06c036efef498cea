"""``comity records vocab`` and ``comity records field``: the controlled vocabularies
(list, show, import an organisation's own or a new version) and the custom fields an
organisation adds to a kind of record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comity.cli.common import JsonOutput, console, opened_node, print_json, table, yes_no
from comity.errors import ValidationError
from comity.node import local_operator
from comity.records import custom_fields, vocabularies

vocab_app = typer.Typer(
    help=(
        "Controlled vocabularies: the Rome Statute crimes, violation types, conflict event "
        "types, source grading … and an organisation's own.\n\n"
        "Example: comity records vocab show rome-statute"
    ),
    no_args_is_help=True,
)
field_app = typer.Typer(
    help=(
        "Custom fields an organisation adds to a kind of record.\n\n"
        "Example: comity records field add person tribe --label 'Tribe or clan' --type text "
        "--identifying"
    ),
    no_args_is_help=True,
)


@vocab_app.command("list")
def list_vocabularies(as_json: JsonOutput = False) -> None:
    """The vocabularies loaded on this node, with their versions.

    Example: comity records vocab list
    """
    with opened_node() as node, node.uow() as uow:
        rows = vocabularies.list_vocabularies(uow, local_operator())
        listed = [(v.name, v.version, v.title, v.shipped) for v in rows]
    if as_json:
        print_json([{"name": n, "version": v, "title": t, "shipped": s} for n, v, t, s in listed])
        return
    out = table("name", "version", "title", "shipped", whole=("name", "version"))
    for name, version, title, shipped in listed:
        out.add_row(name, version, title, yes_no(shipped))
    console.print(out)


@vocab_app.command("show")
def show_vocabulary(
    name: Annotated[str, typer.Argument(help="The vocabulary's name (see 'vocab list').")],
    retired: Annotated[bool, typer.Option(help="Also show retired terms.")] = False,
    as_json: JsonOutput = False,
) -> None:
    """A vocabulary's terms: code, label, reference, indented under their broader term.

    Example: comity records vocab show rome-statute
    """
    with opened_node() as node, node.uow() as uow:
        vocabulary, terms = vocabularies.terms_of(uow, local_operator(), name)
        heading = f"{vocabulary.title} — version {vocabulary.version}"
        shown = [t for t in terms if retired or not t.retired]
        rows = [(t.code, t.label, t.parent, t.reference, t.retired) for t in shown]
    if as_json:
        print_json(
            [
                {"code": c, "label": lb, "parent": p, "reference": r, "retired": x}
                for c, lb, p, r, x in rows
            ]
        )
        return
    depth: dict[str, int] = {}
    out = table("code", "label", "reference", title=heading, whole=("code",))
    for code, label, parent, reference, is_retired in rows:
        depth[code] = 0 if parent is None else depth.get(parent, 0) + 1
        out.add_row(
            "  " * depth[code] + code, label + (" (retired)" if is_retired else ""), reference
        )
    console.print(out)


@vocab_app.command("import")
def import_vocabulary(
    file: Annotated[Path, typer.Argument(help="A vocabulary file (format: docs/vocabularies.md).")],
) -> None:
    """Import an organisation's vocabulary, or a new version of one (terms it drops are
    retired, not removed).

    Example: comity records vocab import weapons.json
    """
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"Cannot read {file}: {exc.strerror}.") from None
    with opened_node() as node, node.uow() as uow:
        report = vocabularies.import_vocabulary(uow, local_operator(), raw)
    was = f" (was {report.previous_version})" if report.previous_version else ""
    console.print(
        f"Vocabulary {report.name} is now at version {report.version}{was}: "
        f"{report.added} terms added, {report.retired} retired."
    )


@field_app.command("add")
def add_field(
    kind: Annotated[str, typer.Argument(help="incident, act, person, organisation or source.")],
    name: Annotated[str, typer.Argument(help="The field's name (lower case, digits, _).")],
    *,
    label: Annotated[str, typer.Option(help="What people see.")],
    type_: Annotated[
        str, typer.Option("--type", help="text, longtext, date, integer, boolean, term, terms.")
    ] = "text",
    vocabulary: Annotated[
        str | None, typer.Option(help="The vocabulary of a term or terms field.")
    ] = None,
    identifying: Annotated[
        bool, typer.Option(help="Sealed at rest, hidden on protected records.")
    ] = False,
) -> None:
    """Add a field to a kind of record (for every write path, from now on).

    Example: comity records field add incident weapon --label Weapon --type term
    --vocabulary weapons
    """
    with opened_node() as node:
        added = custom_fields.add_custom_field(
            node,
            local_operator(),
            kind=kind,
            name=name,
            label=label,
            type=type_,
            vocabulary=vocabulary,
            identifying=identifying,
        )
    console.print(f"A {added.kind} now has the field {added.name} ({added.type}).")


@field_app.command("list")
def list_fields(as_json: JsonOutput = False) -> None:
    """The custom fields of every kind.

    Example: comity records field list --json
    """
    with opened_node() as node:
        fields = custom_fields.list_custom_fields(node, local_operator())
    if as_json:
        print_json([f.__dict__ for f in fields])
        return
    out = table("kind", "name", "label", "type", "identifying", whole=("kind", "name"))
    for f in fields:
        kind_of = f.type + (f" ({f.vocabulary})" if f.vocabulary else "")
        out.add_row(f.kind, f.name, f.label, kind_of, yes_no(f.identifying))
    console.print(out)

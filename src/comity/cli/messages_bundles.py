"""``comity messages export`` and ``import``: the offline route, messages and their
receipts carried between nodes as bundle files. Registered on the ``messages`` group by
:mod:`comity.cli.messages`; the rules are in :mod:`comity.exchange.bundles`, the format in
:mod:`comity.exchange.bundle_format`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from comity.cli.common import JsonOutput, console, errors, opened_node, plural, print_json, table
from comity.cli.messages_queues import state_text
from comity.errors import ValidationError
from comity.exchange import bundles, message_views
from comity.exchange.bundle_format import MAX_BUNDLE_BYTES, BundleKind
from comity.node import local_operator


def _write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a file that does not exist yet, and to the disk (a stick may be
    pulled out as soon as the command ends)."""
    try:
        with path.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise ValidationError(
            f"{path} exists already; name a new file.", fields={"file": "exists"}
        ) from None
    except OSError as exc:
        raise ValidationError(f"Cannot write {path}: {exc.strerror}.") from None


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise ValidationError(f"{path} is not a file.", fields={"file": "missing"})
    with path.open("rb") as handle:
        data = handle.read(MAX_BUNDLE_BYTES + 1)
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValidationError(f"{path} is larger than a bundle may be ({MAX_BUNDLE_BYTES} bytes).")
    return data


def export(
    to: Annotated[str, typer.Option(help="The peer's node id ('comity messages peers').")],
    out: Annotated[Path, typer.Option(help="The bundle file to write; it must not exist.")],
    as_json: JsonOutput = False,
) -> None:
    """Write the messages waiting for a peer to a bundle file, signed by this node, to
    carry where no network goes (a USB stick, a diplomatic bag). The peer imports it
    with 'comity messages import' and sends back a reply bundle, which you import here.
    The deliveries stay due over the network too; the first receipt to arrive counts.

    Example: comity messages export --to 6f1e3c2a-0b7d-4c55-9a3e-2f8d1b0c4e77 --out helgar.bundle
    """
    with opened_node() as node:
        exported = bundles.export_bundle(
            node, local_operator(), to, save=lambda data: _write_new(out, data)
        )
    if as_json:
        print_json(
            {
                "file": str(out),
                "sha256": exported.sha256,
                "bytes": len(exported.data),
                "to": exported.recipient,
                "message_ids": list(exported.message_ids),
                "left": exported.left,
            }
        )
        return
    console.print(
        f"Wrote {plural(len(exported.message_ids), 'message')} for {exported.recipient} to "
        f"{out} ({len(exported.data)} bytes, SHA-256 {exported.sha256}).",
        soft_wrap=True,
    )
    if exported.left:
        errors.print(
            f"{plural(exported.left, 'more message')} did not fit; export again for them.",
            style="yellow",
        )


def _answers_json(imported: bundles.Imported) -> list[dict[str, Any]]:
    if imported.kind is BundleKind.ENVELOPES:
        return [
            {
                "message_id": r.message_id,
                "outcome": r.outcome.value,
                "reason": r.reason,
                "message": r.message,
                "receipts": len(r.receipts),
            }
            for r in imported.received
        ]
    return [
        {"message_id": a.message_id, "recipient": a.recipient, "state": a.state, "error": a.error}
        for a in imported.attempts
    ]


def _print_envelopes(imported: bundles.Imported, reply: Path) -> None:
    shown = table("Message", "Outcome", "Reason", title="Envelopes", whole=("Message",))
    for received in imported.received:
        shown.add_row(received.message_id or "?", received.outcome.value, received.reason)
    console.print(shown)
    for received in imported.received:
        if received.message:
            console.print(
                Text.assemble((received.message_id or "?", "bold"), "  ", received.message),
                soft_wrap=True,
            )
    console.print(
        f"Answers written to {reply}: carry it back to {imported.sender} and import it there "
        "with 'comity messages import'.",
        soft_wrap=True,
    )


def _print_answers(imported: bundles.Imported, names: dict[str, str]) -> None:
    shown = table("Message", "To", "State", title="Answers", whole=("Message", "State"))
    for attempt in imported.attempts:
        shown.add_row(
            attempt.message_id,
            names.get(attempt.recipient, attempt.recipient),
            state_text(attempt.state),
        )
    console.print(shown)
    for attempt in imported.attempts:
        if attempt.error:
            console.print(
                Text.assemble((attempt.message_id, "bold"), "  ", attempt.error), soft_wrap=True
            )
    if imported.unmatched:
        errors.print(
            f"{plural(len(imported.unmatched), 'answer')} to envelopes this node did not send "
            f"to {imported.sender}: ignored.",
            style="yellow",
        )


def import_(
    file: Annotated[Path, typer.Argument(help="The bundle file.")],
    reply: Annotated[
        Path | None,
        typer.Option(help="Where to write the answers to a bundle of messages [FILE.reply]."),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Import a bundle file: a peer's messages, checked one by one as if they came over
    the network, with the answers written to a reply bundle to carry back; or such a
    reply, whose receipts move this node's deliveries on. A bundle tampered with, cut
    short, not signed by a peer or not for this node is refused whole. Importing a
    bundle again changes nothing, and writes the same answers again.

    Example: comity messages import helgar.bundle --reply varesh.reply
    """
    data = _read(file)
    reply_path = reply or file.with_name(file.name + ".reply")
    with opened_node() as node:
        imported = bundles.import_bundle(node, local_operator(), data)
        names = message_views.peer_names(node, local_operator())
    if imported.kind is BundleKind.ENVELOPES:
        try:
            _write_new(reply_path, imported.reply)
        except ValidationError as exc:
            raise ValidationError(
                f"The bundle was imported, but its answers were not written: {exc.message} "
                "Import it again with --reply NEW-FILE: a repeat changes nothing and writes "
                "the same answers."
            ) from None
    if as_json:
        print_json(
            {
                "kind": imported.kind.value,
                "sha256": imported.sha256,
                "from": imported.sender,
                "first_import": imported.first,
                "answers": _answers_json(imported),
                "reply": str(reply_path) if imported.kind is BundleKind.ENVELOPES else None,
                "unmatched": list(imported.unmatched),
            }
        )
        return
    name = names.get(imported.sender, imported.sender)
    console.print(
        f"{'Imported' if imported.first else 'Imported again'}: {imported.kind.value} from "
        f"{name} (SHA-256 {imported.sha256}).",
        soft_wrap=True,
    )
    if imported.kind is BundleKind.ENVELOPES:
        _print_envelopes(imported, reply_path)
    else:
        _print_answers(imported, names)

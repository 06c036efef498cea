"""``comity messages …``: sending messages to peer nodes, and what came in (send,
inbox, read, show); the queues of delivery (peers, outbox, dead, deliver, retry) are in
:mod:`comity.cli.messages_queues`, and the offline route (export, import) in
:mod:`comity.cli.messages_bundles`, registered here. The rules are in
:mod:`comity.exchange.outbox`, :mod:`comity.exchange.inbox` and
:mod:`comity.exchange.reading`; what is shown, in :mod:`comity.exchange.message_views`.
No command prints a message's content except ``read``, which is recorded.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from comity.cli import messages_bundles, messages_queues
from comity.cli.common import (
    JsonOutput,
    console,
    field,
    iso,
    opened_node,
    plural,
    print_json,
    table,
    when,
)
from comity.errors import ValidationError
from comity.exchange import message_views, outbox, reading
from comity.exchange.envelope_format import MAX_ENVELOPE_BYTES
from comity.exchange.message_models import ExchangeInboxMessage
from comity.node import local_operator

app = typer.Typer(
    help=(
        "Messages to and from peer nodes: send one, follow its delivery and receipts, read "
        "what came in, and look after the queues.\n\n"
        "Example: comity messages send --to NODE --type referral.request --body-file note.txt"
    ),
    no_args_is_help=True,
)

MessageId = Annotated[
    str, typer.Argument(help="The message id ('comity messages outbox' or 'inbox').")
]


def _inbox_json(row: ExchangeInboxMessage) -> dict[str, Any]:
    return {
        "message_id": row.message_id,
        "sender": row.sender,
        "conversation_id": row.conversation_id,
        "sequence": row.sequence,
        "type": row.message_type,
        "state": row.state,
        "sent_at": iso(row.sent_at),
        "received_at": iso(row.received_at),
        "delivered_at": iso(row.delivered_at),
        "retrieved_at": iso(row.retrieved_at),
        "envelope_sha256": row.envelope_sha256,
    }


def _body(body: str | None, body_file: Path | None) -> bytes:
    if body_file is None:
        if body is None:
            raise ValidationError("Give the message as --body TEXT or --body-file FILE.")
        return body.encode("utf-8")
    if body is not None:
        raise ValidationError("Give the message as --body or as --body-file, not both.")
    if str(body_file) == "-":
        return sys.stdin.buffer.read(MAX_ENVELOPE_BYTES + 1)
    if not body_file.is_file():
        raise ValidationError(f"{body_file} is not a file.", fields={"body_file": "missing"})
    with body_file.open("rb") as handle:
        return handle.read(MAX_ENVELOPE_BYTES + 1)


def send(
    *,
    message_type: Annotated[
        str,
        typer.Option("--type", help="What the message is: dotted words, e.g. referral.request."),
    ],
    to: Annotated[
        list[str] | None,
        typer.Option(help="A recipient's node id; repeat for a group message."),
    ] = None,
    conversation: Annotated[
        str | None,
        typer.Option(help="Continue this conversation (to all its participants)."),
    ] = None,
    body: Annotated[str | None, typer.Option(help="The message, as text.")] = None,
    body_file: Annotated[
        Path | None, typer.Option(help="The message, from a file ('-': standard input).")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Send a message to confirmed peers, signed and encrypted to them. It is stored at
    once and delivered by the next round (the server's timer, or 'comity messages
    deliver'); each recipient's receipts come back to it.

    Example: comity messages send --to 6f1e3c2a-… --type referral.request --body-file note.txt
    """
    data = _body(body, body_file)
    with opened_node() as node:
        sent = outbox.send_message(
            node,
            local_operator(),
            to=to or [],
            message_type=message_type,
            body=data,
            conversation_id=conversation,
        )
    message = sent.message
    if as_json:
        print_json(
            {
                "message_id": message.message_id,
                "conversation_id": message.conversation_id,
                "sequence": message.sequence,
                "recipients": [d.recipient for d in sent.deliveries],
                "envelope_sha256": message.envelope_sha256,
                "expires_at": iso(message.expires_at),
            }
        )
        return
    console.print(
        f"Queued message {message.message_id} for "
        f"{plural(len(sent.deliveries), 'recipient')}; 'comity messages deliver' sends it now.",
        soft_wrap=True,
    )
    field("Conversation", f"{message.conversation_id} (message {message.sequence})")
    field("Recipients", ", ".join(d.recipient for d in sent.deliveries))
    field("Valid until", when(message.expires_at))


def inbox_list(
    receipts: Annotated[
        bool, typer.Option("--receipts", help="Also list the receipts peers sent as messages.")
    ] = False,
    as_json: JsonOutput = False,
) -> None:
    """Messages received: sender, type, whether delivered or held for an earlier one,
    and whether someone here read it. Never the content ('comity messages read').

    Example: comity messages inbox
    """
    with opened_node() as node:
        rows = message_views.inbox(node, local_operator(), receipts=receipts)
        names = message_views.peer_names(node, local_operator())
    if as_json:
        print_json([_inbox_json(row) for row in rows])
        return
    if not rows:
        console.print("Nothing received yet.")
        return
    shown = table(
        "Message", "From", "Type", "State", "Received", "Read",
        whole=("Message", "State", "Received", "Read"),
    )  # fmt: skip
    for row in rows:
        shown.add_row(
            row.message_id,
            names.get(row.sender, row.sender),
            row.message_type,
            row.state,
            when(row.received_at),
            when(row.retrieved_at),
        )
    console.print(shown)


def read(
    message_id: MessageId,
    out: Annotated[
        Path | None, typer.Option(help="Write the content to this file instead.")
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Decrypt and show a message received. The reading is recorded; the first one sends
    the sender a signed retrieval receipt.

    Example: comity messages read 3d4f7c1a-8e2b-4f6d-9a0c-5b1e2d3f4a6b --out request.txt
    """
    with opened_node() as node:
        opened = reading.read_message(node, local_operator(), message_id)
    body = opened.message.body
    if as_json:
        try:
            content: dict[str, str] = {"body": body.decode("utf-8")}
        except UnicodeDecodeError:
            content = {"body_base64": base64.b64encode(body).decode("ascii")}
        print_json(
            _inbox_json(opened.row)
            | content
            | {
                "attachments": [
                    {"name": a.name, "size": a.size, "sha256": a.sha256}
                    for a in opened.message.attachments
                ]
            }
        )
        return
    if out is not None:
        out.write_bytes(body)
        console.print(f"Wrote the message's {plural(len(body), 'byte')} to {out}.")
        return
    sys.stdout.buffer.write(body)
    sys.stdout.flush()


def show(message_id: MessageId, as_json: JsonOutput = False) -> None:
    """A message sent or received: its header, where each delivery stands, and every
    receipt about it. Not its content.

    Example: comity messages show 3d4f7c1a-8e2b-4f6d-9a0c-5b1e2d3f4a6b
    """
    with opened_node() as node:
        view = message_views.show_message(node, local_operator(), message_id)
    receipts = [
        {
            "kind": r.kind,
            "direction": r.direction,
            "time": iso(r.time),
            "sha256": r.sha256,
            "reason": r.reason,
            "detail": r.detail,
        }
        for r in view.receipts
    ]
    if as_json:
        print_json(
            {
                "message_id": view.message_id,
                "direction": view.direction,
                "sender": view.sender,
                "conversation_id": view.conversation_id,
                "sequence": view.sequence,
                "type": view.message_type,
                "envelope_sha256": view.envelope_sha256,
                "sent_at": iso(view.created_at),
                "expires_at": iso(view.expires_at),
                "resent_from": view.sent.resent_from if view.sent else None,
                "deliveries": [
                    messages_queues.entry_json(message_views.OutboxEntry(view.sent, delivery))
                    for delivery in view.deliveries
                    if view.sent is not None
                ],
                "received": _inbox_json(view.received) if view.received else None,
                "receipts": receipts,
            }
        )
        return
    field("Message", f"{view.message_id} ({view.direction})")
    field("From", view.sender)
    field("Type", view.message_type)
    field("Conversation", f"{view.conversation_id} (message {view.sequence})")
    field("Sent", f"{when(view.created_at, seconds=True)} UTC, valid until {when(view.expires_at)}")
    field("Envelope SHA-256", view.envelope_sha256)
    if view.sent is not None and view.sent.resent_from:
        field("Sends anew", view.sent.resent_from)
    for delivery in view.deliveries:
        line = Text.assemble(
            f"{delivery.recipient} ",
            messages_queues.state_text(delivery.state),
            f", {plural(delivery.attempts, 'attempt')}",
        )
        if delivery.last_error:
            line.append(f": {delivery.last_error}")
        field("To", line)
    if view.received is not None:
        field("State", view.received.state)
        field("Read", when(view.received.retrieved_at))
    for receipt in view.receipts:
        why = f" ({receipt.reason}: {receipt.detail})" if receipt.reason else ""
        field(
            f"Receipt {receipt.kind}",
            f"{receipt.direction} {when(receipt.time, seconds=True)}{why}",
        )


app.command()(messages_queues.peers)
app.command()(send)
app.command("outbox")(messages_queues.outbox_list)
app.command("inbox")(inbox_list)
app.command()(read)
app.command()(show)
app.command()(messages_queues.deliver)
app.command()(messages_queues.dead)
app.command()(messages_queues.retry)
app.command()(messages_bundles.export)
app.command("import")(messages_bundles.import_)

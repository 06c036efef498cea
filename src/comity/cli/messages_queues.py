"""``comity messages`` commands about the queues of delivery: each peer's reachability
and queues, the outbox, the dead letters, a delivery round now, and sending a failed
message anew. Registered on the ``messages`` group by :mod:`comity.cli.messages`; the
rules are in :mod:`comity.exchange.delivery` and :mod:`comity.exchange.outbox`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from comity.cli.common import (
    JsonOutput,
    console,
    errors,
    iso,
    opened_node,
    plural,
    print_json,
    table,
    when,
)
from comity.errors import ValidationError
from comity.exchange import message_views, outbox
from comity.exchange.delivery import DeliveryRound, deliver_due
from comity.exchange.message_models import DeliveryState
from comity.exchange.transport import HttpEnvelopeTransport
from comity.node import local_operator

MessageId = Annotated[
    str, typer.Argument(help="The message id ('comity messages outbox' or 'inbox').")
]
STATE_STYLE = {
    DeliveryState.QUEUED: "yellow",
    DeliveryState.ACCEPTED: "cyan",
    DeliveryState.DELIVERED: "green",
    DeliveryState.RETRIEVED: "green",
    DeliveryState.FAILED: "red",
}


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(DeliveryState(state), ""))


def entry_json(entry: message_views.OutboxEntry) -> dict[str, Any]:
    message, delivery = entry.message, entry.delivery
    return {
        "message_id": message.message_id,
        "conversation_id": message.conversation_id,
        "sequence": message.sequence,
        "type": message.message_type,
        "recipient": delivery.recipient,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "deadline": iso(delivery.deadline),
        "last_error": delivery.last_error,
        "failure": delivery.failure,
        "created_at": iso(message.created_at),
        "accepted_at": iso(delivery.accepted_at),
        "delivered_at": iso(delivery.delivered_at),
        "retrieved_at": iso(delivery.retrieved_at),
        "failed_at": iso(delivery.failed_at),
    }


def peers(as_json: JsonOutput = False) -> None:
    """Each peer with how the latest delivery to it went, and its queues: messages
    queued, accepted (held there), delivered and failed, and held here from it.

    Example: comity messages peers
    """
    with opened_node() as node:
        found = message_views.peer_queues(node, local_operator())
    if as_json:
        print_json(
            [
                {
                    "node": peer.node_id,
                    "status": peer.status,
                    "endpoint": peer.endpoint,
                    "reachable": peer.reachable,
                    "last_attempt_at": iso(peer.last_attempt_at),
                    "last_error": peer.last_error,
                    "last_received_at": iso(peer.last_received_at),
                    "queued": peer.queued,
                    "accepted": peer.accepted,
                    "delivered": peer.delivered,
                    "failed": peer.failed,
                    "held_here": peer.held_here,
                }
                for peer in found
            ]
        )
        return
    if not found:
        console.print("No peers yet: add one with 'comity peers add FILE-OR-URL'.")
        return
    for peer in found:
        if peer.reachable is None:
            reached = Text("never tried")
        else:
            reached = Text(
                "reachable" if peer.reachable else "unreachable",
                style="green" if peer.reachable else "red",
            )
            reached.append(f" (last try {when(peer.last_attempt_at)} UTC)")
        console.print(
            Text.assemble((peer.name, "bold"), "  ", peer.status, "  ", reached), soft_wrap=True
        )
        for name, value in (
            ("Node", peer.node_id),
            (
                "Outbox",
                f"{peer.queued} queued, {peer.accepted} accepted, {peer.delivered} "
                f"delivered, {peer.failed} failed",
            ),
            ("Inbox", f"{peer.held_here} held; last received {when(peer.last_received_at)}"),
        ):
            console.print(Text.assemble("  ", (name, "bold"), "  ", value), soft_wrap=True)
        if peer.reachable is False:
            console.print(
                Text.assemble("  ", ("Last error", "bold"), "  ", (peer.last_error, "red")),
                soft_wrap=True,
            )


def print_outbox(
    entries: list[message_views.OutboxEntry], names: dict[str, str], title: str
) -> None:
    """A table of deliveries, then the last error of each that has one, in full."""
    shown = table(
        "Message", "To", "State", "Tries", "Next try", title=title,
        whole=("Message", "State", "Next try"),
    )  # fmt: skip
    for entry in entries:
        delivery = entry.delivery
        state = state_text(delivery.state)
        if delivery.failure:
            state.append(f" ({delivery.failure})")
        shown.add_row(
            entry.message.message_id,
            names.get(delivery.recipient, delivery.recipient),
            state,
            str(delivery.attempts),
            when(delivery.next_attempt_at),
        )
    console.print(shown)
    for entry in entries:
        if entry.delivery.last_error:
            console.print(
                Text.assemble((entry.message.message_id, "bold"), "  ", entry.delivery.last_error),
                soft_wrap=True,
            )


def outbox_list(
    state: Annotated[
        list[str] | None,
        typer.Option(help="Only deliveries in this state (queued, accepted, delivered, …)."),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Messages sent, one line per recipient: state, attempts, next try, last error.

    Example: comity messages outbox --state queued
    """
    with opened_node() as node:
        entries = message_views.outbox(node, local_operator(), states=state or ())
        names = message_views.peer_names(node, local_operator())
    if as_json:
        print_json([entry_json(entry) for entry in entries])
    elif not entries:
        console.print("Nothing sent yet.")
    else:
        print_outbox(entries, names, "Outbox")


def dead(as_json: JsonOutput = False) -> None:
    """Deliveries that failed for good (a rejection, or no receipt in time) and were not
    sent anew: the dead letters. 'comity messages retry' sends one anew.

    Example: comity messages dead
    """
    with opened_node() as node:
        entries = message_views.dead_letters(node, local_operator())
        names = message_views.peer_names(node, local_operator())
    if as_json:
        print_json([entry_json(entry) for entry in entries])
    elif not entries:
        console.print("No failed deliveries.")
    else:
        print_outbox(entries, names, "Failed deliveries")
        errors.print(
            f"{plural(len(entries), 'delivery', 'deliveries')} failed for good.", style="red"
        )


def _summary(done: DeliveryRound, names: dict[str, str]) -> None:
    for ended in done.ended:
        errors.print(
            f"Message {ended.message_id} to {names.get(ended.recipient, ended.recipient)} "
            f"failed for good: {ended.failure}.",
            style="red",
            soft_wrap=True,
        )
    shown = table("Message", "To", "State", title="Delivery round", whole=("Message", "State"))
    for attempt in done.attempts:
        shown.add_row(
            attempt.message_id,
            names.get(attempt.recipient, attempt.recipient),
            state_text(attempt.state),
        )
    if done.attempts:
        console.print(shown)
    for attempt in done.attempts:
        if attempt.error:
            console.print(
                Text.assemble((attempt.message_id, "bold"), "  ", attempt.error), soft_wrap=True
            )
    delivered = sum(
        1 for a in done.attempts if a.state in {DeliveryState.DELIVERED, DeliveryState.ACCEPTED}
    )
    console.print(
        f"{plural(len(done.attempts), 'delivery', 'deliveries')} tried, {delivered} accepted; "
        f"{len(done.ended)} failed for good; {done.holds_released} held conversation(s) "
        "moved on.",
        soft_wrap=True,
    )


def deliver(as_json: JsonOutput = False) -> None:
    """Run one delivery round now: end what can no longer be delivered, then post every
    delivery that is due and record the receipts (what 'comity serve' does on a timer).

    Example: comity messages deliver
    """
    with (
        opened_node() as node,
        HttpEnvelopeTransport() as transport,
        errors.status("Delivering…"),
    ):
        done = deliver_due(node, local_operator(), transport)
        names = message_views.peer_names(node, local_operator())
    if as_json:
        print_json(
            {
                "ended": [
                    {"message_id": e.message_id, "recipient": e.recipient, "failure": e.failure}
                    for e in done.ended
                ],
                "attempts": [
                    {
                        "message_id": a.message_id,
                        "recipient": a.recipient,
                        "state": a.state,
                        "error": a.error,
                    }
                    for a in done.attempts
                ],
                "holds_released": done.holds_released,
            }
        )
        return
    _summary(done, names)


def retry(
    message_id: MessageId,
    to: Annotated[
        str | None,
        typer.Option(help="The recipient it failed for (needed if it failed for several)."),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Send a failed message anew to a recipient, as a new message with the same content
    and place in its conversation. The failure stays on record: a failure is final.

    Example: comity messages retry 3d4f7c1a-8e2b-4f6d-9a0c-5b1e2d3f4a6b
    """
    with opened_node() as node:
        recipient = to
        if recipient is None:
            failed = [
                d
                for d in message_views.show_message(node, local_operator(), message_id).deliveries
                if d.state == DeliveryState.FAILED
            ]
            if len(failed) != 1:
                raise ValidationError(
                    f"The message failed for {plural(len(failed), 'recipient')}; name one "
                    "with --to.",
                    fields={"to": "required"},
                )
            recipient = failed[0].recipient
        sent = outbox.resend_message(node, local_operator(), message_id, recipient)
    if as_json:
        print_json(
            {
                "message_id": sent.message.message_id,
                "resent_from": sent.message.resent_from,
                "recipient": recipient,
            }
        )
        return
    console.print(
        f"Sent anew to {recipient} as message {sent.message.message_id}; "
        "'comity messages deliver' sends it now.",
        soft_wrap=True,
    )

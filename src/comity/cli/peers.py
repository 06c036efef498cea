"""``comity node descriptor`` (this node's signed descriptor, to hand to a peer's
administrator) and ``comity peers …`` (the trust list: add, confirm by fingerprint,
update, suspend, resume, revoke, list, show). The rules are in
:mod:`comity.exchange.peers`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from comity import __version__
from comity.cli.common import JsonOutput, console, field, iso, opened_node, print_json, when
from comity.errors import PeerUnreachable, ValidationError
from comity.exchange import own_node, peers
from comity.exchange.descriptor import MAX_DESCRIPTOR_BYTES
from comity.exchange.models import PeerStatus
from comity.node import local_operator

DESCRIPTOR_PATH = "/api/v1/node/descriptor"

node_app = typer.Typer(
    help=("This node as its peers see it.\n\nExample: comity node descriptor --out our-node.json"),
    no_args_is_help=True,
)
peers_app = typer.Typer(
    help=(
        "The peer nodes this node exchanges messages with: add one from its descriptor, "
        "confirm it by comparing fingerprints out of band, suspend, resume or revoke it.\n\n"
        "Example: comity peers add their-node.json && comity peers confirm NODE "
        "--fingerprint '1a2b 3c4d …'"
    ),
    no_args_is_help=True,
)

NodeId = Annotated[
    str, typer.Argument(help="The peer's node id ('comity peers list').", show_default=False)
]
Reason = Annotated[
    str, typer.Option(help="Why, for the audit trail and the ledger (at most 1,000 characters).")
]

STATUS_STYLE = {
    PeerStatus.PENDING: "yellow",
    PeerStatus.CONFIRMED: "green",
    PeerStatus.SUSPENDED: "magenta",
    PeerStatus.REVOKED: "red",
}


def descriptor(
    out: Annotated[
        Path | None,
        typer.Option(help="Write the descriptor to this file instead of standard output."),
    ] = None,
) -> None:
    """Print this node's signed descriptor (its id, organisation, address and public keys)
    for the administrator of a peer node, who adds it with 'comity peers add'.

    Read your fingerprint to that administrator by telephone or in person: they confirm
    you with it. The descriptor itself may travel by e-mail; it holds no secret. With
    --out, the fingerprint is printed too.

    Example: comity node descriptor --out our-node.json
    """
    with opened_node() as node, node.uow() as uow:
        signed = own_node.local_descriptor(uow.session, node.settings, node.keys)
    if out is None:
        sys.stdout.write(signed.raw.decode("utf-8") + "\n")
        return
    out.write_bytes(signed.raw + b"\n")
    console.print(f"Wrote this node's descriptor to {out}.", soft_wrap=True)
    field("Node", signed.descriptor.node)
    field("Endpoint", signed.descriptor.endpoints[0])
    field("Fingerprint", Text(signed.fingerprint, style="bold"))
    field("Valid until", when(signed.descriptor.expires_at))


def _read_source(source: str) -> bytes:
    """The descriptor bytes from a file, standard input ('-') or a node's base URL."""
    if source == "-":
        return sys.stdin.buffer.read(MAX_DESCRIPTOR_BYTES + 1)
    if source.startswith(("http://", "https://")):
        url = source.rstrip("/") + DESCRIPTOR_PATH
        try:
            response = httpx.get(url, timeout=15, headers={"User-Agent": f"comity/{__version__}"})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise PeerUnreachable(f"Could not fetch {url}: {exc}") from None
        return response.content
    path = Path(source)
    if not path.is_file():
        raise ValidationError(
            f"{source} is not a file, '-' or an http(s) URL of a node.",
            fields={"source": "missing"},
        )
    with path.open("rb") as handle:
        return handle.read(MAX_DESCRIPTOR_BYTES + 1)


def peer_json(peer: peers.Peer) -> dict[str, Any]:
    row = peer.row
    return {
        "node": row.node_id,
        "organisation": {
            "id": peer.organisation.id,
            "name": peer.organisation.name,
            "kind": peer.organisation.kind,
            "country": peer.organisation.country,
        },
        "status": row.status,
        "status_reason": row.status_reason,
        "fingerprint": row.fingerprint,
        "endpoint": row.endpoint,
        "descriptor_issued_at": iso(row.issued_at),
        "descriptor_expires_at": iso(row.expires_at),
        "added_at": iso(row.added_at),
        "confirmed_at": iso(row.confirmed_at),
        "keys": [
            {
                "id": key.key_id,
                "use": key.use,
                "valid_from": iso(key.valid_from),
                "valid_until": iso(key.valid_until),
            }
            for key in peer.keys
        ],
    }


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(PeerStatus(status), ""))


def _show(peer: peers.Peer) -> None:
    row = peer.row
    field("Node", row.node_id)
    field("Organisation", f"{peer.organisation.name} ({peer.organisation.kind})")
    field("Country", peer.organisation.country or "-")
    field("Status", _status(row.status))
    if row.status_reason:
        field("Reason", row.status_reason)
    field("Fingerprint", Text(row.fingerprint, style="bold"))
    field("Endpoint", row.endpoint)
    field("Descriptor", f"issued {when(row.issued_at)} UTC, valid until {when(row.expires_at)}")
    for key in peer.keys:
        until = f" until {when(key.valid_until)}" if key.valid_until else ""
        field(f"{key.use.capitalize()} key", f"{key.key_id} from {when(key.valid_from)}{until}")


def add(
    source: Annotated[
        str,
        typer.Argument(
            help="The peer's descriptor: a file, '-' for standard input, or the node's "
            "base URL (https://…) to fetch it from.",
            show_default=False,
        ),
    ],
    as_json: JsonOutput = False,
) -> None:
    """Add a peer node from its signed descriptor. It stays pending until you confirm its
    fingerprint with its administrator ('comity peers confirm').

    Example: comity peers add their-node.json
    """
    data = _read_source(source)
    with opened_node() as node, node.uow() as uow:
        peer = peers.add_peer(uow, local_operator(), data)
    if as_json:
        print_json(peer_json(peer))
        return
    console.print(
        f"Added {peer.organisation.name} as a pending peer. Before confirming it, ask its "
        "administrator to read out their fingerprint by telephone or in person, and check "
        "that it is this one:",
        soft_wrap=True,
    )
    field("Fingerprint", Text(peer.row.fingerprint, style="bold"))
    console.print(
        f"Then: comity peers confirm {peer.node_id} --fingerprint '<what they read out>'",
        soft_wrap=True,
    )


def confirm(
    node_id: NodeId,
    fingerprint: Annotated[
        str,
        typer.Option(
            help="The fingerprint as the peer's administrator read it out (spaces optional).",
            show_default=False,
        ),
    ],
    as_json: JsonOutput = False,
) -> None:
    """Trust a pending peer: the fingerprint its administrator gave you must match.

    Example: comity peers confirm 3f0c… --fingerprint '1a2b 3c4d 5e6f 7a8b 9c0d 1e2f 3a4b 5c6d'
    """
    with opened_node() as node, node.uow() as uow:
        peer = peers.confirm_peer(uow, local_operator(), node_id, fingerprint)
    if as_json:
        print_json(peer_json(peer))
        return
    console.print(f"{peer.organisation.name} is now a confirmed peer.", soft_wrap=True)


def update(
    source: Annotated[
        str,
        typer.Argument(
            help="The peer's newer descriptor: a file, '-', or the node's base URL.",
            show_default=False,
        ),
    ],
    as_json: JsonOutput = False,
) -> None:
    """Take a newer descriptor from a known peer (a new address, new or retired keys). It
    must be signed by a key this node already holds for the peer.

    Example: comity peers update https://comity.partner.example.org
    """
    data = _read_source(source)
    with opened_node() as node, node.uow() as uow:
        peer = peers.update_peer(uow, local_operator(), data)
    if as_json:
        print_json(peer_json(peer))
        return
    console.print(f"Updated {peer.organisation.name} from its new descriptor.", soft_wrap=True)
    _show(peer)


def _changed(change: Callable[..., peers.Peer], node_id: str, reason: str) -> peers.Peer:
    with opened_node() as node, node.uow() as uow:
        return change(uow, local_operator(), node_id, reason=reason)


def _report(peer: peers.Peer, as_json: bool, says: str) -> None:
    if as_json:
        print_json(peer_json(peer))
        return
    console.print(says.format(name=peer.organisation.name, status=peer.status), soft_wrap=True)


def suspend(node_id: NodeId, reason: Reason = "", as_json: JsonOutput = False) -> None:
    """Stop exchanging with a peer for now; 'comity peers resume' lifts it.

    Example: comity peers suspend 3f0c… --reason 'their key may be exposed; checking'
    """
    _report(_changed(peers.suspend_peer, node_id, reason), as_json, "{name} is suspended.")


def resume(node_id: NodeId, reason: Reason = "", as_json: JsonOutput = False) -> None:
    """Lift a suspension: the peer is confirmed again (or pending, if it never was).

    Example: comity peers resume 3f0c… --reason 'checked with their administrator'
    """
    _report(_changed(peers.resume_peer, node_id, reason), as_json, "{name} is {status} again.")


def revoke(node_id: NodeId, reason: Reason = "", as_json: JsonOutput = False) -> None:
    """Distrust a peer for good: a compromised key, an ended partnership. It cannot be
    undone; to work with that node again, add it anew and compare fingerprints.

    Example: comity peers revoke 3f0c… --reason 'signing key reported stolen'
    """
    _report(_changed(peers.revoke_peer, node_id, reason), as_json, "{name} is revoked.")


def list_peers(as_json: JsonOutput = False) -> None:
    """List the peer nodes with their status, address and fingerprint.

    Example: comity peers list --json
    """
    with opened_node() as node, node.uow() as uow:
        found = peers.list_peers(uow, local_operator())
    if as_json:
        print_json([peer_json(peer) for peer in found])
        return
    if not found:
        console.print("No peers yet: add one with 'comity peers add FILE-OR-URL'.")
        return
    for peer in found:
        console.print(
            Text.assemble((peer.organisation.name, "bold"), "  ", _status(peer.status)),
            soft_wrap=True,
        )
        for name, value in (
            ("Node", peer.node_id),
            ("Endpoint", peer.row.endpoint),
            ("Fingerprint", peer.row.fingerprint),
        ):
            console.print(Text.assemble("  ", (name, "bold"), "  ", value), soft_wrap=True)


def show(node_id: NodeId, as_json: JsonOutput = False) -> None:
    """Show one peer: organisation, status, fingerprint, address and every key it listed.

    Example: comity peers show 3f0c…
    """
    with opened_node() as node, node.uow() as uow:
        peer = peers.get_peer(uow, local_operator(), node_id)
    if as_json:
        print_json(peer_json(peer))
        return
    _show(peer)


node_app.command()(descriptor)
peers_app.command()(add)
peers_app.command()(confirm)
peers_app.command()(update)
peers_app.command()(suspend)
peers_app.command()(resume)
peers_app.command()(revoke)
peers_app.command("list")(list_peers)
peers_app.command()(show)

"""``comity ledger`` commands about witnessing: this node's witnesses (``witness add``,
``witness list``) and the witnessing of other nodes' logs (``follow``, ``witness-run``,
``alarms``, ``followed``). They are registered on the ledger group in
:mod:`comity.cli.ledger`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.text import Text

from comity.cli.common import (
    JsonOutput,
    console,
    iso,
    opened_node,
    plural,
    print_json,
    when,
)
from comity.errors import ComityError
from comity.ledger import following, services, witnessing
from comity.ledger.models import (
    LedgerAlarm,
    LedgerFollowedLog,
    LedgerWitness,
)
from comity.ledger.note import b64encode
from comity.ledger.transport import HttpTransport
from comity.node import local_operator


class WitnessRunFailed(ComityError):
    """A witnessing round raised an alarm or could not finish (exit 1; each log's outcome
    is printed first)."""

    code = "witness_run_failed"


def witness_json(row: LedgerWitness) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "vkey": row.vkey,
        "url": row.url,
        "active": row.active,
        "added_at": iso(row.added_at),
    }


def add_witness(
    vkey: Annotated[
        str,
        typer.Argument(
            help="The witness's cosignature key, name+keyid+base64 (from its operator).",
            show_default=False,
        ),
    ],
    url: Annotated[str, typer.Option(help="Where to ask the witness for cosignatures.")] = "",
    as_json: JsonOutput = False,
) -> None:
    """Trust a peer as a witness: its cosignatures of this log's checkpoints are accepted
    and checked by 'comity ledger verify'.

    Example: comity ledger witness add 'witness.example.org+1a2b3c4d+BPsz…'
    --url https://witness.example.org/
    """
    with opened_node() as node, node.uow() as uow:
        row = services.add_witness(uow, local_operator(), vkey=vkey, url=url)
    if as_json:
        print_json(witness_json(row))
        return
    console.print(
        f"Added the witness '{row.name}'; its cosignatures of this log's checkpoints are "
        "now accepted.",
        soft_wrap=True,
    )


def list_witnesses(as_json: JsonOutput = False) -> None:
    """List the witnesses whose cosignatures this node accepts.

    Example: comity ledger witness list --json
    """
    with opened_node() as node, node.uow() as uow:
        found = services.list_witnesses(uow, local_operator())
    if as_json:
        print_json([witness_json(row) for row in found])
        return
    if not found:
        console.print("No witnesses yet: add one with 'comity ledger witness add VKEY'.")
        return
    for row in found:
        state = "active" if row.active else "inactive"
        console.print(
            Text.assemble((row.name, "bold"), f"  ({state}, added {when(row.added_at)} UTC)"),
            soft_wrap=True,
        )
        console.print(Text.assemble("  ", ("Key", "bold"), "  ", row.vkey), soft_wrap=True)
        console.print(Text.assemble("  ", ("URL", "bold"), "  ", row.url or "-"), soft_wrap=True)


# --- witnessing other logs ---------------------------------------------------------------


def followed_json(row: LedgerFollowedLog) -> dict[str, Any]:
    return {
        "origin": row.origin,
        "vkey": row.vkey,
        "url": row.url,
        "last_size": row.last_size,
        "last_root": b64encode(row.last_root),
        "last_checkpoint": row.last_note or None,
        "added_at": iso(row.added_at),
        "updated_at": iso(row.updated_at),
    }


def follow(
    vkey: Annotated[
        str,
        typer.Argument(
            help="The log's key, name+keyid+base64 ('Log key' in the other node's "
            "'comity ledger status'), from its operator by a channel you trust.",
            show_default=False,
        ),
    ],
    url: Annotated[
        str,
        typer.Option(
            help="The other node's base URL, as its operator gives it.", show_default=False
        ),
    ],
    as_json: JsonOutput = False,
) -> None:
    """Witness another node's log: check each of its checkpoints and cosign it.

    The key's name is the log's origin. 'comity ledger witness-run' then fetches the log's
    checkpoints from URL; the log's operator accepts this node's cosignatures after
    'comity ledger witness add' with this node's witness key.

    Example: comity ledger follow 'comity/3a53f320-…+f19ac669+AeQF…'
    --url https://comity.partner.example
    """
    with opened_node() as node, node.uow() as uow:
        row = following.follow_log(uow, local_operator(), vkey=vkey, url=url)
    if as_json:
        print_json(followed_json(row))
        return
    console.print(
        f"This node now follows the log {row.origin} at {row.url}; "
        "'comity ledger witness-run' checks and cosigns it.",
        soft_wrap=True,
    )


def unfollow(
    origin: Annotated[
        str,
        typer.Argument(
            help="The log's origin, as 'comity ledger followed' shows it.", show_default=False
        ),
    ],
    as_json: JsonOutput = False,
) -> None:
    """Stop witnessing another node's log.

    This node forgets the largest checkpoint it had verified of that log (the audit trail
    keeps it, and any alarm stays); following the log again starts over from size 0.

    Example: comity ledger unfollow 'comity/3a53f320-…'
    """
    with opened_node() as node, node.uow() as uow:
        row = following.unfollow_log(uow, local_operator(), origin)
    if as_json:
        print_json(followed_json(row))
        return
    console.print(
        f"This node no longer follows the log {row.origin} (last cosigned size {row.last_size}).",
        soft_wrap=True,
    )


def _outcome_json(origin: str, outcome: witnessing.WitnessResult | ComityError) -> dict[str, Any]:
    if isinstance(outcome, witnessing.WitnessResult):
        return {
            "origin": origin,
            "ok": True,
            "old_size": outcome.old_size,
            "size": outcome.new_size,
            "cosigned": outcome.cosigned,
        }
    return {
        "origin": origin,
        "ok": False,
        "alarm": outcome.kind if isinstance(outcome, witnessing.WitnessAlarm) else None,
        "error": outcome.code,
        "message": outcome.message,
    }


def witness_run(
    origin: Annotated[
        str | None,
        typer.Argument(help="Only this followed log (default: every one).", show_default=False),
    ] = None,
    as_json: JsonOutput = False,
) -> None:
    """Witness the followed logs now: check each one's latest checkpoint, cosign it and
    hand the cosignature to the log.

    A log that shows a smaller size than before (rollback), another root for the same
    size (split view), or a checkpoint its consistency proof does not join to the last
    one cosigned (inconsistent) is not cosigned: an alarm is recorded with the evidence
    and the command exits with code 1 after trying every log. Run it from a timer or
    cron, every few minutes.

    Example: comity ledger witness-run
    """
    with opened_node() as node, HttpTransport() as transport:
        outcomes = witnessing.witness_logs(
            node,
            local_operator(),
            transport,
            [origin] if origin is not None else None,
            on_outcome=None if as_json else _print_outcome,
        )
    if as_json:
        print_json([_outcome_json(name, outcome) for name, outcome in outcomes])
    elif not outcomes:
        console.print(
            "This node follows no log yet: add one with 'comity ledger follow VKEY --url URL'."
        )
    failed = [name for name, outcome in outcomes if isinstance(outcome, ComityError)]
    if failed:
        alarms = [
            name for name, outcome in outcomes if isinstance(outcome, witnessing.WitnessAlarm)
        ]
        raise WitnessRunFailed(
            f"{plural(len(failed), 'log')} of {len(outcomes)} not cosigned"
            + (f"; {plural(len(alarms), 'alarm')}: see 'comity ledger alarms'" if alarms else "")
            + "."
        )


def _print_outcome(origin: str, outcome: witnessing.WitnessResult | ComityError) -> None:
    if isinstance(outcome, witnessing.WitnessResult):
        grown = outcome.new_size - outcome.old_size
        since = f" (+{grown} since size {outcome.old_size})" if grown else " (unchanged)"
        line = Text.assemble(("cosigned", "green"), f" size {outcome.new_size}{since}")
    elif isinstance(outcome, witnessing.WitnessAlarm):
        line = Text.assemble((f"ALARM {outcome.kind}", "bold red"), ": ", outcome.message)
    else:
        line = Text.assemble(("not cosigned", "red"), ": ", outcome.message)
    console.print(Text.assemble((origin, "bold"), ": ", line), soft_wrap=True)


def alarm_json(row: LedgerAlarm) -> dict[str, Any]:
    try:
        evidence: Any = json.loads(row.evidence)
    except ValueError:
        evidence = row.evidence
    return {
        "id": row.id,
        "at": iso(row.at),
        "origin": row.origin,
        "kind": row.kind,
        "detail": row.detail,
        "evidence": evidence,
    }


def alarms(as_json: JsonOutput = False) -> None:
    """List the alarms raised while witnessing other logs, newest first, with evidence.

    Each alarm keeps the log's checkpoint this node had verified and the signed checkpoint
    that conflicts with it (and the consistency proof given, if any): together they show
    what the log did, to anyone holding its key. See docs/witnessing.md for what to do.

    Example: comity ledger alarms --json > alarms.json
    """
    with opened_node() as node, node.uow() as uow:
        found = following.list_alarms(uow, local_operator())
    if as_json:
        print_json([alarm_json(row) for row in found])
        return
    if not found:
        console.print("No alarms: every followed log has only grown as far as seen.")
        return
    for row in found:
        console.print(
            Text.assemble(
                (f"#{row.id} {row.kind}", "bold red"),
                f"  {row.origin}  ({when(row.at, seconds=True)} UTC)",
            ),
            soft_wrap=True,
        )
        message = row.detail.get("message")
        if isinstance(message, str):
            console.print("  " + message, soft_wrap=True)
        evidence = alarm_json(row)["evidence"]
        if isinstance(evidence, dict):
            for key, title in (
                ("previous_checkpoint", "Checkpoint verified before"),
                ("checkpoint", "Conflicting checkpoint"),
            ):
                console.print(Text.assemble("  ", (title + ":", "bold")))
                for text_line in str(evidence.get(key) or "(none)\n").splitlines():
                    console.print(("    " + text_line).rstrip(), soft_wrap=True)
            proof = evidence.get("consistency_proof")
            if isinstance(proof, list):
                console.print(Text.assemble("  ", ("Consistency proof given:", "bold")))
                for value in proof:
                    console.print(f"    {value}", soft_wrap=True)


def followed(as_json: JsonOutput = False) -> None:
    """List the other nodes' logs this node witnesses, with the last size it cosigned.

    Example: comity ledger followed --json
    """
    with opened_node() as node, node.uow() as uow:
        found = following.list_followed(uow, local_operator())
    if as_json:
        print_json([followed_json(row) for row in found])
        return
    if not found:
        console.print(
            "This node follows no log: add one with 'comity ledger follow VKEY --url URL'."
        )
        return
    for row in found:
        state = (
            f"cosigned size {row.last_size}, {when(row.updated_at)} UTC"
            if row.last_note
            else "not witnessed yet"
        )
        console.print(Text.assemble((row.origin, "bold"), f"  ({state})"), soft_wrap=True)
        console.print(Text.assemble("  ", ("Key", "bold"), "  ", row.vkey), soft_wrap=True)
        console.print(Text.assemble("  ", ("URL", "bold"), "  ", row.url), soft_wrap=True)

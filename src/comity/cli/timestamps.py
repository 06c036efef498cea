"""``comity ledger timestamp``: RFC 3161 time-stamps of this node's checkpoints, from the
authority of ``COMITY_TSA_URL``; and what ``comity ledger checkpoint`` says after it has
time-stamped. Registered on the ``ledger`` group by :mod:`comity.cli.ledger`.
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
    progress_bar,
    when,
)
from comity.errors import ComityError
from comity.ledger import timestamping
from comity.ledger.note import b64encode
from comity.node import local_operator


class TimestampingFailed(ComityError):
    """The authority did not time-stamp every pending checkpoint (exit 1; what was done
    is printed first)."""

    code = "timestamping_failed"


def run_json(run: timestamping.StampRun) -> dict[str, Any]:
    failure = run.failure
    return {
        "authority": run.authority,
        "ok": run.ok,
        "stamped": [
            {"size": stamp.size, "gen_time": iso(stamp.gen_time), "token": b64encode(stamp.token)}
            for stamp in run.stamped
        ],
        "failed": {
            "size": failure.size,
            "error": failure.error.code,
            "message": failure.error.message,
        }
        if failure is not None
        else None,
        "pending": run.pending,
    }


def _failure_message(failure: timestamping.StampFailure, pending: int) -> str:
    return (
        f"The checkpoint at size {failure.size} was not time-stamped "
        f"({plural(pending, 'checkpoint')} still without a time-stamp; the next run of "
        f"'comity ledger timestamp' tries again): {failure.error.message}"
    )


def tell_after_checkpoint(run: timestamping.StampRun, size: int) -> None:
    """After ``comity ledger checkpoint``: what time-stamping did, on standard error, so
    standard output stays the note's bytes."""
    own = next((stamp for stamp in run.stamped if stamp.size == size), None)
    others = len(run.stamped) - (1 if own is not None else 0)
    if own is not None:
        errors.print(
            f"Time-stamped by {run.authority} at {when(own.gen_time, seconds=True)} UTC"
            + (f" (and {plural(others, 'earlier checkpoint')})" if others else "")
            + ".",
            soft_wrap=True,
        )
    elif others:
        errors.print(
            f"Time-stamped {plural(others, 'earlier checkpoint')} by {run.authority}.",
            soft_wrap=True,
        )
    if run.failure is not None:
        errors.print(
            Text.assemble(
                ("Warning:", "yellow"),
                " the checkpoint is made. ",
                _failure_message(run.failure, run.pending),
            ),
            soft_wrap=True,
        )


def timestamp(
    limit: Annotated[
        int,
        typer.Option(
            min=1,
            max=timestamping.MAX_PER_RUN,
            help="Time-stamp at most this many checkpoints, newest first.",
        ),
    ] = timestamping.MAX_PER_RUN,
    as_json: JsonOutput = False,
) -> None:
    """Time-stamp the checkpoints that have no time-stamp yet by the RFC 3161 authority
    of COMITY_TSA_URL, newest first.

    Each token covers the exact bytes of a checkpoint's signed note and is kept only once
    it verifies: granted, the request's nonce, the note's SHA-256, and a signature that
    chains to the roots of COMITY_TSA_CA_FILE. 'comity ledger checkpoint' does this after
    each checkpoint; run this command from a timer to catch up after the authority was
    unreachable. The first checkpoint the authority does not time-stamp ends the run: the
    reason is recorded in the audit trail (ledger.timestamp, failure), the rest wait for
    the next run, and the command exits with code 1.

    Example: comity ledger timestamp --json
    """
    with opened_node() as node, progress_bar("Time-stamping", enabled=not as_json) as progress:
        run = timestamping.timestamp_pending(node, local_operator(), limit=limit, progress=progress)
    if as_json:
        print_json(run_json(run))
    else:
        for stamp in run.stamped:
            console.print(
                Text.assemble(
                    (f"checkpoint at size {stamp.size}", "bold"),
                    ": ",
                    ("time-stamped", "green"),
                    f" {when(stamp.gen_time, seconds=True)} UTC",
                ),
                soft_wrap=True,
            )
        if run.failure is not None:
            console.print(
                Text.assemble(
                    (f"checkpoint at size {run.failure.size}", "bold"),
                    ": ",
                    ("not time-stamped", "red"),
                    ": ",
                    run.failure.error.message,
                ),
                soft_wrap=True,
            )
        if not run.stamped and run.ok:
            console.print("Every checkpoint is time-stamped already.")
        else:
            console.print(
                f"{plural(len(run.stamped), 'checkpoint')} time-stamped by {run.authority}; "
                f"{run.pending} still without a time-stamp.",
                soft_wrap=True,
            )
    if run.failure is not None:
        raise TimestampingFailed(_failure_message(run.failure, run.pending))

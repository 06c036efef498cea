"""Working ahead on helper threads (``comity.vault.ahead``): results in the order of the
inputs, an error at its input's turn, inputs not marked ahead worked on the caller's
thread, and whatever was worked out ahead but never given handed back for discarding."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comity.node import Node, local_operator
from comity.vault import ahead
from comity.vault.ingest import add_files
from comity.vault.items import get_item
from vault.vaulting import blob_files, ledger_ok, write


class Refused(Exception):
    pass


@given(
    flags=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=30),
    stop_after=st.none() | st.integers(0, 30),
)
def test_results_in_order_errors_at_their_turn_and_the_rest_discarded(
    flags: list[tuple[bool, bool]], stop_after: int | None
) -> None:
    """Each input is (worked ahead?, fails?); the caller may also stop early."""
    worked: list[int] = []
    lock = threading.Lock()

    def work(number: int) -> int:
        with lock:
            worked.append(number)
        if flags[number][1]:
            raise Refused(number)
        return number * 10

    discarded: list[int] = []
    run = ahead.in_order(
        range(len(flags)),
        work,
        ahead=lambda number: flags[number][0],
        discard=discarded.append,
    )
    received: list[int] = []
    failure = next((n for n, (_, fails) in enumerate(flags) if fails), None)
    try:
        for result in run:
            received.append(result)
            if stop_after is not None and len(received) > stop_after:
                break
    except Refused as refused:
        raised = refused.args[0]
    else:
        raised = None
    run.close()
    stop = len(flags) if stop_after is None else min(len(flags), stop_after + 1)
    reached = failure if failure is not None and failure < stop else None
    assert raised == reached
    assert received == [number * 10 for number in range(stop if reached is None else reached)]
    # Worked out and never received: exactly what is discarded, and only ahead work.
    unused = {number * 10 for number in worked if not flags[number][1]} - set(received)
    assert sorted(discarded) == sorted(unused)
    assert all(flags[value // 10][0] for value in discarded)


def test_inputs_not_marked_ahead_are_worked_on_the_callers_thread() -> None:
    threads: dict[int, str] = {}

    def work(number: int) -> int:
        threads[number] = threading.current_thread().name
        return number

    results = list(
        ahead.in_order(range(6), work, ahead=lambda n: n % 2 == 0, discard=lambda _: None)
    )
    assert results == list(range(6))
    caller = threading.current_thread().name
    assert [threads[n] == caller for n in range(6)] == [False, True] * 3


def test_a_caller_that_stops_early_leaves_no_blob_behind(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("comity.vault.ingest.BATCH_FILES", 1)
    paths = [write(tmp_path / f"f{n}.txt", f"file {n}\n".encode()) for n in range(12)]
    run = add_files(node, local_operator(), paths)
    first = next(run)
    run.close()  # the later files, some prepared ahead, are dropped
    assert first.name == "f0.txt"
    assert len(blob_files(node)) == 1  # the first file's; those prepared ahead are gone
    assert get_item(node, local_operator(), first.item_id).item.original_name == "f0.txt"
    assert ledger_ok(node)


def test_large_files_are_prepared_in_turn(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("comity.vault.ingest.AHEAD_MAX_BYTES", 4)
    paths = [write(tmp_path / f"f{n}.txt", b"x" * (2 + 2 * n) + bytes([n])) for n in range(5)]
    results = list(add_files(node, local_operator(), paths))
    assert [result.name for result in results] == [path.name for path in paths]
    assert len(blob_files(node)) == 5

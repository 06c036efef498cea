"""``comity evidence``: the commands in-process, and a real ``python -m comity evidence
add`` killed with SIGKILL at random points of a large ingest."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok, refused
from comity.node import Node, local_operator
from comity.settings import Settings
from comity.vault.items import download, list_items
from vault.vaulting import ledger_ok, vault_state


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def test_add_list_show_get_and_skip_what_is_held(node: Node, run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "capture"
    (folder / "day2").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"first\n")
    (folder / "day2" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n....")

    added = as_json(run("evidence", "add", str(folder), "--recursive", "--who", "Team 3", "--json"))
    assert [entry["name"] for entry in added["added"]] == ["a.txt", "b.png"]
    assert added["skipped"] == []

    again = ok(run("evidence", "add", str(folder), "-r"))
    assert "Already held" in again.stdout
    assert "0 files added, 2 already held." in flat(again.stdout)
    again_json = as_json(run("evidence", "add", str(folder / "a.txt"), "--json"))
    assert again_json == {"added": [], "skipped": [added["added"][0]]}

    listed = as_json(run("evidence", "list", "--json"))
    assert [(i["name"], i["media_type"]) for i in listed] == [
        ("a.txt", "text/plain"),
        ("b.png", "image/png"),
    ]
    assert listed[0]["acquisition"] == {"who": "Team 3"}
    item_id = listed[0]["id"]
    assert item_id in ok(run("evidence", "list")).stdout

    out = tmp_path / "back.txt"
    got = ok(run("evidence", "get", item_id, "--out", str(out)))
    assert out.read_bytes() == b"first\n"
    assert hashlib.sha256(b"first\n").hexdigest() in flat(got.stdout)

    shown = as_json(run("evidence", "show", item_id, "--check", "--json"))
    assert [row["action"] for row in shown["custody"]] == ["ingest", "download"]
    assert shown["check"] == {"ok": True, "problems": []}
    text = flat(ok(run("evidence", "show", item_id, "--check")).stdout)
    assert "ingest" in text
    assert "download" in text
    assert "intact" in text


def test_bad_input_is_one_line_and_stores_nothing(node: Node, run: Run, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_bytes(b"fine")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    before = vault_state(node)
    # The good file comes first: nothing is stored until every file was checked.
    refused(run("evidence", "add", str(good), str(empty)), 2, "is empty")
    refused(run("evidence", "add", str(good), str(tmp_path)), 2, "--recursive")
    refused(run("evidence", "add", str(good), "--where", "a\x1bb"), 2, "control character")
    refused(run("evidence", "get", "nope", "--out", str(tmp_path / "x")), 1, "No evidence item")
    refused(run("evidence", "show", "nope"), 1, "No evidence item")
    assert vault_state(node) == before

    item_id = as_json(run("evidence", "add", str(good), "--json"))["added"][0]["id"]
    refused(run("evidence", "get", item_id, "--out", str(good)), 1, "pass --force")
    assert good.read_bytes() == b"fine"


def test_show_check_names_a_damaged_blob_and_exits_1(node: Node, run: Run, tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(os.urandom(5000))
    item_id = as_json(run("evidence", "add", str(source), "--json"))["added"][0]["id"]
    shown = as_json(run("evidence", "show", item_id, "--json"))
    digest = shown["blob"].removeprefix("sha256/")
    blob = node.settings.resolved_vault_dir / "sha256" / digest[:2] / digest[2:4] / digest
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    result = run("evidence", "show", item_id, "--check")
    assert result.exit_code == 1
    assert "blob_changed" in result.stdout
    assert f"Item {item_id} is damaged" in result.stderr


def _add_command(settings: Settings, path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMITY_")}
    env.update({k: v for k, v in cli_env(settings).items() if v is not None})
    return subprocess.Popen(  # noqa: S603 - this Python running comity, on a file of this test
        [sys.executable, "-m", "comity", "evidence", "add", str(path), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_during_ingest(process: subprocess.Popen[bytes], scratch: Path, delay: float) -> None:
    """SIGKILL ``process`` ``delay`` seconds after its blob writer opened a new temporary
    file (the start of encryption; the whole ingest takes a few tenths of a second; killed
    runs before leave theirs behind), or at once if it has already finished."""
    left_before = set(scratch.iterdir()) if scratch.is_dir() else set()
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        if scratch.is_dir() and set(scratch.iterdir()) - left_before:
            break
        time.sleep(0.005)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_an_ingest_killed_at_any_point_leaves_no_half_item(
    node: Node, settings: Settings, tmp_path: Path
) -> None:
    big = tmp_path / "big.mov"
    big.write_bytes(os.urandom(50 * 1024 * 1024))
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    scratch = settings.resolved_vault_dir / "tmp"
    chance = random.Random()  # noqa: S311 - delays, not secrets
    delays = [*(chance.uniform(0, 0.4) for _ in range(5)), 5.0]
    for delay in delays:
        _kill_during_ingest(_add_command(settings, big), scratch, delay)
        held = list_items(node, local_operator())
        assert len(held) <= 1, delay
        if held:
            out = tmp_path / "check.mov"
            download(node, local_operator(), held[0].id, out, force=True)
            assert hashlib.sha256(out.read_bytes()).hexdigest() == digest == held[0].sha256
        assert ledger_ok(node), delay
    # The process given 5 seconds completed (or this would not hold) ...
    assert len(list_items(node, local_operator())) == 1
    # ... and a process killed while starting up changes nothing.
    process = _add_command(settings, big)
    time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()

    finisher = _add_command(settings, big)
    assert finisher.wait(timeout=60) == 0
    held = list_items(node, local_operator())
    assert [item.sha256 for item in held] == [digest]
    assert ledger_ok(node)

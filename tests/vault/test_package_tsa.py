"""``comity package verify --tsa-ca``: with the authorities' roots given, every
time-stamp token of a package (the checkpoint's and the items') must be signed by one of
them; a token from any other authority is named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.test_cli import invoke
from comity.ledger import checkpoints, rfc3161
from comity.ledger.timestamping import timestamp_pending
from comity.node import Node, local_operator
from comity.settings import Settings
from comity.vault.ingest import add_file
from comity.vault.package import export_items
from comity.vault.package_check import verify_package
from ledger.tsa import Authority, make_pki, running_authority, stamping_settings

OPERATOR = local_operator()


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[Authority]:
    with running_authority(tmp_path / "tsa") as made:
        yield made


@pytest.fixture
def settings(settings: Settings, authority: Authority) -> Settings:
    stamping = stamping_settings(settings, authority.url, authority.ca_file)
    return stamping.model_copy(update={"vault_timestamps": True})


@pytest.fixture
def package(node: Node, tmp_path: Path) -> tuple[Path, str]:
    """A package of one time-stamped item and a time-stamped checkpoint, and the key."""
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"\xff\xd8\xff a picture of the market\n")
    added = add_file(node, OPERATOR, source)
    with node.uow() as uow:
        checkpoints.make_checkpoint(uow, node.keys, OPERATOR)
        vkey = checkpoints.verifier(uow.session, node.keys).vkey
    assert timestamp_pending(node, OPERATOR).ok
    out = tmp_path / "case"
    export_items(node, OPERATOR, [added.item_id], out)
    return out, vkey


def test_tokens_signed_by_the_given_roots_verify(
    package: tuple[Path, str], authority: Authority
) -> None:
    out, vkey = package
    roots = rfc3161.read_roots(authority.ca_file.read_bytes(), "roots")
    report = verify_package(out, vkey, roots)
    assert report.ok, report.problems
    signed = [note for note in report.notes if "chains to the roots given" in note]
    assert len(signed) == 2  # the checkpoint's token and the item's
    unchecked = verify_package(out, vkey)
    assert unchecked.ok
    assert all("give --tsa-ca" in n for n in unchecked.notes if ".tsr" in n)


def test_tokens_of_another_authority_are_named(
    package: tuple[Path, str], settings: Settings, tmp_path: Path
) -> None:
    out, vkey = package
    stranger = make_pki(tmp_path / "stranger", "Stranger")
    env = {
        "COMITY_HOME": str(settings.home),
        "COMITY_DATABASE_URL": settings.database_url,
    }
    result = invoke(
        env, "package", "verify", str(out), "--key", vkey, "--tsa-ca", str(stranger.root_file)
    )
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 2
    assert all(".tsr" in line and "time-stamp token" in line for line in failed)


def test_an_unreadable_roots_file_is_a_clear_error(
    package: tuple[Path, str], settings: Settings, tmp_path: Path
) -> None:
    out, _ = package
    env = {"COMITY_HOME": str(settings.home), "COMITY_DATABASE_URL": settings.database_url}
    missing = tmp_path / "nowhere.pem"
    result = invoke(env, "package", "verify", str(out), "--tsa-ca", str(missing))
    assert result.exit_code != 0
    assert "Cannot read" in result.output
    assert "nowhere.pem" in result.output
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    result = invoke(env, "package", "verify", str(out), "--tsa-ca", str(garbage))
    assert result.exit_code != 0
    assert "holds no PEM certificate" in result.output

"""The S3 blob store against a real S3 endpoint (moto's server on loopback): names are
checksums, unfinished blobs leave nothing, memory stays constant, damage is detected, and
every failure of the store is one clear line; the vault working on it end to end."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.test_cli import as_json, cli_env, flat, invoke, ok, refused
from comity.errors import ConfigurationError, NotFound
from comity.node import Node, local_operator
from comity.settings import S3Location, load_settings
from comity.vault.access import blob_store
from comity.vault.blobs import BlobStoreError
from comity.vault.blobs_s3 import PART_SIZE, S3BlobStore
from comity.vault.ingest import add_file
from comity.vault.items import Damage, check_item, download, get_item
from vault.s3server import (  # noqa: F401 - the fixtures are used by name
    SMALL_PART,
    S3Server,
    connect,
    new_bucket,
    s3_credentials_fixture,
    s3_node_fixture,
    s3_server_fixture,
    s3_server_small_parts_fixture,
    s3_settings,
    unused_port,
)
from vault.vaulting import blob_files, ledger_ok

pytestmark = pytest.mark.usefixtures("s3_credentials")

PREFIX = "org/evidence"


@pytest.fixture
def small(s3_server_small_parts: S3Server) -> Iterator[S3BlobStore]:
    """A store under a prefix in a new bucket, writing parts of SMALL_PART bytes."""
    store = connect(s3_server_small_parts, new_bucket(s3_server_small_parts), PREFIX)
    yield S3BlobStore(store.client, store.bucket, PREFIX, part_size=SMALL_PART)
    s3_server_small_parts.reset()


@pytest.fixture
def real(s3_server: S3Server) -> Iterator[S3BlobStore]:
    """A store in a new bucket, with the parts the node uses, on a server that refuses
    parts smaller than 5 MiB as S3 does."""
    yield connect(s3_server, new_bucket(s3_server))
    s3_server.reset()


def keys(store: S3BlobStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def pending_uploads(store: S3BlobStore) -> list[str]:
    listed = store.client.list_multipart_uploads(Bucket=store.bucket)
    return [upload["Key"] for upload in listed.get("Uploads", [])]


def write_blob(store: S3BlobStore, data: bytes, piece: int = 10_007) -> str:
    """Writes ``data`` in pieces that do not line up with the parts."""
    with store.writer() as writer:
        for start in range(0, len(data), piece):
            writer.write(data[start : start + piece])
        return writer.commit()


def one_line(error: BlobStoreError) -> str:
    assert "\n" not in error.message
    return error.message


@pytest.mark.parametrize(
    "size",
    [0, 1, SMALL_PART - 1, SMALL_PART, SMALL_PART + 1, 3 * SMALL_PART + 5],
    ids=["empty", "one-byte", "part-minus-one", "one-part", "part-plus-one", "several-parts"],
)
def test_a_blob_of_any_size_is_named_by_its_hash_and_reads_back(
    small: S3BlobStore, size: int
) -> None:
    data = os.urandom(size)
    name = write_blob(small, data)
    assert name == "sha256/" + hashlib.sha256(data).hexdigest()
    assert keys(small) == [f"{PREFIX}/{name}"]  # nothing left under tmp/
    assert pending_uploads(small) == []
    assert small.exists(name)
    assert small.size(name) == size
    with small.open(name) as stream:
        assert stream.read() == data
    assert small.check(name)


@pytest.mark.parametrize("size", [10, 2 * SMALL_PART + 3], ids=["one-part", "several-parts"])
def test_the_same_bytes_twice_are_one_object(small: S3BlobStore, size: int) -> None:
    data = os.urandom(size)
    name = write_blob(small, data)
    assert write_blob(small, data, piece=4096) == name
    assert keys(small) == [f"{PREFIX}/{name}"]
    assert pending_uploads(small) == []
    assert small.check(name)


def test_a_stored_blob_with_the_wrong_size_is_replaced_by_the_right_bytes(
    small: S3BlobStore,
) -> None:
    data = os.urandom(2 * SMALL_PART + 3)
    name = write_blob(small, data)
    small.client.put_object(Bucket=small.bucket, Key=f"{PREFIX}/{name}", Body=data[:-1])
    assert write_blob(small, data) == name
    assert small.size(name) == len(data)
    assert small.check(name)


@pytest.mark.parametrize("size", [100, 3 * SMALL_PART], ids=["one-part", "several-parts"])
def test_an_unfinished_blob_leaves_no_object_and_no_upload(small: S3BlobStore, size: int) -> None:
    def fail_halfway() -> None:
        with small.writer() as writer:
            writer.write(os.urandom(size))
            raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        fail_halfway()
    with small.writer() as writer:
        writer.write(os.urandom(size))  # never committed
    assert keys(small) == []
    assert pending_uploads(small) == []


def test_a_blob_whose_upload_failed_can_only_be_discarded(small: S3BlobStore) -> None:
    with small.writer() as writer:
        writer.write(os.urandom(SMALL_PART + 1))  # the first part is sent
        for upload in small.client.list_multipart_uploads(Bucket=small.bucket)["Uploads"]:
            small.client.abort_multipart_upload(
                Bucket=small.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        with pytest.raises(BlobStoreError, match="could not write a blob"):
            writer.write(os.urandom(SMALL_PART))  # the second part has nowhere to go
        with pytest.raises(BlobStoreError, match="not open"):
            writer.write(b"more")
        with pytest.raises(BlobStoreError, match="not open"):
            writer.commit()
    assert keys(small) == []
    assert pending_uploads(small) == []


def test_a_committed_blob_cannot_be_written_to(small: S3BlobStore) -> None:
    with small.writer() as writer:
        writer.write(b"done")
        writer.commit()
        with pytest.raises(BlobStoreError, match="not open"):
            writer.write(b"more")
        with pytest.raises(BlobStoreError, match="not open"):
            writer.commit()
    with pytest.raises(BlobStoreError, match="not open"):
        small.writer().write(b"outside the with block")


def test_a_changed_byte_is_detected_and_a_missing_blob_is_not_found(small: S3BlobStore) -> None:
    data = b"evidence bytes" * 1000
    name = write_blob(small, data)
    damaged = bytearray(data)
    damaged[7000] ^= 0x01
    small.client.put_object(Bucket=small.bucket, Key=f"{PREFIX}/{name}", Body=bytes(damaged))
    assert not small.check(name)
    small.delete(name)
    assert not small.exists(name)
    assert keys(small) == []
    with pytest.raises(NotFound, match="missing"), small.open(name):
        pass
    with pytest.raises(NotFound, match="missing"):
        small.size(name)
    with pytest.raises(NotFound):
        small.check(name)
    small.delete(name)  # deleting what is gone is not an error


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "sha256/../tmp/x", "sha256/" + "A" * 64, "tmp/" + "0" * 64, ""],
)
def test_names_that_are_not_blob_names_are_refused(small: S3BlobStore, name: str) -> None:
    for action in (small.exists, small.size, small.check, small.delete):
        with pytest.raises(BlobStoreError, match="is not a blob name"):
            action(name)
    with pytest.raises(BlobStoreError, match="is not a blob name"), small.open(name):
        pass


def test_a_blob_of_many_real_parts_is_written_and_read_in_constant_memory(
    real: S3BlobStore,
) -> None:
    """64 MiB through the writer and back, in the node's 8 MiB parts (5 MiB is S3's least):
    the memory Python allocates meanwhile stays a small multiple of one part."""
    total = 64 * 1024 * 1024
    piece = 64 * 1024
    block = os.urandom(piece)
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with real.writer() as writer:
            for index in range(total // piece):
                chunk = index.to_bytes(8, "big") + block[8:]
                digest.update(chunk)
                writer.write(chunk)
            name = writer.commit()
        _, writing_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert real.check(name)
        _, reading_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert name == f"sha256/{digest.hexdigest()}"
    assert real.size(name) == total
    assert keys(real) == [name]
    assert pending_uploads(real) == []
    assert writing_peak < 3 * PART_SIZE, writing_peak
    assert reading_peak < PART_SIZE, reading_peak


def test_parts_smaller_than_s3_allows_are_refused_and_leave_nothing(real: S3BlobStore) -> None:
    store = S3BlobStore(real.client, real.bucket, part_size=SMALL_PART)
    data = os.urandom(2 * SMALL_PART + 1)
    with pytest.raises(BlobStoreError) as caught:
        write_blob(store, data)
    name = "sha256/" + hashlib.sha256(data).hexdigest()
    assert one_line(caught.value).startswith(
        f"The S3 bucket '{real.bucket}' at {real.endpoint} could not write the blob {name}: "
        "EntityTooSmall "
    )
    assert keys(real) == []
    assert pending_uploads(real) == []


def test_a_missing_bucket_is_named(s3_server: S3Server) -> None:
    store = connect(s3_server, "no-such-bucket")
    name = "sha256/" + hashlib.sha256(b"x").hexdigest()
    for attempt in (
        lambda: write_blob(store, b"x"),
        lambda: store.exists(name),
        lambda: store.check(name),
    ):
        with pytest.raises(BlobStoreError) as caught:
            attempt()
        assert one_line(caught.value) == (
            f"The S3 bucket 'no-such-bucket' at {s3_server.endpoint} does not exist: create "
            "it, or correct COMITY_BLOB_STORE and COMITY_S3_ENDPOINT_URL."
        )


def test_an_endpoint_that_does_not_answer_is_named() -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}"
    store = S3BlobStore.connect("evidence", endpoint_url=endpoint, region="us-east-1")
    name = "sha256/" + hashlib.sha256(b"x").hexdigest()
    with pytest.raises(BlobStoreError) as caught:
        store.exists(name)
    message = one_line(caught.value)
    assert message.startswith(f"Cannot look up the blob {name}: nothing answers at the S3 ")
    assert f"endpoint {endpoint} (bucket 'evidence')" in message
    assert "COMITY_S3_ENDPOINT_URL" in message


def test_missing_credentials_are_named(
    monkeypatch: pytest.MonkeyPatch, s3_server: S3Server
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = connect(s3_server, "evidence")
    with pytest.raises(BlobStoreError) as caught:
        write_blob(store, b"x")
    name = "sha256/" + hashlib.sha256(b"x").hexdigest()
    assert one_line(caught.value) == (
        f"No credentials to look up the blob {name} in the S3 bucket 'evidence': set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the node's environment."
    )


# --- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised", "location"),
    [
        ("local", "local", None),
        ("", "local", None),
        ("s3://evidence", "s3://evidence", S3Location("evidence", "")),
        (" s3://evidence/ ", "s3://evidence", S3Location("evidence", "")),
        (
            "s3://ngo.evidence-1/comity/node-a/",
            "s3://ngo.evidence-1/comity/node-a",
            S3Location("ngo.evidence-1", "comity/node-a"),
        ),
    ],
)
def test_the_blob_store_setting_names_local_files_or_a_bucket(
    tmp_path: Path, value: str, normalised: str, location: S3Location | None
) -> None:
    settings = load_settings(home=tmp_path, blob_store=value)
    assert settings.blob_store == normalised
    assert settings.s3_location == location


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COMITY_BLOB_STORE", "evidence", "must be 'local'"),
        ("COMITY_BLOB_STORE", "s3:/evidence", "must be 'local'"),
        ("COMITY_BLOB_STORE", "s3://Evidence", "not a valid S3 bucket name"),
        ("COMITY_BLOB_STORE", "s3://ev", "not a valid S3 bucket name"),
        ("COMITY_BLOB_STORE", "s3://ev_idence", "not a valid S3 bucket name"),
        ("COMITY_BLOB_STORE", "s3://-evidence", "not a valid S3 bucket name"),
        ("COMITY_BLOB_STORE", "s3://evi..dence", "not a valid S3 bucket name"),
        ("COMITY_BLOB_STORE", "s3://192.168.1.20", "not a valid S3 bucket name"),
        ("COMITY_BLOB_STORE", "s3://" + "e" * 64, "not a valid S3 bucket name"),
        ("COMITY_BLOB_STORE", "s3://evidence/a//b", "the key prefix"),
        ("COMITY_BLOB_STORE", "s3://evidence/a/../b", "the key prefix"),
        ("COMITY_BLOB_STORE", "s3://evidence/a b", "the key prefix"),
        ("COMITY_S3_ENDPOINT_URL", "minio.internal:9000", "http:// or https://"),
        ("COMITY_S3_ENDPOINT_URL", "https://key:secret@minio.internal", "without a user name"),
        ("COMITY_S3_REGION", "eu west", "region name"),
    ],
)
def test_invalid_blob_store_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv("COMITY_BLOB_STORE", "s3://evidence")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(home=tmp_path)
    assert f"{variable}: " in caught.value.message
    assert message in caught.value.message
    assert list(caught.value.fields) == [variable.removeprefix("COMITY_").lower()]


def test_blobs_are_kept_in_one_place(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unset COMITY_VAULT_DIR") as caught:
        load_settings(home=tmp_path, blob_store="s3://evidence", vault_dir=str(tmp_path / "v"))
    assert caught.value.fields == {"vault_dir": "conflict"}
    with pytest.raises(ConfigurationError) as caught:
        load_settings(home=tmp_path, s3_endpoint_url="http://127.0.0.1:9000", s3_region="garage")
    assert caught.value.message.startswith(
        "COMITY_S3_ENDPOINT_URL and COMITY_S3_REGION are set but COMITY_BLOB_STORE is 'local'"
    )
    assert caught.value.fields == {"s3_endpoint_url": "unused", "s3_region": "unused"}


# --- the vault on S3 ---------------------------------------------------------------------


def test_the_vault_keeps_checks_and_gives_back_evidence_in_s3(
    s3_node: Node, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "interview.bin"
    source.write_bytes(data)
    added = add_file(s3_node, local_operator(), source)
    blob = get_item(s3_node, local_operator(), added.item_id).item.blob_name
    store = blob_store(s3_node)
    assert isinstance(store, S3BlobStore)
    assert keys(store) == [f"node-a/{blob}"]
    assert blob_files(s3_node) == []  # nothing in the local vault directory

    download(s3_node, local_operator(), added.item_id, tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data
    assert check_item(s3_node, local_operator(), added.item_id).ok
    again = add_file(s3_node, local_operator(), source)
    assert not again.created
    assert keys(store) == [f"node-a/{blob}"]
    assert ledger_ok(s3_node)

    body = store.client.get_object(Bucket=store.bucket, Key=f"node-a/{blob}")["Body"].read()
    damaged = bytearray(body)
    damaged[len(damaged) // 2] ^= 0x01
    store.client.put_object(Bucket=store.bucket, Key=f"node-a/{blob}", Body=bytes(damaged))
    report = check_item(s3_node, local_operator(), added.item_id)
    assert [damage for damage, _ in report.problems] == [
        Damage.BLOB_CHANGED,
        Damage.BLOB_UNREADABLE,
    ]
    store.delete(blob)
    report = check_item(s3_node, local_operator(), added.item_id)
    assert [damage for damage, _ in report.problems] == [Damage.BLOB_MISSING]


def test_the_evidence_commands_work_on_s3_and_a_dead_endpoint_is_one_line(
    s3_node: Node, tmp_path: Path
) -> None:
    settings = s3_node.settings
    env = cli_env(settings) | {
        "COMITY_BLOB_STORE": settings.blob_store,
        "COMITY_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "COMITY_S3_REGION": settings.s3_region,
    }
    (tmp_path / "notes.txt").write_bytes(b"statement, page 1\n")
    added = as_json(invoke(env, "evidence", "add", str(tmp_path / "notes.txt"), "--json"))
    item_id = added["added"][0]["id"]
    out = tmp_path / "back.txt"
    got = ok(invoke(env, "evidence", "get", item_id, "--out", str(out)))
    assert out.read_bytes() == b"statement, page 1\n"
    assert hashlib.sha256(b"statement, page 1\n").hexdigest() in flat(got.stdout)
    shown = as_json(invoke(env, "evidence", "show", item_id, "--check", "--json"))
    assert shown["check"] == {"ok": True, "problems": []}

    dead = env | {"COMITY_S3_ENDPOINT_URL": f"http://127.0.0.1:{unused_port()}"}
    refused(
        invoke(dead, "evidence", "get", item_id, "--out", str(tmp_path / "x")),
        1,
        "nothing answers at the S3 endpoint",
    )
    refused(
        invoke(dead, "evidence", "add", str(tmp_path / "notes.txt")),
        1,
        "nothing answers at the S3 endpoint",
    )
    assert not (tmp_path / "x").exists()

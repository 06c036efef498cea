"""Metadata read at ingest: exact values from synthetic photos, PDFs and recordings;
damaged and hostile files that are still preserved; originals left untouched;
near-duplicate images; the append-only ``vault_metadata`` row; nothing of it on the
ledger; ``comity evidence show``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import struct
import wave
import zlib
from pathlib import Path
from typing import BinaryIO

import pypdf
import pytest
from PIL import Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cli.test_cli import Run, as_json, cli_env, flat, invoke, ok
from comity.errors import ValidationError
from comity.node import Node, local_operator
from comity.settings import Settings
from comity.vault import ingest
from comity.vault.ingest import add_file
from comity.vault.items import Damage, check_item, get_item
from comity.vault.metadata import Gps, Metadata, extract, extract_stream
from comity.vault.metadata_view import describe
from comity.vault.models import VaultMetadata
from comity.vault.perceptual import hamming
from comity.vault.vault_check import check_vault
from vault.vaulting import ledger_entries, ledger_ok, vault_state

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def scene(size: tuple[int, int] = (640, 480), *, other: bool = False) -> Image.Image:
    """A picture with structure (a gradient and shapes); ``other`` draws a different one."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for x in range(width):
        draw.line([(x, 0), (x, height)], fill=(x * 255 // width, 100, 255 - x * 255 // width))
    if other:
        draw.rectangle([0, 0, width // 3, height], fill=(255, 255, 255))
        draw.ellipse([width // 2, 0, width, height // 2], fill=(0, 0, 0))
    else:
        draw.ellipse([width // 4, height // 4, width // 2, height // 2], fill=(255, 255, 0))
        draw.rectangle([width * 6 // 10, height // 2, width * 9 // 10, height], fill=(0, 0, 0))
    return image


def rationals(*values: tuple[int, int]) -> tuple[IFDRational, ...]:
    return tuple(IFDRational(numerator, denominator) for numerator, denominator in values)


def photo(
    path: Path, *, south_west: bool = True, offset: str | None = "+02:00", gps: bool = True
) -> Path:
    """A JPEG as a phone writes it: camera, capture time (and offset), GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "Google"
    exif[0x0110] = "Pixel 7"
    details = exif.get_ifd(EXIF_IFD)
    details[0x9003] = "2026:03:14 09:30:12"
    if offset is not None:
        details[0x9011] = offset
    if gps:
        position = exif.get_ifd(GPS_IFD)
        position[1] = "S" if south_west else "N"
        position[2] = rationals((33, 1), (51, 1), (5400, 100))  # 33° 51' 54"
        position[3] = "W" if south_west else "E"
        position[4] = rationals((151, 1), (12, 1), (3600, 100))  # 151° 12' 36"
        position[5] = b"\x00"
        position[6] = IFDRational(125, 10)
    scene().save(path, exif=exif, quality=90)
    return path


def pdf(path: Path) -> Path:
    writer = pypdf.PdfWriter()
    for _ in range(3):
        writer.add_blank_page(width=200, height=200)
    writer.add_metadata(
        {
            "/Title": "Report on the market strike",
            "/Author": "A. Haddad",
            "/CreationDate": "D:20260314093000+02'00'",
        }
    )
    with path.open("wb") as out:
        writer.write(out)
    return path


def recording(path: Path, seconds: int = 3, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * rate * seconds)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored(node: Node, item_id: str) -> VaultMetadata:
    row = get_item(node, local_operator(), item_id).metadata
    assert row is not None
    return row


def test_a_photo_gives_gps_with_signs_capture_time_camera_and_size(tmp_path: Path) -> None:
    found = extract(photo(tmp_path / "IMG_0412.jpg"), "image/jpeg")
    assert found.kind == "image"
    assert found.errors == ()
    assert found.gps == Gps(latitude=-33.865, longitude=-151.21, altitude=12.5)
    assert found.captured == "2026-03-14T09:30:12+02:00"
    assert found.captured_utc == dt.datetime(2026, 3, 14, 7, 30, 12, tzinfo=dt.UTC)
    assert found.fields == {
        "format": "JPEG",
        "width": 640,
        "height": 480,
        "camera_make": "Google",
        "camera_model": "Pixel 7",
    }
    assert found.perceptual_hash is not None
    assert len(found.perceptual_hash) == 16
    assert found.versions["pillow"] == Image.__version__


def test_north_and_east_are_positive_and_a_clock_without_offset_has_no_utc(
    tmp_path: Path,
) -> None:
    found = extract(photo(tmp_path / "a.jpg", south_west=False, offset=None), "image/jpeg")
    assert found.gps == Gps(latitude=33.865, longitude=151.21, altitude=12.5)
    assert found.captured == "2026-03-14T09:30:12"
    assert found.captured_utc is None
    assert ("Captured", "2026-03-14T09:30:12 (camera clock, zone unknown)") in describe(
        found.to_json()
    )


def test_pdf_properties(tmp_path: Path) -> None:
    found = extract(pdf(tmp_path / "report.pdf"), "application/pdf")
    assert found.kind == "pdf"
    assert found.errors == ()
    assert found.fields["title"] == "Report on the market strike"
    assert found.fields["author"] == "A. Haddad"
    assert found.fields["created"] == "2026-03-14T09:30:00+02:00"
    assert found.fields["pages"] == 3
    assert found.fields["encrypted"] is False


def test_audio_duration(tmp_path: Path) -> None:
    found = extract(recording(tmp_path / "interview.wav", seconds=3), "audio/wav")
    assert found.kind == "audio"
    assert found.errors == ()
    assert found.fields["duration_seconds"] == 3.0
    assert found.fields["sample_rate"] == 8000
    assert found.fields["channels"] == 1


def test_a_file_without_a_reader_has_no_metadata_and_no_errors(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("seen at the market\n")
    found = extract(path, "text/plain")
    assert (found.kind, dict(found.fields), found.errors) == ("none", {}, ())


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` by ``height`` pixels, with no image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_not_decoded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(40_000, 40_000))
    found = extract(path, "image/png")
    assert found.perceptual_hash is None
    assert any("DecompressionBombError" in error for error in found.errors), found.errors


def test_a_large_image_near_the_limit_is_measured_but_not_decoded(tmp_path: Path) -> None:
    path = tmp_path / "large.png"
    path.write_bytes(png_claiming(12_000, 12_000))  # between one and two times the limit
    found = extract(path, "image/png")
    assert (found.fields["width"], found.fields["height"]) == (12_000, 12_000)
    assert found.perceptual_hash is None
    assert any(error.startswith("warning: Image size") for error in found.errors), found.errors
    assert any("over the decoding limit" in error for error in found.errors), found.errors


def damaged(kind: str, tmp_path: Path) -> Path:
    if kind == "truncated JPEG":
        whole = photo(tmp_path / "whole.jpg").read_bytes()
        path = tmp_path / "cut.jpg"
        path.write_bytes(whole[: len(whole) // 3])
    elif kind == "truncated PDF":
        whole = pdf(tmp_path / "whole.pdf").read_bytes()
        path = tmp_path / "cut.pdf"
        path.write_bytes(whole[:300])
    else:  # random bytes behind a JPEG signature, so that the image reader is tried
        path = tmp_path / "noise.jpg"
        path.write_bytes(b"\xff\xd8\xff" + os.urandom(20_000))
    return path


@pytest.mark.parametrize("kind", ["truncated JPEG", "truncated PDF", "random bytes as .jpg"])
def test_damaged_files_are_still_added_with_the_errors_noted(
    node: Node, tmp_path: Path, kind: str
) -> None:
    path = damaged(kind, tmp_path)
    before = sha256(path)
    added = add_file(node, local_operator(), path)
    assert added.created
    assert added.sha256 == before == sha256(path)
    extracted = stored(node, added.item_id).extracted
    assert extracted["errors"], extracted
    assert ledger_ok(node)


def test_the_original_is_not_changed_by_ingest(node: Node, tmp_path: Path) -> None:
    path = photo(tmp_path / "IMG_0412.jpg")
    before = (sha256(path), path.stat().st_mtime_ns, path.stat().st_size)
    added = add_file(node, local_operator(), path)
    assert (sha256(path), path.stat().st_mtime_ns, path.stat().st_size) == before
    assert added.sha256 == before[0]


def test_a_file_written_to_while_it_is_read_is_refused_and_nothing_is_kept(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = photo(tmp_path / "growing.jpg")
    before = vault_state(node)

    def extract_while_written(stream: BinaryIO, media_type: str) -> Metadata:
        with path.open("ab") as out:
            out.write(b"more")
        return extract_stream(stream, media_type)

    monkeypatch.setattr(ingest, "extract_stream", extract_while_written)
    with pytest.raises(ValidationError, match="changed while it was being read"):
        add_file(node, local_operator(), path)
    assert vault_state(node) == before


def test_the_metadata_row_holds_what_was_read_and_nothing_goes_on_the_ledger(
    node: Node, tmp_path: Path
) -> None:
    added = add_file(node, local_operator(), photo(tmp_path / "IMG_0412.jpg"))
    row = stored(node, added.item_id)
    assert (row.gps_latitude, row.gps_longitude) == (-33.865, -151.21)
    assert row.captured_at == dt.datetime(2026, 3, 14, 7, 30, 12, tzinfo=dt.UTC)
    assert row.perceptual_hash == row.extracted["perceptual_hash"]
    assert row.extracted["gps"] == {"latitude": -33.865, "longitude": -151.21, "altitude": 12.5}
    assert row.extracted["near_duplicates"] == []
    assert set(row.versions) == {"comity", "pillow"}
    for secret in (b"33.865", b"151.21", b"2026:03:14", b"2026-03-14T09", b"Pixel"):
        assert not [entry.idx for entry in ledger_entries(node) if secret in entry.entry], secret


def test_a_resized_recompressed_copy_is_flagged_and_a_different_image_is_not(
    node: Node, tmp_path: Path
) -> None:
    first = add_file(node, local_operator(), photo(tmp_path / "original.jpg"))
    copy = tmp_path / "copy.jpg"
    with Image.open(tmp_path / "original.jpg") as original:
        original.resize((320, 240)).save(copy, quality=40)
    different = tmp_path / "different.png"
    scene(other=True).save(different)

    second = add_file(node, local_operator(), copy)
    third = add_file(node, local_operator(), different)

    assert second.near_duplicates == (first.item_id,)
    assert third.near_duplicates == ()
    hashes = [stored(node, item.item_id).perceptual_hash for item in (first, second, third)]
    assert all(hashes)
    near = stored(node, second.item_id).extracted["near_duplicates"]
    assert [entry["item_id"] for entry in near] == [first.item_id]
    assert near[0]["distance"] == hamming(str(hashes[0]), str(hashes[1])) <= 6
    assert hamming(str(hashes[0]), str(hashes[2])) > 6


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE vault_metadata SET perceptual_hash = '0000000000000000'",
        "DELETE FROM vault_metadata",
    ],
)
def test_the_metadata_row_is_append_only(node: Node, tmp_path: Path, statement: str) -> None:
    add_file(node, local_operator(), photo(tmp_path / "a.jpg"))
    with node.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def test_show_prints_the_metadata_and_its_json(node: Node, run: Run, tmp_path: Path) -> None:
    first = add_file(node, local_operator(), photo(tmp_path / "IMG_0412.jpg"))
    copy = tmp_path / "copy.jpg"
    with Image.open(tmp_path / "IMG_0412.jpg") as original:
        original.resize((320, 240)).save(copy, quality=40)

    added = flat(ok(run("evidence", "add", str(copy))).stdout)
    assert f"looks like item {first.item_id}" in added

    shown = flat(ok(run("evidence", "show", first.item_id)).stdout)
    for expected in (
        "Metadata image",
        "Dimensions 640 x 480 pixels",
        "Captured 2026-03-14T09:30:12+02:00",
        "Camera Google Pixel 7",
        "GPS -33.8650000, -151.2100000, altitude 12.5 m",
        "Perceptual hash",
    ):
        assert expected in shown, shown

    data = as_json(run("evidence", "show", first.item_id, "--json"))
    assert data["metadata"]["gps"]["latitude"] == -33.865
    assert data["metadata"]["fields"]["camera_model"] == "Pixel 7"
    assert data["metadata"]["versions"]["comity"] == "1"

    report = add_file(node, local_operator(), pdf(tmp_path / "report.pdf"))
    shown = flat(ok(run("evidence", "show", report.item_id)).stdout)
    assert "PDF title Report on the market strike" in shown
    assert "PDF pages 3" in shown


def test_a_metadata_row_changed_past_its_triggers_is_detected_and_named(
    node: Node, tmp_path: Path
) -> None:
    added = add_file(node, local_operator(), photo(tmp_path / "IMG_0412.jpg"))
    # GPS floats, the capture time and the JSON survive the database: intact as stored.
    assert check_item(node, local_operator(), added.item_id).ok
    body = json.loads(next(e.entry for e in ledger_entries(node) if e.kind == "evidence.ingest"))
    assert "metadata" in body["commitments"]

    # Someone with the database in hand moves the photograph by a few hundred metres.
    with node.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER vault_metadata_no_update"))
        else:
            conn.execute(
                text("ALTER TABLE vault_metadata DISABLE TRIGGER vault_metadata_no_change")
            )
        conn.execute(text("UPDATE vault_metadata SET gps_latitude = -33.869"))
    report = check_item(node, local_operator(), added.item_id)
    assert [damage for damage, _ in report.problems] == [Damage.METADATA_CHANGED]
    index = get_item(node, local_operator(), added.item_id).item.ledger_index
    assert f"no longer opens the commitment of ledger entry {index}" in report.problems[0][1]
    assert [r.item_id for r in check_vault(node, local_operator()).damaged] == [added.item_id]

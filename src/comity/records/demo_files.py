"""The demo's evidence: invented photographs and statements, added to the vault.

For each of the first demo incidents (as :meth:`DemoGenerator.incident` will invent them,
previewed from the same seed), this makes a photograph — a JPEG drawn with Pillow that
says DEMO in large letters, whose EXIF gives the incident's time and position, so the
vault shows what it reads from a real photo — and for some a text file of an invented
witness statement. Each file is added with :func:`comity.vault.ingest.add_file`, with
acquisition details, so it is encrypted, hashed, in custody and on the ledger like any
evidence; the incidents then link to the items. The same seed makes the same bytes.
"""

from __future__ import annotations

import io
import random
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from comity.identity.permissions import Actor
from comity.node import Node
from comity.records.dates import parse_date
from comity.vault.ingest import add_file
from comity.vault.inputs import Acquisition

PHOTOS = 8
STATEMENTS = 4
_SIZE = (960, 600)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MODEL, _DATE_TIME_ORIGINAL = 0x0110, 0x9003


def _degrees(value: float) -> tuple[float, float, float]:
    value = abs(value)
    minutes = (value - int(value)) * 60
    return float(int(value)), float(int(minutes)), round((minutes - int(minutes)) * 60, 2)


def _moment(date: str) -> str:
    """The first minute a date allows (or its last, for an open start), in EXIF's form."""
    parsed = parse_date(date)
    stamp = parsed.earliest or parsed.latest or "2020-01-01T00:00"
    return stamp.replace("-", ":").replace("T", " ") + ":00"


def photo(incident: Mapping[str, Any]) -> bytes:
    """An invented photograph of ``incident``'s place: JPEG bytes with EXIF time and GPS."""
    rng = random.Random(str(incident["reference"]))  # noqa: S311 - drawing, not secrets
    image = Image.new("RGB", _SIZE, (rng.randint(90, 140), rng.randint(110, 160), 190))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 380, _SIZE[0], _SIZE[1]), fill=(120, 110, 95))
    left = 20
    while left < _SIZE[0] - 60:  # a street of plain buildings
        width, height = rng.randint(60, 140), rng.randint(80, 260)
        shade = rng.randint(150, 210)
        draw.rectangle((left, 380 - height, left + width, 380), fill=(shade, shade - 10, 150))
        left += width + rng.randint(8, 30)
    draw.ellipse((380, 430, 580, 500), fill=(60, 55, 50))
    draw.text((40, 30), "DEMO", fill=(255, 255, 255), font=ImageFont.load_default(size=150))
    caption = f"Fictional evidence - {incident['reference']} - {incident['place']}"
    draw.text((40, 540), caption, fill=(255, 255, 255), font=ImageFont.load_default(size=28))
    exif = Image.Exif()
    exif[_MODEL] = "Comity demo camera"
    exif.get_ifd(_EXIF_IFD)[_DATE_TIME_ORIGINAL] = _moment(str(incident["date"]))
    gps = exif.get_ifd(_GPS_IFD)
    latitude, longitude = float(incident["latitude"]), float(incident["longitude"])
    gps.update(
        {
            1: "S" if latitude < 0 else "N",
            2: _degrees(latitude),
            3: "W" if longitude < 0 else "E",
            4: _degrees(longitude),
        }
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def statement(incident: Mapping[str, Any]) -> bytes:
    """An invented witness statement about ``incident``, as UTF-8 text."""
    lines = [
        "DEMO - FICTIONAL WITNESS STATEMENT (Comity demo data; no real person or event)",
        "",
        f"Incident: {incident['reference']} - {incident['title']}",
        f"Date: {incident['date']}",
        f"Place: {incident['place']}, {incident['admin2']} district, {incident['admin1']}",
        "",
        str(incident["description"]),
        "",
        "Taken down by a documenter of the Varesh Monitoring Network (fictional).",
    ]
    return ("\n".join(lines) + "\n").encode()


def add_evidence(
    node: Node, actor: Actor, incidents: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """Photos of the first :data:`PHOTOS` of ``incidents`` and statements about the first
    :data:`STATEMENTS`, added to the vault; the item ids by incident reference."""
    made: list[tuple[Mapping[str, Any], str, bytes, str]] = [
        (incident, f"{incident['reference']}-photo.jpg", photo(incident), "Photographed")
        for incident in incidents[:PHOTOS]
    ]
    made += [
        (incident, f"{incident['reference']}-statement.txt", statement(incident), "Interview")
        for incident in incidents[:STATEMENTS]
    ]
    linked: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="comity-demo-") as folder:
        for incident, name, content, how in made:
            path = Path(folder) / name
            path.write_bytes(content)
            acquisition = Acquisition(
                who="Documenter of the Varesh Monitoring Network (fictional)",
                when=str(incident["date"]),
                where=f"{incident['place']}, {incident['admin2']} district",
                how=f"{how}; invented for the Comity demo",
                tool="comity demo",
            )
            result = add_file(node, actor, path, acquisition, timestamp=False)
            linked.setdefault(str(incident["reference"]), []).append(result.item_id)
    return linked

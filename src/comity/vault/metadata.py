"""Metadata read from an evidence file at ingest, without ever changing it.

:func:`extract` (a path) and :func:`extract_stream` (a file already open for reading)
return a :class:`Metadata`: what the file says about itself, by kind —

- **images** (Pillow): format, width and height, camera make and model, the capture time
  from EXIF ``DateTimeOriginal`` (with ``OffsetTimeOriginal`` when the camera wrote it),
  GPS position as decimal degrees (south and west negative, altitude in metres), and a
  64-bit perceptual hash (:func:`comity.vault.perceptual.dhash`) to find near-duplicates
  of items already held;
- **PDF** (pypdf): title, author, subject, creator, producer, creation and modification
  dates, page count, PDF version and whether it is encrypted;
- **audio and video** (mutagen): duration in seconds, codec, bitrate, sample rate and
  channels, read from the container's headers (nothing is decoded).

Evidence files come from anywhere, so nothing here trusts them: every reader is bounded
(Pillow's decompression-bomb limit stays on and a JPEG is decoded at reduced size for the
hash; mutagen reads headers only) and every failure becomes a line of
:attr:`Metadata.errors` instead of an exception, so a corrupt or hostile file is still
preserved. The file is only ever read: the caller's stream, or the path opened
read-only.

How stored metadata is shown to people: :mod:`comity.vault.metadata_view`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import struct
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import mutagen
import pypdf
from PIL import Image
from PIL import __version__ as pillow_version
from pypdf.errors import PyPdfError

from comity.vault.perceptual import dhash

EXTRACTOR_VERSION = "1"
"""Version of this module's own rules (field names, the dHash); stored with each row."""

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_MAKE, _MODEL, _SOFTWARE = 0x010F, 0x0110, 0x0131
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_ALT_REF, _GPS_ALT = 1, 2, 3, 4, 5, 6
_MAX_TEXT = 500
"""Longest text value kept from a file (a title, a camera model …)."""

# What each library raises on a malformed file. Pillow signals bad data with OSError
# (an unidentified image is one), SyntaxError, ValueError, struct.error and EOFError,
# and a decompression bomb with its own error; pypdf with PyPdfError and, on broken
# object graphs, the built-in errors below; mutagen with MutagenError and struct.error.
PILLOW_FAILURES: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    struct.error,
    EOFError,
    Image.DecompressionBombError,
)
_PYPDF_FAILURES: tuple[type[Exception], ...] = (
    PyPdfError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RecursionError,
    struct.error,
)
_MUTAGEN_FAILURES: tuple[type[Exception], ...] = (
    mutagen.MutagenError,
    OSError,
    ValueError,
    struct.error,
    EOFError,
    OverflowError,
)


@dataclass(frozen=True)
class Gps:
    """A position in decimal degrees (WGS 84, south and west negative), altitude in metres."""

    latitude: float
    longitude: float
    altitude: float | None = None


@dataclass(frozen=True)
class Metadata:
    """What an evidence file says about itself (see the module docstring).

    ``fields`` holds the kind-specific values (JSON-ready); ``captured`` is the EXIF
    capture time as ISO 8601 text, with its UTC offset only when the camera recorded one
    (otherwise it is the camera's clock in an unknown zone); ``errors`` names what could
    not be read; ``versions`` the readers used.
    """

    kind: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    gps: Gps | None = None
    captured: str | None = None
    perceptual_hash: str | None = None
    errors: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)

    @property
    def captured_utc(self) -> dt.datetime | None:
        """The capture time as a UTC instant, if the camera recorded its offset."""
        if self.captured is None:
            return None
        moment = dt.datetime.fromisoformat(self.captured)
        return moment.astimezone(dt.UTC) if moment.tzinfo is not None else None

    def to_json(self) -> dict[str, Any]:
        """Everything extracted, as a JSON object (what ``vault_metadata`` stores)."""
        return {
            "kind": self.kind,
            "fields": dict(self.fields),
            "gps": None
            if self.gps is None
            else {
                "latitude": self.gps.latitude,
                "longitude": self.gps.longitude,
                "altitude": self.gps.altitude,
            },
            "captured": self.captured,
            "perceptual_hash": self.perceptual_hash,
            "errors": list(self.errors),
        }


class _Collected:
    """What a reader found so far; readers fill it and append to ``errors``."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.gps: Gps | None = None
        self.captured: str | None = None
        self.perceptual_hash: str | None = None
        self.errors: list[str] = []


def _text(value: object) -> str | None:
    """A printable, bounded text value from a file, or ``None`` if there is none."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()
    return cleaned[:_MAX_TEXT] or None


def _degrees(parts: object, reference: object, negative: str) -> float:
    """Decimal degrees from EXIF (degrees, minutes, seconds) rationals and a reference
    letter (``N``/``S``, ``E``/``W``)."""
    if not isinstance(parts, tuple) or len(parts) != 3:
        raise ValueError("not three rationals")
    degrees, minutes, seconds = (float(part) for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(value):
        raise ValueError("not a number")
    return -value if _text(reference) == negative else value


def _gps(gps_ifd: Mapping[int, Any]) -> Gps | None:
    if _GPS_LAT not in gps_ifd or _GPS_LON not in gps_ifd:
        return None
    latitude = _degrees(gps_ifd[_GPS_LAT], gps_ifd.get(_GPS_LAT_REF), "S")
    longitude = _degrees(gps_ifd[_GPS_LON], gps_ifd.get(_GPS_LON_REF), "W")
    if abs(latitude) > 90 or abs(longitude) > 180:
        raise ValueError(f"position out of range ({latitude}, {longitude})")
    altitude: float | None = None
    if _GPS_ALT in gps_ifd:
        altitude = float(gps_ifd[_GPS_ALT])
        if not math.isfinite(altitude):
            altitude = None
        elif gps_ifd.get(_GPS_ALT_REF) in (1, b"\x01"):
            altitude = -altitude  # below sea level
    return Gps(round(latitude, 7), round(longitude, 7), altitude)


def _captured(original: object, offset: object) -> str | None:
    """ISO 8601 text of an EXIF ``DateTimeOriginal`` (``YYYY:MM:DD HH:MM:SS``), with the
    ``OffsetTimeOriginal`` (``±HH:MM``) if there is a valid one."""
    text = _text(original)
    if text is None:
        return None
    moment = dt.datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 - zone below
    zone = _text(offset)
    if zone is not None:
        # An unreadable offset leaves the camera's clock, zone unknown.
        with contextlib.suppress(ValueError):
            moment = dt.datetime.fromisoformat(f"{moment.isoformat()}{zone}")
    return moment.isoformat()


def _read_exif(image: Image.Image, found: _Collected) -> None:
    exif = image.getexif()
    for tag, name in ((_MAKE, "camera_make"), (_MODEL, "camera_model"), (_SOFTWARE, "software")):
        value = _text(exif.get(tag))
        if value is not None:
            found.fields[name] = value
    details = exif.get_ifd(_EXIF_IFD)
    try:
        found.captured = _captured(
            details.get(_DATETIME_ORIGINAL), details.get(_OFFSET_TIME_ORIGINAL)
        )
    except ValueError as exc:
        found.errors.append(f"capture time: {exc}")
    try:
        found.gps = _gps(exif.get_ifd(_GPS_IFD))
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        found.errors.append(f"GPS: {exc}")


def _read_image(stream: BinaryIO, found: _Collected) -> None:
    with Image.open(stream) as image:
        found.fields["format"] = image.format
        found.fields["width"], found.fields["height"] = image.size
        try:
            _read_exif(image, found)
        except PILLOW_FAILURES as exc:
            found.errors.append(f"EXIF: {_failure(exc)}")
        image.draft("RGB", (64, 64))  # JPEG: decode at 1/8 scale, enough for 9 by 8
        width, height = image.size
        limit = Image.MAX_IMAGE_PIXELS
        if limit is not None and width * height > limit:
            found.errors.append(
                f"perceptual hash: not computed, {width} x {height} pixels is over the "
                f"decoding limit of {limit}"
            )
            return
        try:
            found.perceptual_hash = dhash(image)
        except PILLOW_FAILURES as exc:
            found.errors.append(f"perceptual hash: {_failure(exc)}")


class _NoteHandler(logging.Handler):
    """Collects what pypdf logs about a damaged file (it logs rather than warns)."""

    def __init__(self, found: _Collected) -> None:
        super().__init__(logging.WARNING)
        self._found = found

    def emit(self, record: logging.LogRecord) -> None:
        self._found.errors.append(f"warning: {_text(record.getMessage()) or record.levelname}")


def _read_pdf(stream: BinaryIO, found: _Collected) -> None:
    logger = logging.getLogger("pypdf")
    handler = _NoteHandler(found)
    logger.addHandler(handler)
    try:
        _read_pdf_properties(stream, found)
    finally:
        logger.removeHandler(handler)


def _read_pdf_properties(stream: BinaryIO, found: _Collected) -> None:
    reader = pypdf.PdfReader(stream, strict=False)
    found.fields["pdf_version"] = _text(reader.pdf_header.removeprefix("%PDF-"))
    found.fields["encrypted"] = reader.is_encrypted
    if reader.is_encrypted and not reader.decrypt(""):
        found.errors.append("PDF: encrypted with a user password; its properties are unreadable")
        return
    info = reader.metadata
    if info is not None:
        for name in ("title", "author", "subject", "creator", "producer"):
            value = _text(getattr(info, name))
            if value is not None:
                found.fields[name] = value
        for name, attribute, key in (
            ("created", "creation_date", "/CreationDate"),
            ("modified", "modification_date", "/ModDate"),
        ):
            try:
                moment = getattr(info, attribute)
            except ValueError:
                found.errors.append(f"PDF {name} date unreadable: {_text(info.get(key))}")
                continue
            if moment is not None:
                found.fields[name] = moment.isoformat()
    found.fields["pages"] = len(reader.pages)


def _read_media(stream: BinaryIO, found: _Collected) -> None:
    media = mutagen.File(stream)
    if media is None:
        found.errors.append("duration: this audio or video format is not read")
        return
    info = media.info
    length = getattr(info, "length", None)
    if isinstance(length, int | float) and math.isfinite(length):
        found.fields["duration_seconds"] = round(float(length), 3)
    found.fields["container"] = type(media).__name__
    for attribute, name in (
        ("codec", "codec"),
        ("bitrate", "bitrate"),
        ("sample_rate", "sample_rate"),
        ("channels", "channels"),
    ):
        value = getattr(info, attribute, None)
        if isinstance(value, str | int) and not isinstance(value, bool) and value:
            found.fields[name] = _text(value) if isinstance(value, str) else value


_Reader = Callable[[BinaryIO, _Collected], None]
_READERS: dict[str, tuple[_Reader, tuple[type[Exception], ...], dict[str, str]]] = {
    "image": (_read_image, PILLOW_FAILURES, {"pillow": pillow_version}),
    "pdf": (_read_pdf, _PYPDF_FAILURES, {"pypdf": pypdf.__version__}),
    "audio": (_read_media, _MUTAGEN_FAILURES, {"mutagen": mutagen.version_string}),
    "video": (_read_media, _MUTAGEN_FAILURES, {"mutagen": mutagen.version_string}),
}


def kind_of(media_type: str) -> str:
    """The reader for a media type: ``image``, ``pdf``, ``audio``, ``video`` or ``none``."""
    if media_type == "application/pdf":
        return "pdf"
    major = media_type.partition("/")[0]
    return major if major in _READERS else "none"


def _failure(exc: BaseException) -> str:
    message = _text(str(exc)) or "no detail"
    return f"{type(exc).__name__}: {message}"


@contextmanager
def _noted_warnings(found: _Collected) -> Iterator[None]:
    """Warnings the readers raise about the file (a decompression bomb near Pillow's
    limit, a repaired PDF) become notes in ``errors`` rather than going to stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        found.errors.append(f"warning: {_text(str(warning.message)) or warning.category.__name__}")


def extract_stream(stream: BinaryIO, media_type: str) -> Metadata:
    """The metadata of the file open for reading in ``stream`` (read from its start;
    nothing is written), by its sniffed ``media_type``."""
    kind = kind_of(media_type)
    versions = {"comity": EXTRACTOR_VERSION}
    found = _Collected()
    if kind in _READERS:
        reader, failures, library = _READERS[kind]
        versions |= library
        with _noted_warnings(found):
            try:
                stream.seek(0)
                reader(stream, found)
            except failures as exc:
                found.errors.append(f"{kind}: {_failure(exc)}")
            except Exception as exc:  # noqa: BLE001 - a reader's bug on a hostile file must not stop an ingest; it is recorded
                found.errors.append(f"{kind}: unexpected {_failure(exc)}")
    return Metadata(
        kind=kind,
        fields=found.fields,
        gps=found.gps,
        captured=found.captured,
        perceptual_hash=found.perceptual_hash,
        errors=tuple(found.errors),
        versions=versions,
    )


def extract(path: Path, media_type: str) -> Metadata:
    """The metadata of the file at ``path``, opened read-only (see :func:`extract_stream`)."""
    with path.open("rb") as stream:
        return extract_stream(stream, media_type)

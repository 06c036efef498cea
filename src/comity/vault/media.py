"""Media types of evidence files, sniffed from their first bytes (never from the name).

A small table of signatures for the kinds of files evidence usually comes in: images
(JPEG, PNG, GIF, WebP, TIFF, HEIC), documents (PDF), video (MP4/QuickTime, WebM/Matroska,
AVI), audio (MP3, WAV, Ogg, FLAC, M4A), archives (ZIP) and plain UTF-8 text. Anything
else is ``application/octet-stream``. The file is never changed or executed.
"""

from __future__ import annotations

SNIFF_BYTES = 4096
"""How many leading bytes :func:`sniff` looks at."""

UNKNOWN = "application/octet-stream"

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
    (b"\x1a\x45\xdf\xa3", "video/x-matroska"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
)

_RIFF_KINDS = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}

_ISO_BRANDS = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
}

_TEXT_CONTROLS = frozenset(b"\t\n\r\f")


def _is_text(head: bytes) -> bool:
    if any(byte < 0x20 and byte not in _TEXT_CONTROLS for byte in head) or b"\x7f" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off at the end of the sample is still text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def _container(head: bytes) -> str | None:
    """The media type of a RIFF (WebP, WAV, AVI) or ISO base media (MP4, QuickTime,
    HEIC) file, from its kind or brand; ``None`` for other files."""
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head[4:8] == b"ftyp":
        return _ISO_BRANDS.get(head[8:12], "video/mp4")
    return None


def sniff(head: bytes) -> str:
    """The media type of a file that starts with ``head`` (its first bytes)."""
    for prefix, media_type in _PREFIXES:
        if head.startswith(prefix):
            if media_type == "video/x-matroska" and b"webm" in head[:64]:
                return "video/webm"
            return media_type
    container = _container(head)
    if container is not None:
        return container
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # an MPEG audio frame without an ID3 tag
    if head and _is_text(head):
        return "text/plain"
    return UNKNOWN

"""The metadata stored for an item (``vault_metadata.extracted``, written by
:mod:`comity.vault.metadata`), as labelled lines for people: the command line's
``evidence show`` and, later, the item page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

_PDF_LABELS = (
    ("title", "PDF title"),
    ("author", "PDF author"),
    ("subject", "PDF subject"),
    ("creator", "PDF creator"),
    ("producer", "PDF producer"),
    ("created", "PDF created"),
    ("modified", "PDF modified"),
    ("pages", "PDF pages"),
)


def _gps_text(gps: Mapping[str, Any]) -> str:
    text = f"{gps['latitude']:.7f}, {gps['longitude']:.7f}"
    if gps.get("altitude") is not None:
        text += f", altitude {gps['altitude']:g} m"
    return text


def _media_text(fields: Mapping[str, Any]) -> str:
    parts = [str(fields[name]) for name in ("container", "codec") if name in fields]
    if "sample_rate" in fields:
        parts.append(f"{fields['sample_rate']} Hz")
    if "channels" in fields:
        parts.append(f"{fields['channels']} channel{'s' if fields['channels'] != 1 else ''}")
    if "bitrate" in fields:
        parts.append(f"{round(fields['bitrate'] / 1000)} kbit/s")
    return ", ".join(parts)


def describe(extracted: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The stored metadata of an item (``vault_metadata.extracted``) as labelled lines
    for people, in a fixed order; what was not found is left out."""
    fields: Mapping[str, Any] = extracted.get("fields") or {}
    kind = extracted.get("kind", "none")
    lines = [("Metadata", "nothing read for this type of file" if kind == "none" else kind)]
    if "width" in fields:
        lines.append(("Dimensions", f"{fields['width']} x {fields['height']} pixels"))
    captured = extracted.get("captured")
    if captured:
        known = dt.datetime.fromisoformat(captured).tzinfo is not None
        zone = "" if known else " (camera clock, zone unknown)"
        lines.append(("Captured", f"{captured}{zone}"))
    camera = " ".join(fields[name] for name in ("camera_make", "camera_model") if name in fields)
    if camera:
        lines.append(("Camera", camera))
    if extracted.get("gps"):
        lines.append(("GPS", _gps_text(extracted["gps"])))
    if "duration_seconds" in fields:
        lines.append(("Duration", f"{fields['duration_seconds']:g} s"))
    if _media_text(fields):
        lines.append(("Media", _media_text(fields)))
    lines.extend((label, str(fields[name])) for name, label in _PDF_LABELS if name in fields)
    if kind == "pdf" and "encrypted" in fields:
        lines.append(("PDF encrypted", "yes" if fields["encrypted"] else "no"))
    if extracted.get("perceptual_hash"):
        lines.append(("Perceptual hash", extracted["perceptual_hash"]))
    lines.extend(
        ("Near-duplicate", f"looks like item {near['item_id']} ({near['distance']} bits apart)")
        for near in extracted.get("near_duplicates") or []
    )
    lines.extend(("Metadata note", str(error)) for error in extracted.get("errors") or [])
    return lines

"""Pictures for the web tests of the evidence pages: a PNG, a large JPEG that carries
EXIF with a GPS position (what a preview must never pass on), and a decompression bomb."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

GPS_IFD = 0x8825


def picture(size: tuple[int, int]) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, (30, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse([width // 4, height // 4, width * 3 // 4, height * 3 // 4], fill=(250, 200, 0))
    draw.rectangle([0, height * 3 // 4, width, height], fill=(20, 20, 20))
    return image


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    picture(size).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (2400, 1600)) -> bytes:
    """A JPEG larger than the preview box, whose EXIF names a camera and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "Witness Phone"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[3] = "N", "E"
    gps[2] = (IFDRational(36, 1), IFDRational(11, 1), IFDRational(3363, 100))
    gps[4] = (IFDRational(44, 1), IFDRational(0, 1), IFDRational(3914, 100))
    out = io.BytesIO()
    picture(size).save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` by ``height`` pixels, with no pixels at all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")

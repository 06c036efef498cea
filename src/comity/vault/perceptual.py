"""Perceptual hashes of images, to flag near-duplicates of items already held.

A dHash, a few lines over Pillow, rather than the ``imagehash`` library, which would
bring NumPy, SciPy and PyWavelets into every node for one function; the algorithm is
fixed by :data:`comity.vault.metadata.EXTRACTOR_VERSION`, so hashes stored years apart
stay comparable.
"""

from __future__ import annotations

from PIL import Image, ImageOps

NEAR_DUPLICATE_DISTANCE = 6
"""Perceptual hashes at most this many bits apart are flagged as near-duplicates."""


def hamming(first: str, second: str) -> int:
    """The number of bits in which two hex perceptual hashes differ."""
    return (int(first, 16) ^ int(second, 16)).bit_count()


def dhash(image: Image.Image) -> str:
    """A 64-bit difference hash (dHash) of ``image``, as 16 hex digits.

    The image is turned upright (EXIF orientation), made greyscale and shrunk to 9 by 8
    pixels; each bit says whether a pixel is brighter than its right-hand neighbour, row
    by row from the top left, most significant bit first. Resizing, recompression and
    small colour changes move few bits; a different picture moves about half of them.
    """
    small = ImageOps.exif_transpose(image).convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = small.tobytes()  # one byte per pixel, row by row
    value = 0
    for row in range(8):
        for column in range(8):
            left, right = pixels[row * 9 + column], pixels[row * 9 + column + 1]
            value = (value << 1) | (left > right)
    return f"{value:016x}"

"""Evidence in the browser: a page of items, a safe preview of an image, the original for
download, and the proof file of one custody event.

Seeing content is access to content, recorded like a download. :func:`preview` needs
``evidence:download``; it decrypts the item into an unnamed temporary file in
``<home>/tmp`` (gone once closed, or when the process ends), checks it against the
SHA-256 recorded at ingest, and has Pillow — only its decoders for the image types the
vault recognises, under its decompression-bomb limit — draw a new PNG of at most
:data:`PREVIEW_BOX` pixels a side from the pixels alone: no byte of the original and none
of its metadata (EXIF, GPS, ICC profile, comments) is sent. Once the preview is made, the
custody row ``view``, the ledger event ``evidence.view`` and an audit record are
committed. Anything but an image has no preview.

:func:`open_download` decrypts into such a temporary file too, and only once the whole
plaintext matches the recorded SHA-256 records the download (custody row ``download``,
ledger event ``evidence.download``, audit record with ``via: web``) and hands the file
over to be sent. So the record says that the verified original left the vault for that
person; a transfer the browser breaks off midway is still recorded as a download.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, ImageOps
from sqlalchemy import func, select

from comity.errors import NotFound, ValidationError
from comity.identity.models import User
from comity.identity.permissions import Actor, Permission
from comity.ledger import checkpoints, services
from comity.node import Node
from comity.vault.access import require_recorded
from comity.vault.deletion import refuse_deleted
from comity.vault.items import decrypt_verified, record_access
from comity.vault.metadata import PILLOW_FAILURES
from comity.vault.models import VaultCustody, VaultDerivation, VaultItem, VaultTombstone

PREVIEW_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
}
PREVIEW_BOX = 1024
PREVIEW_MAX_BYTES = 256 * 1024**2
READ_BYTES = 256 * 1024
WORK_DIR = "tmp"

# What Pillow raises on a damaged or hostile image, and its decompression-bomb warning,
# which a preview turns into an error.
_IMAGE_FAILURES: tuple[type[Exception], ...] = (
    *PILLOW_FAILURES,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True)
class ListedItem:
    """An item as the list shows it: who added it (their user name where known), the
    parent it was derived from and when it was deleted, if it was."""

    item: VaultItem
    added_by: str
    derived_from: str | None
    deleted: bool


@dataclass(frozen=True)
class ItemsPage:
    total: int
    items: Sequence[ListedItem]


@dataclass(frozen=True)
class Original:
    """A verified original, open for sending; :meth:`chunks` closes it at the end."""

    item: VaultItem
    ledger_index: int
    stream: BinaryIO

    def chunks(self) -> Iterator[bytes]:
        try:
            while block := self.stream.read(READ_BYTES):
                yield block
        finally:
            self.stream.close()


def can_preview(item: VaultItem) -> bool:
    return item.media_type in PREVIEW_TYPES and item.size <= PREVIEW_MAX_BYTES


def work_dir(node: Node) -> Path:
    """Where decrypted content is briefly held (private to the node's user)."""
    directory = node.settings.home / WORK_DIR
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def _get(node: Node, item_id: str) -> VaultItem:
    with node.uow() as uow:
        item = uow.session.get(VaultItem, item_id)
        if item is not None:
            refuse_deleted(uow.session, item, "its content is no longer held")
    if item is None:
        raise NotFound(f"No evidence item has the id {item_id!r}.")
    return item


def page_of_items(node: Node, actor: Actor, *, offset: int, limit: int) -> ItemsPage:
    """``limit`` items from ``offset``, newest first, with how many there are."""
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.list")
    with node.uow() as uow:
        session = uow.session
        total = session.scalar(select(func.count()).select_from(VaultItem)) or 0
        rows = session.scalars(
            select(VaultItem)
            .order_by(VaultItem.added_at.desc(), VaultItem.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        ids = [row.id for row in rows]
        parents = dict(
            session.execute(
                select(VaultDerivation.item_id, VaultDerivation.parent_id).where(
                    VaultDerivation.item_id.in_(ids)
                )
            ).all()
        )
        deleted = set(
            session.scalars(select(VaultTombstone.item_id).where(VaultTombstone.item_id.in_(ids)))
        )
        names = dict(
            session.execute(
                select(User.id, User.username).where(User.id.in_({r.added_by for r in rows}))
            ).all()
        )
    listed = [
        ListedItem(
            row, names.get(row.added_by, row.added_by), parents.get(row.id), row.id in deleted
        )
        for row in rows
    ]
    return ItemsPage(total, listed)


def provable_size(node: Node) -> int:
    """How many ledger entries the latest checkpoint covers: the custody events that have
    a proof file yet."""
    with node.uow() as uow:
        latest = checkpoints.latest(uow.session)
    return 0 if latest is None else latest.size


def _thumbnail(stream: BinaryIO, image_format: str) -> bytes:
    """A PNG of at most :data:`PREVIEW_BOX` pixels a side, drawn anew from the pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(stream, formats=[image_format]) as image:
                image.draft("RGB", (PREVIEW_BOX, PREVIEW_BOX))
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((PREVIEW_BOX, PREVIEW_BOX))
                clear = upright.mode in {"RGBA", "LA", "PA"} or "transparency" in upright.info
                mode = "RGBA" if clear else "RGB"
                pixels = upright.convert(mode)
                drawn = Image.frombytes(mode, pixels.size, pixels.tobytes())
        except _IMAGE_FAILURES as exc:
            raise ValidationError(
                f"This image cannot be previewed ({type(exc).__name__}: {exc}); download "
                "it to examine it.",
                fields={"preview": "unreadable"},
            ) from None
    out = io.BytesIO()
    drawn.save(out, "PNG")
    return out.getvalue()


def preview(node: Node, actor: Actor, item_id: str) -> bytes:
    """A PNG preview of an image item, recorded as a view (see the module docstring)."""
    require_recorded(node, actor, Permission.EVIDENCE_DOWNLOAD, "evidence.view", item_id)
    item = _get(node, item_id)
    if item.media_type not in PREVIEW_TYPES:
        raise NotFound(f"There is no preview for this type of file ({item.media_type}).")
    if item.size > PREVIEW_MAX_BYTES:
        raise NotFound(
            f"There is no preview of images over {PREVIEW_MAX_BYTES} bytes; download it."
        )
    with decrypt_verified(node, item, work_dir(node)) as plaintext:
        png = _thumbnail(plaintext, PREVIEW_TYPES[item.media_type])
    record_access(node, actor, item, "view", {"via": "web", "preview": "png"})
    return png


def open_download(node: Node, actor: Actor, item_id: str) -> Original:
    """The verified original, open for sending, its download already recorded (see the
    module docstring)."""
    require_recorded(node, actor, Permission.EVIDENCE_DOWNLOAD, "evidence.download", item_id)
    item = _get(node, item_id)
    plaintext = decrypt_verified(node, item, work_dir(node))
    try:
        index = record_access(node, actor, item, "download", {"via": "web"})
    except BaseException:
        plaintext.close()
        raise
    return Original(item, index, plaintext)


def custody_proof(node: Node, actor: Actor, item_id: str, index: int) -> dict[str, Any]:
    """The self-contained proof file (as ``comity ledger prove`` writes it) of the item's
    custody event at ledger ``index``; ``evidence:read`` covers its own item's events."""
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.proof", item_id)
    with node.uow() as uow:
        session = uow.session
        found = session.scalar(
            select(VaultCustody.id)
            .where(VaultCustody.item_id == item_id, VaultCustody.ledger_index == index)
            .limit(1)
        )
        if found is None:
            raise NotFound(f"Item {item_id!r} has no custody event at ledger index {index}.")
        document = services.proof_document(uow, actor, node.keys, index)
        uow.commit()
    return document

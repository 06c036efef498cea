"""An item's file in an evidence package (see :mod:`comity.vault.package`): the original,
decrypted from its blob as a stream with its SHA-256 and size checked against the item;
or the original re-encrypted to an age recipient, decrypted into a pipe in a thread
while the age encryption reads the other end, so that no plaintext touches the disk and
memory stays constant whatever the file's size.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from comity.errors import ValidationError
from comity.node import Node
from comity.vault import age
from comity.vault.access import blob_store, key_manager
from comity.vault.age_keys import X25519Recipient
from comity.vault.models import VaultItem
from comity.vault.package_write import HashingWriter, Progress, safe_name
from comity.vault.streams import Writer


def _decrypt(node: Node, item: VaultItem, writer: Writer) -> None:
    """Stream the item's plaintext into ``writer``, refusing bytes that are not the item's."""
    with blob_store(node).open(item.blob_name) as stream:
        encrypted = age.EncryptedFile(stream, armored=False)
        result = encrypted.decrypt(writer, key_manager(node).unwrap(encrypted.header.stanzas))
    if result.plaintext_sha256.hex() != item.sha256 or result.plaintext_size != item.size:
        raise ValidationError(
            f"Item {item.id} decrypts to bytes whose SHA-256 differs from the one recorded at "
            f"ingest; nothing was exported. Run 'comity evidence show {item.id} --check'.",
            fields={"item": "damaged"},
        )


def _reencrypt(
    node: Node,
    item: VaultItem,
    recipient: X25519Recipient,
    writer: Writer,
    progress: Progress | None,
) -> age.EncryptResult:
    """Decrypt the item into a pipe in a thread while age encryption to ``recipient``
    reads the other end: constant memory, and no plaintext on disk."""
    read_end, write_end = os.pipe()
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_end, "wb") as pipe:
                _decrypt(node, item, HashingWriter(pipe, progress))
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            failures.append(exc)

    thread = threading.Thread(target=produce, name=f"export-{item.id}", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_end, "rb") as pipe:
            result = age.encrypt(pipe, writer, [recipient])
    finally:
        thread.join()
    if failures:
        raise failures[0]
    return result


def write_item_file(
    node: Node,
    item: VaultItem,
    folder: Path,
    recipient: X25519Recipient | None,
    progress: Progress | None,
) -> tuple[str, str]:
    """The item's file written under ``folder`` and made durable: its path in the package
    (``files/<item id>/<name>``, with ``.age`` when encrypted to ``recipient``) and the
    SHA-256 of the file written."""
    name = safe_name(item.original_name) + (".age" if recipient else "")
    relative = f"files/{item.id}/{name}"
    target = folder / relative
    target.parent.mkdir(parents=True)
    with target.open("xb") as handle:
        if recipient is None:
            hashing = HashingWriter(handle, progress)
            _decrypt(node, item, hashing)
        else:
            hashing = HashingWriter(handle)
            _reencrypt(node, item, recipient, hashing, progress)
        handle.flush()
        os.fsync(handle.fileno())
    return relative, hashing.digest.hexdigest()

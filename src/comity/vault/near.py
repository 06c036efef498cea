"""Naming, for each file taken in, the items held whose images look like it.

:class:`NearDuplicates` reads the perceptual hashes of the items held once per run (only
when a file has one) and grows the list with each file taken in, so that a folder of
photos is not compared with the whole vault by one query per photo.
"""

from __future__ import annotations

from sqlalchemy import select

from comity.node import Node
from comity.vault.models import VaultMetadata
from comity.vault.perceptual import NEAR_DUPLICATE_DISTANCE, hamming
from comity.vault.recording import Prepared


class NearDuplicates:
    """The perceptual hashes of the items held, read once per run (only when a file has
    one) and grown with each file taken in, so that a folder of photos is not compared
    with the whole vault by one query per photo."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._known: list[tuple[str, str]] | None = None

    def _held(self) -> list[tuple[str, str]]:
        if self._known is None:
            with self._node.uow() as uow:
                rows = uow.session.execute(
                    select(VaultMetadata.item_id, VaultMetadata.perceptual_hash).where(
                        VaultMetadata.perceptual_hash.is_not(None)
                    )
                ).all()
            self._known = [(item_id, other) for item_id, other in rows if other is not None]
        return self._known

    def find(self, prepared: Prepared) -> None:
        """Names in ``prepared.near`` the items within :data:`NEAR_DUPLICATE_DISTANCE` bits
        of its perceptual hash, closest first; it is then known too."""
        perceptual_hash = prepared.metadata.perceptual_hash
        if perceptual_hash is None:
            return
        known = self._held()
        close = sorted(
            (distance, other_id)
            for other_id, other in known
            if (distance := hamming(perceptual_hash, other)) <= NEAR_DUPLICATE_DISTANCE
        )
        known.append((prepared.item_id, perceptual_hash))
        prepared.near[:] = [{"item_id": other, "distance": far} for far, other in close]

    def forget(self, item_ids: set[str]) -> None:
        """Files that turned out to be held already: no item of theirs will exist."""
        if self._known is not None and item_ids:
            self._known[:] = [entry for entry in self._known if entry[0] not in item_ids]

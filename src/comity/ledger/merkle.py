"""Merkle tree hashing and proofs (RFC 9162 §2.1).

Hashing: a leaf hash is ``SHA-256(0x00 ‖ entry)``, an interior node ``SHA-256(0x01 ‖ left ‖
right)``, and the root of the empty tree is ``SHA-256("")`` (:data:`EMPTY_ROOT`, as in RFC
9162, not Go sumdb's all-zero hash). The tree over ``n`` leaves is the RFC's: split at the
largest power of two below ``n``, left part perfect, recurse on the right.

Storage: the tree is kept as the hashes of its *perfect* subtrees, addressed by coordinates
``(level, index)``: the hash of leaves ``[index·2^level, (index+1)·2^level)``; level 0
holds the leaf hashes. A perfect node is written once, when its last leaf arrives, and
never changes. Every node of the RFC tree is either such a perfect node or lies on the
right edge, covering ``[x, n)``; a right-edge node is composed from the O(log n) perfect
nodes that tile its range. Because the perfect nodes of a tree of size ``n`` are also
perfect nodes of every larger tree, one store answers proofs and roots at any past size.

Building a proof is split in two so that a database answers it with one query: the
``*_coords`` functions (pure) say which perfect nodes are needed, and the builders ask a
:class:`NodeReader` for all of them in a single :meth:`~NodeReader.read` and compose the
result. Appending is the same: :func:`append_coords` names the at most one stored node per
level that new leaves combine with, and :func:`nodes_for_appends` returns every perfect
node, leaves included, that a batch of appends completes.

Verifying proofs (and the two rules of our own it follows) is :mod:`comity.ledger.proofs`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

from comity.ledger.errors import ProofError, TreeIncomplete

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

Coord = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index·2^level, (index+1)·2^level)``."""

_Range = tuple[int, int]


class NodeReader(Protocol):
    """Where perfect-subtree hashes are stored."""

    def read(self, coords: Sequence[Coord]) -> Mapping[Coord, bytes]:
        """The stored hashes of ``coords``, in one batch; absent coordinates are left out."""
        ...


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """The root (RFC 9162 MTH) of a whole list of leaf hashes, computed directly."""
    # Perfect subtrees of strictly decreasing level; equal levels merge as leaves arrive.
    stack: list[tuple[int, bytes]] = []
    for value in leaf_hashes:
        level, current = 0, value
        while stack and stack[-1][0] == level:
            current = node_hash(stack.pop()[1], current)
            level += 1
        stack.append((level, current))
    if not stack:
        return EMPTY_ROOT
    current = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        current = node_hash(left, current)
    return current


# --- Which nodes a proof needs ----------------------------------------------------------


def _split(count: int) -> int:
    """The largest power of two below ``count`` (``count`` ≥ 2): where the RFC splits."""
    return 1 << ((count - 1).bit_length() - 1)


def _tiles(start: int, end: int) -> list[Coord]:
    """The perfect nodes tiling the RFC tree node over ``[start, end)``, left to right.

    Every node of the RFC tree starts at a multiple of a power of two at least as large as
    its width, so taking the largest power of two that fits, repeatedly, stays aligned.
    """
    tiles: list[Coord] = []
    while start < end:
        level = (end - start).bit_length() - 1
        tiles.append((level, start >> level))
        start += 1 << level
    return tiles


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    """RFC 9162 PATH(index, D[0:size]) as leaf ranges, from the leaf up."""
    ranges: list[_Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[_Range]:
    """RFC 9162 PROOF(old_size, D[0:new_size]) as leaf ranges, in proof order."""
    if old_size in (0, new_size):
        return []
    ranges: list[_Range] = []
    lo, hi = 0, new_size
    # Whether [lo, old_size) is the whole old tree, whose root the verifier already holds.
    whole_old_tree = True
    while old_size != hi:
        mid = lo + _split(hi - lo)
        if old_size <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def _check_inclusion_args(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"Leaf index {index} is not in a tree of size {size}.")


def _check_consistency_args(old_size: int, new_size: int) -> None:
    if not 0 <= old_size <= new_size:
        raise ValueError(f"No consistency proof from size {old_size} to size {new_size}.")


def _coords_of(ranges: Sequence[_Range]) -> list[Coord]:
    return [coord for start, end in ranges for coord in _tiles(start, end)]


def inclusion_coords(index: int, size: int) -> list[Coord]:
    """The perfect nodes :func:`inclusion_proof` reads."""
    _check_inclusion_args(index, size)
    return _coords_of(_inclusion_ranges(index, size))


def consistency_coords(old_size: int, new_size: int) -> list[Coord]:
    """The perfect nodes :func:`consistency_proof` reads."""
    _check_consistency_args(old_size, new_size)
    return _coords_of(_consistency_ranges(old_size, new_size))


def root_coords(size: int) -> list[Coord]:
    """The perfect nodes :func:`root_at` reads: one per set bit of ``size``."""
    if size < 0:
        raise ValueError(f"A tree cannot have size {size}.")
    return _tiles(0, size)


def append_coords(first_index: int, count: int) -> list[Coord]:
    """The stored nodes that ``count`` leaves appended at ``first_index`` combine with.

    They are left siblings on the right edge of the tree of size ``first_index``: at most
    one per level, and only at the levels where a new perfect node is completed.
    """
    if first_index < 0 or count < 0:
        raise ValueError(f"Cannot append {count} leaves at index {first_index}.")
    end = first_index + count
    coords: list[Coord] = []
    level = 1
    while first_index >> level < end >> level:
        # The first new node at this level, (level, first_index >> level), has an old left
        # child exactly when first_index is odd at the level below.
        below = first_index >> (level - 1)
        if below & 1:
            coords.append((level - 1, below - 1))
        level += 1
    return coords


# --- Building from one read -------------------------------------------------------------


def _read(reader: NodeReader, coords: Sequence[Coord]) -> Mapping[Coord, bytes]:
    if not coords:
        return {}
    nodes = reader.read(coords)
    for coord in coords:
        value = nodes.get(coord)
        if value is None or len(value) != HASH_SIZE:
            level, index = coord
            raise TreeIncomplete(
                f"The node store has no valid hash for (level {level}, index {index}): the "
                "tree is smaller than asked, or its storage is damaged."
            )
    return nodes


def _compose(tiles: Sequence[Coord], nodes: Mapping[Coord, bytes]) -> bytes:
    """The hash of the RFC tree node tiled by ``tiles``: right to left, as MTH nests."""
    current = nodes[tiles[-1]]
    for coord in reversed(tiles[:-1]):
        current = node_hash(nodes[coord], current)
    return current


def _hashes(reader: NodeReader, ranges: Sequence[_Range]) -> list[bytes]:
    tiles = [_tiles(start, end) for start, end in ranges]
    nodes = _read(reader, [coord for tiling in tiles for coord in tiling])
    return [_compose(tiling, nodes) for tiling in tiles]


def inclusion_proof(reader: NodeReader, index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of the first ``size`` leaves."""
    _check_inclusion_args(index, size)
    return _hashes(reader, _inclusion_ranges(index, size))


def consistency_proof(reader: NodeReader, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of size ``new_size`` extends the one of size ``old_size``.

    Empty when the sizes are equal or ``old_size`` is 0 (see the module's size-0 rule).
    """
    _check_consistency_args(old_size, new_size)
    return _hashes(reader, _consistency_ranges(old_size, new_size))


def root_at(reader: NodeReader, size: int) -> bytes:
    """The root of the tree of the first ``size`` leaves."""
    tiles = root_coords(size)
    if not tiles:
        return EMPTY_ROOT
    return _compose(tiles, _read(reader, tiles))


def nodes_for_appends(
    first_index: int, leaf_hashes: Sequence[bytes], reader: NodeReader
) -> dict[Coord, bytes]:
    """Every perfect node completed by appending ``leaf_hashes`` at ``first_index``.

    ``reader`` holds the tree of size ``first_index``; it is read once, for
    :func:`append_coords`. The result includes the new leaves at level 0.
    """
    for position, value in enumerate(leaf_hashes):
        check_hash(value, f"Leaf hash {position}")
    old = _read(reader, append_coords(first_index, len(leaf_hashes)))
    new = {(0, first_index + offset): value for offset, value in enumerate(leaf_hashes)}
    end = first_index + len(leaf_hashes)
    level = 1
    while first_index >> level < end >> level:
        for index in range(first_index >> level, end >> level):
            left = (level - 1, 2 * index)
            right = (level - 1, 2 * index + 1)
            new[(level, index)] = node_hash(new[left] if left in new else old[left], new[right])
        level += 1
    return new


class MemoryTree:
    """A whole tree in memory: a :class:`NodeReader` for tests and for re-deriving a stored
    tree from its entries."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._nodes: dict[Coord, bytes] = {}
        self._size = 0
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> Mapping[Coord, bytes]:
        """Every perfect node, read-only."""
        return MappingProxyType(self._nodes)

    def read(self, coords: Sequence[Coord]) -> Mapping[Coord, bytes]:
        return {coord: self._nodes[coord] for coord in coords if coord in self._nodes}

    def append(self, leaf_hash: bytes) -> int:
        """Add one leaf; returns its index."""
        self.extend([leaf_hash])
        return self._size - 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        batch = list(leaf_hashes)
        self._nodes.update(nodes_for_appends(self._size, batch, self))
        self._size += len(batch)

    def root(self) -> bytes:
        return root_at(self, self._size)


def check_hash(value: bytes, what: str) -> None:
    """Refuse a hash that is not exactly 32 bytes (see the module docstring)."""
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes long; hashes are {HASH_SIZE} bytes.")

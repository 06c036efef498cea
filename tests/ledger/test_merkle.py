"""Merkle hashing, proofs from perfect-subtree storage, and proof verification.

One tree of a few thousand leaves is built once; because the perfect nodes of a tree are
perfect nodes of every larger one, it answers proofs and roots at every smaller size.
Proofs are compared with a direct transcription of RFC 9162's recursive definitions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comity.ledger import merkle
from comity.ledger.errors import ProofError, TreeIncomplete
from comity.ledger.merkle import (
    EMPTY_ROOT,
    Coord,
    MemoryTree,
    append_coords,
    consistency_coords,
    consistency_proof,
    inclusion_coords,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_for_appends,
    root_at,
    root_coords,
)
from comity.ledger.proofs import (
    root_from_inclusion_proof,
    roots_from_consistency_proof,
    verify_consistency,
    verify_inclusion,
)

N = 4096 + 37
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(N)]
TREE = MemoryTree(LEAVES)
MORE = 300  # examples for the proof properties; the whole file stays within seconds


# --- RFC 9162 §2.1 definitions, transcribed recursively --------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return node_hash(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


# --- Helpers ----------------------------------------------------------------------------


def _end(coord: Coord) -> int:
    level, index = coord
    return (index + 1) << level


class PrefixReader:
    """The stored tree as it was at ``size``; counts reads and refuses to read the future."""

    def __init__(self, tree: MemoryTree, size: int) -> None:
        self.tree = tree
        self.size = size
        self.reads: list[Sequence[Coord]] = []

    def read(self, coords: Sequence[Coord]) -> Mapping[Coord, bytes]:
        assert all(_end(coord) <= self.size for coord in coords), coords
        self.reads.append(list(coords))
        return self.tree.read(coords)


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8 % len(value)] ^= 1 << (bit % 8)
    return bytes(changed)


_EDGES = [2**k + d for k in range(13) for d in (-1, 0, 1) if 1 <= 2**k + d <= N]
sizes = st.one_of(st.integers(1, N), st.sampled_from(_EDGES))


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return size, draw(st.integers(0, size - 1))


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(0, new)), new


# --- Hashing ----------------------------------------------------------------------------


def test_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"a") == hashlib.sha256(b"\x00a").digest()
    assert (
        node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    )


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.root([]) == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT


@given(size=st.integers(0, N))
def test_root_at_every_size_is_the_rfc_root(size: int) -> None:
    expected = ref_mth(LEAVES[:size])
    assert merkle.root(LEAVES[:size]) == expected
    assert root_at(TREE, size) == expected


@given(size=sizes)
def test_root_at_reads_one_perfect_node_per_set_bit_in_one_batch(size: int) -> None:
    reader = PrefixReader(TREE, size)
    root_at(reader, size)
    assert reader.reads == [root_coords(size)]
    assert len(root_coords(size)) == size.bit_count()


# --- Proofs from storage ----------------------------------------------------------------


@settings(max_examples=MORE)
@given(case=size_and_index())
def test_inclusion_proofs_are_the_rfc_path_and_verify(case: tuple[int, int]) -> None:
    size, index = case
    reader = PrefixReader(TREE, size)
    proof = inclusion_proof(reader, index, size)
    assert proof == ref_path(index, LEAVES[:size])
    assert reader.reads == ([inclusion_coords(index, size)] if proof else [])
    assert len(inclusion_coords(index, size)) <= 2 * size.bit_length()
    verify_inclusion(LEAVES[index], index, size, proof, root_at(TREE, size))


@settings(max_examples=MORE)
@given(case=old_and_new())
def test_consistency_proofs_are_the_rfc_proof_and_verify(case: tuple[int, int]) -> None:
    old, new = case
    reader = PrefixReader(TREE, new)
    proof = consistency_proof(reader, old, new)
    assert proof == (ref_subproof(old, LEAVES[:new], True) if old else [])
    assert reader.reads == ([consistency_coords(old, new)] if proof else [])
    assert len(consistency_coords(old, new)) <= 2 * new.bit_length()
    verify_consistency(old, new, root_at(TREE, old), root_at(TREE, new), proof)


def test_proofs_of_the_smallest_trees() -> None:
    assert inclusion_proof(TREE, 0, 1) == []
    assert consistency_proof(TREE, 1, 1) == []
    assert consistency_proof(TREE, 0, 5) == []
    assert consistency_proof(TREE, 1, 2) == [LEAVES[1]]


@pytest.mark.parametrize(
    ("function", "args"),
    [
        (inclusion_coords, (0, 0)),
        (inclusion_coords, (3, 3)),
        (inclusion_coords, (-1, 3)),
        (consistency_coords, (4, 3)),
        (consistency_coords, (-1, 3)),
        (root_coords, (-1,)),
        (append_coords, (-1, 1)),
        (append_coords, (0, -1)),
    ],
)
def test_impossible_requests_are_programming_errors(
    function: Callable[..., object], args: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match=r"size|index|append"):
        function(*args)


def test_a_missing_node_is_reported_not_guessed() -> None:
    with pytest.raises(TreeIncomplete, match=r"\(level 2, index 1\)"):
        inclusion_proof(MemoryTree(LEAVES[:7]), 0, 8)


def test_a_damaged_node_is_reported() -> None:
    class Damaged:
        def read(self, coords: Sequence[Coord]) -> Mapping[Coord, bytes]:
            return dict.fromkeys(coords, b"short")

    with pytest.raises(TreeIncomplete, match="no valid hash"):
        root_at(Damaged(), 3)


# --- Appending --------------------------------------------------------------------------


@given(first=st.integers(0, N - 1), data=st.data())
def test_batch_appends_equal_single_appends_and_a_tree_built_from_scratch(
    first: int, data: st.DataObject
) -> None:
    count = data.draw(st.integers(0, min(N - first, 300)), label="count")
    end = first + count
    reader = PrefixReader(TREE, first)
    batch = nodes_for_appends(first, LEAVES[first:end], reader)
    assert len(reader.reads) <= 1
    assert len(append_coords(first, count)) <= first.bit_length()

    singles: dict[Coord, bytes] = {}
    for index in range(first, end):
        singles |= nodes_for_appends(index, [LEAVES[index]], PrefixReader(TREE, index))

    from_scratch = {c: h for c, h in TREE.nodes.items() if first < _end(c) <= end}
    assert batch == singles == from_scratch


@given(size=st.integers(0, 300))
def test_memory_tree_grown_one_leaf_at_a_time_holds_every_perfect_node(size: int) -> None:
    tree = MemoryTree()
    for index in range(size):
        assert tree.append(LEAVES[index]) == index
    assert tree.size == size
    assert dict(tree.nodes) == {c: h for c, h in TREE.nodes.items() if _end(c) <= size}
    assert tree.root() == ref_mth(LEAVES[:size])


def test_appending_refuses_hashes_of_the_wrong_length() -> None:
    with pytest.raises(ProofError, match="Leaf hash 1 is 31 bytes"):
        MemoryTree([LEAVES[0], b"x" * 31])


# --- Verification rejects every change --------------------------------------------------


def _inclusion_rejected(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, root)


@settings(max_examples=MORE)
@given(case=size_and_index(), bit=st.integers(0, 255), data=st.data())
def test_inclusion_rejects_any_bit_flip(
    case: tuple[int, int], bit: int, data: st.DataObject
) -> None:
    size, index = case
    proof = inclusion_proof(TREE, index, size)
    root = root_at(TREE, size)
    _inclusion_rejected(_flip(LEAVES[index], bit), index, size, proof, root)
    _inclusion_rejected(LEAVES[index], index, size, proof, _flip(root, bit))
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), label="element")
        changed = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
        _inclusion_rejected(LEAVES[index], index, size, changed, root)


@settings(max_examples=MORE)
@given(case=size_and_index())
def test_inclusion_rejects_a_neighbouring_index_or_size(case: tuple[int, int]) -> None:
    """Each changed claim is checked against the genuine root at the claimed size, as a
    verifier holding that size's checkpoint would.

    Keeping the old root while changing the size is not refused in general, and need not
    be: for index 0 the proofs in trees of 5 and 6 leaves have the same shape, so the proof
    at size 5 leads to the size-5 root whatever size is claimed. A signed checkpoint binds
    size and root together, so that pair never occurs.
    """
    size, index = case
    leaf = LEAVES[index]
    proof = inclusion_proof(TREE, index, size)
    root = root_at(TREE, size)
    for other in (index - 1, index + 1):
        _inclusion_rejected(leaf, other, size, proof, root)
    for other in (size - 1, size + 1):
        if other > N:
            continue
        if index < other and inclusion_proof(TREE, index, other) == proof:
            continue  # the same proof genuinely shows the leaf in that tree too
        _inclusion_rejected(leaf, index, other, proof, root_at(TREE, other))


def _consistency_rejected(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, new_root, proof)


@settings(max_examples=MORE)
@given(case=old_and_new(), bit=st.integers(0, 255), data=st.data())
def test_consistency_rejects_any_bit_flip(
    case: tuple[int, int], bit: int, data: st.DataObject
) -> None:
    old, new = case
    proof = consistency_proof(TREE, old, new)
    old_root, new_root = root_at(TREE, old), root_at(TREE, new)
    _consistency_rejected(old, new, _flip(old_root, bit), new_root, proof)
    if old:  # every tree extends the empty one, whatever its root
        _consistency_rejected(old, new, old_root, _flip(new_root, bit), proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), label="element")
        changed = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
        _consistency_rejected(old, new, old_root, new_root, changed)


@settings(max_examples=MORE)
@given(case=old_and_new())
def test_consistency_rejects_a_neighbouring_size(case: tuple[int, int]) -> None:
    """As for inclusion: a changed size is checked with the genuine root at that size, and
    a claim the same proof genuinely supports (from size 0, or between equal sizes, where
    the proof is empty) is not a forgery."""
    old, new = case
    proof = consistency_proof(TREE, old, new)
    for other_old, other_new in ((old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1)):
        if other_new > N:
            continue
        if 0 <= other_old <= other_new:
            if consistency_proof(TREE, other_old, other_new) == proof:
                continue
            roots = root_at(TREE, other_old), root_at(TREE, other_new)
        else:
            roots = root_at(TREE, old), root_at(TREE, new)
        _consistency_rejected(other_old, other_new, *roots, proof)


def test_size_zero_rule() -> None:
    """From the empty tree, the empty proof is accepted (C2SP/CCTV), and nothing else."""
    some_root = root_at(TREE, 5)
    verify_consistency(0, 5, EMPTY_ROOT, some_root, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 5, EMPTY_ROOT, some_root, [LEAVES[0]])
    with pytest.raises(ProofError, match="not the empty tree's"):
        verify_consistency(0, 5, some_root, some_root, [])
    with pytest.raises(ProofError, match="not the empty tree's"):
        verify_consistency(0, 0, some_root, some_root, [])
    with pytest.raises(ProofError, match="not in a tree of size 0"):
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)


@pytest.mark.parametrize("length", [0, 12, 31, 33, 64])
def test_hashes_of_any_other_length_are_refused(length: int) -> None:
    wrong = b"\x07" * length
    proof = inclusion_proof(TREE, 1, 3)
    root = root_at(TREE, 3)
    with pytest.raises(ProofError, match=f"The leaf hash is {length} bytes"):
        verify_inclusion(wrong, 1, 3, proof, root)
    with pytest.raises(ProofError, match=f"The root is {length} bytes"):
        verify_inclusion(LEAVES[1], 1, 3, proof, wrong)
    with pytest.raises(ProofError, match=f"Proof element 1 is {length} bytes"):
        verify_inclusion(LEAVES[1], 1, 3, [proof[0], wrong], root)
    with pytest.raises(ProofError, match=f"The new root is {length} bytes"):
        verify_consistency(1, 1, LEAVES[0], wrong, [])


def test_proofs_of_the_wrong_length_say_so() -> None:
    proof = inclusion_proof(TREE, 5, 11)
    root = root_at(TREE, 11)
    with pytest.raises(ProofError, match="longer than the path"):
        verify_inclusion(LEAVES[5], 5, 11, [*proof, LEAVES[0]], root)
    with pytest.raises(ProofError, match="shorter than the path"):
        verify_inclusion(LEAVES[5], 5, 11, proof[:-1], root)
    old_root = root_at(TREE, 6)
    proof = consistency_proof(TREE, 6, 11)
    with pytest.raises(ProofError, match="longer than the path"):
        verify_consistency(6, 11, old_root, root, [*proof, LEAVES[0]])
    with pytest.raises(ProofError, match="shorter than the path"):
        verify_consistency(6, 11, old_root, root, proof[:-1])
    with pytest.raises(ProofError, match="is empty"):
        verify_consistency(6, 11, old_root, root, [])


def test_the_computed_roots_are_exposed() -> None:
    proof = inclusion_proof(TREE, 5, 11)
    assert root_from_inclusion_proof(LEAVES[5], 5, 11, proof) == root_at(TREE, 11)
    roots = roots_from_consistency_proof(6, 11, root_at(TREE, 6), consistency_proof(TREE, 6, 11))
    assert roots == (root_at(TREE, 6), root_at(TREE, 11))
    with pytest.raises(ProofError, match="No proof is computed"):
        roots_from_consistency_proof(0, 11, EMPTY_ROOT, [])

"""Verifying Merkle inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2).

Two rules of our own:

- **Hashes are exactly 32 bytes.** Leaf hashes, roots and proof elements of any other
  length are rejected before anything is computed. This makes transparency-dev's "sizes are
  equal (one) and proof is empty" probe, which uses 12-byte placeholder roots, fail although
  it expects success; that probe tests the equal-size short cut, not hashing, and a
  verifier that accepted arbitrary byte strings as roots would be less strict, not more
  correct.
- **Size 0.** A consistency proof from the empty tree to any size ``n`` is the empty list,
  and it is accepted when the old root is the empty root
  (:data:`~comity.ledger.merkle.EMPTY_ROOT`; the C2SP and CCTV rule):
  every tree extends the empty one, so there is nothing to prove, and a witness meeting a
  log for the first time needs exactly this step (C2SP tlog-witness: "the proof MUST be
  empty if the old size is zero"). transparency-dev refuses the request instead; its
  probes that expect that refusal also carry other defects, so the outcomes coincide, and
  the tests record which defect we reject them for. A non-empty proof from size 0, or an
  old root other than :data:`~comity.ledger.merkle.EMPTY_ROOT`, is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence

from comity.ledger.errors import ProofError
from comity.ledger.merkle import EMPTY_ROOT, check_hash, node_hash


def _check_proof(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        check_hash(value, f"Proof element {position}")


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` leads to from leaf ``index`` in a tree of ``size`` leaves."""
    check_hash(leaf_hash, "The leaf hash")
    _check_proof(proof)
    if not 0 <= index < size:
        raise ProofError(f"Leaf index {index} is not in a tree of size {size}.")
    # ``node`` is the position of the current subtree among the nodes of its level and
    # ``last`` the position of that level's last node; both halve at each step up.
    node, last = index, size - 1
    current = leaf_hash
    for sibling in proof:
        if last == 0:
            raise ProofError("The inclusion proof is longer than the path to the root.")
        if node & 1 or node == last:
            # The sibling is on the left. A last node in an even position has no sibling
            # at its level: it rises unchanged until it is a right child.
            while not node & 1:
                node >>= 1
                last >>= 1
            current = node_hash(sibling, current)
        else:
            current = node_hash(current, sibling)
        node >>= 1
        last >>= 1
    if last != 0:
        raise ProofError("The inclusion proof is shorter than the path to the root.")
    return current


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows leaf ``index`` is in the tree
    ``(size, root)``."""
    check_hash(root, "The root")
    if root_from_inclusion_proof(leaf_hash, index, size, proof) != root:
        raise ProofError(f"The inclusion proof for leaf {index} does not lead to the root.")


def roots_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The old and new roots that ``proof`` leads to, for ``0 < old_size < new_size``."""
    check_hash(old_root, "The old root")
    _check_proof(proof)
    if not 0 < old_size < new_size:
        raise ProofError(f"No proof is computed from size {old_size} to size {new_size}.")
    # When the old tree is one perfect subtree, its root is the proof's unstated first node.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    if not path:
        raise ProofError("The consistency proof is empty.")
    node, last = old_size - 1, new_size - 1
    # Climb past the levels where the old tree's last leaf sits inside a perfect subtree
    # of the old tree: the proof starts with the largest such subtree.
    while node & 1:
        node >>= 1
        last >>= 1
    old_hash = new_hash = path[0]
    for sibling in path[1:]:
        if last == 0:
            raise ProofError("The consistency proof is longer than the path to the root.")
        if node & 1 or node == last:
            # A left sibling is in both trees; see root_from_inclusion_proof for the climb.
            old_hash = node_hash(sibling, old_hash)
            new_hash = node_hash(sibling, new_hash)
            while not node & 1:
                node >>= 1
                last >>= 1
        else:
            # A right sibling holds only new leaves.
            new_hash = node_hash(new_hash, sibling)
        node >>= 1
        last >>= 1
    if last != 0:
        raise ProofError("The consistency proof is shorter than the path to the root.")
    return old_hash, new_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows the tree ``(new_size, new_root)``
    extends the tree ``(old_size, old_root)``; see the module's size-0 rule."""
    check_hash(old_root, "The old root")
    check_hash(new_root, "The new root")
    _check_proof(proof)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"No tree of size {new_size} can extend one of size {old_size}.")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ProofError("The old root is not the empty tree's, SHA-256 of the empty string.")
    if old_size == new_size:
        if proof:
            raise ProofError("A consistency proof between equal sizes must be empty.")
        if old_root != new_root:
            raise ProofError(f"Two different roots for the same size {old_size}.")
        return
    if old_size == 0:
        if proof:
            raise ProofError("A consistency proof from the empty tree must be empty.")
        return
    old_hash, new_hash = roots_from_consistency_proof(old_size, new_size, old_root, proof)
    if old_hash != old_root:
        raise ProofError(f"The consistency proof does not lead to the root at size {old_size}.")
    if new_hash != new_root:
        raise ProofError(f"The consistency proof does not lead to the root at size {new_size}.")

"""The worked example in docs/formats/ledger.md must be what the code computes."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from comity.ledger.canonical import canonical_json
from comity.ledger.checkpoint import Checkpoint, Cosigner, cosigned_message, sign_checkpoint
from comity.ledger.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
)
from comity.ledger.note import NoteSigner, b64encode

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats" / "ledger.md"

ENTRIES: list[dict[str, object]] = [
    {"kind": "example", "n": 1, "text": "first"},
    {"text": "déjà vu", "n": 2, "kind": "example"},
    {"kind": "example", "n": 3, "tags": ["b", "a"], "done": True, "note": None},
]
LOG_SEED = bytes(range(32))
WITNESS_SEED = bytes(range(32, 64))
ORIGIN = "example.org/comity-ledger"
WITNESS = "witness.example.org/w1"
TIMESTAMP = 1767225600


def worked_example() -> dict[str, str]:
    """Each fenced block of the worked example, by name."""
    encoded = [canonical_json(entry) for entry in ENTRIES]
    leaves = [leaf_hash(entry) for entry in encoded]
    tree = MemoryTree(leaves)
    log = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(LOG_SEED))
    witness = Cosigner(WITNESS, Ed25519PrivateKey.from_private_bytes(WITNESS_SEED))
    checkpoint = Checkpoint(ORIGIN, tree.size, tree.root())
    signed = sign_checkpoint(checkpoint, log)
    return {
        "entries": "".join(
            f"entry {i}: {data.decode()}\n  ({len(data)} bytes)\n" for i, data in enumerate(encoded)
        ),
        "hashes": "".join(f"leaf {i}:   {leaf.hex()}\n" for i, leaf in enumerate(leaves))
        + f"node 0-1: {node_hash(leaves[0], leaves[1]).hex()}\n"
        + f"root:     {tree.root().hex()}\n"
        + f"root (base64): {b64encode(tree.root())}\n",
        "inclusion": "".join(
            f"proof[{i}] = {value.hex()}\n" for i, value in enumerate(inclusion_proof(tree, 0, 3))
        ),
        "consistency": "".join(
            f"proof[{i}] = {value.hex()}\n" for i, value in enumerate(consistency_proof(tree, 2, 3))
        )
        + f"root at size 2: {root_at(tree, 2).hex()}\n",
        "keys": f"log seed:         {LOG_SEED.hex()}\n"
        f"log vkey:         {log.verifier().vkey}\n"
        f"witness seed:     {WITNESS_SEED.hex()}\n"
        f"witness vkey:     {witness.verifier().vkey}\n",
        "body": checkpoint.body(),
        "signed": signed,
        "cosigned message": cosigned_message(checkpoint.body().encode(), TIMESTAMP).decode(),
        "cosigned": signed + witness.cosign(checkpoint, TIMESTAMP),
    }


def test_worked_example_matches_the_code() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for name, block in worked_example().items():
        assert f"```\n{block}```\n" in doc, f"docs/formats/ledger.md: the {name!r} block is stale"

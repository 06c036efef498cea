"""The ledger: a Merkle transparency log of the node's events, with signed checkpoints and
witness cosignatures."""

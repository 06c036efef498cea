"""Federation: this node's signed descriptor, the trust list of peer nodes, and the
envelopes (signed, end-to-end encrypted messages) they exchange."""

"""The ledger's errors.

Every one is a :class:`~comity.errors.ValidationError` (something handed to us was
rejected and nothing changed), except :class:`TreeIncomplete`, which means our own
node store cannot answer.

    ValidationError
    ├── ProofError        a Merkle hash, inclusion proof or consistency proof is wrong
    ├── EntryError        a ledger entry cannot be encoded canonically
    ├── NoteError         a signed note, key or signature is malformed or does not verify
    ├── CheckpointError   a checkpoint body is malformed
    └── TimestampError    an RFC 3161 time-stamp answer or token is malformed, is not for
                          the bytes it should cover, or does not verify
    ComityError
    └── TreeIncomplete    the node store lacks nodes a proof or an append needs
"""

from __future__ import annotations

from comity.errors import ComityError, ValidationError


class ProofError(ValidationError):
    code = "proof_error"


class EntryError(ValidationError):
    code = "entry_error"


class NoteError(ValidationError):
    code = "note_error"


class CheckpointError(ValidationError):
    code = "checkpoint_error"


class TimestampError(ValidationError):
    code = "timestamp_error"


class TreeIncomplete(ComityError):
    code = "tree_incomplete"

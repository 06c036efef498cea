"""What the vault's services share: the node's blob store and key manager, the
permission check that records refusals, and the check of names written by people.

A refused evidence action is written to the audit trail in a transaction of its own
(``outcome=denied``, the action and the item), so that attempts on evidence are on
record even when they came from the command line or a script.
"""

from __future__ import annotations

import functools
import unicodedata

from comity.audit.services import record_refusal
from comity.errors import ValidationError
from comity.identity.permissions import Actor, Permission, require
from comity.node import Node
from comity.vault.blobs import BlobStore, LocalBlobStore
from comity.vault.keyring import KeyManager, NodeKeyManager

# Bidirectional overrides and isolates: they make a name read differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def blob_store(node: Node) -> BlobStore:
    """The node's blob store: the bucket of ``COMITY_BLOB_STORE`` when it names one, else
    the local directory, made private (0700) when it is created."""
    settings = node.settings
    location = settings.s3_location
    if location is not None:
        return _s3_store(
            location.bucket,
            location.prefix,
            settings.s3_endpoint_url or None,
            settings.s3_region or None,
        )
    root = settings.resolved_vault_dir
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return LocalBlobStore(root)


@functools.lru_cache(maxsize=8)
def _s3_store(bucket: str, prefix: str, endpoint_url: str | None, region: str | None) -> BlobStore:
    """One store (and so one S3 client, which is thread-safe) per bucket: making a client
    costs tens of milliseconds, too much to pay for every file of a folder."""
    # Imported here: boto3 takes a noticeable time to import, and only nodes that keep
    # their blobs in S3 need it.
    from comity.vault.blobs_s3 import S3BlobStore  # noqa: PLC0415

    return S3BlobStore.connect(bucket, prefix, endpoint_url=endpoint_url, region=region)


def key_manager(node: Node) -> KeyManager:
    return NodeKeyManager(node.keys)


def require_recorded(
    node: Node, actor: Actor, permission: Permission, action: str, target_id: str = ""
) -> None:
    """:func:`~comity.identity.permissions.require`, with the refusal audited first."""
    if not actor.can(permission):
        record_refusal(
            node.sessions,
            actor,
            action,
            target_type="vault_item" if target_id else "",
            target_id=target_id,
            detail={"permission": permission.value},
        )
    require(actor, permission)


def check_text(what: str, value: str, *, max_length: int, multiline: bool = False) -> str:
    """``value`` if it is printable text of at most ``max_length`` characters; control
    characters (other than line breaks and tabs where ``multiline``), undecodable bytes
    and bidirectional overrides are refused with an error naming ``what``."""
    allowed = "\n\t" if multiline else ""
    for char in value:
        category = unicodedata.category(char)
        if (category in {"Cc", "Cs"} and char not in allowed) or char in _BIDI_CONTROLS:
            raise ValidationError(
                f"The {what} {value!r} contains the control character U+{ord(char):04X}; "
                "rename it (or retype it) without control characters.",
                fields={what: "control_character"},
            )
    if len(value) > max_length:
        raise ValidationError(
            f"The {what} is {len(value)} characters long; at most {max_length} are allowed.",
            fields={what: "too_long"},
        )
    return value

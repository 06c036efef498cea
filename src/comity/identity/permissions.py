"""Roles, permissions and the one permission check.

The table :data:`ROLE_PERMISSIONS` is the whole permission model: a role grants exactly
the permissions listed, nothing is granted by default, and every service calls
:func:`require` against the acting :class:`Actor` before it reads or changes anything.
``docs/permissions.md`` is generated from this table (``tests`` keep the two equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from comity.errors import PermissionDenied
from comity.i18n import mark


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    DOCUMENTER = "documenter"
    INVESTIGATOR = "investigator"
    LEGAL_AID_LAWYER = "legal_aid_lawyer"
    CASEWORKER = "caseworker"
    PROSECUTOR = "prosecutor"
    CENTRAL_AUTHORITY_OFFICER = "central_authority_officer"
    ANALYST = "analyst"
    AUDITOR = "auditor"


ROLE_LABELS: dict[Role, str] = {
    Role.ADMINISTRATOR: mark("Administrator"),
    Role.DOCUMENTER: mark("Documenter"),
    Role.INVESTIGATOR: mark("Investigator"),
    Role.LEGAL_AID_LAWYER: mark("Legal-aid lawyer"),
    Role.CASEWORKER: mark("Caseworker"),
    Role.PROSECUTOR: mark("Prosecutor"),
    Role.CENTRAL_AUTHORITY_OFFICER: mark("Central-authority officer"),
    Role.ANALYST: mark("Analyst"),
    Role.AUDITOR: mark("Auditor"),
}


class Permission(StrEnum):
    NODE_VIEW = "node:view"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    ORGANISATIONS_READ = "organisations:read"
    ORGANISATIONS_MANAGE = "organisations:manage"
    AUDIT_READ = "audit:read"
    TOKENS_OWN = "tokens:own"
    LEDGER_READ = "ledger:read"
    LEDGER_MANAGE = "ledger:manage"
    EVIDENCE_ADD = "evidence:add"
    EVIDENCE_READ = "evidence:read"
    EVIDENCE_DOWNLOAD = "evidence:download"
    EVIDENCE_DELETE = "evidence:delete"
    RECORDS_READ = "records:read"
    RECORDS_WRITE = "records:write"
    RECORDS_PROTECTED = "records:protected"
    RECORDS_CONFIGURE = "records:configure"
    MESSAGES_SEND = "messages:send"
    MESSAGES_READ = "messages:read"
    MESSAGES_MANAGE = "messages:manage"


PERMISSION_DESCRIPTIONS: dict[Permission, str] = {
    Permission.NODE_VIEW: "See the home dashboard and the node's own description.",
    Permission.USERS_READ: "List the node's user accounts and their roles.",
    Permission.USERS_MANAGE: "Create, disable, re-enable users, set roles, reset passwords.",
    Permission.ORGANISATIONS_READ: "See this node's organisation and the peer organisations.",
    Permission.ORGANISATIONS_MANAGE: "Edit this node's organisation; add and edit peers.",
    Permission.AUDIT_READ: "Read the audit trail (reading it is itself audited).",
    Permission.TOKENS_OWN: "Create and revoke one's own API tokens for scripts.",
    Permission.LEDGER_READ: "Read ledger entries and proofs, followed logs and alarms.",
    Permission.LEDGER_MANAGE: "Make checkpoints, manage witnesses, follow and witness other logs.",
    Permission.EVIDENCE_ADD: "Add files to the evidence vault, with their acquisition details.",
    Permission.EVIDENCE_READ: (
        "List evidence items and see their metadata, custody chain and integrity checks "
        "(not their content)."
    ),
    Permission.EVIDENCE_DOWNLOAD: "Decrypt evidence items and get the originals (recorded).",
    Permission.EVIDENCE_DELETE: (
        "Request, approve, withdraw or reject the deletion of an evidence item under a "
        "legal process (two different people; a tombstone with its hashes is kept); remove "
        "the vault's leftovers that no item names."
    ),
    Permission.RECORDS_READ: (
        "Search and read documentation records (incidents, acts, persons, organisations, "
        "sources), their history and vocabularies; protected people appear as pseudonyms."
    ),
    Permission.RECORDS_WRITE: (
        "Create, correct, restore and import records, and save searches; every change is "
        "a revision on the ledger."
    ),
    Permission.RECORDS_PROTECTED: (
        "See the identifying fields (name, contact, address …) of people marked protected."
    ),
    Permission.RECORDS_CONFIGURE: (
        "Import vocabularies (or new versions) and add custom fields to a kind of record."
    ),
    Permission.MESSAGES_SEND: (
        "Send messages to confirmed peer nodes (signed, encrypted to them, delivered with "
        "receipts)."
    ),
    Permission.MESSAGES_READ: (
        "List messages sent and received with their receipts, and open received messages "
        "(each opening is recorded; the first sends the sender a retrieval receipt)."
    ),
    Permission.MESSAGES_MANAGE: (
        "See delivery queues, failures and receipts (never a message's content), run a "
        "delivery round, send a failed message anew."
    ),
}

_EVERY_USER = frozenset({Permission.NODE_VIEW, Permission.TOKENS_OWN})
_EVIDENCE_WORK = frozenset(
    {Permission.EVIDENCE_ADD, Permission.EVIDENCE_READ, Permission.EVIDENCE_DOWNLOAD}
)
_RECORDS_WORK = frozenset({Permission.RECORDS_READ, Permission.RECORDS_WRITE})
_MESSAGES_WORK = frozenset({Permission.MESSAGES_SEND, Permission.MESSAGES_READ})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: _EVERY_USER
    | {
        Permission.USERS_READ,
        Permission.USERS_MANAGE,
        Permission.ORGANISATIONS_READ,
        Permission.ORGANISATIONS_MANAGE,
        Permission.AUDIT_READ,
        Permission.LEDGER_READ,
        Permission.LEDGER_MANAGE,
        Permission.EVIDENCE_READ,
        Permission.EVIDENCE_DELETE,
        Permission.RECORDS_READ,
        Permission.RECORDS_CONFIGURE,
        Permission.MESSAGES_MANAGE,
    },
    Role.AUDITOR: _EVERY_USER
    | {
        Permission.USERS_READ,
        Permission.ORGANISATIONS_READ,
        Permission.AUDIT_READ,
        Permission.LEDGER_READ,
        Permission.EVIDENCE_READ,
    },
    Role.DOCUMENTER: _EVERY_USER | _EVIDENCE_WORK | _RECORDS_WORK,
    Role.INVESTIGATOR: _EVERY_USER
    | _EVIDENCE_WORK
    | _RECORDS_WORK
    | _MESSAGES_WORK
    | {Permission.ORGANISATIONS_READ, Permission.LEDGER_READ, Permission.RECORDS_PROTECTED},
    Role.LEGAL_AID_LAWYER: _EVERY_USER | _MESSAGES_WORK | {Permission.ORGANISATIONS_READ},
    Role.CASEWORKER: _EVERY_USER,
    Role.PROSECUTOR: _EVERY_USER | _MESSAGES_WORK | {Permission.ORGANISATIONS_READ},
    Role.CENTRAL_AUTHORITY_OFFICER: _EVERY_USER | _MESSAGES_WORK | {Permission.ORGANISATIONS_READ},
    Role.ANALYST: _EVERY_USER | {Permission.EVIDENCE_READ, Permission.RECORDS_READ},
}


def permissions_for(roles: frozenset[Role] | set[Role]) -> frozenset[Permission]:
    granted: frozenset[Permission] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return granted


@dataclass(frozen=True)
class Actor:
    """Who is acting, with what rights, and from where.

    ``via`` says how the actor was authenticated: ``session`` (a browser), ``token``
    (a script with an API token, whose permissions are the token's scopes intersected
    with the user's roles), ``cli`` (someone with shell access to the node's data
    directory, who could change the database directly and so holds every permission),
    ``system`` (the node itself, running a scheduled duty with only the permissions that
    duty needs), or ``anonymous``.
    """

    label: str
    via: str
    permissions: frozenset[Permission] = frozenset()
    user_id: str | None = None
    organisation_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    token_id: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def require(actor: Actor, permission: Permission) -> None:
    """Refuse unless ``actor`` holds ``permission`` (deny by default)."""
    if not actor.can(permission):
        raise PermissionDenied(f"You do not have the permission '{permission}' needed for this.")


def anonymous(ip: str | None = None, user_agent: str | None = None) -> Actor:
    return Actor(label="anonymous", via="anonymous", ip=ip, user_agent=user_agent)


def system_actor(duty: str, permissions: Iterable[Permission]) -> Actor:
    """The node itself doing ``duty`` on a timer, holding ``permissions`` and no more."""
    return Actor(label=f"system:{duty}", via="system", permissions=frozenset(permissions))


def cli_actor(os_user: str) -> Actor:
    return Actor(label=f"cli:{os_user}", via="cli", permissions=frozenset(Permission))


def markdown_table() -> str:
    """The permission table as Markdown, as published in ``docs/permissions.md``."""
    roles = list(Role)
    header = "| permission | what it allows | " + " | ".join(r.value for r in roles) + " |"
    rule = "|---|---|" + "---|" * len(roles)
    rows = [
        f"| `{perm.value}` | {PERMISSION_DESCRIPTIONS[perm]} | "
        + " | ".join("✓" if perm in ROLE_PERMISSIONS[r] else "" for r in roles)
        + " |"
        for perm in Permission
    ]
    return "\n".join([header, rule, *rows]) + "\n"

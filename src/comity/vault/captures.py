"""Web captures: a page's URL and capture time kept together with the files that show
it — its HTML, a screenshot, a WACZ web archive, and any other file — as one item group
(``vault_groups`` of kind ``web_capture``, its files in ``vault_group_members`` with
their role).

:func:`add_capture` works in this order, so that re-running an interrupted capture
resumes it and never makes a second group:

1. The permission and all the input are checked before anything is written: the roles
   (``html``, ``screenshot``, ``wacz``, ``other``; at least one file, at most one of each
   but ``other``), every file (as ``comity evidence add`` checks it), the URL (http or
   https, at most 2,048 characters, no white space or control characters), the capture
   time (with a time zone, not in the future), the title and the acquisition details. A
   WACZ is read (:mod:`comity.vault.wacz`): it gives the URL and the capture time when
   they are not given; a URL given that is not among its pages is a *warning* in the
   result, not an error (a capture can be of a page the archive reached by redirect).
2. Each file is added with :func:`~comity.vault.ingest.add_file`, each in its own
   commit; bytes already held are not added again, their item is reused.
3. If the same capture is held already — the same URL, the same capture time and the
   same items in the same roles — it is returned as it is, and nothing is recorded.
4. In one unit of work: the group and its member rows, the ledger event
   ``evidence.capture`` (subject the group; ``data.members`` each member's item id, role
   and SHA-256; the URL, capture time and title only as salted commitments, since a URL
   can identify a source), a custody row ``grouped`` on every member naming that event,
   and an audit record ``evidence.capture``; then one commit.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from comity.audit.services import record
from comity.db import utcnow
from comity.errors import NotFound, ValidationError
from comity.identity.permissions import Actor, Permission
from comity.ledger.events import JsonValue, record_event
from comity.node import Node
from comity.vault.access import check_text, require_recorded
from comity.vault.ingest import AddResult, add_file
from comity.vault.inputs import Acquisition, Progress, open_input
from comity.vault.models import (
    VaultCustody,
    VaultGroup,
    VaultGroupMember,
    VaultItem,
    new_item_id,
)
from comity.vault.wacz import WaczSummary, read_wacz

KIND = "web_capture"
ROLES = ("html", "screenshot", "wacz", "other")
SINGLE_ROLES = frozenset({"html", "screenshot", "wacz"})
MAX_URL_LENGTH = 2048
MAX_TITLE_LENGTH = 500
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a capture time may be (clocks differ a little)."""

Files = Mapping[str, Path | Sequence[Path]]
"""The files of a capture by role: one path, or several (only ``other`` takes more than
one)."""


@dataclass(frozen=True)
class CaptureResult:
    """The group of a capture and its members (role and item, in role order);
    ``created`` is false when the same capture was held already. ``warnings`` say what
    the WACZ contradicts or could not tell."""

    group_id: str
    url: str
    captured_at: dt.datetime
    title: str
    members: tuple[tuple[str, AddResult], ...]
    created: bool
    ledger_index: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupView:
    """A group and its members, each with its role, in role order."""

    group: VaultGroup
    members: Sequence[tuple[str, VaultItem]]


def check_url(url: str) -> str:
    """``url`` if a web capture can be of it: http or https with a host, at most
    :data:`MAX_URL_LENGTH` characters, without white space or control characters."""
    check_text("URL", url, max_length=MAX_URL_LENGTH)
    if any(char.isspace() for char in url):
        raise ValidationError(
            f"The URL {url!r} contains white space; give it as the address bar shows it "
            "(spaces written %20).",
            fields={"url": "white_space"},
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ValidationError(f"{url!r} is not a URL: {exc}.", fields={"url": "invalid"}) from None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        raise ValidationError(
            f"{url!r} is not the http:// or https:// address of a web page.",
            fields={"url": "invalid"},
        )
    return url


def check_captured_at(moment: dt.datetime, *, source: str = "the capture time") -> dt.datetime:
    """``moment`` in UTC, if it has a time zone and is not in the future (beyond
    :data:`CLOCK_SKEW`)."""
    what = source[:1].upper() + source[1:]
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            f"{what} {moment.isoformat()} has no time zone; give it with its "
            "offset, such as 2026-03-14T09:30:00+02:00 (or Z for UTC).",
            fields={"captured_at": "no_time_zone"},
        )
    if moment - utcnow() > CLOCK_SKEW:
        raise ValidationError(
            f"{what} {moment.isoformat()} is in the future; check it, and the "
            "clock of the machine that captured the page.",
            fields={"captured_at": "future"},
        )
    return moment.astimezone(dt.UTC)


def _by_role(files: Files) -> list[tuple[str, Path]]:
    """The files in role order, checked: known roles, one file at least, one per single
    role, each file readable and given once."""
    unknown = sorted(set(files) - set(ROLES))
    if unknown:
        raise ValidationError(
            f"Unknown role {unknown[0]!r}: a capture's files are {', '.join(ROLES)}.",
            fields={"role": "unknown"},
        )
    listed: list[tuple[str, Path]] = []
    for role in ROLES:
        given = files.get(role, ())
        paths = [given] if isinstance(given, Path) else list(given)
        if role in SINGLE_ROLES and len(paths) > 1:
            raise ValidationError(
                f"A capture has at most one {role} file; {len(paths)} were given "
                f"({', '.join(str(p) for p in paths)}). Give further files as 'other'.",
                fields={role: "more_than_one"},
            )
        listed += [(role, path) for path in paths]
    if not listed:
        raise ValidationError(
            "A capture needs at least one file: its HTML, a screenshot, a WACZ or another.",
            fields={"files": "none"},
        )
    seen: dict[tuple[int, int], Path] = {}
    for _, path in listed:
        stream, _ = open_input(path)
        with stream:
            info = os.fstat(stream.fileno())
        first = seen.get((info.st_dev, info.st_ino))
        if first is not None:
            raise ValidationError(
                f"{path} is given twice (also as {first}); give each file once.",
                fields={"files": "twice"},
            )
        seen[info.st_dev, info.st_ino] = path
    return listed


def _from_wacz(
    wacz: WaczSummary | None, url: str | None, captured_at: dt.datetime | None
) -> tuple[str, dt.datetime, list[str]]:
    """The URL and capture time, checked, taken from the WACZ where not given; and
    warnings."""
    if url is not None:
        check_url(url)
    if captured_at is not None:
        captured_at = check_captured_at(captured_at)
    warnings: list[str] = []
    page = wacz.main_page() if wacz is not None else None
    if wacz is not None and wacz.problem:
        warnings.append(f"The WACZ could not all be read: {wacz.problem}.")
    if url is None:
        if page is None:
            raise ValidationError(
                "Give the URL of the captured page (--url): "
                + ("the WACZ names no page." if wacz is not None else "there is no WACZ."),
                fields={"url": "missing"},
            )
        url = check_url(page.url)
    elif wacz is not None and (wacz.pages or wacz.main_url) and not wacz.holds(url):
        warnings.append(f"The URL {url} is not among the pages of the WACZ.")
    if captured_at is None:
        if page is None or page.captured_at is None:
            raise ValidationError(
                "Give the capture time (--captured-at, with its time zone): "
                + ("the WACZ does not say it." if wacz is not None else "there is no WACZ."),
                fields={"captured_at": "missing"},
            )
        captured_at = check_captured_at(page.captured_at, source="the WACZ's time")
    return url, captured_at, warnings


def _same_capture(
    session: Session, url: str, captured_at: dt.datetime, members: set[tuple[str, str]]
) -> VaultGroup | None:
    candidates = session.scalars(
        select(VaultGroup).where(
            VaultGroup.kind == KIND, VaultGroup.url == url, VaultGroup.captured_at == captured_at
        )
    ).all()
    for group in candidates:
        held = session.execute(
            select(VaultGroupMember.item_id, VaultGroupMember.role).where(
                VaultGroupMember.group_id == group.id
            )
        ).all()
        if {(item_id, role) for item_id, role in held} == members:
            return group
    return None


def _event(
    session: Session, actor: Actor, group: VaultGroup, members: Sequence[tuple[str, AddResult]]
) -> int:
    """The group's ledger event (no commit); its index."""
    personal = {"url": group.url or "", "captured_at": committed_time(group.captured_at)}
    if group.title:
        personal["title"] = group.title
    listed: list[JsonValue] = [
        {"item_id": added.item_id, "role": role, "sha256": added.sha256} for role, added in members
    ]
    return record_event(
        session,
        actor,
        "evidence.capture",
        subject_type="vault_group",
        subject_id=group.id,
        personal=personal,
        data={"kind": KIND, "members": listed},
    ).index


def _rows(
    session: Session, actor: Actor, group: VaultGroup, members: Sequence[tuple[str, AddResult]]
) -> None:
    """The group, its members, their custody rows and the audit record (no commit)."""
    session.add(group)
    session.flush()
    for role, added in members:
        session.add(VaultGroupMember(group_id=group.id, item_id=added.item_id, role=role))
        session.add(
            VaultCustody(
                item_id=added.item_id,
                action="grouped",
                actor=actor.label[:100],
                ledger_index=group.ledger_index,
                detail={"group": group.id, "kind": KIND, "role": role},
            )
        )
    record(
        session,
        actor,
        "evidence.capture",
        target_type="vault_group",
        target_id=group.id,
        detail={"members": [added.item_id for _, added in members], "ledger": group.ledger_index},
    )


def committed_time(moment: dt.datetime | None) -> str:
    """A capture time as the ledger's commitment to it holds it (UTC, microseconds)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else ""


def add_capture(
    node: Node,
    actor: Actor,
    url: str | None,
    captured_at: dt.datetime | None,
    files: Files,
    *,
    title: str = "",
    acquisition: Acquisition | None = None,
    progress: Progress | None = None,
) -> CaptureResult:
    """Keep a web capture: its files as items, grouped with its URL and capture time
    (see the module docstring for the order of the steps). ``url`` and ``captured_at``
    may be ``None`` when a WACZ is given that says them."""
    require_recorded(node, actor, Permission.EVIDENCE_ADD, "evidence.capture")
    listed = _by_role(files)
    title = check_text("title", title.strip(), max_length=MAX_TITLE_LENGTH)
    (acquisition or Acquisition()).given()
    wacz_path = next((path for role, path in listed if role == "wacz"), None)
    wacz = read_wacz(wacz_path) if wacz_path is not None else None
    url, captured_at, warnings = _from_wacz(wacz, url, captured_at)

    members = [
        (role, add_file(node, actor, path, acquisition, progress=progress)) for role, path in listed
    ]
    seen: dict[str, Path] = {}
    for (_, added), (_, path) in zip(members, listed, strict=True):
        if added.item_id in seen:
            raise ValidationError(
                f"{path} has the same bytes as {seen[added.item_id]}: they are one item. The "
                "files are kept; run the capture again with one of them.",
                fields={"files": "same_bytes"},
            )
        seen[added.item_id] = path
    wanted = {(added.item_id, role) for role, added in members}

    def result(group: VaultGroup, *, created: bool) -> CaptureResult:
        return CaptureResult(
            group.id,
            url,
            captured_at,
            group.title,
            tuple(members),
            created,
            group.ledger_index,
            tuple(warnings),
        )

    with node.uow() as uow:
        held = _same_capture(uow.session, url, captured_at, wanted)
    if held is not None:
        return result(held, created=False)
    group = VaultGroup(
        id=new_item_id(),
        kind=KIND,
        url=url,
        captured_at=captured_at,
        title=title,
        created_by=actor.label[:100],
    )
    with node.uow() as uow:
        group.ledger_index = _event(uow.session, actor, group, members)
        # The ledger's append lock is held from here to the commit: a twin committed by
        # another process since the look above is seen, and this unit of work discarded.
        twin = _same_capture(uow.session, url, captured_at, wanted)
        if twin is not None:
            return result(twin, created=False)
        _rows(uow.session, actor, group, members)
        uow.commit()
    return result(group, created=True)


def get_group(node: Node, actor: Actor, group_id: str) -> GroupView:
    """A group with its members in role order."""
    require_recorded(node, actor, Permission.EVIDENCE_READ, "evidence.group.show")
    with node.uow() as uow:
        group = uow.session.get(VaultGroup, group_id)
        if group is None:
            raise NotFound(f"No item group has the id {group_id!r}.")
        rows = uow.session.execute(
            select(VaultGroupMember.role, VaultItem)
            .join(VaultItem, VaultItem.id == VaultGroupMember.item_id)
            .where(VaultGroupMember.group_id == group_id)
        ).all()
    order = {role: number for number, role in enumerate(ROLES)}
    members = sorted(((role, item) for role, item in rows), key=lambda m: (order[m[0]], m[1].id))
    return GroupView(group, members)


def groups_of(session: Session, item_id: str) -> list[tuple[VaultGroup, str]]:
    """The groups an item belongs to, oldest first, each with the item's role in it."""
    rows = session.execute(
        select(VaultGroup, VaultGroupMember.role)
        .join(VaultGroupMember, VaultGroupMember.group_id == VaultGroup.id)
        .where(VaultGroupMember.item_id == item_id)
        .order_by(VaultGroup.created_at, VaultGroup.id)
    ).all()
    return [(group, role) for group, role in rows]


def expand_groups(session: Session, ids: Sequence[str]) -> list[str]:
    """``ids`` with every group id replaced by its members' item ids, in role order."""
    expanded: list[str] = []
    order = {role: number for number, role in enumerate(ROLES)}
    for given in ids:
        members = session.execute(
            select(VaultGroupMember.item_id, VaultGroupMember.role).where(
                VaultGroupMember.group_id == given
            )
        ).all()
        if not members:
            expanded.append(given)
            continue
        expanded += [item for item, _ in sorted(members, key=lambda m: (order[m[1]], m[0]))]
    return expanded

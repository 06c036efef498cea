"""Tables of the documentation records.

``records_revisions`` is the history, and it is append-only (database triggers): each
save of a record adds the whole record as it now stands — its public fields as JSON and
its identifying fields sealed (AES-256-GCM under a key derived from the node secret,
bound to the record and revision) — with the author, the time, a note and the ledger
entry that vouches for it. Nothing is overwritten; restoring is a new revision.

``records_records`` is the current state, rebuilt from the newest revision on every save:
the same public JSON and sealed bytes, plus the columns filters use (kind, the date's
earliest and latest minute, coordinates, protection). ``records_facets`` (one row per
filterable value: a term and its broader terms, a country, a sex, an age band …) and
``records_links`` (typed links to records and to vault items) are derived from it too.
The full-text index ``records_search`` is made by the migration for each database (an
FTS5 table on SQLite, a table with a ``tsvector`` and a GIN index on PostgreSQL), keyed
by the record's integer ``key`` (which FTS5 uses as its rowid; the record's public id is
a UUID), and written by :mod:`comity.records.search_index`.

``records_vocabularies`` and ``records_terms`` hold the controlled vocabularies (shipped
ones and an organisation's own); ``records_custom_fields`` the fields an organisation
adds to a kind of record without code; ``records_saved_searches`` each person's saved
searches.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from comity.db import Base, UTCDateTime, utcnow


def new_record_id() -> str:
    return str(uuid.uuid4())


class Vocabulary(Base):
    __tablename__ = "records_vocabularies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_by: Mapped[str] = mapped_column(String(100))
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Term(Base):
    __tablename__ = "records_terms"

    vocabulary: Mapped[str] = mapped_column(
        String(64), ForeignKey("records_vocabularies.name"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(100))
    reference: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class CustomField(Base):
    __tablename__ = "records_custom_fields"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    vocabulary: Mapped[str | None] = mapped_column(String(64))
    identifying: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Record(Base):
    __tablename__ = "records_records"
    __table_args__ = (UniqueConstraint("kind", "reference"),)

    key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_record_id)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    reference: Mapped[str | None] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    earliest: Mapped[str | None] = mapped_column(String(16), index=True)
    latest: Mapped[str | None] = mapped_column(String(16), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    public: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Revision(Base):
    __tablename__ = "records_revisions"
    __table_args__ = (UniqueConstraint("record_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36), ForeignKey("records_records.id"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    public: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    restored_from: Mapped[int | None] = mapped_column(Integer)
    ledger_index: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entries.idx"))


class Facet(Base):
    __tablename__ = "records_facets"
    __table_args__ = (
        Index("ix_records_facets_name_value", "name", "value"),
        # A search's filter asks "has this record this facet?": answered from the index.
        Index("ix_records_facets_record_name_value", "record_id", "name", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36), ForeignKey("records_records.id"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(200))


class Link(Base):
    __tablename__ = "records_links"
    __table_args__ = (
        Index("ix_records_links_target_type", "target", "type"),
        Index("ix_records_links_source_type_target", "source_id", "type", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(36), ForeignKey("records_records.id"))
    type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(36))


class SavedSearch(Base):
    __tablename__ = "records_saved_searches"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

"""The documentation records: vocabularies and their terms, custom fields, records with
their append-only revisions, the facets and links derived from them, saved searches, and
the full-text index (FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 18:36:32.369908
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from comity.db import UTCDateTime
from comity.migrations import append_only

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY = ("records_revisions",)

# The search index holds words already folded by comity.records.text, so neither engine
# folds them again: unicode61 with its own diacritic removal off; a tsvector made from the
# word list with array_to_tsvector, not by PostgreSQL's parser.
_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE records_search USING fts5("
    "body, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3')"
)
_PG_SEARCH = (
    "CREATE TABLE records_search ("
    "key INTEGER PRIMARY KEY REFERENCES records_records (key), "
    "words TSVECTOR NOT NULL)",
    "CREATE INDEX ix_records_search_words ON records_search USING GIN (words)",
)


def upgrade() -> None:
    op.create_table(
        "records_custom_fields",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("vocabulary", sa.String(length=64), nullable=True),
        sa.Column("identifying", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_custom_fields")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_records_custom_fields_kind")),
    )
    op.create_table(
        "records_records",
        sa.Column("key", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("earliest", sa.String(length=16), nullable=True),
        sa.Column("latest", sa.String(length=16), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("public", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_records_records")),
        sa.UniqueConstraint("kind", "reference", name=op.f("uq_records_records_kind")),
        sa.UniqueConstraint("id", name=op.f("uq_records_records_id")),
    )
    with op.batch_alter_table("records_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_records_records_earliest"), ["earliest"], unique=False)
        batch_op.create_index(batch_op.f("ix_records_records_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_records_records_latest"), ["latest"], unique=False)

    op.create_table(
        "records_saved_searches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_saved_searches")),
        sa.UniqueConstraint("owner", "name", name=op.f("uq_records_saved_searches_owner")),
    )
    op.create_table(
        "records_vocabularies",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("shipped", sa.Boolean(), nullable=False),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.Column("loaded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_records_vocabularies")),
    )
    op.create_table(
        "records_facets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records_records.id"],
            name=op.f("fk_records_facets_record_id_records_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_facets")),
    )
    with op.batch_alter_table("records_facets", schema=None) as batch_op:
        batch_op.create_index("ix_records_facets_name_value", ["name", "value"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_records_facets_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "records_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["records_records.id"],
            name=op.f("fk_records_links_source_id_records_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_links")),
    )
    with op.batch_alter_table("records_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_records_links_source_id"), ["source_id"], unique=False)
        batch_op.create_index("ix_records_links_target_type", ["target", "type"], unique=False)

    op.create_table(
        "records_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("public", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_index"],
            ["ledger_entries.idx"],
            name=op.f("fk_records_revisions_ledger_index_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records_records.id"],
            name=op.f("fk_records_revisions_record_id_records_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_revisions")),
        sa.UniqueConstraint("record_id", "number", name=op.f("uq_records_revisions_record_id")),
    )
    op.create_table(
        "records_terms",
        sa.Column("vocabulary", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("parent", sa.String(length=100), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vocabulary"],
            ["records_vocabularies.name"],
            name=op.f("fk_records_terms_vocabulary_records_vocabularies"),
        ),
        sa.PrimaryKeyConstraint("vocabulary", "code", name=op.f("pk_records_terms")),
    )
    for table in APPEND_ONLY:
        append_only.install(table)
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_SEARCH:
            op.execute(statement)
    else:
        op.execute(_SQLITE_SEARCH)


def downgrade() -> None:
    op.execute("DROP TABLE records_search")
    for table in APPEND_ONLY:
        append_only.remove(table)
    op.drop_table("records_terms")
    op.drop_table("records_revisions")
    with op.batch_alter_table("records_links", schema=None) as batch_op:
        batch_op.drop_index("ix_records_links_target_type")
        batch_op.drop_index(batch_op.f("ix_records_links_source_id"))

    op.drop_table("records_links")
    with op.batch_alter_table("records_facets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_records_facets_record_id"))
        batch_op.drop_index("ix_records_facets_name_value")

    op.drop_table("records_facets")
    op.drop_table("records_vocabularies")
    op.drop_table("records_saved_searches")
    with op.batch_alter_table("records_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_records_records_latest"))
        batch_op.drop_index(batch_op.f("ix_records_records_kind"))
        batch_op.drop_index(batch_op.f("ix_records_records_earliest"))

    op.drop_table("records_records")
    op.drop_table("records_custom_fields")

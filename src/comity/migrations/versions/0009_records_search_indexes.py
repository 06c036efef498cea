"""Indexes that let a search's filters be answered from the index alone: a record's
facets by (record, name, value) and its links by (source, type, target), in place of the
indexes on the record alone (which the new ones cover as their first column).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 01:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_records_facets_record_name_value", "records_facets", ["record_id", "name", "value"]
    )
    op.drop_index("ix_records_facets_record_id", table_name="records_facets")
    op.create_index(
        "ix_records_links_source_type_target", "records_links", ["source_id", "type", "target"]
    )
    op.drop_index("ix_records_links_source_id", table_name="records_links")


def downgrade() -> None:
    op.create_index("ix_records_links_source_id", "records_links", ["source_id"])
    op.drop_index("ix_records_links_source_type_target", table_name="records_links")
    op.create_index("ix_records_facets_record_id", "records_facets", ["record_id"])
    op.drop_index("ix_records_facets_record_name_value", table_name="records_facets")

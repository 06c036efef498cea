"""Simulating an attacker (or a bad restore) who edits the database under the node: the
append-only triggers are switched off for one statement, as someone with direct access
to the database files could do."""

from __future__ import annotations

from sqlalchemy import text

from comity.node import Node


def tamper(node: Node, table: str, sql: str, params: dict[str, object] | None = None) -> None:
    """Run ``sql`` against ``table`` past its append-only triggers, and commit."""
    with node.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        conn.execute(text(sql), params or {})
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))

"""Alembic migrations: the only way Comity's schema is made or changed."""

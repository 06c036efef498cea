"""Documentation records: incidents, acts, persons, organisations and sources.

The daily work of a monitoring NGO (issue "Documentation"): structured records of who did
what to whom, when and where, classified with versioned controlled vocabularies, with the
identifying fields of people sealed at rest and shown as a stable pseudonym to anyone not
cleared for them, every change kept as a revision on the ledger, and full-text search that
behaves the same on SQLite (FTS5) and PostgreSQL. User guide: ``docs/records.md``.
"""

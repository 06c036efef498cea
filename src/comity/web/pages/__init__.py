"""Server-rendered HTML pages (login, account, users, organisations, audit trail, evidence)."""

"""Audit: the append-only trail of authentication events and of every read or change of
protected data."""

"""Identity: organisations, users, roles, sessions, second factors, API tokens and the
permission check."""

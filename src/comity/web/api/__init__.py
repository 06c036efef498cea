"""The JSON API under ``/api/v1``: bearer tokens only, one service call per route."""

"""The web entry point: the FastAPI app factory, the JSON API under ``/api/v1`` and the
server-rendered HTML pages."""

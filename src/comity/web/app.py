"""The FastAPI app factory. Nothing happens at import time; settings come in, an app
comes out."""

from __future__ import annotations

from importlib import resources

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from comity import __version__
from comity.node import Node
from comity.web import errors
from comity.web.api import router as api_router
from comity.web.guards import api_guard, page_guard
from comity.web.pages import router as pages_router
from comity.web.security import BodyLimitMiddleware, SecurityHeadersMiddleware


def create_app(node: Node) -> FastAPI:
    """Build the web app for an initialised ``node``."""
    app = FastAPI(
        title="Comity",
        version=__version__,
        summary="API of one Comity node. Authenticate with 'Authorization: Bearer <token>'.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.node = node
    app.include_router(api_router.router, prefix="/api/v1", dependencies=[Depends(api_guard)])
    app.include_router(pages_router.router, dependencies=[Depends(page_guard)])
    static_dir = resources.files("comity.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, limit=node.settings.max_request_bytes)
    app.add_middleware(SecurityHeadersMiddleware, hsts=node.settings.cookie_secure)
    return app

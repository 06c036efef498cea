"""The FastAPI app factory. Nothing happens at import time; settings come in, an app
comes out. While the app runs, its lifespan keeps the ledger's scheduled duties going
(:mod:`comity.ledger.schedule`), delivers the messages that are due
(:mod:`comity.exchange.schedule`) and sweeps abandoned uploads hourly
(:func:`comity.vault.uploads.sweep_expired`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from importlib import resources

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from comity import __version__
from comity.errors import ComityError
from comity.exchange.payload_digests import RunningDigests
from comity.exchange.payload_format import MAX_CHUNK_SIZE
from comity.exchange.schedule import run_deliveries
from comity.ledger.schedule import LedgerSchedule
from comity.node import Node
from comity.vault.uploads import sweep_expired
from comity.web import errors
from comity.web.api import exchange, payloads, uploads
from comity.web.api import router as api_router
from comity.web.guards import api_guard, page_guard
from comity.web.pages import router as pages_router
from comity.web.security import BodyLimitMiddleware, SecurityHeadersMiddleware

log = logging.getLogger(__name__)
CHUNK_PATHS = re.compile(f"{uploads.CHUNK_PATHS.pattern}|{payloads.CHUNK_PATHS.pattern}")
"""``PUT`` paths whose bodies are chunks: of evidence uploads, and of payloads from peers."""
SWEEP_SECONDS = 3600


async def _sweep_uploads(node: Node) -> None:
    """Expire abandoned uploads every :data:`SWEEP_SECONDS` while serving, so that their
    staged bytes go even when nobody starts a new upload (which sweeps too)."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await run_in_threadpool(sweep_expired, node)
        except (ComityError, OSError, SQLAlchemyError):
            log.exception("Sweeping expired uploads failed; trying again later.")


def _lifespan(node: Node) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        schedule = LedgerSchedule(node)
        tasks = [asyncio.create_task(_sweep_uploads(node))]
        if schedule.active:
            tasks.append(asyncio.create_task(schedule.run()))
        if node.settings.exchange_delivery_interval_seconds > 0:
            tasks.append(asyncio.create_task(run_deliveries(node)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan


def create_app(node: Node) -> FastAPI:
    """Build the web app for an initialised ``node``."""
    app = FastAPI(
        title="Comity",
        version=__version__,
        summary="API of one Comity node. Authenticate with 'Authorization: Bearer <token>'.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(node),
    )
    app.state.node = node
    app.state.payload_digests = RunningDigests()
    app.include_router(api_router.router, prefix="/api/v1", dependencies=[Depends(api_guard)])
    app.include_router(pages_router.router, dependencies=[Depends(page_guard)])
    static_dir = resources.files("comity.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    errors.install(app)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=node.settings.max_request_bytes,
        # The uploads and the payloads check the exact size of each chunk themselves.
        chunk_limit=max(node.settings.upload_chunk_bytes, MAX_CHUNK_SIZE),
        chunk_paths=CHUNK_PATHS,
        route_limits=exchange.BODY_LIMITS,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=node.settings.cookie_secure)
    return app

"""Assembles the page routers; ``comity.web.guards.page_guard`` protects them all."""

from __future__ import annotations

from fastapi import APIRouter

from comity.web.pages import account, audit, auth, home, organisations, users

router = APIRouter(include_in_schema=False)
for module in (auth, account, home, users, organisations, audit):
    router.include_router(module.router)

"""Assembles the page routers, and the upload endpoints the upload page calls;
``comity.web.guards.page_guard`` protects them all."""

from __future__ import annotations

from fastapi import APIRouter

from comity.web.api import uploads
from comity.web.pages import account, audit, auth, evidence, home, organisations, users

router = APIRouter(include_in_schema=False)
# The upload page's endpoints (/evidence/uploads/…) come before the item pages
# (/evidence/{item_id}/…), which would otherwise take their paths.
for module in (auth, account, home, users, organisations, audit, uploads, evidence):
    router.include_router(module.router)

"""Assembles the page routers, and the upload endpoints the upload page calls;
``comity.web.guards.page_guard`` protects them all."""

from __future__ import annotations

from fastapi import APIRouter

from comity.web.api import uploads
from comity.web.pages import (
    account,
    audit,
    auth,
    evidence,
    home,
    organisations,
    peers,
    records_forms,
    records_overview,
    records_record,
    records_search,
    users,
)

router = APIRouter(include_in_schema=False)
# The upload page's endpoints (/evidence/uploads/…) come before the item pages
# (/evidence/{item_id}/…), which would otherwise take their paths.
for module in (auth, account, home, users, organisations, peers, audit, uploads, evidence):
    router.include_router(module.router)
# The records pages with fixed paths (/records/map …) come before a record's pages
# (/records/{record_id}), which would otherwise take them.
for module in (records_search, records_overview, records_forms, records_record):
    router.include_router(module.router)

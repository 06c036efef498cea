"""Documentation that is generated from code must stay equal to it."""

from __future__ import annotations

from pathlib import Path

from comity.identity.permissions import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_permission_table_in_docs_matches_the_code() -> None:
    text = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    published = text.split("<!-- permission-table:start -->\n")[1].split(
        "<!-- permission-table:end -->"
    )[0]
    assert published == markdown_table(), (
        "docs/permissions.md is out of date: paste the output of `comity roles --markdown`"
    )

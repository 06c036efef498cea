"""What every benchmark writes with its figures: the machine, and the table appended to
``bench/RESULTS.md`` under a dated heading with the exact command."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import time
from pathlib import Path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, Python {python}, SQLite {sqlite3.sqlite_version}"


def append_results(results: Path, title: str, rows: list[str]) -> None:
    """Append ``rows`` (Markdown table rows) under ``## title — date`` to ``results``."""
    script = Path(sys.argv[0]).name
    header = [
        "",
        f"## {title} — {time.strftime('%Y-%m-%d')}",
        "",
        f"Machine: {machine()}. Command: `python bench/{script} " + " ".join(sys.argv[1:]) + "`.",
        "",
        "| what | Comity | baseline in the same run | goal |",
        "|---|---|---|---|",
    ]
    with results.open("a", encoding="utf-8") as out:
        out.write("\n".join(header + rows) + "\n")
    print(f"Figures appended to {results}")

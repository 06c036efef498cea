"""Records benchmark: search at a million incidents against hand-written SQL, same run;
the fill and CSV import rates.

Run from the repository root (figures are appended to bench/RESULTS.md, or to the file
given with ``--results``):

    python bench/records_bench.py                          # the issue's size, SQLite
    python bench/records_bench.py --incidents 50000        # quicker
    python bench/records_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/scratch
    python bench/records_bench.py --home /srv/bench-node   # keep the node; run again to reuse it

1. **Fill**: the demo generator (:func:`comity.records.demo.fill`, no evidence files)
   writes ``--incidents`` incidents with their persons, acts, units and sources through
   the bulk writer, a batch per transaction: records/s. A node given with ``--home``
   that already holds the demo is reused (no fill figure then).
2. **Queries**: each of :data:`records_queries.QUERIES` (free text in the demo's four
   languages, each with two filters) runs ``--repeat`` times through
   :func:`comity.records.searching.search` (what the pages and the API run: the count,
   a page of 50 records, their views and snippets), and as many times as the same query
   written by hand in SQL (count and page) on a connection of the same engine, taking
   turns; each is checked to give the same total and page. Both take the page and the
   total of matches in one statement (a window count beside the page). Also timed: the
   statement the service builds, run alone (so the gap splits into SQL shape and Python
   work).
   Median and 95th percentile of each. The engine's plans of both are printed
   (``EXPLAIN QUERY PLAN``, or ``EXPLAIN ANALYZE`` on PostgreSQL).
3. **Import**: ``--import-rows`` incidents with their victims and witnesses, as two CSV
   files (persons, then incidents linking them by reference) read by
   :func:`comity.records.tables.read_table` and imported by
   :func:`comity.records.importing.import_rows` into the same node: rows/s.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from records_queries import QUERIES, Direct, direct, service_sql
from report import append_results
from sqlalchemy import text

from comity.identity.permissions import cli_actor
from comity.node import Node, initialise
from comity.records.demo import fill, holdings
from comity.records.demo_generator import plan
from comity.records.importing import import_rows
from comity.records.schema import Kind
from comity.records.searching import SearchQuery, search
from comity.records.tables import read_table
from comity.settings import load_settings

ACTOR = cli_actor("bench")
IMPORT_SEED = 99


def open_node(home: Path, database_url: str | None) -> Node:
    given = {"database_url": database_url} if database_url else {}
    settings = load_settings(home=home, secret_key="b" * 48, **given)
    node, _ = initialise(settings)
    return node


def fill_node(node: Node, incidents: int, batch: int) -> tuple[int, float]:
    """Records written and their rate, printing the rate as it goes."""
    started = time.perf_counter()
    shown = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - shown[0] >= 30 or done == total:
            shown[0] = now
            print(f"  fill: {done:,}/{total:,} incidents, {now - started:,.0f} s", flush=True)

    report = fill(node, ACTOR, incidents=incidents, evidence=False, batch=batch, progress=progress)
    return report.records, report.records / report.seconds


def database_size(node: Node) -> float:
    """The database's size on disk, in GB."""
    if node.engine.dialect.name == "postgresql":
        with node.engine.connect() as connection:
            size = connection.exec_driver_sql("SELECT pg_database_size(current_database())")
            return int(size.scalar() or 0) / 1e9
    path = Path(str(node.engine.url.database))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e9


def load() -> str:
    """The machine's load average over the last minute (other work shares the cores)."""
    return f"{os.getloadavg()[0]:.1f}"


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ms = [sample * 1000 for sample in samples]
    return statistics.median(ms), statistics.quantiles(ms, n=20, method="inclusive")[18]


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def plans(node: Node, dialect: str, service: str, hand: Direct) -> None:
    explain = "EXPLAIN (ANALYZE, BUFFERS) " if dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    with node.engine.connect() as connection:
        for name, sql, params in (
            ("service's statement", service, None),
            ("direct statement", hand.page, hand.params),
        ):
            if params is None:  # rendered with its values, which text() must not parse
                rows = connection.exec_driver_sql(explain + sql).all()
            else:
                rows = connection.execute(text(explain + sql), params).all()
            print(f"    plan of the {name}:")
            for row in rows:
                print("      " + (str(row[0]) if dialect == "postgresql" else str(row[-1])))


def run_queries(node: Node, repeat: int, budget: float, show_plans: bool) -> list[str]:
    """Each query ``repeat`` times three ways (fewer, but at least three, once ``budget``
    seconds are spent on it); one Markdown row each, and one for all."""
    dialect = node.engine.dialect.name
    rows: list[str] = []
    every: dict[str, list[float]] = {"service": [], "direct": [], "service SQL": []}
    with node.uow() as uow:
        built = [service_sql(node.engine, uow.session, query) for _, query in QUERIES]
    for (label, query), service in zip(QUERIES, built, strict=True):
        hand = direct(dialect, query)
        samples: dict[str, list[float]] = {name: [] for name in every}

        # Each run takes a pooled connection of the node's engine and one transaction, as
        # the service's unit of work does.
        def by_hand(hand: Any = hand) -> tuple[int, list[str]]:
            with node.engine.connect() as connection:
                page = connection.execute(text(hand.page), hand.params).all()
                return (int(page[0].total) if page else 0), [row.id for row in page]

        def built_sql(service: str = service) -> int:
            with node.engine.connect() as connection:
                page = connection.exec_driver_sql(service).all()
                return int(page[0][-1]) if page else 0

        def through_service(query: SearchQuery = query) -> tuple[int, list[str]]:
            page = search(node, ACTOR, query)
            return page.total, [hit.id for hit in page.hits]

        expected = through_service()
        if by_hand() != expected or built_sql() != expected[0]:
            raise SystemExit(f"{label}: the hand-written SQL gives other results.")
        began = time.perf_counter()
        for run_number in range(repeat):
            if run_number >= 3 and time.perf_counter() - began > budget:
                break
            for name, run in (
                ("service", through_service),
                ("direct", by_hand),
                ("service SQL", built_sql),
            ):
                seconds, _ = timed(run)
                samples[name].append(seconds)
        for name, values in samples.items():
            every[name] += values
        (s_med, s_p95), (d_med, d_p95), (b_med, b_p95) = (
            percentiles(samples[name]) for name in ("service", "direct", "service SQL")
        )
        runs = len(samples["service"])
        print(
            f"  {label}: {expected[0]:,} matches, {runs} runs; "
            f"service {s_med:.1f} / {s_p95:.1f} ms, its SQL alone {b_med:.1f} / {b_p95:.1f} ms, "
            f"direct {d_med:.1f} / {d_p95:.1f} ms (median / p95)",
            flush=True,
        )
        if show_plans:
            plans(node, dialect, service, hand)
        rows.append(
            f"| search {label} ({expected[0]:,} matches; {runs} runs), {dialect} "
            f"| median {s_med:.1f} ms, "
            f"p95 {s_p95:.1f} ms ({s_p95 / d_p95:.1f} times direct; the service's SQL alone: "
            f"p95 {b_p95:.1f} ms) | hand-written SQL: median {d_med:.1f} ms, p95 {d_p95:.1f} ms "
            "| p95 < 150 ms, ≤ 2 times direct |"
        )
    (s_med, s_p95), (d_med, d_p95), (b_med, b_p95) = (
        percentiles(every[name]) for name in ("service", "direct", "service SQL")
    )
    rows.append(
        f"| all {len(QUERIES)} searches, {len(every['service'])} runs, {dialect} "
        f"| median {s_med:.1f} ms, "
        f"p95 {s_p95:.1f} ms ({s_p95 / d_p95:.1f} times direct; the service's SQL alone: p95 "
        f"{b_p95:.1f} ms) | hand-written SQL: median {d_med:.1f} ms, p95 {d_p95:.1f} ms "
        "| p95 < 150 ms, ≤ 2 times direct |"
    )
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    headers = sorted({name for row in rows for name in row})
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, headers)
        writer.writeheader()
        writer.writerows(rows)


def cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def import_files(workdir: Path, incidents: int) -> tuple[Path, Path]:
    """Persons and incidents of a demo of ``incidents`` as CSV, under references of their
    own (``IMP<time>-``), incidents naming their victims and witnesses by reference."""
    prefix = f"IMP{time.time_ns()}-"
    persons: list[dict[str, Any]] = []
    made: list[dict[str, Any]] = []
    made_persons = set()
    for kind, values in plan(IMPORT_SEED, incidents):
        reference = prefix + str(values["reference"]).removeprefix("DEMO-")
        links = values.pop("links", [])
        row = {name: cell(value) for name, value in values.items()} | {"reference": reference}
        if kind is Kind.PERSON and not links:
            persons.append(row)
            made_persons.add(values["reference"])
        elif kind is Kind.INCIDENT:
            for link_type in ("victim", "witness"):
                row[link_type] = ";".join(
                    "ref:" + prefix + link["target"].removeprefix("DEMO-")
                    for link in links
                    if link["type"] == link_type and link["target"] in made_persons
                )
            made.append(row)
    write_csv(workdir / "persons.csv", persons)
    write_csv(workdir / "incidents.csv", made)
    return workdir / "persons.csv", workdir / "incidents.csv"


def import_rate(node: Node, workdir: Path, incidents: int) -> tuple[int, float]:
    """Rows imported from the two files, and rows/s (reading the CSV included)."""
    files = import_files(workdir, incidents)
    rows = 0
    started = time.perf_counter()
    for kind, path in zip(("person", "incident"), files, strict=True):
        headers, read = read_table(path)
        report = import_rows(node, ACTOR, kind, read, dry_run=False, headers=headers)
        if not report.committed:
            raise SystemExit(f"import of {path.name} refused: {report.problems[:3]}")
        rows += report.rows
    return rows, rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: a SQLite file in the node's home")
    parser.add_argument("--home", type=Path, help="the node's home, kept (default: temporary)")
    parser.add_argument("--batch", type=int, default=2000, help="records per transaction")
    parser.add_argument(
        "--repeat", type=int, default=30, help="runs of each query each way (0: no searches)"
    )
    parser.add_argument(
        "--budget", type=float, default=120, help="seconds a query may take before fewer runs"
    )
    parser.add_argument(
        "--import-rows", type=int, default=20_000, help="incidents to import (0: no import)"
    )
    parser.add_argument("--plans", action="store_true", help="print the engines' plans")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    lines: list[str] = []
    loads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="comity-records-bench-") as tmp:
        home = args.home or Path(tmp) / "home"
        node = open_node(home, args.database_url)
        dialect = node.engine.dialect.name
        held = holdings(node, ACTOR)
        if held.demo == 0:
            started = load()
            records, rate = fill_node(node, args.incidents, args.batch)
            loads.append(f"fill {started} → {load()}")
            lines.append(
                f"| fill: {args.incidents:,} demo incidents, {records:,} records through "
                f"`BulkWriter` ({args.batch:,} a transaction), {dialect} | {rate:,.0f} records/s "
                "| — | ≥ 5,000 rows/s |"
            )
        else:
            print(f"Reusing the {held.demo:,} demo records of {home}.")
        if dialect == "postgresql":
            with node.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        if args.repeat:
            started = load()
            lines += run_queries(node, args.repeat, args.budget, args.plans)
            loads.append(f"searches {started} → {load()}")
        size = database_size(node)
        if args.import_rows:
            started = load()
            rows, rate = import_rate(node, Path(tmp), args.import_rows)
            loads.append(f"import {started} → {load()}")
            lines.append(
                f"| CSV import: {rows:,} rows (persons, then incidents linking them) into the "
                f"filled node, {dialect} | {rate:,.0f} rows/s | — | ≥ 5,000 rows/s |"
            )
        node.close()
    lines += [
        "",
        f"Database size before the import: {size:.1f} GB. Load average (1 min) at the start "
        f"and end of each part, on {os.cpu_count()} cores: {', '.join(loads)}.",
    ]
    for line in lines:
        print(line)
    append_results(args.results, "Records", lines)


if __name__ == "__main__":
    main()

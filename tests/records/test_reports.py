"""Monitoring reports: the counts equal the data, the scope applies, the methodology
names what was used, nobody is named (HTML and PDF), the PDF is valid with its Arabic
title as text; the SVG charts parse and keep their labels as text; and the command.

Runs on SQLite and on PostgreSQL (``.ci/run`` runs the suite twice). Every name here is
invented.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from PIL import ImageFile
from pypdf import PdfReader
from typer.testing import CliRunner, Result

from comity.cli import records_report
from comity.cli.main import ComityGroup
from comity.errors import Conflict, ValidationError
from comity.identity.permissions import Actor
from comity.ledger.events import record_event
from comity.node import Node
from comity.records import reports
from comity.records.charts import bar_chart, period_chart
from comity.records.editing import create_record, delete_record
from comity.records.reports import Report, build_report, render_html, render_pdf
from comity.records.searching import SearchQuery, search
from comity.records.statistics import Count
from comity.settings import Settings

SVG = "{http://www.w3.org/2000/svg}"
ARABIC_TITLE = "تقرير الرصد الشهري"
NAMES = (
    "Nadira Qassemvale",  # protected victim
    "Oskar Brennholt",  # victim, not protected
    "Wendel Ashcombe",  # witness
    "Sorrel Inkwater",  # a person cited as a source
    "Clerk Ambervine",  # a source record's name
)


@dataclass(frozen=True)
class Dataset:
    period: tuple[str, str]


def _incident(node: Node, actor: Actor, **values: object) -> str:
    return create_record(node, actor, "incident", values).id


def _act(node: Node, actor: Actor, incident: str, **values: object) -> str:
    return create_record(node, actor, "act", {"incident": incident, **values}).id


@pytest.fixture
def dataset(node: Node, documenter: Actor) -> Dataset:
    """Four incidents in the first half of 2024 (one dated 'before', one starting in
    December), one before the period, one undated, one deleted."""

    def person(name: str, **values: object) -> str:
        return create_record(node, documenter, "person", {"name": name, **values}).id

    protected = person(NAMES[0], sex="female", age=9, protected=True)
    victim = person(NAMES[1], sex="male", age_band="adult")
    witness = person(NAMES[2])
    speaker = person(NAMES[3])
    graded = create_record(
        node, documenter, "source", {"name": NAMES[4], "reliability": "b", "credibility": "2"}
    ).id
    second = create_record(node, documenter, "source", {"reliability": "b", "credibility": "3"})
    ungraded = create_record(node, documenter, "source", {"source_type": "video"})
    brigade = create_record(node, documenter, "organisation", {"name": "Invented Brigade"}).id
    market = _incident(
        node,
        documenter,
        title="قصف السوق المركزي",
        date="2024-01-05",
        country="SY",
        admin1="حلب",
        event_types=["indirect-fire.artillery-mortar"],
        links=[
            {"type": "victim", "target": protected},
            {"type": "witness", "target": witness},
            {"type": "source", "target": graded},
            {"type": "suspected_perpetrator", "target": brigade},
        ],
    )
    _act(
        node,
        documenter,
        market,
        crimes=["art8.2.b.i"],
        violations=["life.conflict-killing"],
        links=[{"type": "victim", "target": victim}, {"type": "source", "target": second.id}],
    )
    _act(node, documenter, market, crimes=["art8.2.b.ii"])
    school = _incident(
        node,
        documenter,
        title="Shelling of <script>alert(1)</script> school",
        date="2024-03~",
        country="UA",
        admin1="Kharkiv",
        links=[{"type": "victim", "target": victim}, {"type": "source", "target": speaker}],
    )
    _act(node, documenter, school, crimes=["art7.1.a"])
    _incident(
        node,
        documenter,
        title="Detention at the checkpoint",
        date="../2024-02",
        country="UA",
        violations=["detention.no-legal-basis"],
        links=[{"type": "source", "target": ungraded.id}],
    )
    _incident(node, documenter, title="Convoy", date="2023-12/2024-01", country="SY")
    earlier = _incident(node, documenter, title="Earlier", date="2023-06", country="UA")
    _act(node, documenter, earlier, crimes=["art7.1.a"])
    _incident(node, documenter, title="Undated", country="UA")
    gone = create_record(
        node, documenter, "incident", {"title": "Entered twice", "date": "2024-02-02"}
    )
    delete_record(node, documenter, gone.id, base_revision=gone.revision, note="Duplicate.")
    return Dataset(period=("2024-01", "2024-06"))


def _report(node: Node, actor: Actor, dataset: Dataset, **query: object) -> Report:
    start, end = dataset.period
    return build_report(
        node,
        actor,
        SearchQuery.model_validate(query),
        title=ARABIC_TITLE,
        period_from=start,
        period_to=end,
    )


def _pairs(counts: list[Count]) -> list[tuple[str, int]]:
    return [(c.key, c.count) for c in counts]


def test_the_counts_are_those_of_the_data(node: Node, analyst: Actor, dataset: Dataset) -> None:
    report = _report(node, analyst, dataset)
    totals = report.totals
    assert (totals.incidents, totals.acts, totals.victims) == (4, 3, 2)
    in_period = SearchQuery(kinds=("incident",), date_from="2024-01", date_to="2024-06")
    assert search(node, analyst, in_period).total == totals.incidents
    assert _pairs(totals.by_sex) == [("female", 1), ("male", 1)]
    assert _pairs(totals.by_age_band) == [("child", 1), ("adult", 1)]  # a band from an age
    assert _pairs(report.crimes.top) == [("art7", 1), ("art8", 1)]
    assert [(r.code, r.depth, r.count) for r in report.crimes.rows] == [
        ("art7", 0, 1),
        ("art7.1.a", 1, 1),
        ("art8", 0, 1),
        ("art8.2.b", 1, 1),
        ("art8.2.b.i", 2, 1),
        ("art8.2.b.ii", 2, 1),
    ]
    assert _pairs(report.violations.top) == [("life", 1), ("detention", 1)]
    assert report.period_unit == "month"
    assert _pairs(report.by_period) == [
        ("2024-01", 1),
        ("2024-02", 1),  # about March: from the first of February
        ("2024-03", 0),
        ("2024-04", 0),
        ("2024-05", 0),
        ("2024-06", 0),
    ]
    dates = report.methodology.dates
    assert (dates.before_chart, dates.open_start, dates.outside_period, dates.undated) == (
        1,
        1,
        2,
        1,
    )
    assert sum(c.count for c in report.by_period) + dates.before_chart + dates.open_start == 4
    assert _pairs(report.by_country) == [("SY", 2), ("UA", 2)]
    assert report.by_country[0].label == "Syria (SY)"
    assert sorted(_pairs(report.by_region)) == [("Kharkiv", 1), ("حلب", 1)]
    assert [line.title for line in report.incidents] == [
        "Convoy",
        "قصف السوق المركزي",
        "Shelling of <script>alert(1)</script> school",
        "Detention at the checkpoint",
    ]
    market = report.incidents[1]
    assert market.place == ("حلب", "Syria (SY)")
    assert "Artillery or mortar shelling" in market.classification
    assert "Intentionally directing attacks against civilian objects" in market.classification
    methodology = report.methodology
    assert (methodology.sources, methodology.people_as_sources) == (3, 1)
    assert _pairs(methodology.by_reliability) == [("b", 2), ("", 1)]
    assert _pairs(methodology.by_credibility) == [("2", 1), ("3", 1), ("", 1)]


@pytest.mark.parametrize(
    ("query", "period", "titles"),
    [
        ({"country": "sy"}, ("2024-01", "2024-06"), {"Convoy", "قصف السوق المركزي"}),
        ({"admin1": "حلب"}, ("2024-01", "2024-06"), {"قصف السوق المركزي"}),
        (
            {"terms": ["rome-statute:art7"]},
            ("2024-01", "2024-06"),
            {"Shelling of <script>alert(1)</script> school"},
        ),
        ({}, ("2024-03", "2024-03"), {"Shelling of <script>alert(1)</script> school"}),
        ({}, ("2023", "2023"), {"Earlier", "Convoy", "Detention at the checkpoint"}),
    ],
)
@pytest.mark.usefixtures("dataset")
def test_the_period_and_the_scope_apply(
    node: Node,
    analyst: Actor,
    query: dict[str, object],
    period: tuple[str, str],
    titles: set[str],
) -> None:
    report = _report(node, analyst, Dataset(period=period), **query)
    assert {line.title for line in report.incidents} == titles
    assert report.totals.incidents == len(titles)
    words = " ".join(report.scope)
    if query.get("country"):
        assert "In Syria (SY)." in words
    if query.get("terms"):
        assert "Classified as Crimes against humanity (rome-statute:art7)" in words


def test_records_changed_meanwhile_are_read_again(
    node: Node, documenter: Actor, analyst: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone saves an incident while the report is being made: the report is made
    again, so its totals, chart and list agree; if saves never stop, it gives up. Other
    entries of the ledger (evidence added meanwhile) do not make it read again."""
    writes: list[str] = []
    limit = 1  # how many saves happen while reports are being made
    calls: list[int] = []
    places = reports.by_place

    def by_place_while_someone_writes(*args: Any, **kwargs: Any) -> list[Count]:
        calls.append(1)
        with node.uow() as uow:
            record_event(uow.session, documenter, "evidence.added", subject_id=str(len(calls)))
            uow.commit()
        if len(writes) < limit:
            title = f"Meanwhile {len(writes)}"
            writes.append(_incident(node, documenter, title=title, date="2024-02", country="UA"))
        return places(*args, **kwargs)

    monkeypatch.setattr(reports, "by_place", by_place_while_someone_writes)
    report = _report(node, analyst, Dataset(period=("2024", "2024")))
    assert (len(writes), len(calls)) == (1, 4)  # made twice, by country and region each
    assert report.totals.incidents == 1
    assert _pairs(report.by_country) == [("UA", 1)]
    assert sum(c.count for c in report.by_period) == 1
    assert [line.title for line in report.incidents] == ["Meanwhile 0"]
    limit = 100
    with pytest.raises(Conflict, match="kept changing"):
        _report(node, analyst, Dataset(period=("2024", "2024")))


def test_a_bad_scope_is_refused(node: Node, analyst: Actor, dataset: Dataset) -> None:
    for query, period in [
        ({"country": "XX"}, ("2024", "2024")),
        ({"terms": ["rome-statute:art99"]}, ("2024", "2024")),
        ({"kinds": ["person"]}, ("2024", "2024")),
        ({"date_from": "2024"}, ("2024", "2024")),
        ({}, ("2024-06", "2024-01")),
        ({}, ("last spring", "2024")),
    ]:
        with pytest.raises(ValidationError):
            _report(node, analyst, Dataset(period=period), **query)


def test_the_methodology_names_vocabularies_versions_and_the_ledger(
    node: Node, analyst: Actor, dataset: Dataset
) -> None:
    report = _report(node, analyst, dataset)
    used = {v.name: v.version for v in report.methodology.vocabularies}
    assert used["rome-statute"] == "2019"
    assert {"violation-types", "source-reliability", "information-credibility"} <= set(used)
    html = render_html(report)
    methodology = html.split('id="methodology"')[1]
    for vocabulary in report.methodology.vocabularies:
        assert f"({vocabulary.name})" in methodology
        assert f"<td>{vocabulary.version}</td>" in methodology
    ledger = report.methodology.ledger
    assert ledger.size > 0
    assert ledger.root in methodology
    assert f"comity ledger consistency {ledger.size}" in methodology
    assert "minimum counts" in html


@pytest.mark.parametrize("reader", ["analyst", "investigator"])
def test_nobody_is_named_in_the_html_or_the_pdf(
    node: Node, dataset: Dataset, reader: str, request: pytest.FixtureRequest
) -> None:
    actor: Actor = request.getfixturevalue(reader)  # the investigator is cleared
    report = _report(node, actor, dataset)
    html = render_html(report)
    pdf = render_pdf(report) if reader == "investigator" else b""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages) if pdf else ""
    for name in NAMES:
        for part in name.split():
            assert part not in html
            assert part not in text
    assert "<script>alert(1)</script>" not in html
    assert "Shelling of &lt;script&gt;alert(1)&lt;/script&gt; school" in html


def test_the_pdf_is_valid_with_its_arabic_title_as_text(
    node: Node, analyst: Actor, dataset: Dataset
) -> None:
    pdf = render_pdf(_report(node, analyst, dataset))
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == ARABIC_TITLE
    assert ARABIC_TITLE in reader.pages[0].extract_text()
    assert len(reader.pages) >= 2
    # WeasyPrint's import would have Pillow accept truncated images process-wide, and the
    # vault would then stop noting truncated photos as damaged.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_an_empty_report_still_renders(node: Node, analyst: Actor) -> None:
    report = _report(node, analyst, Dataset(period=("2024", "2024")))
    assert report.totals.incidents == 0
    html = render_html(report)
    assert "No incident in scope" in html
    assert "All incidents documented on this node" in html


# --- charts ------------------------------------------------------------------------------


def _parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def _drawn(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_a_bar_chart_keeps_labels_as_text() -> None:
    counts = [
        Count("a", "<script>alert(1)</script> & co", 3),
        Count("b", "حلب", 2),
        Count("c", "bad\x00byte\x1b", 1),
        Count("d", "none", 0),
    ]
    svg = bar_chart(counts, title="Crimes <by> type & place")
    root = _parsed(svg)
    assert root.find(f".//{SVG}script") is None
    assert "<script>" not in svg
    drawn = _drawn(root)
    assert "<script>alert(1)</script> & co" in drawn
    assert "\u2068حلب\u2069" in drawn  # isolated, so it reads right to left in any page
    assert "bad byte" in drawn  # controls become spaces, then spaces are collapsed
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Crimes <by> type & place"
    widths = [int(rect.get("width", "0")) for rect in root.iter(f"{SVG}rect")]
    assert widths[0] > widths[1] > widths[2] > 0 == widths[3]
    assert root.get("direction") == "ltr"


def test_a_period_chart_labels_only_some_periods() -> None:
    months = [Count(f"20{24 + i // 12}-{i % 12 + 1:02d}", "", i % 5) for i in range(30)]
    months = [Count(c.key, c.key, c.count) for c in months]
    root = _parsed(period_chart(months, title="By month"))
    labels = [text for text in _drawn(root) if "-" in text]
    assert labels[0] == "2024-01"
    assert 3 <= len(labels) <= 10
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert "2026-06: 4" in (desc.text or "")


def test_charts_of_nothing_are_still_charts() -> None:
    for chart in (bar_chart([], title="Empty"), period_chart([], title="Empty")):
        assert "No records in scope." in _drawn(_parsed(chart))


# --- the command -------------------------------------------------------------------------


def _run(settings: Settings, *args: str) -> Result:
    group = typer.Typer()
    group.command()(records_report.report)
    group.command("other")(lambda: None)  # a group of one command would become it
    app = typer.Typer(cls=ComityGroup)
    app.add_typer(group, name="records")
    assert settings.secret_key is not None
    env = {
        "COMITY_HOME": str(settings.home),
        "COMITY_DATABASE_URL": settings.database_url,
        "COMITY_SECRET_KEY": settings.secret_key.get_secret_value(),
        "COMITY_CONFIG": None,
    }
    return CliRunner().invoke(app, ["records", "report", *args], env=env, catch_exceptions=False)


def test_the_command_writes_html_and_pdf(
    settings: Settings, dataset: Dataset, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    page = folder / "q1.html"
    done = _run(
        settings, "--from", "2024-01", "--to", "2024-03", "--country", "SY", "-o", str(page)
    )
    assert done.exit_code == 0, done.output
    assert "2 incidents" in done.stdout
    html = page.read_text(encoding="utf-8")
    assert "Monitoring report, 2024-01 to 2024-03" in html
    assert "In Syria (SY)." in html
    pdf = folder / "q1.pdf"
    args = ["--from", "2024-01", "--to", "2024-06", "--title", ARABIC_TITLE, "-o", str(pdf)]
    done = _run(settings, *args, "--term", "rome-statute:art8", "--json")
    assert done.exit_code == 0, done.output
    assert '"incidents": 1' in done.stdout
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in folder.iterdir()) == ["q1.html", "q1.pdf"]  # no leftovers
    refused = _run(settings, *args)
    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    assert _run(settings, *args, "--force").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "report.docx"], "end the file's name with .html or .pdf"),
        (["-o", "r.html", "--term", "art8"], "write it as vocabulary:code"),
        (["-o", "r.html", "--country", "Narnia"], "not a two-letter country code"),
        (["-o", "missing/r.html"], "does not exist"),
    ],
)
@pytest.mark.usefixtures("node")
def test_the_command_refuses_clearly(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    monkeypatch.chdir(folder)
    done = _run(settings, "--from", "2024", "--to", "2024", *args)
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.stderr.split())
    assert list(folder.iterdir()) == []


def test_the_help_has_a_worked_example(settings: Settings) -> None:
    done = _run(settings, "--help")
    assert done.exit_code == 0
    assert "Example: comity records report --from 2024-01" in " ".join(done.stdout.split())

"""A monitoring report as a document: self-contained HTML, and the same laid out as PDF.

The HTML comes from this package's ``templates/report.html`` (its stylesheet
``templates/report.css`` is put inline): one file with no script and nothing to fetch,
the charts inline as SVG (:mod:`comity.records.charts`), every value escaped, and each
piece of recorded text (titles, places) given the direction of its own first letters.

The PDF is that document laid out by WeasyPrint, as PDF/A-2a (archival, tagged for
screen readers), fetching nothing. WeasyPrint draws SVG text one character at a time,
without shaping or bidi, so an Arabic label inside an SVG would come out reversed and
unjoined: in the PDF the counts are drawn as bars inside their tables, in HTML text
that WeasyPrint lays out properly; only the chart over time, whose labels are digits,
stays SVG.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from PIL import ImageFile

from comity.errors import ConfigurationError
from comity.records.charts import bar_chart, isolated, period_chart
from comity.records.report_scope import date_in_words, long_date

if TYPE_CHECKING:
    from comity.records.reports import Report

PDF_VARIANT = "pdf/ua-1"
SYSTEM_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"


def direction(text: object) -> str:
    """``rtl`` if the first letter with a direction is right to left, else ``ltr``."""
    for ch in str(text):
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def _number(value: int) -> str:
    return f"{value:,}"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("comity.records", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters["direction"] = direction
    env.filters["isolated"] = isolated
    env.filters["number"] = _number
    env.filters["date_words"] = date_in_words
    env.filters["long_date"] = long_date
    return env


def _charts(report: Report) -> dict[str, str]:
    """The SVG charts of the report (markup the template puts in as is)."""
    unit = "month" if report.period_unit == "month" else "year"
    return {
        "crimes": bar_chart(report.crimes.top, title="Incidents by crime"),
        "violations": bar_chart(report.violations.top, title="Incidents by violation"),
        "period": period_chart(report.by_period, title=f"Incidents by {unit}"),
        "countries": bar_chart(report.by_country, title="Incidents by country"),
        "regions": bar_chart(report.by_region, title="Incidents by region"),
    }


def _document(report: Report, *, for_print: bool) -> str:
    template = _environment().get_template("report.html")
    return template.render(report=report, charts=_charts(report), for_print=for_print)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document, for screens and for printing."""
    return _document(report, for_print=False)


def render_pdf(report: Report) -> bytes:
    """The report as a PDF/UA-1 document (needs Pango and a font with Arabic glyphs:
    Debian's ``libpango-1.0-0``, ``libpangoft2-1.0-0`` and ``fonts-dejavu-core``)."""
    # Imported here: WeasyPrint loads Pango when imported, and only a PDF needs it. Its
    # import also tells Pillow, for the whole process, to accept truncated images; the
    # vault must go on noting a truncated photo as damaged, so the setting is put back.
    accept_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]  # noqa: PLC0415
        from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]  # noqa: PLC0415
    except OSError as exc:
        raise ConfigurationError(
            f"Making a PDF needs Pango, which is not installed ({exc}). "
            f"On Debian: apt-get install {SYSTEM_PACKAGES}"
        ) from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = accept_truncated
    html = HTML(
        string=_document(report, for_print=True),
        url_fetcher=URLFetcher(allowed_protocols=()),  # a report embeds all it shows
    )
    pdf: bytes = html.write_pdf(pdf_variant=PDF_VARIANT)
    return pdf

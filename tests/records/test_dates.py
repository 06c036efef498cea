"""Dates with uncertainty: the notation, people's words, the interval each allows."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comity.errors import ValidationError
from comity.records.dates import bound, parse_date


@pytest.mark.parametrize(
    ("written", "canonical", "earliest", "latest"),
    [
        ("2024-03-03T09:00", "2024-03-03T09:00", "2024-03-03T09:00", "2024-03-03T09:00"),
        ("2024-03-03", "2024-03-03", "2024-03-03T00:00", "2024-03-03T23:59"),
        ("2024-02", "2024-02", "2024-02-01T00:00", "2024-02-29T23:59"),
        ("2023", "2023", "2023-01-01T00:00", "2023-12-31T23:59"),
        (
            "2024-03-03T09:00/2024-03-03T10:30",
            "2024-03-03T09:00/2024-03-03T10:30",
            "2024-03-03T09:00",
            "2024-03-03T10:30",
        ),
        (
            "2024-03-03T09:00 to 2024-03-03T10:30",
            "2024-03-03T09:00/2024-03-03T10:30",
            "2024-03-03T09:00",
            "2024-03-03T10:30",
        ),
        ("before 2024-03", "../2024-03", None, "2024-02-29T23:59"),
        ("after 2024-03", "2024-03/..", "2024-04-01T00:00", None),
        ("about 2024-03", "2024-03~", "2024-02-01T00:00", "2024-04-30T23:59"),
        ("circa 2024-12", "2024-12~", "2024-11-01T00:00", "2025-01-31T23:59"),
        ("2024-03-03~", "2024-03-03~", "2024-02-25T00:00", "2024-03-10T23:59"),
        ("2024~", "2024~", "2023-01-01T00:00", "2025-12-31T23:59"),
        ("2024-03-03T09:00~", "2024-03-03T09:00~", "2024-03-03T07:00", "2024-03-03T11:00"),
    ],
)
def test_each_form_gives_its_interval(
    written: str, canonical: str, earliest: str | None, latest: str | None
) -> None:
    date = parse_date(written)
    assert (date.text, date.earliest, date.latest) == (canonical, earliest, latest)


@pytest.mark.parametrize(
    "written",
    [
        "",
        "yesterday",
        "2024-13",
        "2023-02-29",
        "2024-03-03T25:00",
        "../..",
        "0999",
        "2024-03-04/2024-03-03",
        "2024/03/03",
    ],
)
def test_what_is_not_a_date_is_refused_with_help(written: str) -> None:
    with pytest.raises(ValidationError):
        parse_date(written)


def test_filter_bounds_take_the_first_or_last_minute() -> None:
    assert bound("2024-03", end=False) == "2024-03-01T00:00"
    assert bound("2024-03", end=True) == "2024-03-31T23:59"


moments = st.datetimes(
    min_value=dt.datetime(1001, 1, 1),  # noqa: DTZ001 - dates are written without a zone
    max_value=dt.datetime(9997, 12, 31),  # noqa: DTZ001
)
precisions = st.sampled_from(["%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%dT%H:%M"])


@given(
    moments, moments, precisions, precisions, st.sampled_from(["", "~", "range", "before", "after"])
)
def test_any_written_date_round_trips_and_holds_its_interval(
    first: dt.datetime, second: dt.datetime, p1: str, p2: str, form: str
) -> None:
    start, end = sorted([first, second])
    a, b = start.strftime(p1), end.strftime(p2)
    written = {
        "": a,
        "~": a + "~",
        "range": f"{a}/{b}",
        "before": f"../{b}",
        "after": f"{a}/..",
    }[form]
    try:
        date = parse_date(written)
    except ValidationError:
        # A range whose coarse end falls before its fine start (2024-03-05/2024-03-01 at
        # day and month precision cannot happen; 2024/2024-01 can) is refused, never kept.
        assert form == "range"
        return
    assert parse_date(date.text) == date
    if date.earliest and date.latest:
        assert date.earliest <= date.latest
    if form in ("", "~", "range"):
        assert date.earliest is not None
        assert date.earliest <= start.strftime("%Y-%m-%dT%H:%M")

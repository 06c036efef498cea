"""Dates with uncertainty, as monitors record them.

A witness rarely gives a minute. An incident's date is written in a small notation
inspired by the Library of Congress's Extended Date/Time Format (EDTF, ISO 8601-2),
extended to times of day inside ranges, which EDTF level 0 excludes and field work
needs ("the morning of 3 March, 09:00 to 10:30")::

    2024-03-03T09:00          exact to the minute
    2024-03-03 · 2024-03 · 2024   that day, month or year
    2024-03-03T09:00/2024-03-03T10:30   a range (either end at any precision)
    ../2024-03                before March 2024
    2024-03/..                after March 2024
    2024-03~                  about March 2024

People may also type ``before 2024-03``, ``after …``, ``about …`` (or ``circa``, ``c.``)
and ``… to …``; the canonical form above is what is stored. Each date becomes the
interval it allows, ``earliest`` to ``latest`` (ISO strings to the minute, as written: the
local time of the place, no time zone), which is what date filters compare. "About"
widens the stated unit by a margin on each side: two hours for a time, seven days for a
day, one month for a month, one year for a year.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass

from comity.errors import ValidationError

_POINT = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}))?)?)?$")
_WORDS = (
    (re.compile(r"^(?:before)\s+(.+)$", re.IGNORECASE), "../{}"),
    (re.compile(r"^(?:after)\s+(.+)$", re.IGNORECASE), "{}/.."),
    (re.compile(r"^(?:about|circa|c\.|ca\.)\s*(.+)$", re.IGNORECASE), "{}~"),
)
_TO = re.compile(r"^(.+?)\s+to\s+(.+)$", re.IGNORECASE)
_OPEN = ".."
STAMP = "%Y-%m-%dT%H:%M"
# Dates are the local time of the place, as written; UTC only serves as a calendar without
# daylight-saving jumps, and no zone is ever shown or stored.
_CALENDAR = dt.UTC
HELP = (
    "Write a date as 2024-03-03, 2024-03, 2024 or 2024-03-03T09:00; a range as "
    "2024-03-03T09:00/2024-03-03T10:30; 'before 2024-03' (../2024-03), 'after 2024-03' "
    "(2024-03/..) or 'about 2024-03' (2024-03~)."
)


@dataclass(frozen=True)
class Point:
    """A date at the precision it was given: its first and last minute."""

    text: str
    first: dt.datetime
    last: dt.datetime
    unit: str


@dataclass(frozen=True)
class UncertainDate:
    """A date as recorded (canonical ``text``) and the interval it allows."""

    text: str
    earliest: str | None
    latest: str | None


def _point(text: str) -> Point:
    match = _POINT.match(text)
    if match is None:
        raise ValidationError(f"'{text}' is not a date. {HELP}")
    year, month, day, hour, minute = match.groups()
    if not 1000 <= int(year) <= 9998:
        raise ValidationError(f"'{text}': the year must be between 1000 and 9998.")
    try:
        if month is None:
            first = dt.datetime(int(year), 1, 1, tzinfo=_CALENDAR)
            return Point(
                text, first, dt.datetime(int(year), 12, 31, 23, 59, tzinfo=_CALENDAR), "year"
            )
        if day is None:
            last_day = calendar.monthrange(int(year), int(month))[1]
            first = dt.datetime(int(year), int(month), 1, tzinfo=_CALENDAR)
            last = dt.datetime(int(year), int(month), last_day, 23, 59, tzinfo=_CALENDAR)
            return Point(text, first, last, "month")
        first = dt.datetime(int(year), int(month), int(day), tzinfo=_CALENDAR)
        if hour is None:
            return Point(text, first, first.replace(hour=23, minute=59), "day")
        moment = first.replace(hour=int(hour), minute=int(minute))
        return Point(text, moment, moment, "minute")
    except ValueError:
        raise ValidationError(f"'{text}' is not a date that exists. {HELP}") from None


def _widened(point: Point) -> tuple[dt.datetime, dt.datetime]:
    if point.unit == "minute":
        margin = dt.timedelta(hours=2)
        return point.first - margin, point.last + margin
    if point.unit == "day":
        margin = dt.timedelta(days=7)
        return point.first - margin, point.last + margin
    if point.unit == "month":
        before = _point(_month_text(point.first, -1)).first
        after = _point(_month_text(point.first, +1)).last
        return before, after
    return point.first.replace(year=point.first.year - 1), point.last.replace(
        year=point.last.year + 1
    )


def _month_text(moment: dt.datetime, shift: int) -> str:
    index = moment.year * 12 + moment.month - 1 + shift
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime(STAMP)


def _canonical(text: str) -> str:
    """People's words (before, after, about, to) turned into the notation."""
    text = " ".join(text.split())
    for pattern, template in _WORDS:
        match = pattern.match(text)
        if match:
            return template.format(match.group(1).strip())
    match = _TO.match(text)
    if match:
        return f"{match.group(1).strip()}/{match.group(2).strip()}"
    return text.replace(" ", "")


@functools.lru_cache(maxsize=4096)
def parse_date(text: str) -> UncertainDate:
    """``text`` as an :class:`UncertainDate`; a clear :class:`ValidationError` if it is not one.

    Kept for the last few thousand texts: a write parses its date once to check it and
    again, canonical, for its interval, and an import repeats dates (refusals are not kept).
    """
    canonical = _canonical(text.strip())
    if not canonical:
        raise ValidationError(f"The date is empty. {HELP}")
    if "/" in canonical:
        start_text, _, end_text = canonical.partition("/")
        if start_text == _OPEN and end_text == _OPEN:
            raise ValidationError(f"A range needs at least one end. {HELP}")
        if start_text == _OPEN:
            end = _point(end_text)
            return UncertainDate(canonical, None, _stamp(end.first - dt.timedelta(minutes=1)))
        start = _point(start_text)
        if end_text == _OPEN:
            return UncertainDate(canonical, _stamp(start.last + dt.timedelta(minutes=1)), None)
        end = _point(end_text)
        if end.last < start.first:
            raise ValidationError(f"The range '{canonical}' ends before it starts.")
        return UncertainDate(canonical, _stamp(start.first), _stamp(end.last))
    if canonical.endswith("~"):
        point = _point(canonical[:-1])
        first, last = _widened(point)
        return UncertainDate(canonical, _stamp(first), _stamp(last))
    point = _point(canonical)
    return UncertainDate(canonical, _stamp(point.first), _stamp(point.last))


def bound(text: str, *, end: bool) -> str:
    """A filter's date (any precision) as the first minute it allows, or the last."""
    point = _point(text.strip())
    return _stamp(point.last if end else point.first)

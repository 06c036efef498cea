"""SVG charts of counts, for the pages and the reports of records.

Two pure functions turn a list of :class:`~comity.records.statistics.Count` into one
``<svg>`` element, ready to be put inline in HTML or saved as a file: :func:`bar_chart`
(horizontal bars, one per term or place, its label above it and its count at its end)
and :func:`period_chart` (vertical bars over months or years, with a scale and sparse
period labels). Neither reads the database.

What holds for both:

* **Text is text.** Every label and the title are escaped; characters XML cannot carry
  (control characters, lone surrogates) become spaces, so the result always parses.
* **Accessible.** ``role="img"`` named by a ``<title>`` (the title given) and described by
  a ``<desc>`` that reads out every count, so a screen reader gets the numbers, not a
  picture of them; each bar also carries its full label and count as a tooltip.
* **Right to left.** The geometry is always left to right (``direction="ltr"`` on the
  root, so an Arabic page around it does not flip the anchors), and a label holding
  right-to-left letters is wrapped in Unicode isolates (FSI … PDI), so it reads in its
  own direction without reordering what is around it.
* **Print.** Black text, one dark colour that stays dark in greyscale, counts written as
  numbers: nothing depends on colour. No ``style`` attributes or ``<style>`` element, so
  the pages' Content-Security-Policy (``style-src 'self'``) does not block anything.

The chart's title is its accessible name, not drawn: the page or report around it shows
its own heading.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Sequence

from markupsafe import Markup

from comity.records.statistics import Count

WIDTH = 640
FONT = "DejaVu Sans, Noto Sans, Noto Naskh Arabic, Arial, sans-serif"
FONT_SIZE = 12
INK = "#1a1a1a"
BAR = "#2b5d8a"
RULE = "#8c8c8c"
GRID = "#d9d9d9"
LABEL_LIMIT = 70
"""Characters of a label drawn above its bar; the whole label is in its tooltip."""
PAD = 8
_FSI, _PDI = "\u2068", "\u2069"
_RIGHT_TO_LEFT = frozenset({"R", "AL", "RLE", "RLO", "RLI"})


def _xml_safe(text: str) -> str:
    """``text`` with what XML 1.0 cannot hold (controls, surrogates, U+FFFE/U+FFFF) as
    spaces."""
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff" else ch
        for ch in text
    )


def isolated(text: str) -> str:
    """``text`` between Unicode isolates when it holds right-to-left letters, so it takes
    its own direction without reordering what is around it; other text is left alone."""
    if any(unicodedata.bidirectional(ch) in _RIGHT_TO_LEFT for ch in text):
        return _FSI + text + _PDI
    return text


def _shortened(text: str, limit: int = LABEL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _label(text: str) -> str:
    """A label as drawn: XML-safe, shortened, isolated (escaped where it is put)."""
    return isolated(_shortened(_xml_safe(text)))


def _plain(text: str) -> str:
    """Text for a title, a tooltip or a description: XML-safe and whole."""
    return " ".join(_xml_safe(text).split())


def _chart_id(kind: str, title: str, counts: Sequence[Count]) -> str:
    """An id for the title and description, stable for the same chart, so two charts on
    one page do not share one."""
    material = "\x1f".join([kind, title, *(f"{c.key}\x1e{c.count}" for c in counts)])
    return "chart-" + hashlib.sha256(material.encode("utf-8", "replace")).hexdigest()[:12]


def _described(counts: Sequence[Count]) -> str:
    if not counts:
        return "No records in scope."
    return "; ".join(f"{isolated(_plain(c.label))}: {c.count}" for c in counts) + "."


def _open(kind: str, title: str, counts: Sequence[Count], height: int) -> list[Markup]:
    chart_id = _chart_id(kind, title, counts)
    return [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            'width="{width}" height="{height}" role="img" '
            'aria-labelledby="{id}-title {id}-desc" direction="ltr" '
            'font-family="{font}" font-size="{size}" fill="{ink}" class="chart {kind}">'
        ).format(
            width=WIDTH, height=height, id=chart_id, font=FONT, size=FONT_SIZE, ink=INK, kind=kind
        ),
        Markup('<title id="{}-title">{}</title>').format(chart_id, _plain(title)),
        Markup('<desc id="{}-desc">{}</desc>').format(chart_id, _described(counts)),
    ]


def _tooltip(count: Count) -> Markup:
    return Markup("<title>{}: {}</title>").format(isolated(_plain(count.label)), count.count)


def _closed(parts: list[Markup]) -> str:
    return Markup("\n").join([*parts, Markup("</svg>")])


def _empty(kind: str, title: str) -> str:
    parts = _open(kind, title, [], 40)
    parts.append(Markup('<text x="{}" y="24">No records in scope.</text>').format(PAD))
    return _closed(parts)


def bar_chart(counts: Sequence[Count], *, title: str) -> str:
    """Horizontal bars, one per count in the order given, each with its label above it
    and its count at its end; the longest bar is the largest count. The SVG is returned
    as :class:`markupsafe.Markup` (a ``str``), so a Jinja template puts it in as is."""
    if not counts:
        return _empty("bar-chart", title)
    row, bar_height, number_room = 40, 14, 56
    height = 2 * PAD + row * len(counts)
    longest = WIDTH - 2 * PAD - number_room
    largest = max(*(c.count for c in counts), 1)
    parts = _open("bar-chart", title, counts, height)
    for index, count in enumerate(counts):
        top = PAD + index * row
        width = max(round(longest * count.count / largest), 1) if count.count > 0 else 0
        parts.append(
            Markup(
                '<g>{tip}<text x="{x}" y="{label_y}">{label}</text>'
                '<rect x="{x}" y="{bar_y}" width="{width}" height="{bar_height}" fill="{fill}"/>'
                '<text x="{number_x}" y="{number_y}" font-weight="bold">{count}</text></g>'
            ).format(
                tip=_tooltip(count),
                x=PAD,
                label_y=top + 13,
                label=_label(count.label),
                bar_y=top + 18,
                width=width,
                bar_height=bar_height,
                fill=BAR,
                number_x=PAD + width + 6,
                number_y=top + 30,
                count=count.count,
            )
        )
    parts.append(
        Markup('<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="{rule}"/>').format(
            x=PAD, top=PAD + 16, bottom=height - PAD, rule=RULE
        )
    )
    return _closed(parts)


def _scale(largest: int) -> tuple[int, int]:
    """A step of 1, 2 or 5 times a power of ten giving about four gridlines, and the top
    of the scale (a whole number of steps at or above ``largest``)."""
    rough = max(largest / 4, 1)
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return step, step * max(math.ceil(largest / step), 1)


def period_chart(counts: Sequence[Count], *, title: str) -> str:
    """Vertical bars over periods (months ``YYYY-MM`` or years, as
    :func:`~comity.records.statistics.by_period` gives them, in order), with a scale on
    the left and as many period labels below as fit, evenly spaced. Returned as
    :class:`markupsafe.Markup`, like :func:`bar_chart`."""
    if not counts:
        return _empty("period-chart", title)
    height, left, right, top, bottom = 240, 44, 8, 14, 34
    plot_width, plot_height = WIDTH - left - right, height - top - bottom
    step, ceiling = _scale(max(c.count for c in counts))
    slot = plot_width / len(counts)
    every = max(1, math.ceil(len(counts) / max(plot_width // 64, 1)))
    baseline = top + plot_height
    parts = _open("period-chart", title, counts, height)
    for tick in range(0, ceiling + 1, step):
        parts.append(
            Markup(
                '<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{colour}"/>'
                '<text x="{text_x}" y="{text_y:.1f}" text-anchor="end">{tick}</text>'
            ).format(
                left=left,
                right=WIDTH - right,
                y=baseline - plot_height * tick / ceiling,
                colour=GRID if tick else RULE,
                text_x=left - 6,
                text_y=baseline - plot_height * tick / ceiling + 4,
                tick=tick,
            )
        )
    for index, count in enumerate(counts):
        middle = left + slot * (index + 0.5)
        bar_height = plot_height * count.count / ceiling
        parts.append(Markup("<g>{}").format(_tooltip(count)))
        if count.count > 0:
            parts.append(
                Markup(
                    '<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
                    'fill="{fill}"/>'
                ).format(
                    x=middle - slot * 0.4,
                    y=baseline - bar_height,
                    width=max(slot * 0.8, 1),
                    height=bar_height,
                    fill=BAR,
                )
            )
            if slot >= 22:
                parts.append(
                    Markup(
                        '<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" '
                        'font-size="10">{count}</text>'
                    ).format(x=middle, y=baseline - bar_height - 3, count=count.count)
                )
        if index % every == 0:
            parts.append(
                Markup(
                    '<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{tick}" stroke="{rule}"/>'
                    '<text x="{x:.1f}" y="{text_y}" text-anchor="middle">{label}</text>'
                ).format(
                    x=middle,
                    top=baseline,
                    tick=baseline + 4,
                    rule=RULE,
                    text_y=baseline + 18,
                    label=_label(count.label),
                )
            )
        parts.append(Markup("</g>"))
    return _closed(parts)

"""Charts as inline SVG, drawn on the server: no JavaScript, no CDN, nothing fetched.

Each function returns a self-contained ``<svg>`` (safe HTML) that scales to its container,
with a ``<title>`` and ``<desc>`` for screen readers; the pages also show the numbers in
tables. Every text that comes from data (names, labels) is escaped, and colours are used only
when they are plain hex colours.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 30, 46
PALETTE = ("#1d4ed8", "#b91c1c", "#15803d", "#a16207", "#7c3aed", "#0e7490")
HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MAX_X_LABELS = 8

_ids = count(1)


def colour(value: str | None, index: int = 0) -> str:
    """``value`` if it is a hex colour such as ``#b91c1c``, else the palette's ``index``th."""
    if value and HEX_COLOUR.match(value):
        return value
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Line:
    """A horizontal reference line, such as a goal."""

    name: str
    colour: str
    value: float


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _frame(title: str, description: str, body: list[str], legend: list[tuple[str, str]]) -> str:
    uid = next(_ids)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="chart{uid}-title chart{uid}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="chart{uid}-title">{escape(title)}</title>',
        f'<desc id="chart{uid}-desc">{escape(description)}</desc>',
        '<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>',
    ]
    parts += body
    x = LEFT
    for name, fill in legend:
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{fill}"/>')
        parts.append(
            f'<text x="{x + 14}" y="17" font-size="13" fill="#111827">{escape(name)}</text>'
        )
        x += 26 + 8 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def axis_scale(largest: float, *, whole: bool = False) -> tuple[float, float]:
    """(top, step) of a y axis from 0 with four to six round steps covering ``largest``;
    ``whole`` keeps steps at 1 or more (counts)."""
    step = nice_max(largest / 5) if largest > 0 else 1.0
    if whole:
        step = max(1.0, math.ceil(step))
    return step * max(1, math.ceil(largest / step)), step


def _y_axis(top_value: float, step: float, unit: str) -> list[str]:
    body = []
    ticks = round(top_value / step)
    for i in range(ticks + 1):
        value = step * i
        y = _y(value, top_value)
        body.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
        )
        body.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end" '
            f'fill="#4b5563">{escape(_number(value))}</text>'
        )
    if unit:
        body.append(
            f'<text x="4" y="{TOP - 8}" font-size="12" fill="#4b5563">{escape(unit)}</text>'
        )
    return body


def _x_labels(labels: Sequence[str], slot: float) -> list[str]:
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    body = []
    for i, label in enumerate(labels):
        if i % step:
            continue
        x = LEFT + slot * (i + 0.5)
        body.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="12" text-anchor="middle" '
            f'fill="#4b5563">{escape(label)}</text>'
        )
    return body


def _y(value: float, top_value: float) -> float:
    plot_height = HEIGHT - TOP - BOTTOM
    return HEIGHT - BOTTOM - plot_height * (value / top_value)


def stacked_bars(
    *, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> SafeString:
    """One bar per label, stacked by series (e.g. incidents per week by severity)."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top_value, step = axis_scale(max(totals, default=0), whole=True)
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar = max(slot * 0.7, 1)
    body = _y_axis(top_value, step, unit)
    for i in range(len(labels)):
        base = 0.0
        for s in series:
            value = s.values[i] or 0
            if not value:
                continue
            y_top, y_bottom = _y(base + value, top_value), _y(base, top_value)
            x = LEFT + slot * i + (slot - bar) / 2
            body.append(
                f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{bar:.1f}" '
                f'height="{y_bottom - y_top:.1f}" fill="{s.colour}">'
                f"<title>{escape(labels[i])}: {escape(s.name)} {escape(_number(value))}</title>"
                "</rect>"
            )
            base += value
    body += _x_labels(labels, slot)
    description = "; ".join(
        f"{label}: " + ", ".join(f"{s.name} {_number(s.values[i] or 0)}" for s in series)
        for i, label in enumerate(labels)
    )
    return mark_safe(_frame(title, description, body, [(s.name, s.colour) for s in series]))  # noqa: S308


def lines(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    references: Sequence[Line] = (),
    unit: str = "",
    whole: bool = False,
) -> SafeString:
    """One line per series over the labels (gaps where a value is None), with dashed
    horizontal reference lines (e.g. MTTR per week against its goals)."""
    values = [v for s in series for v in s.values if v is not None]
    values += [r.value for r in references]
    top_value, step = axis_scale(max(values, default=0), whole=whole)
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    body = _y_axis(top_value, step, unit)
    for reference in references:
        y = _y(reference.value, top_value)
        body.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{reference.colour}" stroke-width="1.5" stroke-dasharray="6 4">'
            f"<title>{escape(reference.name)}</title></line>"
        )
    for s in series:
        segment: list[str] = []
        segments = [segment]
        for i, value in enumerate(s.values):
            if value is None:
                segment = []
                segments.append(segment)
                continue
            x, y = LEFT + slot * (i + 0.5), _y(value, top_value)
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.colour}">'
                f"<title>{escape(labels[i])}: {escape(s.name)} {escape(_number(value))}</title>"
                "</circle>"
            )
        for points in segments:
            if len(points) > 1:
                body.append(
                    f'<polyline points="{" ".join(points)}" fill="none" '
                    f'stroke="{s.colour}" stroke-width="2"/>'
                )
    body += _x_labels(labels, slot)
    description = "; ".join(
        f"{s.name}: "
        + ", ".join(f"{labels[i]} {_number(v)}" for i, v in enumerate(s.values) if v is not None)
        for s in series
    )
    legend = [(s.name, s.colour) for s in series] + [(r.name, r.colour) for r in references]
    return mark_safe(_frame(title, description, body, legend))  # noqa: S308


@dataclass(frozen=True)
class Bar:
    label: str
    share: float | None  # 0..1, None for nothing to measure
    text: str
    colour: str


def share_bars(*, title: str, bars: Sequence[Bar]) -> SafeString:
    """Horizontal bars from 0 to 100 % (e.g. the response-target attainment per severity)."""
    row = 34
    height = TOP + row * max(len(bars), 1) + 24
    label_width = 120
    plot = WIDTH - label_width - RIGHT - 110
    body = []
    for tick in (0, 25, 50, 75, 100):
        x = label_width + plot * tick / 100
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 6}" y2="{height - 20}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{height - 6}" font-size="12" text-anchor="middle" '
            f'fill="#4b5563">{tick} %</text>'
        )
    for i, bar in enumerate(bars):
        y = TOP + row * i
        body.append(
            f'<text x="{label_width - 8}" y="{y + 17}" font-size="13" text-anchor="end" '
            f'fill="#111827">{escape(bar.label)}</text>'
        )
        width = plot * (bar.share or 0)
        body.append(
            f'<rect x="{label_width}" y="{y + 6}" width="{width:.1f}" height="16" '
            f'fill="{bar.colour}"><title>{escape(bar.label)}: {escape(bar.text)}</title></rect>'
        )
        body.append(
            f'<text x="{label_width + plot + 8}" y="{y + 18}" font-size="13" '
            f'fill="#111827">{escape(bar.text)}</text>'
        )
    description = "; ".join(f"{b.label}: {b.text}" for b in bars)
    svg = _frame(title, description, body, [])
    svg = svg.replace(f'viewBox="0 0 {WIDTH} {HEIGHT}"', f'viewBox="0 0 {WIDTH} {height}"', 1)
    return mark_safe(svg)  # noqa: S308

"""Small SVG charts rendered on the server (no chart library, nothing loaded from elsewhere, no inline
style or script: the desk's CSP forbids them; the look is in static/desk.css and static/analytics.css).

Every text in a chart is escaped; every chart has a name for screen readers (`aria-label`), and the
pages show the same figures in a table beside it.
"""
from __future__ import annotations

import math
from datetime import date
from typing import List, Optional, Sequence, Tuple

from markupsafe import Markup, escape

#: What a trend's values are: how the axis runs and how a value reads.
COUNT, RATE, SCORE = "count", "rate", "score"
#: Dots (each with its day and value on hover) are drawn on a line while the days are this few.
MAX_DOTS = 62
X_LABELS = 6


def sparkline(values: Sequence[float], width: int = 260, height: int = 60, high: float = 0.75,
              label: str = "Frustration per customer message") -> Markup:
    """Scores 0-1 as a line with a dot per message and a dashed line at the `high` threshold."""
    if not values:
        return Markup('<p class="muted">No scores.</p>')
    pad = 6
    step = (width - 2 * pad) / max(1, len(values) - 1)

    def y(value: float) -> float:
        return pad + (1 - max(0.0, min(1.0, value))) * (height - 2 * pad)

    points = [(pad + i * step, y(v)) for i, v in enumerate(values)]
    line = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    dots = "".join(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" class="{"hot" if v >= high else "dot"}">'
                   f"<title>message {i + 1}: {v:.2f}</title></circle>"
                   for i, ((px, py), v) in enumerate(zip(points, values)))
    summary = ", ".join(f"{v:.2f}" for v in values)
    return Markup(
        f'<svg class="spark" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(label)}: {summary}">'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(high):.1f}" y2="{y(high):.1f}" class="threshold"/>'
        f'<polyline points="{line}" class="trend"/>{dots}</svg>'
    )


def bar_chart(pairs: Sequence[Tuple[str, float]], label: str, unit: str = "",
              total: Optional[float] = None, width: int = 420) -> Markup:
    """Horizontal bars with their labels and values, readable by screen readers too (the label
    names every bar with its value)."""
    if not pairs:
        return Markup('<p class="muted">No data for this period.</p>')
    top = max((value for _, value in pairs), default=0) or 1
    row, label_w = 24, 150
    rows, spoken = [], []
    for index, (name, value) in enumerate(pairs):
        bar = (width - label_w - 70) * value / top
        share = f" ({value / total:.0%})" if total else ""
        y = index * row
        rows.append(
            f'<text x="0" y="{y + 16}" class="label">{escape(str(name)[:24])}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="16" class="bar"/>'
            f'<text x="{label_w + bar + 6:.1f}" y="{y + 16}" class="value">{value:g}{escape(unit)}{share}</text>'
        )
        spoken.append(f"{name} {value:g}{unit}{share}")
    height = row * len(pairs) + 4
    return Markup(f'<svg class="bars" role="img" aria-label="{escape(label)}: {escape("; ".join(spoken))}" '
                  f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">{"".join(rows)}</svg>')


def reading(value: Optional[float], kind: str) -> str:
    """A value as the page writes it: 12, 25%, 4.50; "-" for none."""
    if value is None:
        return "-"
    if kind == RATE:
        return f"{value:.0%}"
    if kind == SCORE:
        return f"{value:.2f}"
    return f"{value:g}"


def _axis(values: Sequence[Optional[float]], kind: str) -> Tuple[float, float, List[float]]:
    """(low, high, ticks) of the value axis: rates 0-100%, scores 1-5, counts 0 to a round number."""
    if kind == RATE:
        return 0.0, 1.0, [0.0, 0.5, 1.0]
    if kind == SCORE:
        return 1.0, 5.0, [1.0, 2.0, 3.0, 4.0, 5.0]
    top = max((v for v in values if v is not None), default=0.0)
    raw = max(top, 1.0) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1.0, next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))
    high = step * max(1, math.ceil(top / step))
    return 0.0, high, [step * n for n in range(int(round(high / step)) + 1)]


def _day(day: date, with_year: bool) -> str:
    return f"{day:%b} {day.day}, {day.year}" if with_year else f"{day:%b} {day.day}"


def trend_chart(days: Sequence[date], values: Sequence[Optional[float]], label: str, kind: str = COUNT,
                width: int = 400, height: int = 170) -> Markup:
    """One figure per day: counts as columns, rates (0-1) and scores (1-5) as a line that skips the days
    without a value. The axis names its scale; hovering a column or dot names its day and value."""
    if not days or len(days) != len(values):
        return Markup('<p class="muted">No days in this period.</p>')
    left, right, top, bottom = 40, 10, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high, ticks = _axis(values, kind)
    slot = plot_w / len(days)

    def x(index: int) -> float:
        return left + slot * (index + 0.5)

    def y(value: float) -> float:
        share = (min(max(value, low), high) - low) / ((high - low) or 1)
        return top + (1 - share) * plot_h

    parts = []
    for tick in ticks:
        parts.append(f'<line class="gridline" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                     f'<text class="axis" x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                     f"{escape(reading(tick, kind) if kind == RATE else f'{tick:g}')}</text>")
    shown = sorted({round(k * (len(days) - 1) / max(1, min(len(days), X_LABELS) - 1))
                    for k in range(min(len(days), X_LABELS))})
    previous_year = days[0].year
    for position, index in enumerate(shown):
        day = days[index]
        if len(shown) > 1 and position == 0:
            anchor, at = "start", left + slot * index
        elif len(shown) > 1 and position == len(shown) - 1:
            anchor, at = "end", left + slot * (index + 1)
        else:
            anchor, at = "middle", x(index)
        with_year = day.year != previous_year or (position == 0 and days[0].year != days[-1].year)
        previous_year = day.year
        parts.append(f'<text class="axis" x="{at:.1f}" y="{height - 8}" text-anchor="{anchor}">'
                     f"{escape(_day(day, with_year))}</text>")
    if kind == COUNT:
        bar_w = max(slot * 0.7, 0.6)
        for index, (day, value) in enumerate(zip(days, values)):
            v = value or 0.0
            parts.append(f'<rect class="col" x="{x(index) - bar_w / 2:.2f}" y="{y(v):.1f}" width="{bar_w:.2f}" '
                         f'height="{y(low) - y(v):.1f}"><title>{day.isoformat()}: {escape(reading(v, kind))}'
                         "</title></rect>")
    else:
        segment: List[str] = []
        for index, value in enumerate(list(values) + [None]):
            if value is not None:
                segment.append(f"{x(index):.1f},{y(value):.1f}")
                continue
            if len(segment) > 1:
                parts.append(f'<polyline class="line" points="{" ".join(segment)}"/>')
            segment = []
        for index, (day, value) in enumerate(zip(days, values)):
            if value is not None and (len(days) <= MAX_DOTS or _alone(values, index)):
                parts.append(f'<circle class="dot" cx="{x(index):.1f}" cy="{y(value):.1f}" r="3">'
                             f"<title>{day.isoformat()}: {escape(reading(value, kind))}</title></circle>")
    spoken = f"{label}: {_summary(days, values, kind)}"
    return Markup(f'<svg class="trend-chart" role="img" aria-label="{escape(spoken)}" '
                  f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">{"".join(parts)}</svg>')


def _alone(values: Sequence[Optional[float]], index: int) -> bool:
    """A value with no value beside it draws no line, so it needs its dot."""
    before = values[index - 1] if index > 0 else None
    after = values[index + 1] if index + 1 < len(values) else None
    return before is None and after is None


def _summary(days: Sequence[date], values: Sequence[Optional[float]], kind: str) -> str:
    """What the chart shows, in one sentence for screen readers (the table beside it has every day)."""
    known = [(v, d) for d, v in zip(days, values) if v is not None]
    period = f"{days[0].isoformat()} to {days[-1].isoformat()}, per day"
    if not known:
        return f"{period}: no values"
    highest, on = max(known, key=lambda item: item[0])
    peak = f"{reading(highest, kind)} on {on.isoformat()}"
    if kind == COUNT:
        return f"{period}: {reading(sum(v for v, _ in known), kind)} in all, most {peak}"
    return f"{period}: highest {peak}, {len(known)} of {len(days)} days with a value"

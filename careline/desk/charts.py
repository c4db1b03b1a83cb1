"""Small SVG charts rendered on the server (no chart library, nothing loaded from elsewhere)."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

from markupsafe import Markup, escape


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
    """Horizontal bars with their labels and values, readable by screen readers too."""
    if not pairs:
        return Markup('<p class="muted">No data for this period.</p>')
    top = max((value for _, value in pairs), default=0) or 1
    row, label_w = 24, 150
    rows = []
    for index, (name, value) in enumerate(pairs):
        bar = (width - label_w - 70) * value / top
        share = f" ({value / total:.0%})" if total else ""
        y = index * row
        rows.append(
            f'<text x="0" y="{y + 16}" class="label">{escape(str(name))[:24]}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="16" class="bar"/>'
            f'<text x="{label_w + bar + 6:.1f}" y="{y + 16}" class="value">{value:g}{escape(unit)}{share}</text>'
        )
    height = row * len(pairs) + 4
    return Markup(f'<svg class="bars" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
                  f'width="{width}" height="{height}">{"".join(rows)}</svg>')

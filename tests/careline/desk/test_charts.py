"""The desk's server-side SVG charts: one mark per day, honest scales, escaped text, nothing inline
that the CSP forbids, and a name for screen readers."""
from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

from careline.desk.charts import COUNT, RATE, SCORE, bar_chart, reading, trend_chart

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(5)]


def parsed(markup) -> ElementTree.Element:
    """The chart as XML (it must be well-formed), in the SVG namespace."""
    return ElementTree.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_counts_are_one_column_per_day_and_an_empty_day_is_a_zero_column():
    svg = parsed(trend_chart(DAYS, [3, 0, 7, 1, 0], "Conversations", COUNT))
    columns = svg.findall(f"{SVG}rect")
    assert [c.find(f"{SVG}title").text for c in columns] == \
        ["2026-11-01: 3", "2026-11-02: 0", "2026-11-03: 7", "2026-11-04: 1", "2026-11-05: 0"]
    heights = [float(c.get("height")) for c in columns]
    assert heights[1] == heights[4] == 0 and heights[2] > heights[0] > heights[3] > 0
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == "Conversations: 2026-11-01 to 2026-11-05, per day: 11 in all, most 7 on 2026-11-03"
    axis = [t.text for t in svg.findall(f"{SVG}text")]
    assert axis[:5] == ["0", "2", "4", "6", "8"]  # a round scale above the highest day
    assert "Nov 1" in axis and "Nov 5" in axis


def test_rates_run_0_to_100_percent_and_a_day_without_a_value_breaks_the_line():
    values = [0.5, None, 0.25, 1.0, None]
    svg = parsed(trend_chart(DAYS, values, "Handoff rate", RATE))
    lines = svg.findall(f"{SVG}polyline")
    assert len(lines) == 1 and len(lines[0].get("points").split()) == 2  # day 3 to day 4; day 1 stands alone
    dots = [d.find(f"{SVG}title").text for d in svg.findall(f"{SVG}circle")]
    assert dots == ["2026-11-01: 50%", "2026-11-03: 25%", "2026-11-04: 100%"]
    assert [t.text for t in svg.findall(f"{SVG}text")][:3] == ["0%", "50%", "100%"]
    assert "highest 100% on 2026-11-04, 3 of 5 days with a value" in svg.get("aria-label")


def test_scores_run_1_to_5_and_long_periods_keep_only_lone_dots():
    days = [date(2025, 12, 1) + timedelta(days=n) for n in range(100)]
    values = [None if n % 10 == 5 else 4.0 for n in range(100)]
    values[59] = values[61] = None
    values[60] = 3.5  # a day with a rating between two days without: no line reaches it
    svg = parsed(trend_chart(days, values, "Average rating (1-5)", SCORE))
    assert [t.text for t in svg.findall(f"{SVG}text")][:5] == ["1", "2", "3", "4", "5"]
    assert [d.find(f"{SVG}title").text for d in svg.findall(f"{SVG}circle")] == ["2026-01-30: 3.50"]
    assert len(svg.findall(f"{SVG}polyline")) == 12  # 10 gaps every 10th day, and the one around day 60
    labels = [t.text for t in svg.findall(f"{SVG}text")][5:]
    assert len(labels) == 6 and labels[0] == "Dec 1, 2025"  # a period over two years names them
    assert [label for label in labels if label.endswith(", 2026")] == ["Jan 10, 2026"]  # where the year changes


def test_charts_escape_their_text_and_carry_nothing_the_csp_forbids():
    hostile = '<script>alert(1)</script>"&'
    markup = str(trend_chart(DAYS, [1, 2, 3, 4, 5], hostile, COUNT)) + \
        str(bar_chart([(hostile, 2), ("a&b" * 10, 1)], hostile, total=3))
    assert "<script" not in markup and "&lt;script&gt;" in markup
    assert not re.search(r"\sstyle=|\son[a-z]+=|javascript:", markup)
    for chart in (trend_chart(DAYS, [1, 2, 3, 4, 5], hostile, COUNT), bar_chart([("a&b" * 10, 1)], hostile)):
        parsed(chart)  # well-formed: no entity cut in half by the label's length limit
    assert "a&amp;ba&amp;b" in markup


def test_bar_charts_name_every_bar_for_screen_readers():
    svg = parsed(bar_chart([("Where is my order", 6), ("Not understood", 2)], "Most common intents", total=8))
    assert svg.get("aria-label") == "Most common intents: Where is my order 6 (75%); Not understood 2 (25%)"


def test_no_days_no_chart_and_values_read_as_on_the_page():
    assert "No days" in str(trend_chart([], [], "Conversations"))
    assert (reading(None, RATE), reading(0.254, RATE), reading(4.5, SCORE), reading(3.0, COUNT)) == \
        ("-", "25%", "4.50", "3")

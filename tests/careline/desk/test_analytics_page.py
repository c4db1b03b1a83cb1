"""The analytics page as the desk renders it (its Jinja templates, real stores): the trends per day
with their table, FAQ topics and top intents in words, and dates that make no period explained on
the page itself with the form as the supervisor filled it."""
from __future__ import annotations

import re
from datetime import date

import pytest

from careline.desk import analytics
from careline.desk.analytics import PeriodError, parse_period
from careline.desk.app import templates
from careline.desk.routes.analytics import TRENDS, page_context, problem_context
from tests.careline.desk.test_analytics import START, at, handed_off, rated, said, store, tracker  # noqa: F401



def render(**context) -> str:
    """analytics.html with the desk's own environment (autoescape, the chart helpers)."""
    return templates().get_template("analytics.html").render(user=None, csrf="", **context)


def test_the_page_draws_every_trend_per_day_with_a_table_and_the_words_for_codes(store, tracker):  # noqa: F811
    said(tracker, "a", at(1, 9), "greet")
    said(tracker, "a", at(1, 9, 1), "faq", topic="shipping_times")
    said(tracker, "a", at(1, 9, 2), "affirm")
    said(tracker, "b", at(3, 9), "order_status")
    handed_off(store, "b", at(3, 9, 1))
    rated(store, "a", at(1, 9, 3), 4)
    html = render(**page_context(analytics.report(store, tracker, START, date(2031, 3, 3))))

    assert "midnight to midnight UTC time" in html and "3 days, 2031-03-01 to 2031-03-03" in html
    for key, title, _ in TRENDS:
        figure = re.search(rf'<figure class="trend" id="trend-{key.replace("_", "-")}">(.*?)</figure>', html, re.S)
        assert figure and f"<figcaption>{title}</figcaption>" in figure.group(1) and "<svg" in figure.group(1)
    rows = re.findall(r"<tr><th scope=\"row\"><time datetime=\"([-\d]+)\">.*?</tr>", re.search(
        r'<table id="days">.*?</table>', html, re.S).group(0), re.S)
    assert rows == ["2031-03-01", "2031-03-02", "2031-03-03"]
    empty_day = re.search(r'datetime="2031-03-02">.*?</tr>', html, re.S).group(0)
    assert re.findall(r"<td>(.*?)</td>", empty_day) == ["0", "0", "0", "-", "-", "-", "0"], "no rate of nothing"
    first_day = re.search(r'datetime="2031-03-01">.*?</tr>', html, re.S).group(0)
    assert re.findall(r"<td>(.*?)</td>", first_day) == ["1", "3", "0", "0%", "0%", "4.00", "1"]

    faq = re.search(r'<section class="card" id="faq-topics".*?</section>', html, re.S).group(0)
    assert "<td>Shipping times</td><td>1</td><td>100%</td>" in faq
    top = re.search(r'<section class="card" id="top-intents".*?</section>', html, re.S).group(0)
    labels = re.findall(r'<text x="0" y="\d+" class="label">(.*?)</text>', top)
    assert labels == ["General question (FAQ)", "Where is my order"]
    assert "Left out as small talk: Asked if it is a bot, Goodbye, Greeting, No, Thanks, Yes." in top
    assert 'id="csat"' in html and 'id="handoff-rate"' in html and 'id="containment"' in html
    assert 'href="/analytics.csv?from=2031-03-01&amp;to=2031-03-03&amp;by=day"' in html


@pytest.mark.parametrize("typed", [
    {"from": "2026-11-10", "to": "2026-11-01"},
    {"from": "2024-01-01", "to": "2026-01-01"},
    {"from": '"><script>alert(1)</script>', "to": "2026-11-01"},
])
def test_dates_that_make_no_period_are_explained_on_the_page_with_the_form_as_typed(typed):
    with pytest.raises(PeriodError) as refused:
        parse_period(typed["from"], typed["to"], date(2026, 11, 20))
    html = render(**problem_context(str(refused.value), typed))

    alert = re.search(r'<div class="flash err period-problem" role="alert" id="period-problem">(.*?)</div>', html, re.S)
    assert alert and "These dates do not make a period." in alert.group(1)
    assert str(refused.value).split('"')[0] in alert.group(1)
    form = re.search(r'<form method="get" action="/analytics".*?</form>', html, re.S).group(0)
    assert 'aria-describedby="period-problem"' in form and form.count('aria-invalid="true"') == 2
    assert "<script>" not in html
    escaped_from = typed["from"].replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;")
    assert f'name="from" type="date" value="{escaped_from}"' in form
    assert f'name="to" type="date" value="{typed["to"]}"' in form
    assert 'id="csat"' not in html and "Export CSV" not in html  # no figures for a period that is not one

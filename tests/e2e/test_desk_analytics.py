"""The supervisors' analytics page in real Chromium, at desktop and phone size, over the real system:
after a customer's conversation with a greeting, an FAQ question, a yes and thanks, the page draws
every day of the period (today's column counts the conversation), lists FAQ questions by topic in
words as the tracker store holds them, keeps greetings and yes/no out of the top intents, and
explains a period that makes no sense on the same page, with the form as it was filled in."""
from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime, time, timedelta
from typing import Any, Dict

import pytest

from careline.desk.analytics import DEFAULT_PERIOD_DAYS
from careline.desk.words import SMALL_TALK_INTENTS, intent_title, topic_title
from careline.shared.settings import load_settings
from tests.e2e.browser import SIZES, browser, screenshot  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def shop_today():
    """Today in the shop's time zone: the analytics page's days are the shop's days."""
    return datetime.now(load_settings().shop().timezone).date()

WAIT_MS = 45_000


def _user_events(system, where: str = "", *values: Any):
    with sqlite3.connect(system.var_dir / "tracker.db") as db:
        return db.execute(f"SELECT sender_id, intent_name, data FROM events WHERE type_name = 'user' {where}",
                          values).fetchall()


def _topic(data: str) -> str:
    selector = (json.loads(data).get("parse_data") or {}).get("response_selector") or {}
    return selector["faq"]["response"]["intent_response_key"].split("/", 1)[1]


@pytest.fixture(scope="module")
def small_talk_conversation(system):
    """A customer who greets, asks an FAQ question, says yes and thanks (over the REST channel):
    the intents the NLU gave each message, as the tracker store holds them."""
    sender = f"e2e-analytics-{uuid.uuid4().hex}"
    for text in ("hello", "how long does delivery take?", "yes", "thanks"):
        system.say(sender, text)
    said = _user_events(system, "AND sender_id = ? ORDER BY id", sender)
    intents = [intent for _, intent, _ in said]
    assert {"greet", "affirm"} <= set(intents), intents  # the conversation has the small talk this test is about
    assert "faq" in intents, intents
    return {"sender": sender, "intents": intents}


def _sign_in_as_supervisor(page, settings) -> None:
    page.goto(f"{settings.desk_url}/analytics")  # the desk asks who it is first, then shows the page
    page.get_by_label("Email").fill("sam.okafor@harborpine.example")
    page.get_by_label("Password").fill(settings.desk_supervisor_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="How support is going").wait_for(timeout=WAIT_MS)


def _faq_topics_stored(system) -> Dict[str, int]:
    """FAQ questions per topic in the default period, read straight from the tracker store."""
    start = shop_today() - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    since = datetime.combine(start, time.min, load_settings().shop().timezone).timestamp()
    counts: Dict[str, int] = {}
    for _, _, data in _user_events(system, "AND intent_name = 'faq' AND timestamp >= ?", since):
        topic = _topic(data)
        counts[topic] = counts.get(topic, 0) + 1
    return counts


@pytest.mark.parametrize("size", SIZES)
def test_the_supervisor_sees_trends_faq_topics_and_top_intents_without_small_talk(
        system, browser, small_talk_conversation, size):  # noqa: F811
    settings = load_settings(environ=system.env)
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    _sign_in_as_supervisor(page, settings)
    today = shop_today().isoformat()

    assert "midnight to midnight America/New_York time" in page.locator(".period-note").inner_text()
    first_day = (shop_today() - timedelta(days=DEFAULT_PERIOD_DAYS - 1)).isoformat()
    assert page.get_by_label("From", exact=True).input_value() == first_day
    assert page.get_by_label("To", exact=True).input_value() == today
    assert page.locator("#csat").is_visible() and page.locator("#handoff-rate").inner_text() != ""

    # the trends: six charts, one column per day of the period in each count chart; today counts our customer
    assert page.locator("#trends figure svg[role=img]").count() == 6
    columns = page.locator("#trend-conversations svg rect")
    assert columns.count() == DEFAULT_PERIOD_DAYS
    today_column = columns.nth(DEFAULT_PERIOD_DAYS - 1).locator("title").text_content()
    assert today_column.startswith(f"{today}: ") and int(today_column.split(": ")[1]) >= 1
    assert page.locator("#trend-conversations svg").get_attribute("aria-label").startswith("Conversations: ")
    rows = page.locator("#days tbody tr")
    assert rows.count() == DEFAULT_PERIOD_DAYS
    today_row = page.locator("#days tbody tr", has=page.locator(f'time[datetime="{today}"]'))
    cells = today_row.locator("td").all_inner_texts()
    assert int(cells[0]) >= 1 and int(cells[1]) >= 4, cells  # conversations, customer messages
    api = page.request.get(f"{settings.desk_url}/api/analytics").json()
    assert [day["day"] for day in api["days"]][-1] == today and len(api["days"]) == DEFAULT_PERIOD_DAYS
    assert all(day["conversations"] >= 0 for day in api["days"])  # every day is there, an empty one with zero
    per_day = page.request.get(page.get_by_role("link", name="Export per day (CSV)").get_attribute("href")
                               .replace("/analytics", f"{settings.desk_url}/analytics", 1))
    lines = per_day.text().splitlines()
    assert per_day.status == 200 and per_day.headers["content-type"].startswith("text/csv")
    assert lines[0].startswith("day,conversations,customer_messages,handoffs,handoff_rate")
    assert len(lines) == 1 + DEFAULT_PERIOD_DAYS and lines[-1].startswith(f"{today},{cells[0]},{cells[1]},")

    # FAQ questions by topic, in words, as the tracker store holds them
    stored = _faq_topics_stored(system)
    shown = {row.locator("td").nth(0).inner_text(): int(row.locator("td").nth(1).inner_text())
             for row in page.locator("#faq-topics tbody tr").all()}
    assert shown == {topic_title(topic): n for topic, n in stored.items()}
    asked = _topic([d for s, i, d in _user_events(system, "AND sender_id = ? AND intent_name = 'faq'",
                                                   small_talk_conversation["sender"])][0])
    assert shown[topic_title(asked)] >= 1 and "_" not in "".join(shown)

    # top intents: what customers came for, in words; no greeting, no yes or no
    labels = page.locator("#top-intents svg text.label").all_text_contents()
    assert labels, "the period has intents to rank"
    small_talk = {intent_title(name) for name in SMALL_TALK_INTENTS}
    assert not small_talk & set(labels) and "_" not in "".join(labels), labels
    assert not {"greet", "affirm"} & {item["intent"] for item in api["top_intents"]}
    assert "Greeting" in page.locator("#top-intents p").inner_text()  # the note says what is left out

    if size == "phone":  # nothing wider than the screen: the per-day table scrolls in its own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"desk-analytics-{size}")
    page.locator("#trends").scroll_into_view_if_needed()
    screenshot(page, f"desk-analytics-{size}-trends")
    page.locator("#faq-topics").scroll_into_view_if_needed()
    screenshot(page, f"desk-analytics-{size}-topics")
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_period_that_makes_no_sense_is_explained_on_the_same_page(system, browser, size):  # noqa: F811
    settings = load_settings(environ=system.env)
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    _sign_in_as_supervisor(page, settings)
    start, end = shop_today().isoformat(), (shop_today() - timedelta(days=9)).isoformat()

    page.get_by_label("From", exact=True).fill(start)
    page.get_by_label("To", exact=True).fill(end)
    with page.expect_response(lambda answer: answer.url.startswith(f"{settings.desk_url}/analytics?")) as answer:
        page.get_by_role("button", name="Show").click()
    assert answer.value.status == 400
    alert = page.get_by_role("alert")
    alert.wait_for(timeout=WAIT_MS)
    assert f"The end date ({end}) is before the start date ({start})" in alert.inner_text()
    # the same page: its heading, the desk's navigation and the form as the supervisor filled it
    page.get_by_role("heading", name="How support is going").wait_for(timeout=WAIT_MS)
    assert page.get_by_role("link", name="Analytics").is_visible()
    typed = (page.get_by_label("From", exact=True).input_value(), page.get_by_label("To", exact=True).input_value())
    assert typed == (start, end)
    assert page.get_by_label("From", exact=True).get_attribute("aria-invalid") == "true"
    assert page.locator("#csat").count() == 0
    screenshot(page, f"desk-analytics-{size}-bad-range")

    page.get_by_label("From", exact=True).fill("2024-01-01")  # more than a year
    page.get_by_label("To", exact=True).fill("2025-06-30")
    with page.expect_response(lambda answer: answer.url.startswith(f"{settings.desk_url}/analytics?")) as answer:
        page.get_by_role("button", name="Show").click()
    assert answer.value.status == 400
    page.get_by_role("alert").filter(has_text="at most 366 days").wait_for(timeout=WAIT_MS)
    assert page.get_by_label("To", exact=True).input_value() == "2025-06-30"

    for path in ("/analytics.csv", "/api/analytics"):  # the exports answer 400 with the same reason
        refused = page.request.get(f"{settings.desk_url}{path}?from={start}&to={end}")
        assert refused.status == 400 and refused.json() == {
            "error": "bad_dates", "detail": f"The end date ({end}) is before the start date ({start}): "
                                            "pick an end date on or after the start date."}

    page.get_by_role("link", name="Show the last 30 days").click()  # and a way on from there
    page.locator("#trends").wait_for(timeout=WAIT_MS)
    if size == "phone":
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()

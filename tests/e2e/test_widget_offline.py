"""Out of hours, in real Chromium against a system whose team is off (tests/e2e/out_of_hours.py): the
widget's header says so and when the team is back, and the widget asks for an email address for the
reply (checked in the browser, then by the bot, which keeps it: the server then knows the address)."""
from __future__ import annotations

import pytest

from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.e2e.out_of_hours import OUT_OF_HOURS_ENV
from tests.e2e.widget_page import (
    SIZES,
    WAIT_MS,
    ask_for_a_person,
    count,
    customer_context,
    events,
    header_state,
    latest_state,
    open_chat,
    record_events,
    say,
    scroll_top,
    style,
    texts,
    wait_at_the_bottom,
    wait_for_more,
    waiting_header,
    wholly_in_view,
)

pytestmark = pytest.mark.e2e

SYSTEM_ENV = OUT_OF_HOURS_ENV


@pytest.mark.parametrize("size", SIZES)
def test_out_of_hours_the_widget_asks_for_an_email_and_the_bot_keeps_it(system, browser, size):  # noqa: F811
    context = customer_context(browser, system, **SIZES[size])
    page = open_chat(context, system)
    record_events(page, "conversation_state")
    for question in ("how many days do i have to return something", "how long do refunds take to process"):
        say(page, question)  # enough for the conversation to fill its visible area
    ask_for_a_person(page)
    form = page.locator(".cl-email")
    state = latest_state(page)
    assert state["waiting"] and not state["team_open"] and not state["email_known"], state
    assert state["back"], "the state says when the team is back"
    assert header_state(page) == waiting_header(state) == f"Our team is offline · back {state['back']}"
    form.wait_for(state="visible", timeout=WAIT_MS)
    assert page.locator(".cl-log").evaluate("el => el.scrollHeight > el.clientHeight"), "the log overflows"
    wait_at_the_bottom(page)
    handoff = page.locator(".cl-msg.cl-bot").last
    assert "Our team is offline" in handoff.inner_text()
    assert wholly_in_view(page, handoff), "the form came, and the bot's message is not cut off behind it"
    screenshot(page, f"widget-email-form-{size}")
    assert form.locator("label").inner_text() == "Leave your email and we'll send the reply there too"
    address = page.get_by_label("Leave your email and we'll send the reply there too")
    assert address.get_attribute("type") == "email" and address.get_attribute("autocomplete") == "email"
    assert style(page, "#cl-email-input", "font-size") == "16px"
    error = page.locator(".cl-email .cl-error")

    save = form.get_by_role("button", name="Save email")
    save.click()
    assert error.inner_text() == "Please enter your email address."
    assert address.get_attribute("aria-invalid") == "true"
    assert address.evaluate("el => el === document.activeElement")
    wait_at_the_bottom(page)  # the error made the form taller
    address.fill("maria.lopez@")
    address.press("Enter")
    assert "doesn't look like an email address" in error.inner_text()
    address.fill("maria.lopez@example")  # the browser takes it; the bot would not
    save.click()
    assert "doesn't look like an email address" in error.inner_text()
    assert "maria.lopez@example" not in texts(page), "nothing invalid is sent"
    screenshot(page, f"widget-email-error-{size}")

    before, states = count(page), len(events(page, "conversation_state"))
    address.fill("maria.lopez@example.com")
    save.click()
    assert form.is_hidden() and error.inner_text() == ""
    assert page.locator(".cl-msg.cl-customer").last.inner_text().endswith("maria.lopez@example.com")
    wait_for_more(page, ".cl-msg.cl-bot", before)
    assert "maria.lopez@example.com" in page.locator(".cl-msg.cl-bot").last.inner_text(), "the bot kept it"
    page.wait_for_function("(n) => window.__events.conversation_state.length > n", arg=states, timeout=WAIT_MS)
    assert latest_state(page)["email_known"] is True, "the server has the address for the reply"
    assert form.is_hidden()
    wait_at_the_bottom(page)
    screenshot(page, f"widget-email-kept-{size}")

    page.locator(".cl-log").evaluate("el => { el.scrollTop = 0; }")  # the customer scrolls up to read
    page.wait_for_timeout(200)
    page.get_by_label("Your message").fill("one\ntwo\nthree\nfour")  # the box grows, the log shrinks
    page.wait_for_timeout(300)
    assert scroll_top(page) == 0, "a customer reading older messages is not moved"
    context.close()

"""The whole support story in real Chromium: a customer on the website is handed off, an agent helps
in the desk, the bot takes over again, the customer rates, and a supervisor sees it in analytics."""
from __future__ import annotations

import re

import pytest

from careline.shared.settings import load_settings
from tests.e2e import customers
from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e

WAIT_MS = 45_000


def _customer_says(page, text: str) -> None:
    before = page.locator(".cl-msg.cl-bot").count()
    page.get_by_label("Your message").fill(text)
    page.keyboard.press("Enter")
    page.locator(".cl-msg.cl-bot").nth(before).wait_for(timeout=WAIT_MS)


def _sign_in(page, settings, email: str, password: str) -> None:
    page.goto(f"{settings.desk_url}/queue")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Waiting for a person").wait_for(timeout=WAIT_MS)


def test_handoff_agent_reply_refund_handback_rating_and_analytics(system, browser):  # noqa: F811
    settings = load_settings(environ=system.env)
    maria = customers.maria(system)  # a copy of Maria Lopez: her goodwill is this test's own, her row in the queue too
    order = maria.order("CL-100001")
    customer = browser.new_context(bypass_csp=True)
    shop = customer.new_page()
    shop.goto(f"{settings.web_url}/")
    shop.get_by_role("button", name="Chat with us").click()
    shop.locator(".cl-msg.cl-bot").first.wait_for(timeout=WAIT_MS)

    agent = browser.new_context()
    desk = agent.new_page()
    _sign_in(desk, settings, "ana.rivera@harborpine.example", settings.desk_agent_password)
    desk.locator("#live-status", has_text="Live").wait_for(timeout=WAIT_MS)
    screenshot(desk, "desk-1-queue-before")

    _customer_says(shop, "where is my order?")
    _customer_says(shop, order)
    _customer_says(shop, maria.email)
    _customer_says(shop, "THIS IS RIDICULOUS, third time I'm asking, I want a human NOW!!!")
    assert "bringing in a person" in shop.locator(".cl-log").inner_text()
    screenshot(shop, "desk-2-customer-handed-off")

    row = desk.locator("#queue-rows tr", has_text=order).first
    row.wait_for(timeout=WAIT_MS)  # arrives through server-sent events, without a reload
    screenshot(desk, "desk-3-queue-live")
    row.get_by_role("link", name="Maria Lopez").click()
    desk.get_by_role("heading", name="Why it came to a person").wait_for(timeout=WAIT_MS)
    summary = desk.locator("#bot-summary").inner_text()
    assert summary.startswith("Maria wants to") and order in summary and "frustrated" in summary
    assert desk.locator("svg.spark circle").count() >= 2, "the frustration trajectory is drawn"
    assert f"{order} (this one)" in desk.locator("table.orders").inner_text()
    assert "THIS IS RIDICULOUS" in desk.locator("#transcript").inner_text()
    screenshot(desk, "desk-4-conversation")

    desk.get_by_label("Reply to the customer").fill("Hi Maria, I'm Ana. I'm sorry for the wait, let me fix this.")
    desk.get_by_role("button", name="Send reply").click()
    desk.get_by_text("Sent.").wait_for(timeout=WAIT_MS)  # sent with fetch(), no reload
    desk.locator("#transcript li.from-agent", has_text="I'm Ana").wait_for(timeout=WAIT_MS)
    shop.locator(".cl-msg", has_text="I'm Ana").wait_for(timeout=WAIT_MS)
    screenshot(shop, "desk-5-customer-sees-agent")

    desk.get_by_label("Amount in dollars (empty: what the policy allows)").fill("50")
    desk.get_by_label("Goodwill (outside the return rules)").check()  # the order is not due for a refund yet
    desk.get_by_role("button", name="Review refund").click()
    review = desk.get_by_role("group", name=re.compile(r"^Review: Goodwill"))
    review.get_by_role("button", name=re.compile(r"^Confirm goodwill.* of \$50\.00$")).click()
    desk.get_by_text(re.compile(r"Done: goodwill.* of \$50\.00")).wait_for(timeout=WAIT_MS)
    assert "agent" in desk.locator("#decisions + table").inner_text()
    screenshot(desk, "desk-6-refunded")

    desk.get_by_role("button", name="Resolve and hand back to the bot").click()
    desk.get_by_text("Resolved; the bot has the conversation again.").wait_for(timeout=WAIT_MS)
    shop.locator(".cl-msg.cl-bot", has_text="Thanks for waiting, Maria").wait_for(timeout=WAIT_MS)

    _customer_says(shop, "bye")
    shop.locator(".cl-quick button", has_text="5").click()
    shop.locator(".cl-msg.cl-bot", has_text="anything we could do better").wait_for(timeout=WAIT_MS)
    shop.locator(".cl-quick button", has_text="No, that's all").click()
    shop.locator(".cl-msg.cl-bot", has_text="Thank you for the feedback").wait_for(timeout=WAIT_MS)
    screenshot(shop, "desk-7-customer-rated")

    supervisor = browser.new_context()
    board = supervisor.new_page()
    _sign_in(board, settings, "sam.okafor@harborpine.example", settings.desk_supervisor_password)
    board.get_by_role("link", name="Analytics").click()
    board.get_by_role("heading", name="How support is going").wait_for(timeout=WAIT_MS)
    agent_row = board.locator("#csat tr", has_text="agent").inner_text().split()
    assert agent_row[1] != "0" and agent_row[2] == "5.00", agent_row
    assert board.locator("#handoff-rate").inner_text() != "-"
    screenshot(board, "desk-8-analytics")
    for context in (customer, agent, supervisor):
        context.close()

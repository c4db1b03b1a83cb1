"""Tracking numbers in the widget are links to the carrier's tracking page (live and in the history)."""
from __future__ import annotations

import pytest

from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.e2e.widget_page import DESKTOP, SIZES, WAIT_MS, count, new_context, open_chat, say

pytestmark = pytest.mark.e2e

TRACKING = "US5699252753"  # CL-100001's parcel (USPS), from the demo data


def _tracking_links(page):
    return page.locator(".cl-msg.cl-bot a").filter(has_text=TRACKING)


@pytest.mark.parametrize("size", SIZES)
def test_a_tracking_number_links_to_the_carriers_page(system, browser, size):  # noqa: F811
    context = new_context(browser, **SIZES[size])
    page = open_chat(context, system)
    say(page, "where is my order CL-100001")
    say(page, "maria.lopez@example.com")
    link = _tracking_links(page).last
    link.wait_for(timeout=WAIT_MS)
    assert link.inner_text() == TRACKING, "the link is exactly the tracking number"
    href = link.get_attribute("href")
    assert href.startswith("https://tools.usps.com/") and href.endswith(TRACKING), href
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener noreferrer"
    bubble = page.locator(".cl-msg.cl-bot").filter(has=page.locator("a", has_text=TRACKING)).last
    assert bubble.evaluate("el => el.textContent").count(TRACKING) == 1, "nothing added to the text"
    assert "cl-nowrap" in link.get_attribute("class") and link.evaluate("el => el.getClientRects().length") == 1, \
        "a tracking number never breaks across lines"
    screenshot(page, f"widget-tracking-link-{size}")

    page.reload()
    _tracking_links(page).first.wait_for(timeout=WAIT_MS)
    assert _tracking_links(page).first.get_attribute("href") == href, "in the history too"
    context.close()


def test_only_https_links_and_addresses_in_text_stay_links(system, browser):  # noqa: F811
    """The widget's own defence: a link the server would never send (not https, or not in the text) is
    shown as plain text. The server cannot be made to send one, so these messages are given to the
    page's socket as if they had come from it."""
    context = new_context(browser, **DESKTOP)
    page = open_chat(context, system)
    before = count(page)
    page.evaluate("""() => {
      const deliver = (message) => CarelineChat.socket().listeners('bot_uttered').forEach((f) => f(message));
      deliver({ text: 'Parcel AB123 and CD456, see https://example.com/help.', links: [
        { text: 'AB123', url: 'javascript:alert(1)' },
        { text: 'CD456', url: 'http://carrier.example/CD456' },
        { text: 'not in the text', url: 'https://carrier.example/x' }] });
      deliver({ text: 'Track EF789 here', links: [{ text: 'EF789', url: 'https://carrier.example/t?n=EF789' }] });
    }""")
    page.wait_for_function(f"document.querySelectorAll('.cl-msg.cl-bot').length >= {before + 2}", timeout=WAIT_MS)
    first, second = page.locator(".cl-msg.cl-bot").nth(before), page.locator(".cl-msg.cl-bot").nth(before + 1)
    assert [a.get_attribute("href") for a in first.locator("a").all()] == ["https://example.com/help"], \
        "no javascript: or http: link, the address in the text still a link (without its full stop)"
    assert "Parcel AB123 and CD456, see https://example.com/help." in first.inner_text()
    assert [a.get_attribute("href") for a in second.locator("a").all()] == ["https://carrier.example/t?n=EF789"]
    assert page.evaluate("typeof window.alert") == "function"
    context.close()

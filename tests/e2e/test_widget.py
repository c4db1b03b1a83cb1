"""The website widget in real Chromium against the running system (socket.io to Rasa)."""
from __future__ import annotations

import pytest

from careline.access import webchat
from careline.shared.settings import load_settings
from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000


def _page_url(system) -> str:
    return f"{load_settings(environ=system.env).web_url}/"


def _context(browser, **options):  # noqa: F811
    """A fresh browser profile; the tests' own page scripts need the page CSP bypassed."""
    return browser.new_context(bypass_csp=True, **options)


def _open(context, system):
    page = context.new_page()
    page.goto(_page_url(system))
    page.get_by_role("button", name="Chat with us").click()
    page.locator(".cl-msg.cl-bot").first.wait_for(timeout=WAIT_MS)
    page.wait_for_function("localStorage.getItem('careline.session') !== null", timeout=WAIT_MS)
    return page


def _bot_count(page) -> int:
    return page.locator(".cl-msg.cl-bot").count()


def _say(page, text: str) -> None:
    before = _bot_count(page)
    page.get_by_label("Your message").fill(text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.cl-msg.cl-bot').length > {before}", timeout=WAIT_MS)


def _texts(page):
    return page.locator(".cl-log").inner_text()


def test_chat_quick_reply_reload_and_privacy(system, browser):  # noqa: F811
    context = _context(browser)
    page = _open(context, system)
    assert page.get_by_role("log").get_attribute("aria-live") == "polite"
    assert page.get_by_role("button", name="Chat with us").get_attribute("aria-expanded") == "true"
    assert page.get_by_label("Your message").evaluate("el => el === document.activeElement")
    typing_shown = page.evaluate("() => { CarelineChat.send('hello'); "
                                 "return !document.querySelector('.cl-typing').hidden; }")
    assert typing_shown, "a typing indicator shows while the bot works"
    page.wait_for_function("document.querySelectorAll('.cl-msg.cl-bot').length > 1", timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('.cl-typing').hidden", timeout=WAIT_MS)
    _say(page, "zxqv blorp wug")  # not understood: the bot suggests what it can do
    quick = page.locator(".cl-quick button")
    quick.first.wait_for(timeout=WAIT_MS)
    title = quick.first.inner_text()
    screenshot(page, "widget-quick-replies")
    before = _bot_count(page)
    quick.first.click()
    page.wait_for_function(f"document.querySelectorAll('.cl-msg.cl-bot').length > {before}", timeout=WAIT_MS)
    assert page.locator(".cl-msg.cl-customer").last.inner_text().endswith(title), "the title shows, not a payload"
    assert page.locator(".cl-quick button").count() == 0 or "/" not in _texts(page)
    conversation = _texts(page)

    page.reload()
    page.wait_for_function("document.querySelectorAll('.cl-msg.cl-customer').length >= 3", timeout=WAIT_MS)
    after = _texts(page)
    for line in ("hello", "zxqv blorp wug", title):
        assert line in after
    assert after.count("zxqv blorp wug") == conversation.count("zxqv blorp wug")
    screenshot(page, "widget-after-reload")

    stranger = _context(browser)
    other = _open(stranger, system)
    other.wait_for_selector(".cl-msg.cl-bot", timeout=WAIT_MS)
    assert "zxqv" not in _texts(other), "a second browser does not see the first one's conversation"
    mine = page.evaluate("localStorage.getItem('careline.session')")
    assert other.evaluate("localStorage.getItem('careline.session')") != mine
    stranger.close()
    context.close()


def test_the_page_works_under_its_own_content_security_policy(system, browser):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(_page_url(system))
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Your message").fill("hello")
    page.keyboard.press("Enter")
    page.locator(".cl-msg.cl-bot").nth(1).wait_for(timeout=WAIT_MS)
    assert blocked == []
    context.close()


def test_a_forged_session_id_gets_a_new_empty_conversation(system, browser):  # noqa: F811
    victim = _context(browser)
    page = _open(victim, system)
    _say(page, "my secret question about order CL-100001")
    conversation_id = webchat.sender_for(page.evaluate("localStorage.getItem('careline.session')"))
    victim.close()
    attacker = _context(browser)  # knows the conversation id (as logs and agents do), not the token
    attacker.add_init_script(f"localStorage.setItem('careline.session', '{conversation_id}')")
    page = attacker.new_page()
    page.goto(_page_url(system))
    page.get_by_role("button", name="Chat with us").click()
    page.wait_for_selector(".cl-msg.cl-bot", timeout=WAIT_MS)
    page.wait_for_timeout(1000)
    assert "secret question" not in _texts(page)
    assert not page.evaluate("localStorage.getItem('careline.session')").startswith("web-")
    attacker.close()


def test_reconnects_after_a_dropped_connection_and_fits_a_phone(system, browser):  # noqa: F811
    phone = _context(browser, viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page = _open(phone, system)
    width = page.locator(".cl-panel").bounding_box()["width"]
    assert width >= 370, "the chat fills a phone screen"
    page.evaluate("CarelineChat.socket().io.engine.close()")
    page.wait_for_function("CarelineChat.socket().connected", timeout=WAIT_MS)
    _say(page, "hello again")
    assert page.locator(".cl-status").inner_text() == ""
    screenshot(page, "widget-phone")
    page.keyboard.press("Escape")
    assert page.locator(".cl-panel").is_hidden()
    assert page.get_by_role("button", name="Chat with us").evaluate("el => el === document.activeElement")
    phone.close()

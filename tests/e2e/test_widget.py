"""The website widget in real Chromium against the running system (socket.io to Rasa)."""
from __future__ import annotations

import pytest
import requests

from careline.access import webchat
from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.e2e.widget_page import (
    DESKTOP,
    PHONE,
    WAIT_MS,
    conversation_id,
    count,
    new_context,
    open_chat,
    page_url,
    say,
    texts,
    wait_for_more,
)

pytestmark = pytest.mark.e2e


def test_chat_quick_reply_reload_and_privacy(system, browser):  # noqa: F811
    context = new_context(browser)
    page = open_chat(context, system)
    assert page.get_by_role("log").get_attribute("aria-live") == "polite"
    assert page.get_by_role("button", name="Chat with us").get_attribute("aria-expanded") == "true"
    assert page.get_by_label("Your message").evaluate("el => el === document.activeElement")
    typing_shown = page.evaluate("() => { CarelineChat.send('hello'); "
                                 "return !document.querySelector('.cl-typing').hidden; }")
    assert typing_shown, "a typing indicator shows while the bot works"
    page.wait_for_function("document.querySelectorAll('.cl-msg.cl-bot').length > 1", timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('.cl-typing').hidden", timeout=WAIT_MS)
    say(page, "zxqv blorp wug")  # not understood: the bot suggests what it can do
    quick = page.locator(".cl-quick button")
    quick.first.wait_for(timeout=WAIT_MS)
    title = quick.first.inner_text()
    screenshot(page, "widget-quick-replies")
    before = count(page)
    quick.first.click()
    assert page.get_by_label("Your message").evaluate("el => el === document.activeElement"), \
        "after a quick reply the focus is back in the message box"
    wait_for_more(page, ".cl-msg.cl-bot", before)
    assert page.locator(".cl-msg.cl-customer").last.inner_text().endswith(title), "the title shows, not a payload"
    assert page.locator(".cl-quick button").count() == 0 or "/" not in texts(page)
    conversation = texts(page)

    page.reload()
    page.wait_for_function("document.querySelectorAll('.cl-msg.cl-customer').length >= 3", timeout=WAIT_MS)
    after = texts(page)
    for line in ("hello", "zxqv blorp wug", title):
        assert line in after
    assert after.count("zxqv blorp wug") == conversation.count("zxqv blorp wug")
    screenshot(page, "widget-after-reload")

    stranger = new_context(browser)
    other = open_chat(stranger, system)
    other.wait_for_selector(".cl-msg.cl-bot", timeout=WAIT_MS)
    assert "zxqv" not in texts(other), "a second browser does not see the first one's conversation"
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
    page.goto(page_url(system))
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Your message").fill("hello")
    page.keyboard.press("Enter")
    page.locator(".cl-msg.cl-bot").nth(1).wait_for(timeout=WAIT_MS)
    box = page.get_by_label("Your message")
    height = box.bounding_box()["height"]
    box.fill("one line\nand another")  # the box grows: a style set from script, which the policy allows
    assert box.bounding_box()["height"] > height
    assert blocked == []
    context.close()


def test_a_forged_session_id_gets_a_new_empty_conversation(system, browser):  # noqa: F811
    victim = new_context(browser)
    page = open_chat(victim, system)
    say(page, "my secret question about order CL-100001")
    stolen = conversation_id(page)
    victim.close()
    attacker = new_context(browser)  # knows the conversation id (as logs and agents do), not the token
    attacker.add_init_script(f"localStorage.setItem('careline.session', '{stolen}')")
    page = attacker.new_page()
    page.goto(page_url(system))
    page.get_by_role("button", name="Chat with us").click()
    page.wait_for_selector(".cl-msg.cl-bot", timeout=WAIT_MS)
    page.wait_for_timeout(1000)
    assert "secret question" not in texts(page)
    assert not page.evaluate("localStorage.getItem('careline.session')").startswith("web-")
    attacker.close()


def test_reconnects_after_a_dropped_connection_and_fits_a_phone(system, browser):  # noqa: F811
    phone = new_context(browser, **PHONE)
    page = open_chat(phone, system)
    width = page.locator(".cl-panel").bounding_box()["width"]
    assert width >= 370, "the chat fills a phone screen"
    page.evaluate("CarelineChat.socket().io.engine.close()")
    page.wait_for_function("CarelineChat.socket().connected", timeout=WAIT_MS)
    say(page, "hello again")
    assert page.locator(".cl-status").inner_text() == ""
    screenshot(page, "widget-phone")
    page.keyboard.press("Escape")
    assert page.locator(".cl-panel").is_hidden()
    assert page.get_by_role("button", name="Chat with us").evaluate("el => el === document.activeElement")
    phone.close()


def _customer_events(system, sender: str, text: str) -> int:
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker", params={"token": system.token},
                           timeout=10).json()
    return sum(1 for event in tracker["events"] if event.get("event") == "user" and event.get("text") == text)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_message_typed_while_offline_is_sent_once_and_kept_after_reconnecting(system, browser, size):  # noqa: F811
    context = new_context(browser, **(DESKTOP if size == "desktop" else PHONE))
    page = open_chat(context, system)
    say(page, "hello")
    sender = conversation_id(page)
    context.set_offline(True)  # the network is gone: no reconnecting until it is back
    page.evaluate("CarelineChat.socket().io.engine.close()")
    page.locator(".cl-status").get_by_text("Careline").or_(page.locator(".cl-status").get_by_text("Connection")) \
        .wait_for(timeout=WAIT_MS)
    before = count(page)
    typed = "what are your opening hours"
    page.get_by_label("Your message").fill(typed)
    page.get_by_label("Your message").press("Enter")
    assert page.get_by_label("Your message").input_value() == ""
    page.wait_for_timeout(1500)
    assert texts(page).count(typed) == 1 and count(page) == before, "shown while offline, not answered yet"
    screenshot(page, f"widget-offline-typed-{size}")

    context.set_offline(False)
    page.wait_for_function("CarelineChat.socket().connected", timeout=WAIT_MS)
    wait_for_more(page, ".cl-msg.cl-bot", before)
    page.wait_for_timeout(1500)  # anything sent twice would be answered twice by now
    assert texts(page).count(typed) == 1, "kept in the history after reconnecting, shown once"
    customer_lines = [line.inner_text() for line in page.locator(".cl-msg.cl-customer").all()]
    assert customer_lines[-1].endswith(typed) and count(page) == before + 1, "answered once"
    assert page.locator(".cl-status").inner_text() == ""
    assert _customer_events(system, sender, typed) == 1, "sent once"
    assert webchat.sender_for(page.evaluate("localStorage.getItem('careline.session')")) == sender
    screenshot(page, f"widget-offline-reconnected-{size}")

    page.reload()
    page.wait_for_function("(t) => document.querySelector('.cl-log').innerText.includes(t)", arg=typed,
                           timeout=WAIT_MS)
    assert texts(page).count(typed) == 1
    context.close()

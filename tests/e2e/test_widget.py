"""The website widget in real Chromium against the running system (socket.io to Rasa)."""
from __future__ import annotations

import pytest

from careline.access import webchat
from tests.e2e.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.e2e.widget_page import (
    SIZES,
    DESKTOP,
    MAY_NOT_HAVE_BEEN_SENT,
    NOT_SENT_YET,
    PHONE,
    SENDING,
    WAIT_MS,
    conversation_id,
    count,
    count_acknowledgements,
    customer_messages,
    deliver,
    from_bottom,
    header_state,
    new_context,
    open_chat,
    page_url,
    record_events,
    say,
    scroll_top,
    style,
    texts,
    wait_at_the_bottom,
    wait_for_acknowledgements,
    wait_for_more,
    watch_pending_marks,
    wholly_in_view,
)

pytestmark = pytest.mark.e2e

#: Questions with long answers, to fill the conversation past its visible height.
QUESTIONS = ("how many days do i have to return something", "how long do refunds take to process",
             "do you ship internationally", "how much do you charge for delivery", "how do i contact you",
             "how many days does standard delivery take")


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


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_message_typed_while_offline_is_sent_once_and_kept_after_reconnecting(system, browser, size):  # noqa: F811
    context = new_context(browser, **(DESKTOP if size == "desktop" else PHONE))
    page = open_chat(context, system)
    count_acknowledgements(page)
    say(page, "hello")
    sender = conversation_id(page)
    wait_for_acknowledgements(page, 1)  # the server confirms "hello" once its turn is stored, after the answer
    context.set_offline(True)  # the network is gone: no reconnecting until it is back
    page.evaluate("CarelineChat.socket().io.engine.close()")
    page.locator(".cl-status").get_by_text("Careline").or_(page.locator(".cl-status").get_by_text("Connection")) \
        .wait_for(timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('.cl-state').innerText.startsWith('Not connected')",
                           timeout=WAIT_MS)
    assert page.locator(".cl-typing").is_hidden()
    before = count(page)
    typed = "what are your opening hours"
    page.get_by_label("Your message").fill(typed)
    page.get_by_label("Your message").press("Enter")
    assert page.get_by_label("Your message").input_value() == ""
    mine = page.locator(".cl-msg.cl-customer").last
    mark = page.locator(".cl-pending")
    assert mine.inner_text().endswith(typed) and "cl-unsent" in mine.get_attribute("class"), "it looks unsent"
    assert mark.inner_text() == NOT_SENT_YET and mark.is_visible() and wholly_in_view(page, mark)
    assert mine.evaluate("el => el.nextElementSibling.className") == "cl-pending", "the words under the message"
    assert page.get_by_role("log").get_by_text(NOT_SENT_YET).is_visible(), "not hidden from screen readers"
    assert page.locator(".cl-typing").is_hidden(), "nobody types an answer to what has not gone"
    page.wait_for_timeout(1500)
    assert texts(page).count(typed) == 1 and count(page) == before, "shown while offline, not answered yet"
    screenshot(page, f"widget-offline-typed-{size}")
    watch_pending_marks(page)

    context.set_offline(False)
    page.wait_for_function("CarelineChat.socket().connected", timeout=WAIT_MS)
    wait_for_more(page, ".cl-msg.cl-bot", before)
    mark.wait_for(state="detached", timeout=WAIT_MS)  # the server acknowledged it
    assert SENDING in page.evaluate("window.__marks"), "'Sending…' until the server has it"
    assert "cl-unsent" not in page.locator(".cl-msg.cl-customer").last.get_attribute("class")
    assert not header_state(page).startswith("Not connected")
    page.wait_for_timeout(1500)  # anything sent twice would be answered twice by now
    assert texts(page).count(typed) == 1, "kept in the history after reconnecting, shown once"
    customer_lines = [line.inner_text() for line in page.locator(".cl-msg.cl-customer").all()]
    assert customer_lines[-1].endswith(typed) and count(page) == before + 1, "answered once"
    assert page.locator(".cl-status").inner_text() == ""
    assert customer_messages(system, sender, typed) == 1, "sent once"
    assert webchat.sender_for(page.evaluate("localStorage.getItem('careline.session')")) == sender
    screenshot(page, f"widget-offline-reconnected-{size}")

    page.reload()
    page.wait_for_function("(t) => document.querySelector('.cl-log').innerText.includes(t)", arg=typed,
                           timeout=WAIT_MS)
    assert texts(page).count(typed) == 1
    context.close()


def _fill_past_its_height(page) -> None:
    """Ask questions with long answers until the conversation no longer fits its visible area."""
    for question in QUESTIONS:
        if page.locator(".cl-log").evaluate("el => el.scrollHeight > el.clientHeight + 150"):
            return
        say(page, question)
    assert page.locator(".cl-log").evaluate("el => el.scrollHeight > el.clientHeight + 150"), "it overflows"


@pytest.mark.parametrize("size", SIZES)
def test_the_log_stays_at_the_newest_line_when_the_panel_changes_size(system, browser, size):  # noqa: F811
    """The message box grows, the status line comes, the typing dots show: the newest line stays in view as
    long as the customer was there; a customer who scrolled up to read is never moved, and new messages
    then show a button to go to them (seen only once there)."""
    context = new_context(browser, **SIZES[size])
    page = open_chat(context, system)
    _fill_past_its_height(page)
    wait_at_the_bottom(page)
    newest = page.locator(".cl-msg.cl-bot").last
    box = page.get_by_label("Your message")
    box.fill("my parcel\nwas left\nat the wrong\ndoor and\nnobody answers")  # five lines: the log shrinks
    assert box.bounding_box()["height"] > 100
    wait_at_the_bottom(page)
    assert wholly_in_view(page, newest), "the newest message is not pushed under the box"
    screenshot(page, f"widget-log-follows-box-{size}")
    box.fill("")
    wait_at_the_bottom(page)

    page.locator(".cl-log").evaluate("el => { el.scrollTop = 0; }")  # the customer scrolls up to read
    page.wait_for_timeout(200)
    box.fill("one\ntwo\nthree\nfour")
    page.wait_for_timeout(300)
    assert scroll_top(page) == 0, "a customer reading older messages stays where they are"
    box.fill("")

    # The customer scrolls up and, before the scroll event reaches the widget (the next frame), something
    # changes the log (here an agent starts typing; an answer or a confirmation does the same).
    page.locator(".cl-log").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    wait_at_the_bottom(page)
    page.wait_for_timeout(200)
    typing = "CarelineChat.socket().listeners('agent_typing').forEach((f) => f({agent: 'Sam', typing: %s}))"
    page.evaluate("() => { document.querySelector('.cl-log').scrollTop = 0; %s; }" % (typing % "true"))
    page.wait_for_timeout(300)
    assert scroll_top(page) == 0, "a change in the scroll event's gap does not pull the customer down"
    page.evaluate(typing % "false")

    record = "() => CarelineChat.socket().on('bot_uttered', (m) => { window.__newest = m.at; })"
    page.evaluate(record)
    bots = count(page)
    # and back up to read, in the same task as sending: before the answer, however busy the machine is
    page.evaluate("() => { CarelineChat.send('what time are you open until');"
                  " document.querySelector('.cl-log').scrollTop = 0; }")
    wait_for_more(page, ".cl-msg.cl-bot", bots)
    page.wait_for_timeout(300)
    jump = page.get_by_role("button", name="New messages")
    assert scroll_top(page) == 0 and from_bottom(page) > 100, "the answer does not pull the customer down"
    assert jump.is_visible(), "a button says there is something new below"
    page.wait_for_timeout(800)
    newest_at = page.evaluate("window.__newest")
    assert float(page.evaluate("localStorage.getItem('careline.seen')") or 0) < newest_at, "not seen up there"
    screenshot(page, f"widget-new-messages-button-{size}")
    jump.click()
    wait_at_the_bottom(page)
    assert jump.is_hidden() and wholly_in_view(page, page.locator(".cl-msg.cl-bot").last)
    page.wait_for_function("(at) => Number(localStorage.getItem('careline.seen')) >= at", arg=newest_at,
                           timeout=WAIT_MS)

    context.set_offline(True)  # the status line comes, the header changes
    page.evaluate("CarelineChat.socket().io.engine.close()")
    page.locator(".cl-status").wait_for(state="visible", timeout=WAIT_MS)
    wait_at_the_bottom(page)
    context.set_offline(False)
    page.wait_for_function("CarelineChat.socket().connected", timeout=WAIT_MS)
    wait_at_the_bottom(page)
    context.close()


def test_a_message_lost_on_the_way_is_offered_again_and_never_sent_twice(system, browser):  # noqa: F811
    """A message sent just before the connection dropped: if the server has it (in the history after
    reconnecting) nothing more happens; if not, the widget does not guess (the server may still be working
    on it) and the customer can send it again. The network's losses are made in the page: one message's
    packet, another one's acknowledgement."""
    context = new_context(browser, **DESKTOP)
    page = open_chat(context, system)
    say(page, "hello")
    sender = conversation_id(page)
    page.evaluate("""() => {
      const socket = CarelineChat.socket();
      const emit = socket.emit;
      window.__lose = null;  // 'packet' or 'ack': what the network loses of the next message
      socket.emit = function (name, data, ack) {
        if (name !== 'user_uttered' || !window.__lose) { return emit.apply(this, arguments); }
        const lose = window.__lose;
        window.__lose = null;
        return lose === 'packet' ? this : emit.call(this, name, data);
      };
    }""")

    handled = "how do i contact you"
    page.evaluate("window.__lose = 'ack'")
    say(page, handled)  # answered: the server has it, only its acknowledgement is lost
    assert page.locator(".cl-pending").count() == 0
    record_events(page, "history")
    page.evaluate("CarelineChat.socket().io.engine.close()")
    page.wait_for_function("window.__events.history.length >= 1", timeout=WAIT_MS)  # shown after reconnecting
    assert page.locator(".cl-pending").count() == 0, "in the history after reconnecting: nothing to say"
    assert texts(page).count(handled) == 1 and customer_messages(system, sender, handled) == 1

    lost = "what time are you open until"
    page.evaluate("window.__lose = 'packet'")
    bots = count(page)
    page.get_by_label("Your message").fill(lost)
    page.get_by_label("Your message").press("Enter")
    page.evaluate("CarelineChat.socket().io.engine.close()")
    mark = page.locator(".cl-pending")
    mark.filter(has_text=MAY_NOT_HAVE_BEEN_SENT).wait_for(timeout=WAIT_MS)
    again = mark.get_by_role("button", name="Send again")
    assert again.is_visible() and wholly_in_view(page, mark)
    page.wait_for_timeout(1500)
    assert customer_messages(system, sender, lost) == 0 and count(page) == bots, "never sent again by itself"
    assert texts(page).count(lost) == 1
    screenshot(page, "widget-message-may-not-have-been-sent")

    again.click()
    wait_for_more(page, ".cl-msg.cl-bot", bots)
    mark.wait_for(state="detached", timeout=WAIT_MS)
    assert customer_messages(system, sender, lost) == 1 and texts(page).count(lost) == 1
    assert page.get_by_label("Your message").evaluate("el => el === document.activeElement")
    context.close()


ORDER = "CL-100004"


def test_order_and_tracking_numbers_never_break_across_lines_on_a_phone(system, browser):  # noqa: F811
    """Order numbers (and tracking numbers, links) stay on one line wherever a line ends; a long word
    elsewhere still wraps inside its bubble. The bubbles with an order number at every place on a line are
    given to the page as if the server had sent them (it says what it says)."""
    context = new_context(browser, **PHONE)
    page = open_chat(context, system)
    say(page, f"where is my order {ORDER}")
    mine = page.locator(".cl-msg.cl-customer").last.locator(".cl-nowrap")
    assert mine.inner_text() == ORDER and mine.evaluate("el => el.getClientRects().length") == 1
    kept = page.locator(".cl-msg.cl-bot .cl-nowrap")
    already = kept.count()  # in the bot's own answers
    bots = count(page)
    fillers = ["Your order " + "abcdefghij klmnopq rstuv "[:n] for n in range(26)]
    for filler in fillers:
        deliver(page, "bot_uttered", {"text": f"{filler} {ORDER} is on its way to you, due Friday."})
        deliver(page, "bot_uttered", {"text": f"{filler} XY-100004 is on its way to you, due Friday."})
    deliver(page, "bot_uttered", {"text": "Parcel US5699252753 for order CL-100001.",
                                  "links": [{"text": "US5699252753", "url": "https://tools.usps.com/x"}]})
    deliver(page, "bot_uttered", {"text": "See " + "x" * 160 + " please."})
    wait_for_more(page, ".cl-msg.cl-bot", bots + 2 * len(fillers) + 1)
    assert kept.count() == already + len(fillers) + 2, "every order number, and the tracking link"
    assert kept.evaluate_all("els => els.every((el) => el.getClientRects().length === 1)"), "none broken"
    assert style(page, ".cl-msg.cl-bot a.cl-nowrap", "white-space") == "nowrap"
    broken = page.evaluate("""() => [...document.querySelectorAll('.cl-msg.cl-bot')]
      .filter((b) => b.textContent.includes('XY-100004')).filter((b) => {
        const text = b.lastChild, at = text.textContent.indexOf('XY-100004'), range = document.createRange();
        range.setStart(text, at); range.setEnd(text, at + 9);
        return range.getClientRects().length > 1;
      }).length""")
    assert broken > 0, "the same words without the order number's span do break there (the test reaches the case)"
    long_word = page.locator(".cl-msg.cl-bot").last
    assert long_word.evaluate("el => el.scrollWidth <= el.clientWidth"), "a long word still wraps in its bubble"
    panel = page.locator(".cl-panel").bounding_box()
    assert long_word.bounding_box()["x"] + long_word.bounding_box()["width"] <= panel["x"] + panel["width"]
    page.locator(".cl-msg.cl-bot").filter(has_text="CL-100001").last.scroll_into_view_if_needed()
    screenshot(page, "widget-order-numbers-phone")
    context.close()

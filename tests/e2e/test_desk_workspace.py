"""The agent desk's live workspace in real Chromium (desktop 1280x800 and phone 375x667), against the
running system: a customer on the website widget, an agent in the desk, side by side.

Three panes (queue, conversation, context) that stack on a phone; the transcript as people saw it
(button titles, who, when, the desk's system lines); replies and internal notes sent without a reload
in two clearly different modes; new messages that never move an agent reading older ones, behind an
unread marker; saved replies by keystroke; the queue in plain words with its filters; banners only
from the server; what the desk tells the widget (who joined, typing). And the measured latency of a
message each way (test-artifacts/latency.json). Screenshots: test-artifacts/desk-workspace-*.png and
test-artifacts/readme-desk.png.
"""
from __future__ import annotations

import json
import re
import secrets
import statistics
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests

from careline.shared.settings import load_settings
from tests.e2e import customers
from tests.e2e.browser import ARTIFACTS, browser, held_requests, screenshot, wait_for_held  # noqa: F401
from tests.e2e.widget_page import DESKTOP, PHONE, conversation_id, customer_context, open_chat, say, texts

pytestmark = pytest.mark.e2e

WAIT_MS = 45_000
SAMPLES = 5
#: A generous bound for a message to reach the other side (the measured times are far below it).
LATENCY_LIMIT_S = 5.0


# --- the customer and the agent ------------------------------------------------------------------------


def _handed_off(browser, system, customer: Optional[customers.CustomerCopy] = None, button: bool = True,  # noqa: F811
                **options: Any) -> Tuple[Any, Any, str]:
    """A customer in the widget who (optionally) verified `customer`'s order, then asked for a person:
    with the bot's "Talk to a person" button (`button`) or in words: (context, page, conversation id)."""
    context = customer_context(browser, system, **(options or DESKTOP))  # a client of its own: its own handoffs
    page = open_chat(context, system)
    if customer is not None:
        say(page, "where is my order?")
        say(page, customer.order("CL-100001"))
        say(page, customer.email)
    if button:
        say(page, "zxqv blorp wug")  # out of scope: the bot offers what it can do, as buttons
        quick = page.locator(".cl-quick button", has_text="Talk to a person")
        quick.wait_for(timeout=WAIT_MS)
        before = page.locator(".cl-msg.cl-bot").count()
        quick.click()
        page.wait_for_function("n => document.querySelectorAll('.cl-msg.cl-bot').length > n", arg=before,
                               timeout=WAIT_MS)
    else:
        say(page, "This is ridiculous, I want a human NOW!!!")
    page.locator(".cl-msg", has_text="bringing in a person").wait_for(timeout=WAIT_MS)
    return context, page, conversation_id(page)


def _desk(browser, system, email: str = "ana.rivera@harborpine.example", **options: Any) -> Any:  # noqa: F811
    settings = load_settings(environ=system.env)
    password = settings.desk_agent_password if email.startswith("ana") else settings.desk_supervisor_password
    context = browser.new_context(**(options or DESKTOP))
    page = context.new_page()
    errors: List[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    page.desk_errors = errors
    page.goto(f"{settings.desk_url}/queue")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Waiting for a person").wait_for(timeout=WAIT_MS)
    return page


def _ticket_id(system, conversation: str) -> int:
    """The ticket of a conversation (it is filed before the customer is told)."""
    from tests.e2e.desk_client import DeskClient

    return DeskClient(system, "agent").ticket_of(conversation)


def _open_ticket(desk, system, ticket: int, show: str = "all") -> None:
    desk.goto(f"{load_settings(environ=system.env).desk_url}/tickets/{ticket}?show={show}")
    desk.locator("#transcript li.line").first.wait_for(timeout=WAIT_MS)
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)


def _tracker(system, conversation: str) -> List[Dict[str, Any]]:
    answer = requests.get(f"{system.rasa_url}/conversations/{conversation}/tracker",
                          params={"token": system.token}, timeout=30)
    answer.raise_for_status()
    return list(answer.json()["events"])


def _box(page, selector: str) -> Dict[str, float]:
    return _box_of(page.locator(selector))


def _box_of(locator) -> Dict[str, float]:
    found = locator.bounding_box()
    assert found, f"{locator} is not on screen"
    return found


# --- the workspace -------------------------------------------------------------------------------------


def test_three_panes_the_transcript_as_people_saw_it_and_a_reply_without_reload(system, browser):  # noqa: F811
    maria = customers.maria(system)
    shop_context, shop, conversation = _handed_off(browser, system, maria)
    ticket = _ticket_id(system, conversation)
    desk = _desk(browser, system)
    desk.locator(f"#queue-rows tr[data-ticket='{ticket}'] a").click()
    desk.get_by_role("heading", name="Why it came to a person").wait_for(timeout=WAIT_MS)
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)

    queue, middle, context = _box(desk, ".pane-queue"), _box(desk, ".pane-conversation"), _box(desk, ".pane-context")
    assert queue["x"] < middle["x"] < context["x"], "queue | conversation | context, side by side"
    assert abs(queue["y"] - middle["y"]) < 2 and abs(middle["y"] - context["y"]) < 2
    assert _box(desk, "#composer")["y"] > _box(desk, "#transcript-scroll")["y"], "the reply box under the transcript"
    assert desk.locator(f"#queue-list li.current[data-ticket='{ticket}']").count() == 1
    assert f"{maria.order('CL-100001')} (this one)" in desk.locator("table.orders").inner_text()
    assert desk.locator("svg.spark circle").count() >= 2 and desk.locator("#bot-summary").inner_text()
    assert desk.locator(".pane-context #decisions").count() == 1 and desk.locator(".pane-context #money").count() == 1

    transcript = desk.locator("#transcript")
    lines = transcript.locator("li.line")
    whos = lines.locator(".who").all_inner_texts()
    assert "Customer" in whos and "Bot" in whos
    customer_texts = transcript.locator("li.from-customer .text").all_inner_texts()
    assert customer_texts[-1] == "Talk to a person", "the button's title, as the customer saw it"
    assert not [text for text in customer_texts if text.startswith("/")], "never a payload"
    assert transcript.locator("li.from-bot .chips li").count() >= 1, "the buttons the bot offered, by title"
    stamps = transcript.locator("time[datetime]")
    assert stamps.count() == lines.count()
    assert re.fullmatch(r"\d{1,2}:\d\d( ?[AP]M)?", stamps.first.inner_text().strip()), "local time of day"
    screenshot(desk, "desk-workspace-1-opened")

    desk.evaluate("window.__sameDocument = true")
    text = f"Hi {maria.first_name}, I'm Ana. I'm looking at your order now."
    desk.get_by_label("Reply to the customer").fill(text)
    desk.get_by_label("Reply to the customer").press("Enter")
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)
    assert desk.get_by_label("Reply to the customer").input_value() == ""
    transcript.locator("li.from-agent", has_text=text).wait_for(timeout=WAIT_MS)
    assert transcript.locator("li.from-agent .who").last.inner_text() == "Ana Rivera"
    transcript.locator("li.from-system", has_text="Ana Rivera joined").wait_for(timeout=WAIT_MS)
    assert desk.evaluate("window.__sameDocument === true"), "sent with fetch(): the page was not reloaded"
    shop.locator(".cl-msg", has_text=text).wait_for(timeout=WAIT_MS)
    desk.locator("#ticket-with", has_text="with Ana Rivera").wait_for(timeout=WAIT_MS)

    joined = [e for e in _tracker(system, conversation) if e["event"] == "bot"
              and (e.get("metadata") or {}).get("system") == "joined"]
    assert len(joined) == 1 and joined[0]["metadata"]["agent"] == "Ana Rivera" and joined[0]["text"] == \
        "Ana joined the chat", "the customer is told who joined (contract 2)"
    assert "Ana joined the chat" not in transcript.inner_text(), "the desk shows its own line, not the tracker's"
    screenshot(desk, "desk-workspace-2-replied")
    screenshot(shop, "desk-workspace-3-customer-sees-the-reply")
    assert not desk.desk_errors, desk.desk_errors
    shop_context.close()
    desk.context.close()


def test_new_messages_wait_behind_an_unread_marker_while_the_agent_reads_older_ones(system, browser):  # noqa: F811
    shop_context, shop, conversation = _handed_off(browser, system)
    for text in ("It was a birthday present", "the box was crushed", "and the lamp shade is torn"):
        say(shop, text)
    desk = _desk(browser, system)
    _open_ticket(desk, system, _ticket_id(system, conversation))
    scroller = desk.locator("#transcript-scroll")
    assert scroller.evaluate("el => el.scrollHeight > el.clientHeight + 100"), "a conversation longer than the pane"
    assert scroller.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 50"), "opens at the end"
    scroller.evaluate("el => { el.scrollTop = 0; }")
    desk.wait_for_timeout(300)
    before = desk.locator("#transcript li.line").count()
    for text in ("hello?", "is anyone there?", "I am still waiting"):
        say(shop, text)
    unread = desk.locator("#unread")
    unread.wait_for(state="visible", timeout=WAIT_MS)
    desk.locator("#transcript li.line").nth(before + 2).wait_for(timeout=WAIT_MS)
    desk.wait_for_timeout(1500)  # the bot's answers to them arrive too
    added, words = desk.evaluate("""(before) => [document.querySelectorAll('#transcript li.line').length - before,
                                                 document.getElementById('unread').innerText]""", before)
    assert re.fullmatch(rf"{added} new messages ↓", words), words  # read at one moment: lines may still come
    assert scroller.evaluate("el => el.scrollTop") == 0, "the transcript did not jump to the bottom"
    assert desk.locator("#transcript li.unread-divider").count() == 1
    assert desk.locator("#transcript li.unread-divider + li.line .text").inner_text() == "hello?"
    screenshot(desk, "desk-workspace-4-unread-marker")
    unread.click()
    assert scroller.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 50"), "jumped to the end"
    assert unread.is_hidden() and desk.locator("#transcript li.unread-divider").count() == 0, "and cleared"

    say(shop, "thanks")  # at the bottom, new lines simply show
    desk.locator("#transcript li.from-customer .text", has_text="thanks").wait_for(timeout=WAIT_MS)
    desk.wait_for_timeout(500)
    assert unread.is_hidden()
    assert scroller.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 50")
    shop_context.close()
    desk.context.close()


def test_internal_notes_are_a_different_mode_and_never_reach_the_customer(system, browser):  # noqa: F811
    shop_context, shop, conversation = _handed_off(browser, system, button=False)
    desk = _desk(browser, system)
    _open_ticket(desk, system, _ticket_id(system, conversation))
    composer = desk.locator("#composer")
    reply_colour = composer.evaluate("el => getComputedStyle(el).backgroundColor")
    desk.get_by_role("button", name="Internal note").click()
    assert "mode-note" in composer.get_attribute("class")
    assert composer.evaluate("el => getComputedStyle(el).backgroundColor") != reply_colour, "styled apart"
    assert desk.get_by_role("button", name="Internal note").get_attribute("aria-pressed") == "true"
    note = "Customer sounds upset; check the courier's damage report before offering anything."
    desk.get_by_label("Internal note (only the team sees it)").fill(note)
    screenshot(desk, "desk-workspace-5-note-mode")
    desk.get_by_role("button", name="Add note").click()
    desk.locator("#composer-status", has_text="Note added.").wait_for(timeout=WAIT_MS)
    desk.locator("#notes li", has_text=note).wait_for(timeout=WAIT_MS)
    assert note not in desk.locator("#transcript").inner_text(), "notes are never in the customer's transcript"
    desk.get_by_role("button", name="Reply", exact=True).click()
    assert desk.get_by_role("button", name="Send reply").is_visible()
    shop.wait_for_timeout(1500)
    assert "courier" not in texts(shop), "the customer never sees a note"
    assert not [e for e in _tracker(system, conversation) if "courier" in (e.get("text") or "")]
    shop_context.close()
    desk.context.close()


def test_saved_replies_are_filled_for_this_customer_and_inserted_with_a_keystroke(system, browser):  # noqa: F811
    maria = customers.maria(system)
    shop_context, shop, verified = _handed_off(browser, system, maria, button=False)
    stranger_context, _, unverified = _handed_off(browser, system, button=False)
    desk = _desk(browser, system)
    _open_ticket(desk, system, _ticket_id(system, verified))
    box = desk.get_by_label("Reply to the customer")
    box.click()
    desk.keyboard.type("/")
    menu = desk.get_by_role("listbox", name="Saved replies")
    menu.wait_for(state="visible", timeout=WAIT_MS)
    assert menu.get_by_role("option").count() >= 5
    desk.keyboard.type("wait")
    visible = [option for option in menu.get_by_role("option").all() if option.is_visible()]
    assert [option.locator(".macro-name").inner_text() for option in visible] == ["Sorry for the wait"]
    screenshot(desk, "desk-workspace-6-saved-replies")
    desk.keyboard.press("Enter")
    assert box.input_value() == "Thanks for waiting, and I'm sorry it took a while. I'm looking at this now."
    assert menu.is_hidden()
    box.fill("")
    desk.keyboard.press("Alt+3")
    assert box.input_value().startswith(f"I'm checking order {maria.order('CL-100001')} with our warehouse")
    box.fill("")
    desk.keyboard.type("/")
    desk.keyboard.press("ArrowDown")
    desk.keyboard.press("Enter")
    assert box.input_value().startswith(f"Hi {maria.first_name}, I'm Ana from the Harbor & Pine team."), \
        "arrows choose in the list (the greeting by name, after the one without)"
    desk.keyboard.press("Enter")
    shop.locator(".cl-msg", has_text=f"Hi {maria.first_name}, I'm Ana from the").wait_for(timeout=WAIT_MS)
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)  # before leaving the page

    _open_ticket(desk, system, _ticket_id(system, unverified))
    order_macro = desk.locator("#macro-menu li", has_text="Looking into the order")
    assert order_macro.get_attribute("aria-disabled") == "true"
    assert "no verified order" in order_macro.locator(".macro-why").inner_text()
    by_name = desk.locator("#macro-menu li", has_text="Greeting by name")
    assert by_name.get_attribute("aria-disabled") == "true", "no first name: the customer did not verify"
    greeting = desk.locator("#macro-menu li[data-name='Greeting']")
    assert greeting.get_attribute("aria-disabled") is None, "the greeting without the name works for them"
    desk.get_by_label("Reply to the customer").click()
    desk.keyboard.press("Alt+3")
    assert desk.get_by_label("Reply to the customer").input_value() == "", "a disabled reply is not inserted"
    assert "no verified order" in desk.locator("#composer-status").inner_text(), "and says why"
    desk.get_by_role("button", name="Saved replies").click()
    screenshot(desk, "desk-workspace-7-saved-replies-disabled")
    for context in (shop_context, stranger_context, desk.context):
        context.close()


def test_typing_is_sent_while_the_agent_types_and_stopped_on_send(system, browser):  # noqa: F811
    shop_context, shop, conversation = _handed_off(browser, system, button=False)
    desk = _desk(browser, system)
    _open_ticket(desk, system, _ticket_id(system, conversation))
    pokes: List[dict] = []
    desk.on("request", lambda request: pokes.append(json.loads(request.post_data))
            if request.url.endswith("/typing") else None)
    box = desk.get_by_label("Reply to the customer")
    box.click()
    desk.keyboard.type("One moment, I'm checking", delay=40)
    desk.wait_for_timeout(300)
    assert pokes and pokes[0] == {"typing": True}
    assert len(pokes) <= 3, f"throttled (one every 2 s at most), {len(pokes)} for a second of typing"
    desk.keyboard.press("Enter")
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)
    desk.wait_for_timeout(300)
    assert pokes[-1] == {"typing": False}, "stopped when sent"
    shop.locator(".cl-msg", has_text="One moment, I'm checking").wait_for(timeout=WAIT_MS)
    shop_context.close()
    desk.context.close()


def test_a_reply_sent_while_the_last_one_goes_follows_it_and_a_failed_one_comes_back(system, browser):  # noqa: F811
    """A reply leaves the box as it goes: what the agent types meanwhile is the next one, and Enter pressed
    meanwhile sends it right after, in order, each once. A reply the desk could not send goes back into the
    box, before what was typed since, and what was pressed after it is not sent ahead of it. One pressed
    before the agent switched to a note stays in the reply box, and the agent is told."""
    shop_context, shop, conversation = _handed_off(browser, system, button=False)
    desk = _desk(browser, system)
    _open_ticket(desk, system, _ticket_id(system, conversation))
    box = desk.get_by_label("Reply to the customer")
    status = desk.locator("#composer-status")
    held = held_requests(desk, "**/reply")  # the desk's replies, until the test lets each go
    box.fill("First: I'm on it.")
    box.press("Enter")
    wait_for_held(desk, held, 1)
    assert box.input_value() == "", "the reply on its way left the box"
    box.press("Enter")  # pressed twice for it: nothing more to send
    assert status.inner_text() == "Sending…"
    box.press_sequentially("Second: one more thing.")  # typed as a person types: added to what the box holds
    box.press("Enter")
    assert status.inner_text() == "Sending… The next one goes right after it."
    assert desk.locator("#send[aria-busy='true']").count() == 1
    held[0].continue_()
    wait_for_held(desk, held, 2)
    assert held[1].request.post_data_json == {"text": "Second: one more thing."}
    held[1].continue_()
    status.filter(has_text="Sent.").wait_for(timeout=WAIT_MS)
    shop.locator(".cl-msg", has_text="Second: one more thing.").wait_for(timeout=WAIT_MS)
    texts = shop.locator(".cl-msg").all_inner_texts()
    first = [n for n, t in enumerate(texts) if "First: I'm on it." in t]
    second = [n for n, t in enumerate(texts) if "Second: one more thing." in t]
    assert len(first) == 1 and len(second) == 1 and first[0] < second[0], texts
    assert box.input_value() == "" and desk.locator("#send[aria-busy]").count() == 0

    box.fill("Third: this one fails.")
    box.press("Enter")
    wait_for_held(desk, held, 3)
    box.press_sequentially("Fourth: typed meanwhile.")
    box.press("Enter")
    refused = {"detail": "Not sent: the chat server did not answer. Your text is still in the box."}
    held[2].fulfill(status=503, content_type="application/json", body=json.dumps(refused))
    status.filter(has_text="Not sent").wait_for(timeout=WAIT_MS)
    assert box.input_value() == "Third: this one fails.\n\nFourth: typed meanwhile.", "nothing typed is lost"
    desk.wait_for_timeout(1000)
    assert len(held) == 3, "what was pressed after a failed reply is not sent ahead of it"
    assert shop.locator(".cl-msg", has_text="Fourth").count() == 0

    box.press("Enter")
    wait_for_held(desk, held, 4)
    box.press_sequentially("Fifth: pressed, then a note.")
    box.press("Enter")
    desk.get_by_role("button", name="Internal note").click()
    held[3].continue_()
    status.filter(has_text="Your next reply was not sent: it is still in the reply box.").wait_for(timeout=WAIT_MS)
    assert status.inner_text().startswith("Sent.")
    shop.locator(".cl-msg", has_text="Fourth: typed meanwhile.").wait_for(timeout=WAIT_MS)
    desk.wait_for_timeout(500)
    assert len(held) == 4, "nothing went to the note"
    desk.get_by_role("button", name="Reply", exact=True).click()
    assert box.input_value() == "Fifth: pressed, then a note."

    box.fill("Sixth: on its way.")
    box.press("Enter")
    wait_for_held(desk, held, 5)
    box.press_sequentially("Seventh: I pressed Enter")
    box.press("Enter")
    box.press_sequentially(", then went on typing.")
    held[4].continue_()
    status.filter(has_text="Your next reply changed after you pressed Send").wait_for(timeout=WAIT_MS)
    desk.wait_for_timeout(500)
    assert len(held) == 5, "a half-written reply is not sent"
    assert box.input_value() == "Seventh: I pressed Enter, then went on typing."

    draft = f"careline:desk:draft:{_ticket_id(system, conversation)}:reply"
    box.fill("Eighth: on its way as the page is left.")
    box.press("Enter")
    wait_for_held(desk, held, 6)
    assert _stored_drafts(desk) == {f"{draft}:sending": "Eighth: on its way as the page is left."}
    desk.reload()  # its answer never reaches this page (the test's route fails it first, or the page goes first)
    desk.wait_for_function("document.getElementById('reply-text').value === 'Eighth: on its way as the page is left.'",
                           timeout=WAIT_MS)  # back in the box, not lost
    assert _stored_drafts(desk) == {draft: "Eighth: on its way as the page is left."}
    desk.evaluate("([key, text]) => sessionStorage.setItem(key, text)", [f"{draft}:sending", "Ninth: cut off."])
    desk.reload()  # as a page left before the answer leaves it
    status.filter(has_text="A reply on its way when the page was left may not have gone: check the transcript "
                           "before sending it again.").wait_for(timeout=WAIT_MS)
    assert box.input_value() == "Ninth: cut off.\n\nEighth: on its way as the page is left."
    assert _stored_drafts(desk) == {draft: box.input_value()}
    assert not desk.desk_errors, desk.desk_errors
    shop_context.close()
    desk.context.close()


def test_the_queue_in_plain_words_with_its_filters_live(system, browser):  # noqa: F811
    first_context, _, taken = _handed_off(browser, system, button=False)
    ticket = _ticket_id(system, taken)
    desk = _desk(browser, system)
    row = desk.locator(f"#queue-rows tr[data-ticket='{ticket}']")
    cells = row.locator("td").all_inner_texts()
    assert cells[2] == "Frustrated customer" or cells[2] == "Asked for a person", cells
    assert re.fullmatch(r"under 1 min|\d+ min|\d+ h \d\d min", cells[3]), cells
    assert cells[4] == "Website chat" and cells[5] == "Nobody yet", cells
    assert "_" not in " ".join(cells[2:5])
    _open_ticket(desk, system, ticket)
    desk.get_by_role("button", name="Take this conversation").click()
    desk.locator("#flash", has_text="The conversation is yours.").wait_for(timeout=WAIT_MS)

    desk.goto(f"{load_settings(environ=system.env).desk_url}/queue")
    desk.get_by_role("link", name="Mine").click()
    desk.wait_for_url("**/queue?show=mine")
    assert desk.locator(f"#queue-rows tr[data-ticket='{ticket}']").count() == 1
    assert desk.get_by_role("link", name="Mine").get_attribute("aria-current") == "page"
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)
    screenshot(desk, "desk-workspace-8-queue-mine")
    second_context, _, fresh = _handed_off(browser, system, button=False)
    fresh_ticket = _ticket_id(system, fresh)
    desk.wait_for_timeout(2500)
    assert desk.locator(f"#queue-rows tr[data-ticket='{fresh_ticket}']").count() == 0, "not Ana's"

    desk.get_by_role("link", name="Unassigned").click()
    desk.wait_for_url("**/queue?show=unassigned")
    desk.locator(f"#queue-rows tr[data-ticket='{fresh_ticket}']").wait_for(timeout=WAIT_MS)
    assert desk.locator(f"#queue-rows tr[data-ticket='{ticket}']").count() == 0
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)
    third_context, _, newest = _handed_off(browser, system, button=False)
    desk.locator(f"#queue-rows tr[data-ticket='{_ticket_id(system, newest)}']").wait_for(timeout=WAIT_MS)
    screenshot(desk, "desk-workspace-9-queue-unassigned-live")

    _open_ticket(desk, system, ticket, show="mine")
    assert desk.locator("#queue-list").get_attribute("data-show") == "mine"
    assert desk.locator(f"#queue-list li[data-ticket='{ticket}']").count() == 1
    assert desk.locator(f"#queue-list li[data-ticket='{fresh_ticket}']").count() == 0
    for context in (first_context, second_context, third_context, desk.context):
        context.close()


def test_banners_show_only_the_servers_own_messages(system, browser):  # noqa: F811
    desk = _desk(browser, system)
    url = load_settings(environ=system.env).desk_url
    desk.goto(f"{url}/queue?err=Your+session+expired,+sign+in+at+evil.example&msg=Refund+approved")
    assert desk.locator(".flash").count() == 0 and "evil.example" not in desk.content()
    shop_context, _, conversation = _handed_off(browser, system, button=False)
    _open_ticket(desk, system, _ticket_id(system, conversation))
    desk.get_by_role("button", name="Resolve and hand back to the bot").click()
    desk.wait_for_url("**/queue")
    assert desk.locator("#flash").inner_text() == "Resolved; the bot has the conversation again."
    screenshot(desk, "desk-workspace-10-server-banner")
    desk.reload()
    assert desk.locator(".flash").count() == 0, "shown once"
    shop_context.close()
    desk.context.close()


def test_on_a_phone_the_panes_stack_and_the_agent_can_reply(system, browser):  # noqa: F811
    maria = customers.maria(system)
    shop_context, shop, conversation = _handed_off(browser, system, maria, button=False, **PHONE)
    desk = _desk(browser, system, **PHONE)
    _open_ticket(desk, system, _ticket_id(system, conversation))
    middle, context, queue = _box(desk, ".pane-conversation"), _box(desk, ".pane-context"), _box(desk, ".pane-queue")
    assert middle["y"] < context["y"] < queue["y"], "conversation, then context, then queue, one under the other"
    assert middle["width"] <= 375 and context["width"] <= 375
    assert desk.evaluate("document.documentElement.scrollWidth") <= 375, "nothing wider than the phone"
    box = desk.get_by_label("Reply to the customer")
    assert box.evaluate("el => getComputedStyle(el).fontSize") == "16px", "no zoom on focus"
    screenshot(desk, "desk-workspace-11-phone")
    box.fill(f"Hi {maria.first_name}, Ana here, on my phone.")
    desk.get_by_role("button", name="Send reply").click()
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)
    desk.locator("#transcript li.from-agent", has_text="on my phone").wait_for(timeout=WAIT_MS)
    shop.locator(".cl-msg", has_text="on my phone").wait_for(timeout=WAIT_MS)
    desk.locator("#transcript-scroll").scroll_into_view_if_needed()
    screenshot(desk, "desk-workspace-12-phone-replied")
    desk.locator(".pane-context").scroll_into_view_if_needed()
    screenshot(desk, "desk-workspace-13-phone-context")
    shop_context.close()
    desk.context.close()


# --- what a newcomer's review asked for ---------------------------------------------------------------


def _rest_handoff(system, first_words: str) -> Tuple[str, int]:
    """A customer on the REST channel (quicker than the widget, and unverified) who says `first_words`,
    then asks for a person: (conversation id, ticket id)."""
    sender = f"desk-ws-{secrets.token_hex(5)}"
    system.say(sender, first_words)
    said = " ".join(system.say(sender, "THIS IS RIDICULOUS, I want to talk to a human now!!!"))
    assert "bringing in a person" in said, said
    return sender, _ticket_id(system, sender)


def _stored_drafts(page) -> Dict[str, str]:
    return page.evaluate("""() => Object.fromEntries(Object.keys(sessionStorage)
        .filter((key) => key.startsWith("careline:desk:")).map((key) => [key, sessionStorage.getItem(key)]))""")


def test_drafts_are_kept_per_ticket_and_mode_across_filters_and_other_tickets_until_sent(system, browser):  # noqa: F811
    _, first = _rest_handoff(system, "my lamp arrived broken")
    _, second = _rest_handoff(system, "where is my parcel")
    desk = _desk(browser, system)
    _open_ticket(desk, system, first)
    box = desk.locator("#reply-text")
    reply, note = "Hi, I'm looking at your lamp now and", "Check the courier's damage report first"
    box.click()
    desk.keyboard.type(reply)
    desk.get_by_role("button", name="Internal note").click()
    assert box.input_value() == "", "the note has a draft of its own: a reply never becomes a note"
    desk.keyboard.type(note)

    desk.locator("#queue-pane").get_by_role("link", name="Unassigned").click()  # a filter: a new page
    desk.wait_for_url(f"**/tickets/{first}?show=unassigned")
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)
    assert desk.get_by_role("button", name="Internal note").get_attribute("aria-pressed") == "true"
    assert box.input_value() == note, "back in the mode it was left in, with its draft"
    desk.get_by_role("button", name="Reply", exact=True).click()
    assert box.input_value() == reply

    desk.locator(f"#queue-list li[data-ticket='{second}'] a").click()  # another ticket: its own (empty) box
    desk.wait_for_url(f"**/tickets/{second}?show=unassigned")
    assert box.input_value() == "" and desk.get_by_role("button", name="Send reply").is_visible()
    desk.locator(f"#queue-list li[data-ticket='{first}'] a").click()
    desk.wait_for_url(f"**/tickets/{first}?show=unassigned")
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)
    assert box.input_value() == reply, "and back: the reply as it was left"
    screenshot(desk, "desk-workspace-14-draft-restored")

    box.press("End")
    desk.keyboard.type(" I'll write again in a minute.")
    box.press("Enter")
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)
    desk.locator("#transcript li.from-agent", has_text="I'll write again in a minute.").wait_for(timeout=WAIT_MS)
    desk.reload()
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)
    assert box.input_value() == "", "a sent reply's draft is gone"
    desk.get_by_role("button", name="Internal note").click()
    assert box.input_value() == note, "the unsent note is still there"
    assert _stored_drafts(desk) == {f"careline:desk:draft:{first}:note": note,
                                    f"careline:desk:draft:{first}:mode": "note"}, "the sent reply's is gone"
    desk.get_by_role("button", name="Sign out").click()
    desk.get_by_label("Email").wait_for(timeout=WAIT_MS)
    assert _stored_drafts(desk) == {}, "signing out forgets the drafts of this tab"
    assert not desk.desk_errors, desk.desk_errors
    desk.context.close()


def test_a_saved_reply_goes_in_at_the_cursor_replacing_only_the_slash_words_and_can_be_undone(system, browser):  # noqa: F811,E501
    _, ticket = _rest_handoff(system, "my order is late")
    desk = _desk(browser, system)
    _open_ticket(desk, system, ticket)
    box = desk.get_by_label("Reply to the customer")
    greeting = ("Hi, I'm Ana from the Harbor & Pine team. I've read your conversation with our assistant, so you "
                "don't need to repeat anything. Give me a moment while I look into it.")
    box.click()
    desk.keyboard.type("Sorry about the delay.")
    desk.keyboard.press("Home")
    desk.keyboard.press("Alt+1")  # the greeting without the name: for an unverified customer too
    assert box.input_value() == f"{greeting} Sorry about the delay.", "put in at the cursor, nothing replaced"
    desk.keyboard.press("Control+z")
    assert box.input_value() == "Sorry about the delay.", "undone like typing"

    desk.keyboard.press("End")
    desk.keyboard.type(" /wait")
    menu = desk.get_by_role("listbox", name="Saved replies")
    menu.wait_for(state="visible", timeout=WAIT_MS)
    assert [o.locator(".macro-name").inner_text() for o in menu.get_by_role("option").all() if o.is_visible()] == \
        ["Sorry for the wait"]
    desk.keyboard.press("Enter")
    assert box.input_value() == ("Sorry about the delay. Thanks for waiting, and I'm sorry it took a while. "
                                 "I'm looking at this now."), "only the /words were replaced"
    assert menu.is_hidden()
    desk.keyboard.press("Control+z")
    assert box.input_value() == "Sorry about the delay. /wait"

    box.fill("Take 1/2 a minute")  # a slash inside a word is only a slash
    assert menu.is_hidden()
    box.fill("")
    desk.keyboard.type("/")
    menu.wait_for(state="visible", timeout=WAIT_MS)
    usable = [o.locator(".macro-name").inner_text() for o in menu.get_by_role("option").all()
              if o.get_attribute("aria-disabled") is None]
    assert {"Greeting", "Sorry for the wait", "Describe the problem", "Anything else", "Handing back"} <= set(usable)
    assert "photo" not in menu.inner_text().lower(), "the chat cannot send photos"
    screenshot(desk, "desk-workspace-15-saved-replies-unverified")
    desk.keyboard.press("Escape")
    box.fill("Hello")
    desk.keyboard.press("Alt+2")  # the greeting by name: not for a customer who did not verify
    assert box.input_value() == "Hello"
    assert "first name" in desk.locator("#composer-status").inner_text()
    assert not desk.desk_errors, desk.desk_errors
    desk.context.close()


def test_closing_from_the_header_asks_first_and_a_closed_ticket_reads_cleanly(system, browser):  # noqa: F811
    _, ticket = _rest_handoff(system, "my lamp arrived broken")
    desk = _desk(browser, system)
    _open_ticket(desk, system, ticket)
    assert desk.locator("a.to-queue").is_hidden(), "the phone's link to the queue: not on a desktop"
    close = desk.locator("#close-confirm > summary")
    assert close.inner_text() == "Close conversation"
    confirm = desk.get_by_role("button", name="Confirm close")
    assert confirm.is_hidden()
    close.click()
    confirm.wait_for(state="visible", timeout=WAIT_MS)
    assert "customer is told" in desk.locator("#close-what").inner_text()
    screenshot(desk, "desk-workspace-16-close-asks-first")
    desk.wait_for_timeout(1000)
    assert desk.locator("#ticket-status").inner_text() == "open", "one click closes nothing"
    desk.get_by_role("button", name="Cancel").click()
    assert confirm.is_hidden()
    close.click()
    desk.keyboard.press("Escape")
    assert confirm.is_hidden(), "Escape cancels too"
    close.click()
    confirm.click()
    desk.wait_for_url("**/queue")
    assert desk.locator("#flash").inner_text() == \
        "Closed; the customer was told and the bot has the conversation again."

    _open_ticket(desk, system, ticket)
    assert desk.locator("#ticket-status").inner_text() == "closed"
    assert desk.locator("#composer .modes").count() == 0, "no empty button group over the note box"
    assert desk.get_by_label("Internal note (only the team sees it)").is_visible()
    banner, scroller = _box(desk, "#finished"), _box(desk, "#transcript-scroll")
    assert banner["y"] + banner["height"] <= scroller["y"] + 1, "the banner sits above the transcript, not on it"
    history = desk.locator("#history").inner_text()
    assert "Ana Rivera closed the conversation" in history and "None" not in history and " close\n" not in history
    screenshot(desk, "desk-workspace-17-closed")
    assert not desk.desk_errors, desk.desk_errors
    desk.context.close()


def test_a_long_reply_is_counted_near_the_limit_and_refused_with_the_reason_never_cut(system, browser):  # noqa: F811
    _, ticket = _rest_handoff(system, "my order is late")
    desk = _desk(browser, system)
    _open_ticket(desk, system, ticket)
    posted: List[str] = []
    desk.on("request", lambda request: posted.append(request.url)
            if request.method == "POST" and request.url.endswith("/reply") else None)
    box = desk.get_by_label("Reply to the customer")
    counter, reason = desk.locator("#composer-count"), desk.locator("#composer-too-long")
    box.fill("y" * 2100)
    assert len(box.input_value()) == 2100, "pasted text is never cut"
    assert counter.inner_text() == "2100 / 2000" and counter.is_visible()
    assert reason.inner_text() == ("Too long to send: 2100 characters, the limit is 2000. "
                                   "Please shorten it or send it in parts.")
    assert box.get_attribute("aria-invalid") == "true"
    box.press("Enter")
    desk.wait_for_timeout(600)
    assert posted == [] and len(box.input_value()) == 2100, "refused: nothing sent, nothing lost"
    screenshot(desk, "desk-workspace-18-too-long")
    box.fill("y" * 1700)
    assert counter.inner_text() == "1700 / 2000" and counter.is_visible() and reason.is_hidden()
    box.fill("One moment, please.")
    assert counter.is_hidden() and reason.is_hidden()
    box.press("Enter")
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)
    assert len(posted) == 1
    desk.context.close()


def test_on_a_phone_the_queue_is_cards_and_the_ticket_page_has_a_way_to_the_queue(system, browser):  # noqa: F811
    _, first = _rest_handoff(system, "my lamp arrived broken")
    _, second = _rest_handoff(system, "where is my parcel")
    desk = _desk(browser, system, **PHONE)
    desk.locator("#live-status", has_text="Live: updated").wait_for(timeout=WAIT_MS)  # the rows as drawn live
    desk.locator(f"#queue-rows tr[data-ticket='{second}']").wait_for(timeout=WAIT_MS)
    assert desk.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scrolling"
    row = desk.locator(f"#queue-rows tr[data-ticket='{first}']")
    for label in ("Customer", "Why", "Waiting", "Channel", "With", "Summary"):
        cell = _box_of(row.locator(f"td[data-label='{label}']"))
        assert cell["x"] >= 0 and cell["x"] + cell["width"] <= 375, label
    assert row.locator("td[data-label='With']").inner_text() == "Nobody yet"
    cells = row.locator("td").all()
    assert _box_of(cells[1])["y"] < _box_of(cells[2])["y"] < _box_of(cells[3])["y"], "one under the other"
    first_detail = row.locator(".q-detail").inner_text()
    second_detail = desk.locator(f"#queue-rows tr[data-ticket='{second}'] .q-detail").inner_text()
    assert re.fullmatch(r"#[0-9A-F]{4} · “my lamp arrived broken”", first_detail), first_detail
    assert second_detail.endswith("“where is my parcel”") and first_detail[:5] != second_detail[:5]
    row.scroll_into_view_if_needed()
    screenshot(desk, "desk-workspace-19-phone-queue-cards")

    _open_ticket(desk, system, first)
    link = desk.locator("a.to-queue")
    assert link.is_visible() and _box_of(link)["y"] < 120, "at the top of the ticket page"
    assert desk.evaluate("document.getElementById('queue-pane').getBoundingClientRect().top") > 2 * 667, \
        "the queue pane is screens below"
    link.click()
    desk.wait_for_timeout(500)
    top = desk.evaluate("document.getElementById('queue-title').getBoundingClientRect().top")
    assert 0 <= top < 667 - 100, f"the queue is on screen ({top})"
    assert desk.locator(f"#queue-list li[data-ticket='{second}'] .q-detail").inner_text() == second_detail
    screenshot(desk, "desk-workspace-20-phone-jumped-to-queue")
    desk.evaluate("window.scrollTo(0, 0)")
    desk.locator("#close-confirm > summary").click()
    confirm = desk.get_by_role("button", name="Confirm close")
    confirm.wait_for(state="visible", timeout=WAIT_MS)
    panel = _box(desk, ".confirm-panel")
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 375, "the confirmation fits the phone"
    screenshot(desk, "desk-workspace-21-phone-close-asks-first")
    assert not desk.desk_errors, desk.desk_errors
    desk.context.close()


# --- measured: a message each way ---------------------------------------------------------------------

#: Keeps the time `text` first shows in an element matching `selector` in window.__arrived[text].
WATCH_JS = """([selector, text]) => {
  window.__arrived = window.__arrived || {};
  const seen = () => Array.from(document.querySelectorAll(selector)).some((el) => el.textContent.includes(text));
  const mark = () => { window.__arrived[text] = Date.now(); };
  if (seen()) { mark(); return; }
  const observer = new MutationObserver(() => { if (seen()) { observer.disconnect(); mark(); } });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
}"""


def _arrival(page, selector: str, text: str) -> None:
    """Start watching `page` for `text` (the time it appears is kept in the page)."""
    page.evaluate(WATCH_JS, [selector, text])


def _arrived_at(page, text: str) -> float:
    page.wait_for_function("(text) => (window.__arrived || {})[text] !== undefined", arg=text, timeout=WAIT_MS)
    return float(page.evaluate("(text) => window.__arrived[text]", text))


def _summary(samples: List[float]) -> Dict[str, Any]:
    return {"samples_ms": [round(s) for s in samples], "median_ms": round(statistics.median(samples)),
            "max_ms": round(max(samples))}


def test_latency_of_a_message_each_way_is_measured(system, browser):  # noqa: F811
    """Agent's send -> the customer's widget screen, and the customer's Enter -> the desk transcript
    (two pages of one Chromium: one clock). Printed and written to test-artifacts/latency.json."""
    shop_context, shop, conversation = _handed_off(browser, system, button=False)
    desk = _desk(browser, system)
    _open_ticket(desk, system, _ticket_id(system, conversation))
    box = desk.get_by_label("Reply to the customer")
    box.fill("Hi, Ana here, one moment.")  # the first reply takes the ticket; not measured
    box.press("Enter")
    shop.locator(".cl-msg", has_text="one moment").wait_for(timeout=WAIT_MS)
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)  # the widget may show it first

    to_customer: List[float] = []
    to_desk: List[float] = []
    for n in range(SAMPLES):
        text = f"Agent check {n}: thanks for your patience."
        _arrival(shop, ".cl-msg", text)
        box.fill(text)
        sent = desk.evaluate("() => { const t = Date.now(); document.getElementById('send').click(); return t; }")
        to_customer.append(_arrived_at(shop, text) - sent)
        desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)

        words = f"customer check {n}, still here"
        _arrival(desk, "#transcript li.from-customer .text", words)
        shop.get_by_label("Your message").fill(words)
        typed = shop.evaluate("() => Date.now()")
        shop.get_by_label("Your message").press("Enter")
        to_desk.append(_arrived_at(desk, words) - typed)
        desk.wait_for_timeout(300)

    result = {"agent_send_to_customer_screen": _summary(to_customer),
              "customer_send_to_desk_transcript": _summary(to_desk),
              "how": "real Chromium, the widget and the desk in two pages of one browser (one clock); "
                     "from the click on Send (or Enter in the widget) to the text on the other screen "
                     "(MutationObserver); the widget reaches the chat server through the tests' loopback "
                     "forwarder (a client address of its own); the desk's ticket stream looks at the tracker "
                     "store every 0.25 s",
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\nlatency agent -> customer: median {median_ms} ms, max {max_ms} ms".format(**result[
        "agent_send_to_customer_screen"]))
    print("latency customer -> desk:   median {median_ms} ms, max {max_ms} ms".format(**result[
        "customer_send_to_desk_transcript"]))
    assert max(to_customer) < LATENCY_LIMIT_S * 1000 and max(to_desk) < LATENCY_LIMIT_S * 1000, result
    shop_context.close()
    desk.context.close()


# --- the README's picture -------------------------------------------------------------------------------


def test_the_readme_screenshot_of_the_workspace(system, browser):  # noqa: F811
    maria = customers.maria(system)
    shop_context, shop, conversation = _handed_off(browser, system, maria)
    ticket = _ticket_id(system, conversation)
    desk = _desk(browser, system, viewport={"width": 1440, "height": 900})
    _open_ticket(desk, system, ticket)
    box = desk.get_by_label("Reply to the customer")
    box.click()
    desk.keyboard.press("Alt+2")  # the greeting by name, filled for Maria
    box.press("Enter")
    desk.locator("#composer-status", has_text="Sent.").wait_for(timeout=WAIT_MS)
    shop.locator(".cl-msg", has_text="from the Harbor & Pine team").wait_for(timeout=WAIT_MS)
    shop.get_by_label("Your message").fill("Thank you! The lamp arrived with a cracked base, can I get a refund?")
    shop.get_by_label("Your message").press("Enter")  # a person has the conversation: the bot stays quiet
    desk.locator("#transcript li.from-customer .text", has_text="cracked base").wait_for(timeout=WAIT_MS)
    desk.get_by_role("button", name="Internal note").click()
    desk.get_by_label("Internal note (only the team sees it)").fill("Photo of the base asked for; refund once seen.")
    desk.get_by_role("button", name="Add note").click()
    desk.locator("#notes li", has_text="Photo of the base").wait_for(timeout=WAIT_MS)
    desk.locator("#composer-status", has_text="Note added.").wait_for(timeout=WAIT_MS)  # the stream may be first
    desk.get_by_role("button", name="Reply", exact=True).click()
    box.fill("I'm sorry about the lamp, Maria. Could you send a photo of the base? Then I'll refund it right away.")
    desk.locator("#composer-status").evaluate("el => { el.textContent = ''; }")
    desk.locator("#transcript-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    desk.wait_for_timeout(400)
    path = screenshot(desk, "readme-desk")
    assert path.stat().st_size > 50_000
    shop_context.close()
    desk.context.close()

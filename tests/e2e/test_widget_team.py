"""The widget while a person has the conversation, in real Chromium against the whole system: the agent
acts in the desk (take, typing, reply, over real HTTP), the customer sees who is talking, the header's
waiting state, typing only while the agent types, an unread badge and the `seen` mark (out of hours:
test_widget_offline.py)."""
from __future__ import annotations

import json
import sqlite3
import statistics
import time
from datetime import datetime, timezone
from typing import Any, Optional

import pytest

from tests.e2e.browser import ARTIFACTS, browser, screenshot  # noqa: F401 - the fixture
from tests.e2e.desk_client import DeskClient
from tests.e2e.widget_page import (
    SIZES,
    DESKTOP,
    FROM_US,
    NOT_SENT_YET,
    SENDING,
    WAIT_MS,
    ask_for_a_person,
    conversation_id,
    count,
    customer_context,
    customer_messages,
    deliver,
    events,
    header_state,
    latest_state,
    open_chat,
    record_events,
    say,
    style,
    texts,
    wait_at_the_bottom,
    wait_for_more,
    watch_pending_marks,
    waiting_header,
    wholly_in_view,
)

pytestmark = pytest.mark.e2e

AGENT = "Ana Rivera"
AGENT_TYPING_TIMEOUT_S = 8


class Desk:
    """Ana in the desk, on the ticket of one widget conversation."""

    def __init__(self, system: Any, conversation: str) -> None:
        self.client = DeskClient(system)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.ticket = self.client.ticket_of(conversation)
                break
            except StopIteration:
                assert time.monotonic() < deadline, "the handoff's ticket reaches the desk's queue"
                time.sleep(0.5)

    def act(self, action: str, **form: str) -> None:
        answer = self.client.post(f"/tickets/{self.ticket}/{action}", form)
        assert answer.status_code < 400, (action, answer.status_code, answer.text)

    def take(self) -> None:
        self.act("take")

    def typing(self, on: bool) -> None:
        self.act("typing", typing="1" if on else "0")

    def reply(self, text: str) -> None:
        self.act("reply", text=text)


def _watch_typing(page) -> None:
    """Remember in window.__typingShown whether the typing indicator shows at any moment from now."""
    page.evaluate("""() => {
      const typing = document.querySelector('.cl-typing');
      window.__typingShown = !typing.hidden;
      new MutationObserver(() => { if (!typing.hidden) { window.__typingShown = true; } })
        .observe(typing, { attributes: true });
    }""")


def _seen_at(system, conversation: str) -> Optional[float]:
    with sqlite3.connect(system.var_dir / "careline.db") as db:
        row = db.execute("SELECT seen_at FROM seen_marks WHERE conversation_id = ?", (conversation,)).fetchone()
    if row is None:
        return None
    return datetime.fromisoformat(str(row[0])).replace(tzinfo=timezone.utc).timestamp()


def wait_for_the_agent_in_the_header(page) -> None:
    """Wait until the header says Ana has the conversation; on a timeout, say which states the widget got."""
    try:
        page.wait_for_function("document.querySelector('.cl-state').innerText.includes('Ana Rivera is here')",
                               timeout=WAIT_MS)
    except Exception as error:  # noqa: BLE001 - re-raised with what the widget was told
        raise AssertionError(f"the header says {header_state(page)!r} after the states "
                             f"{events(page, 'conversation_state')}") from error


def _wait_until(condition, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


@pytest.mark.parametrize("size", SIZES)
def test_who_is_talking_while_waiting_for_and_talking_with_a_person(system, browser, size):  # noqa: F811
    context = customer_context(browser, system, **SIZES[size])
    page = open_chat(context, system)
    record_events(page, "conversation_state", "agent_typing", "bot_uttered")
    first_bot = page.locator(".cl-msg.cl-bot").first
    assert first_bot.locator(".cl-tag").inner_text() == "Bot", "a bot tag on the bot's messages"
    assert first_bot.locator(".cl-sr").inner_text().startswith("Careline assistant (bot)"), "screen readers hear it"
    assert header_state(page) == "", "nothing in the header while the bot has the conversation"

    ask_for_a_person(page)
    state = latest_state(page)
    assert state["waiting"] and not state["agent"]
    assert header_state(page) == waiting_header(state)
    if not state["team_open"]:
        assert header_state(page).startswith("Our team is offline")
    elif state["eta_minutes"] is not None:
        assert header_state(page).startswith("Waiting for the team · about ")
    else:  # the wait runs past today's closing time (late in the day): when the team is back instead
        assert state["back"], state
        assert header_state(page).startswith("Waiting for the team · if not today, back ")
    screenshot(page, f"widget-waiting-{size}")

    _watch_typing(page)
    before = count(page)
    page.get_by_label("Your message").fill("hello? anyone there?")
    page.get_by_label("Your message").press("Enter")
    wait_for_more(page, ".cl-msg.cl-bot", before)  # the bot's honest acknowledgement
    assert not page.evaluate("window.__typingShown"), "no bot typing animation while waiting for a person"

    conversation = conversation_id(page)
    desk = Desk(system, conversation)
    desk.take()
    page.locator(".cl-system").filter(has_text="Ana joined the chat").wait_for(timeout=WAIT_MS)
    line = page.locator(".cl-system").last
    assert style(page, ".cl-system", "text-align") == "center" and style(page, ".cl-system", "align-self") == "center"
    log = page.locator(".cl-log").bounding_box()
    box = line.bounding_box()
    assert abs((box["x"] + box["width"] / 2) - (log["x"] + log["width"] / 2)) < 12, "a system line is centred"
    assert float(style(page, ".cl-system", "font-size").rstrip("px")) < 15, "and quiet"
    wait_for_the_agent_in_the_header(page)
    assert page.locator(".cl-state .cl-avatar").inner_text() == "AR"
    # A state read before Ana took the conversation may arrive after hers (reads run off the event loop,
    # on any server): the widget keeps the newer one.
    assert max(seen["revision"] for seen in events(page, "conversation_state")) > state["revision"]
    page.evaluate("(stale) => CarelineChat.socket().listeners('conversation_state')[0](stale)", state)
    assert "Ana Rivera is here" in header_state(page), "a late, older state is dropped"
    wait_at_the_bottom(page)
    assert wholly_in_view(page, line), "the header grew: 'Ana joined the chat' is still in view"

    desk.typing(True)
    typing = page.locator(".cl-typing")
    typing.wait_for(state="visible", timeout=WAIT_MS)
    assert "Ana Rivera is typing" in typing.inner_text() and typing.locator(".cl-avatar").inner_text() == "AR"
    screenshot(page, f"widget-agent-typing-{size}")
    agents = count(page, ".cl-msg.cl-agent")
    desk.reply("Hi, I'm Ana. I'm looking at your conversation now.")
    wait_for_more(page, ".cl-msg.cl-agent", agents)
    assert typing.is_hidden(), "the typing indicator goes with the agent's message"
    message = page.locator(".cl-entry").last
    assert message.locator(".cl-avatar").inner_text() == "AR"
    assert message.locator(".cl-meta").inner_text() == AGENT
    assert message.locator(".cl-sr").inner_text().startswith("Ana Rivera (Careline team)")
    assert message.locator(".cl-tag").count() == 0, "an agent is no bot"
    screenshot(page, f"widget-agent-{size}")

    desk.typing(True)
    typing.wait_for(state="visible", timeout=WAIT_MS)
    desk.typing(False)
    typing.wait_for(state="hidden", timeout=WAIT_MS)
    desk.typing(True)
    typing.wait_for(state="visible", timeout=WAIT_MS)
    started = time.monotonic()
    typing.wait_for(state="hidden", timeout=(AGENT_TYPING_TIMEOUT_S + 5) * 1000)
    assert time.monotonic() - started >= AGENT_TYPING_TIMEOUT_S - 2, "an agent who stops sending 'typing' times out"
    assert all(event["agent"] == AGENT and event["initials"] == "AR" for event in events(page, "agent_typing"))

    page.reload()
    page.locator(".cl-entry .cl-msg.cl-agent").first.wait_for(timeout=WAIT_MS)
    assert page.locator(".cl-system").filter(has_text="Ana joined the chat").count() == 1
    assert page.locator(".cl-entry .cl-avatar").first.inner_text() == "AR"
    assert page.locator(".cl-msg.cl-bot .cl-tag").count() >= 1
    wait_for_the_agent_in_the_header(page)
    assert texts(page).count("I'm looking at your conversation now.") == 1
    # A new conversation (the session expired in another tab): its confirmation, history and state, which
    # counts from (0, 0) again and is not dropped for the old conversation's higher revision.
    page.evaluate("""() => {
      const socket = CarelineChat.socket();
      socket.listeners('session_confirm')[0](localStorage.getItem('careline.session'));
      socket.listeners('history')[0]([]);
      socket.listeners('conversation_state')[0]({waiting: false, team_open: true, eta_minutes: null, back: null,
        agent: null, initials: null, email_known: false, revision: [0, 0]});
    }""")
    assert header_state(page) == "", "nothing in the header while the bot has the new conversation"
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_while_the_connection_is_down_the_header_says_so_and_a_message_waits_marked(system, browser, size):  # noqa: F811
    """With Ana on the conversation: asking for a person and her joining grow the header while the log stays
    at its newest line; then the network goes: the header no longer claims 'Ana Rivera is here', a message
    typed meanwhile says it is not sent yet, and after reconnecting it goes (once), 'Sending…' until the
    server has it (no bot answers while Ana has the conversation: the server's acknowledgement clears it)."""
    context = customer_context(browser, system, **SIZES[size])
    page = open_chat(context, system)
    record_events(page, "conversation_state")
    for question in ("how many days do i have to return something", "how long do refunds take to process"):
        say(page, question)  # enough for the conversation to fill its visible area
    ask_for_a_person(page)
    wait_at_the_bottom(page)
    assert wholly_in_view(page, page.locator(".cl-msg.cl-bot").last), "the handoff message is not cut off"
    conversation = conversation_id(page)
    desk = Desk(system, conversation)
    desk.take()
    joined = page.locator(".cl-system").filter(has_text="Ana joined the chat")
    joined.wait_for(timeout=WAIT_MS)
    wait_for_the_agent_in_the_header(page)
    assert page.locator(".cl-log").evaluate("el => el.scrollHeight > el.clientHeight"), "the log overflows"
    wait_at_the_bottom(page)
    assert wholly_in_view(page, joined), "the header grew, and 'Ana joined the chat' is still in view"
    screenshot(page, f"widget-agent-joined-{size}")

    context.set_offline(True)
    page.evaluate("CarelineChat.socket().io.engine.close()")
    page.wait_for_function("document.querySelector('.cl-state').innerText.startsWith('Not connected')",
                           timeout=WAIT_MS)
    assert "Ana Rivera is here" not in header_state(page) and page.locator(".cl-state .cl-avatar").is_hidden()
    assert page.locator(".cl-status").is_visible(), "and the status line says what happens"
    typed = "are you still there? my connection dropped"
    page.get_by_label("Your message").fill(typed)
    page.get_by_label("Your message").press("Enter")
    mark = page.locator(".cl-pending")
    assert mark.inner_text() == NOT_SENT_YET and wholly_in_view(page, mark)
    assert "cl-unsent" in page.locator(".cl-msg.cl-customer").last.get_attribute("class")
    screenshot(page, f"widget-outage-{size}")
    watch_pending_marks(page)

    context.set_offline(False)
    wait_for_the_agent_in_the_header(page)
    assert page.locator(".cl-state .cl-avatar").inner_text() == "AR", "the header is back"
    mark.wait_for(state="detached", timeout=WAIT_MS)
    assert SENDING in page.evaluate("window.__marks")
    assert "cl-unsent" not in page.locator(".cl-msg.cl-customer").last.get_attribute("class")
    assert page.locator(".cl-status").is_hidden()
    assert _wait_until(lambda: customer_messages(system, conversation, typed) == 1), "it reached the server"
    page.wait_for_timeout(1000)
    assert customer_messages(system, conversation, typed) == 1 and texts(page).count(typed) == 1, "once"
    wait_at_the_bottom(page)
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_the_header_says_when_the_team_is_back_if_the_wait_runs_past_closing(system, browser, size):  # noqa: F811
    """Late in the day the server has no estimate (the wait would run past closing) and says when the team
    is back. The running server reaches that state only near its closing time, so the states are given to
    the page as the server sends them (careline/handoff/customer_view.py)."""
    context = customer_context(browser, system, **SIZES[size])
    page = open_chat(context, system)
    base = {"waiting": True, "team_open": True, "agent": None, "initials": None, "email_known": False}
    late = {**base, "eta_minutes": None, "back": "tomorrow at 8:00 AM EDT"}
    deliver(page, "conversation_state", late)
    assert header_state(page) == waiting_header(late) == \
        "Waiting for the team · if not today, back tomorrow at 8:00 AM EDT"
    state_line = page.locator(".cl-state")
    assert state_line.evaluate("el => el.scrollWidth <= el.clientWidth"), "the whole line shows (it wraps)"
    assert page.locator(".cl-email").is_visible(), "nobody may get to it today: an address for the reply"
    wait_at_the_bottom(page)
    screenshot(page, f"widget-waiting-past-closing-{size}")
    usual = {**base, "eta_minutes": 6, "back": None}
    deliver(page, "conversation_state", usual)
    assert header_state(page) == waiting_header(usual) == "Waiting for the team · about 6 min"
    assert page.locator(".cl-email").is_hidden(), "the team will get to it today: no form"
    unknown = {**base, "eta_minutes": None, "back": None}
    deliver(page, "conversation_state", unknown)
    assert header_state(page) == waiting_header(unknown) == "Waiting for the team"
    deliver(page, "conversation_state", {**base, "waiting": False, "eta_minutes": None, "back": None})
    assert header_state(page) == ""
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_an_unread_badge_while_the_chat_is_closed_and_seen_once_it_is_open(system, browser, size):  # noqa: F811
    context = customer_context(browser, system, **SIZES[size])
    page = open_chat(context, system)
    record_events(page, "bot_uttered")
    ask_for_a_person(page)
    conversation = conversation_id(page)
    desk = Desk(system, conversation)
    launcher = page.locator(".cl-launcher")
    badge = page.locator(".cl-badge")
    assert badge.is_hidden() and launcher.get_attribute("aria-label") == "Chat with us"

    page.get_by_role("button", name="Close chat").click()
    desk.take()  # "Ana joined the chat": a system line, not counted
    desk.reply("Hi, I'm Ana. Are you still there?")
    badge.wait_for(state="visible", timeout=WAIT_MS)
    assert badge.inner_text() == "1" and launcher.get_attribute("aria-label") == "Chat with us, 1 unread"
    desk.reply("I can see your order; one moment please.")
    page.wait_for_function("document.querySelector('.cl-badge').textContent === '2'", timeout=WAIT_MS)
    assert page.get_by_role("button", name="Chat with us, 2 unread").is_visible(), "the badge has a name"
    screenshot(page, f"widget-unread-badge-{size}")
    newest = max(event["at"] for event in events(page, "bot_uttered") if event.get("agent"))
    page.wait_for_timeout(1000)
    seen = _seen_at(system, conversation)
    assert seen is None or seen < newest, "nothing is seen while the chat is closed"

    page.reload()  # another page of the shop: the badge counts what came since the customer last looked
    page.locator(".cl-badge").filter(has_text="2").wait_for(timeout=WAIT_MS)
    assert page.locator(".cl-panel").is_hidden()
    assert page.locator(".cl-launcher").get_attribute("aria-label") == "Chat with us, 2 unread"

    page.get_by_role("button", name="Chat with us, 2 unread").click()
    assert page.locator(".cl-badge").is_hidden()
    assert page.locator(".cl-launcher").get_attribute("aria-label") == "Chat with us"
    assert _wait_until(lambda: (_seen_at(system, conversation) or 0) >= newest - 0.001), "seen once it is open"

    page.evaluate("""() => {  // the customer switches to another tab: the page is hidden
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    record_events(page, "bot_uttered")
    desk.reply("Found it: it is with the carrier.")
    page.wait_for_function("(b => !b.hidden && b.textContent === '1')(document.querySelector('.cl-badge'))",
                           timeout=WAIT_MS)  # counted (on a phone the open chat covers the launcher)
    assert page.locator(".cl-launcher").get_attribute("aria-label") == "Chat with us, 1 unread"
    latest = events(page, "bot_uttered")[-1]["at"]
    page.wait_for_timeout(1000)
    assert (_seen_at(system, conversation) or 0) < latest, "a hidden page has not seen it"
    page.evaluate("""() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_function("document.querySelector('.cl-badge').hidden", timeout=WAIT_MS)
    assert _wait_until(lambda: (_seen_at(system, conversation) or 0) >= latest - 0.001), "seen once back"
    context.close()


def test_the_readme_screenshot(system, browser):  # noqa: F811
    """The shop page with the chat open in a conversation with an agent (README.md shows it)."""
    context = customer_context(browser, system, **DESKTOP)
    page = open_chat(context, system)
    say(page, "where is my order CL-100001")
    say(page, "maria.lopez@example.com")
    page.locator(".cl-msg.cl-bot a").filter(has_text="US").first.wait_for(timeout=WAIT_MS)
    ask_for_a_person(page)
    desk = Desk(system, conversation_id(page))
    desk.take()
    page.locator(".cl-system").first.wait_for(timeout=WAIT_MS)
    agents = count(page, FROM_US)
    desk.reply("Hi Maria, Ana here. Your parcel is with USPS (tracking number US5699252753) and due on "
               "Friday; I'll keep an eye on it for you.")
    wait_for_more(page, FROM_US, agents)
    page.locator(".cl-msg.cl-agent a").filter(has_text="US5699252753").wait_for(timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('.cl-state').innerText.includes('is here')", timeout=WAIT_MS)
    page.locator(".cl-log").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.get_by_label("Your message").blur()
    screenshot(page, "readme-widget")
    context.close()


def test_an_agents_message_reaches_the_customers_screen_within_a_second(system, browser):  # noqa: F811
    """Measured: from the desk's reply (the agent presses send) to the message on the customer's screen.
    The figures go to test-artifacts/widget-latency.json."""
    context = customer_context(browser, system, **DESKTOP)
    page = open_chat(context, system)
    ask_for_a_person(page)
    desk = Desk(system, conversation_id(page))
    desk.take()
    page.evaluate("""() => {  // the wall-clock moment each agent message enters the page
      window.__shown = [];
      new MutationObserver(() => {
        const n = document.querySelectorAll('.cl-msg.cl-agent').length;
        while (window.__shown.length < n) { window.__shown.push(Date.now() / 1000); }
      }).observe(document.querySelector('.cl-log'), { childList: true, subtree: true });
    }""")
    delays = []
    for number in range(1, 6):
        sent = time.time()
        desk.reply(f"Message {number} from Ana.")
        page.wait_for_function("(n) => window.__shown.length >= n", arg=number, timeout=WAIT_MS)
        delays.append(page.evaluate("(n) => window.__shown[n - 1]", number) - sent)
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {"agent_send_to_customer_screen_s": {
        "median": round(statistics.median(delays), 3), "max": round(max(delays), 3),
        "samples": [round(d, 3) for d in delays]}}
    (ARTIFACTS / "widget-latency.json").write_text(json.dumps(figures, indent=2))
    assert 0 < statistics.median(delays) < 1.0 and max(delays) < 3.0, figures
    context.close()

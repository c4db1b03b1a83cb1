"""The website widget in a real browser: opening it, talking in it, reading it (for tests/e2e/test_widget*.py)."""
from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

import requests

from careline.access import webchat
from careline.shared.settings import load_settings
from tests.e2e.browser import DESKTOP, PHONE, SIZES  # noqa: F401 - the sizes every widget test tries

WAIT_MS = 30_000

#: Every message from our side (bot and agents), not system lines or the customer's.
FROM_US = ".cl-msg.cl-bot, .cl-msg.cl-agent"

#: WCAG contrast ratio of two CSS colours (as getComputedStyle gives them), in the page.
CONTRAST_JS = """([a, b]) => {
  const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (css) => {
    const [r, g, b] = rgb(css).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}"""


def page_url(system: Any) -> str:
    return f"{load_settings(environ=system.env).web_url}/"


def new_context(browser: Any, **options: Any) -> Any:
    """A fresh browser profile; the tests' own page scripts need the page CSP bypassed."""
    return browser.new_context(bypass_csp=True, **options)


class ClientAddress:
    """A TCP forwarder to the chat server whose connections come from a loopback address of their own
    (127.x.y.z), as a second customer's browser would: the server counts its budgets (tickets a client
    may open in an hour, messages per address) for it alone, not for every test talking from 127.0.0.1."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.address = f"127.{secrets.randbelow(200) + 50}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 2}"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(self._target, timeout=10, source_address=(self.address, 0))
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()
        for each in self._open:
            each.close()


def own_client(context: Any, system: Any) -> ClientAddress:
    """Make the widget in `context` reach the chat server from an address of its own (see ClientAddress);
    close it after the context."""
    forward = ClientAddress(system.rasa_url)

    def config(route: Any) -> None:
        answer = route.fetch()
        body = answer.text()
        assert system.rasa_url in body, body
        route.fulfill(response=answer, body=body.replace(system.rasa_url, forward.url))

    context.route("**/config.js", config)
    return forward


def customer_context(browser: Any, system: Any, **options: Any) -> Any:
    """A fresh browser profile for one customer whose widget reaches the chat server from an address of
    its own (own_client: what it does in one test, e.g. asking for a person, counts for it alone)."""
    context = new_context(browser, **options)
    forward = own_client(context, system)
    context.on("close", lambda _: forward.close())
    return context


def open_chat(context: Any, system: Any) -> Any:
    """The shop page with the chat open and its session confirmed."""
    page = context.new_page()
    page.goto(page_url(system))
    page.get_by_role("button", name="Chat with us").click()
    page.locator(".cl-msg.cl-bot").first.wait_for(timeout=WAIT_MS)
    page.wait_for_function("localStorage.getItem('careline.session') !== null", timeout=WAIT_MS)
    return page


def count(page: Any, selector: str = ".cl-msg.cl-bot") -> int:
    return int(page.locator(selector).count())


def wait_for_more(page: Any, selector: str, than: int) -> None:
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length > n", arg=[selector, than],
                           timeout=WAIT_MS)


def say(page: Any, text: str, answered_by: str = ".cl-msg.cl-bot") -> None:
    """Type `text`, press Enter and wait for an answer (a new element matching `answered_by`)."""
    before = count(page, answered_by)
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")
    wait_for_more(page, answered_by, before)


def texts(page: Any) -> str:
    return str(page.locator(".cl-log").inner_text())


def conversation_id(page: Any) -> str:
    """The widget's conversation id (Rasa's sender), from the session token it keeps."""
    return webchat.sender_for(page.evaluate("localStorage.getItem('careline.session')"))


def header_state(page: Any) -> str:
    return str(page.locator(".cl-state").inner_text()) if page.locator(".cl-state").is_visible() else ""


def ask_for_a_person(page: Any) -> None:
    """Ask for a person and wait until the header says the team will answer."""
    say(page, "I want to talk to a human")
    page.wait_for_function("!document.querySelector('.cl-state').hidden", timeout=WAIT_MS)


def record_events(page: Any, *names: str) -> None:
    """Keep what the server sends on these socket.io events in `window.__events[name]` (read with `events`)."""
    page.evaluate("""(names) => {
      window.__events = window.__events || {};
      const socket = CarelineChat.socket();
      names.forEach((name) => {
        window.__events[name] = window.__events[name] || [];
        socket.on(name, (data) => window.__events[name].push(data));
      });
    }""", list(names))


def count_acknowledgements(page: Any) -> None:
    """Count in `window.__acked` the server's acknowledgements of the customer's messages the widget has
    handled from now on (read with `wait_for_acknowledgements`)."""
    page.evaluate("""() => {
      const socket = CarelineChat.socket();
      const emit = socket.emit;
      window.__acked = 0;
      socket.emit = function (name, data, ack) {
        if (name !== 'user_uttered' || typeof ack !== 'function') { return emit.apply(this, arguments); }
        return emit.call(this, name, data, function () {
          const handled = ack.apply(this, arguments);
          window.__acked += 1;
          return handled;
        });
      };
    }""")


def wait_for_acknowledgements(page: Any, number: int) -> None:
    page.wait_for_function("(n) => window.__acked >= n", arg=number, timeout=WAIT_MS)


def events(page: Any, name: str) -> list:
    return list(page.evaluate("(name) => (window.__events || {})[name] || []", name))


def contrast(page: Any, first: str, second: str) -> float:
    return float(page.evaluate(CONTRAST_JS, [first, second]))


def style(page: Any, selector: str, prop: str, pseudo: Optional[str] = None) -> str:
    return str(page.locator(selector).first.evaluate(
        "(el, [prop, pseudo]) => getComputedStyle(el, pseudo).getPropertyValue(prop)", [prop, pseudo]))


def waiting_header(state: Dict[str, Any]) -> str:
    """What the header says for a conversation_state the server sent (the widget's showState)."""
    if state["agent"]:
        return f"{state['agent']} is here"
    if state["team_open"]:
        if state["eta_minutes"] is not None:
            return f"Waiting for the team · about {state['eta_minutes']} min"
        if state["back"]:  # the wait would run past closing time: no estimate, when the team is back
            return f"Waiting for the team · if not today, back {state['back']}"
        return "Waiting for the team"
    return "Our team is offline" + (f" · back {state['back']}" if state["back"] else "")


#: The words under a customer's message that has not reached the server.
NOT_SENT_YET = "Not sent yet – will send when the connection is back"
SENDING = "Sending…"
MAY_NOT_HAVE_BEEN_SENT = "This message may not have been sent."


def from_bottom(page: Any) -> float:
    """How far (px) the conversation is scrolled up from its newest line (0: at the bottom)."""
    return float(page.locator(".cl-log").evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight"))


def scroll_top(page: Any) -> float:
    return float(page.locator(".cl-log").evaluate("el => el.scrollTop"))


def wholly_in_view(page: Any, locator: Any) -> bool:
    """Whether the element is entirely inside the conversation's visible area (not cut off, not below it)."""
    return bool(locator.evaluate("""(el) => {
      const log = document.querySelector('.cl-log').getBoundingClientRect();
      const box = el.getBoundingClientRect();
      return box.height > 0 && box.top >= log.top - 1 && box.bottom <= log.bottom + 1;
    }"""))


def deliver(page: Any, event: str, data: Any) -> None:
    """Hand `data` to the page's socket listeners of `event` as if the server had sent it: for what the
    running server cannot be made to send at will (a state it reaches only at some times of day, text
    it never sends). The widget cannot tell the difference."""
    page.evaluate("([event, data]) => CarelineChat.socket().listeners(event).forEach((f) => f(data))",
                  [event, data])


def latest_state(page) -> Dict[str, Any]:
    states = events(page, "conversation_state")
    assert states, "the server tells the widget the conversation's state"
    return states[-1]


def wait_at_the_bottom(page: Any) -> None:
    """Wait (a frame or two: the widget follows size changes as they happen) until the log is at its newest line."""
    page.wait_for_function("""() => {
      const log = document.querySelector('.cl-log');
      return log.scrollHeight - log.scrollTop - log.clientHeight <= 1;
    }""", timeout=2000)


def customer_messages(system: Any, conversation: str, text: str) -> int:
    """How many times the conversation's tracker (Rasa's store) has this message from the customer."""
    tracker = requests.get(f"{system.rasa_url}/conversations/{conversation}/tracker",
                           params={"token": system.token}, timeout=10).json()
    return sum(1 for event in tracker["events"] if event.get("event") == "user" and event.get("text") == text)


#: Remembers in window.__marks every text the pending marks under the customer's messages show from now on.
WATCH_PENDING_MARKS = """() => {
  window.__marks = [];
  new MutationObserver(() => document.querySelectorAll('.cl-pending').forEach(
    (mark) => window.__marks.push(mark.textContent))).observe(
    document.querySelector('.cl-log'), { childList: true, subtree: true, characterData: true });
}"""


def watch_pending_marks(page: Any) -> None:
    """From now on, keep every text a pending mark shows in window.__marks ("Sending…" and the like)."""
    page.evaluate(WATCH_PENDING_MARKS)

"""The workspace's routes over real HTTP: a real desk process (python -m careline.desk) on a real SQLite
store, in front of a local fake of Rasa's HTTP API (the bot server is the outside world here; the
end-to-end tests in tests/e2e/test_desk_workspace.py use the real one).

Banners only from the server; what the customer is told when an agent joins and leaves; the widget
pokes (typing, state), which never fail an agent's action; the lines, notes and live stream of a ticket.
"""
from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from careline.db.engine import make_engine
from careline.desk.auth import Accounts
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.tickets import TicketService
from careline.shared import PROJECT_ROOT
from tests.fakes.server import FakeServer, JsonHandler

TOKEN = "fake-rasa-token-0123456789"
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
T0 = time.time() - 600
EVENTS = [
    {"event": "user", "text": "my lamp arrived broken", "timestamp": T0,
     "parse_data": {"intent": {"name": "request_refund"}, "frustration": {"score": 0.4}}},
    {"event": "bot", "text": "Why would you like a refund?", "timestamp": T0 + 1,
     "data": {"buttons": [{"title": "It arrived damaged", "payload": '/inform{"refund_reason": "damaged"}'}]}},
    {"event": "user", "text": '/inform{"refund_reason": "damaged"}', "timestamp": T0 + 2},
    {"event": "user", "text": "my card is 4111 1111 1111 1111, a person please", "timestamp": T0 + 3,
     "parse_data": {"intent": {"name": "human_handoff"}, "frustration": {"score": 0.9}}},
]


class FakeRasa(FakeServer):
    """Rasa's HTTP API as the desk uses it: trackers, appended events, execute, the widget's agent_event."""

    def __init__(self) -> None:
        self.events: Dict[str, List[dict]] = {}
        self.posted: List[Dict[str, Any]] = []  # (path, params, body) of every POST, in order
        self.down = False  # every call fails
        self.pokes_fail = False  # system lines and agent_event fail (the rest works)
        self.state_pokes_to_fail: Dict[str, int] = {}  # so many of a conversation's next state pokes fail (503)
        self.failed_state_pokes: List[float] = []  # when they came
        self.state_poke_status = 503  # what they are answered
        rasa = self

        class Handler(JsonHandler):
            def _route(self):
                url = urlsplit(self.path)
                return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                path, params = self._route()
                found = re.fullmatch(r"/conversations/([^/]+)/tracker", path)
                if params.get("token") != TOKEN or not found:
                    self.answer(401 if found else 404, {"error": "no"})
                    return
                if rasa.down:
                    self.answer(500, {"error": "down"})
                    return
                conversation = unquote(found.group(1))
                self.answer(200, {"sender_id": conversation, "events": rasa.events.get(conversation, [])})

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                path, params = self._route()
                body = json.loads(self.body() or b"null")
                if params.get("token") != TOKEN:
                    self.answer(401, {"error": "token"})
                    return
                poke = path == "/webhooks/socketio/agent_event" or (
                    isinstance(body, dict) and (body.get("metadata") or {}).get("system"))
                if rasa.down or (rasa.pokes_fail and poke):
                    self.answer(500, {"error": "down"})
                    return
                state_poke = path.endswith("/agent_event") and isinstance(body, dict) and body.get("kind") == "state"
                if state_poke and rasa.state_pokes_to_fail.get(body.get("conversation_id")):
                    rasa.state_pokes_to_fail[body["conversation_id"]] -= 1
                    rasa.failed_state_pokes.append(time.monotonic())
                    self.answer(rasa.state_poke_status, {"error": "no"})
                    return
                rasa.posted.append({"path": path, "params": params, "body": body})
                found = re.fullmatch(r"/conversations/([^/]+)/(tracker/events|execute)", path)
                if found:
                    events = rasa.events.setdefault(unquote(found.group(1)), [])
                    if found.group(2) == "execute":
                        events.append({"event": "bot", "text": "Thanks for waiting, Maria.", "timestamp": time.time()})
                    else:
                        events.extend(body if isinstance(body, list) else [body])
                self.answer(200, {"ok": True})

        super().__init__(Handler)
        self.port = self.server.server_address[1]

    def sent(self, path_end: str) -> List[Dict[str, Any]]:
        return [post for post in self.posted if post["path"].endswith(path_end)]

    def wait_for(self, predicate, timeout: float = 10.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [post for post in list(self.posted) if predicate(post)]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"the fake Rasa never got it; it got {self.posted}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Site:
    """The running desk: its URL, the store, the fake Rasa."""

    def __init__(self, url: str, store_url: str, rasa: FakeRasa) -> None:
        self.url, self.store_url, self.rasa = url, store_url, rasa
        self._count = 0

    def ticket(self, conversation: str = "", order: str = "CL-100001") -> tuple:
        """A new handoff ticket (Maria's order), its conversation in the fake tracker: (ticket id, conversation)."""
        self._count += 1
        conversation = conversation or f"web-{self._count}-{time.time_ns()}"
        self.rasa.events[conversation] = [dict(event) for event in EVENTS]
        engine = make_engine(self.store_url)
        try:
            with engine.connect() as db:
                customer = db.exec_driver_sql("SELECT id FROM customers WHERE email='maria.lopez@example.com'"
                                              ).scalar_one()
            draft = build_ticket(conversation, "socketio", "frustration", EVENTS,
                                 TicketFacts(customer_name="Maria Lopez", order_number=order, order_total=207.0))
            return TicketService(engine).open(draft, f"{conversation}:1", customer_id=customer).id, conversation
        finally:
            engine.dispose()

    def stranger_ticket(self, first_words: str = "my parcel never came") -> tuple:
        """A handoff ticket of a customer who did not verify: (ticket id, conversation)."""
        self._count += 1
        conversation = f"web-stranger-{self._count}-{time.time_ns()}"
        events = [{"event": "user", "text": first_words, "timestamp": T0,
                   "parse_data": {"intent": {"name": "order_status"}}},
                  {"event": "user", "text": "a person please", "timestamp": T0 + 1,
                   "parse_data": {"intent": {"name": "human_handoff"}}}]
        self.rasa.events[conversation] = events
        engine = make_engine(self.store_url)
        try:
            draft = build_ticket(conversation, "socketio", "customer_request", events, TicketFacts())
            return TicketService(engine).open(draft, f"{conversation}:1").id, conversation
        finally:
            engine.dispose()

    def login(self, email: str = "ana@example.test") -> requests.Session:
        http = requests.Session()
        form = http.get(f"{self.url}/login", timeout=10)
        answer = http.post(f"{self.url}/login", allow_redirects=False, timeout=10,
                           data={"csrf": CSRF.search(form.text).group(1), "email": email, "password": PASSWORD})
        assert answer.status_code == 302 and answer.headers["location"] == "/queue", answer.headers
        http.headers["X-CSRF-Token"] = CSRF.search(http.get(f"{self.url}/queue", timeout=10).text).group(1)
        return http


@contextlib.contextmanager
def running_desk(folder: Path, store: Path, rasa: FakeRasa, tracker_url: str) -> Iterator[str]:
    """A real desk process on `store` that asks `rasa` (a fake) for conversations; yields its URL."""
    port = _free_port()
    env = {**os.environ, "CARELINE_STORE_DB_URL": f"sqlite:///{store}", "CARELINE_VAR_DIR": str(folder),
           "CARELINE_TRACKER_DB_URL": tracker_url,
           "CARELINE_RASA_PORT": str(rasa.port), "RASA_AUTH_TOKEN": TOKEN, "CARELINE_DESK_PORT": str(port),
           "CARELINE_HOST": "127.0.0.1", "CARELINE_DESK_SECURE_COOKIES": ""}
    with open(folder / "desk.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "careline.desk", "--port", str(port)],
                                   cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (folder / "desk.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def site(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("desk")
    store = folder / "careline.db"
    shutil.copyfile(store_url[len("sqlite:///"):], store)
    accounts = Accounts(make_engine(f"sqlite:///{store}"))
    accounts.create("ana@example.test", "Ana Rivera", "agent", PASSWORD)
    accounts.create("ben@example.test", "Ben Second", "agent", PASSWORD)
    with FakeRasa() as rasa, running_desk(folder, store, rasa, f"sqlite:///{folder / 'no-tracker-here.db'}") as url:
        yield Site(url, f"sqlite:///{store}", rasa)


def _banner(html: str) -> str:
    found = re.search(r'<p class="flash (?:ok|err)" role="(?:status|alert)" id="flash">([^<]*)</p>', html)
    return found.group(1) if found else ""


# --- banners ---------------------------------------------------------------------------------------


def test_a_link_cannot_put_text_in_a_banner(site):
    ana = site.login()
    for path in ("/queue?err=Your+session+expired,+sign+in+at+evil.example", "/queue?msg=Refund+approved",
                 "/login?err=Your+session+expired", "/tickets/1?err=evil"):
        html = ana.get(f"{site.url}{path}", timeout=10).text
        assert _banner(html) == "" and "evil.example" not in html and "session expired" not in html, path
    anonymous = requests.get(f"{site.url}/login?err=Sign+in+at+evil.example&msg=hi", timeout=10).text
    assert _banner(anonymous) == "" and "evil.example" not in anonymous


def test_the_servers_own_messages_show_once_from_a_signed_httponly_cookie(site):
    http = requests.Session()
    form = http.get(f"{site.url}/login", timeout=10)
    wrong = http.post(f"{site.url}/login", allow_redirects=False, timeout=10, data={
        "csrf": CSRF.search(form.text).group(1), "email": "ana@example.test", "password": "wrong password!"})
    assert wrong.status_code == 302 and wrong.headers["location"] == "/login", "no text in the URL"
    cookie = wrong.headers["set-cookie"].lower()
    assert "careline_desk_flash=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    shown = _banner(http.get(f"{site.url}/login", timeout=10).text)
    assert shown == "That email and password don&#39;t match an account."
    assert _banner(http.get(f"{site.url}/login", timeout=10).text) == "", "shown once"
    http.cookies.set("careline_desk_flash", "eyJraW5kIjoiZXJyIiwidGV4dCI6ImV2aWwifQ.forged")
    assert _banner(http.get(f"{site.url}/login", timeout=10).text) == "", "a cookie the server did not sign: nothing"

    ana = site.login()
    ticket, _ = site.ticket()
    taken = ana.post(f"{site.url}/tickets/{ticket}/take", data={"csrf": ana.headers["X-CSRF-Token"]},
                     allow_redirects=False, timeout=30)
    assert taken.status_code == 302 and taken.headers["location"] == f"/tickets/{ticket}"
    assert _banner(ana.get(f"{site.url}/tickets/{ticket}", timeout=10).text) == "The conversation is yours."
    refused = ana.post(f"{site.url}/tickets/{ticket}/reply", data={"csrf": ana.headers["X-CSRF-Token"], "text": " "},
                       allow_redirects=False, timeout=30)
    assert refused.headers["location"] == f"/tickets/{ticket}"
    assert _banner(ana.get(f"{site.url}/tickets/{ticket}", timeout=10).text) == "the reply is empty"
    out = ana.post(f"{site.url}/logout", data={"csrf": ana.headers["X-CSRF-Token"]}, allow_redirects=False, timeout=10)
    assert out.headers["location"] == "/login"
    assert _banner(ana.get(f"{site.url}/login", timeout=10).text) == "You are signed out."


# --- what the customer is told, the widget pokes ------------------------------------------------------------


def _system_lines(site, conversation):
    return site.rasa.wait_for(lambda post: post["path"] == f"/conversations/{conversation}/tracker/events"
                              and isinstance(post["body"], dict) and (post["body"].get("metadata") or {}).get("system"))


def _state_pokes(site, conversation):
    return site.rasa.wait_for(lambda post: post["path"] == "/webhooks/socketio/agent_event"
                              and post["body"].get("conversation_id") == conversation
                              and post["body"]["kind"] == "state")


def test_taking_a_conversation_tells_the_customer_who_joined_and_pokes_the_widget(site):
    ana = site.login()
    ticket, conversation = site.ticket()
    assert ana.post(f"{site.url}/tickets/{ticket}/take", json={}, headers={"Accept": "application/json"},
                    timeout=30).json()["ok"]
    told = [post for post in list(site.rasa.posted) if post["path"] == f"/conversations/{conversation}/tracker/events"]
    assert len(told) == 1, "told before the take answers: 'joined' comes before anything the agent sends next"
    [joined] = _system_lines(site, conversation)
    assert joined["body"]["metadata"] == {"agent": "Ana Rivera", "system": "joined"}
    assert joined["body"]["text"] == "Ana joined the chat" and joined["body"]["event"] == "bot"
    assert joined["params"]["output_channel"] == "latest" and joined["params"]["execute_side_effects"] == "true"
    poke = _state_pokes(site, conversation)[0]["body"]
    assert poke == {"conversation_id": conversation, "kind": "state", "agent": "Ana Rivera"}
    assert ana.post(f"{site.url}/tickets/{ticket}/take", json={}, headers={"Accept": "application/json"},
                    timeout=30).json()["ok"]
    time.sleep(0.5)
    assert len(_system_lines(site, conversation)) == 1, "taking your own ticket again is not news"


def test_the_first_reply_joins_first_and_resolving_says_who_left_before_the_bot_is_back(site):
    ana = site.login()
    ticket, conversation = site.ticket()
    assert ana.post(f"{site.url}/tickets/{ticket}/reply", json={"text": "Hi Maria, Ana here."},
                    timeout=30).json()["message"] == "Sent."
    posts = [p["body"] for p in site.rasa.posted if p["path"].startswith(f"/conversations/{conversation}/")]
    assert [(b.get("metadata") or {}).get("system") for b in posts[:2]] == ["joined", None]
    assert posts[1]["text"] == "Hi Maria, Ana here." and posts[1]["metadata"] == {"agent": "Ana Rivera"}
    assert ana.post(f"{site.url}/tickets/{ticket}/resolve", json={}, timeout=30).json()["ok"]
    posts = [p for p in site.rasa.posted if p["path"].startswith(f"/conversations/{conversation}/")]
    left = [i for i, p in enumerate(posts) if isinstance(p["body"], dict)
            and (p["body"].get("metadata") or {}).get("system") == "left"]
    handback = [i for i, p in enumerate(posts) if p["path"].endswith("/execute")]
    assert left and handback and left[0] < handback[0], "who left, then the bot's own words"
    assert posts[left[0]]["body"]["text"] == "Ana handed the chat back to the assistant"
    view = ana.get(f"{site.url}/api/tickets/{ticket}", timeout=30).json()
    texts = [line["text"] for line in view["lines"]]
    assert texts[-4:] == ["Ana Rivera joined", "Hi Maria, Ana here.", "Ana Rivera handed back to the bot",
                          "Thanks for waiting, Maria."], texts
    assert "Ana joined the chat" not in texts, "the tracker's system lines are the widget's; the desk has its own"


def test_closing_is_told_by_the_bot_not_as_a_left_line(site):
    ana = site.login()
    ticket, conversation = site.ticket()
    assert ana.post(f"{site.url}/tickets/{ticket}/close", json={}, timeout=30).json()["ok"]
    _state_pokes(site, conversation)
    systems = [p["body"]["metadata"]["system"] for p in site.rasa.posted
               if p["path"] == f"/conversations/{conversation}/tracker/events" and isinstance(p["body"], dict)
               and (p["body"].get("metadata") or {}).get("system")]
    assert systems == [], "closing: the bot's action_handback says it"
    assert site.rasa.sent(f"/conversations/{conversation}/execute")


def test_typing_reaches_the_widget_only_from_an_agent_who_may_act_and_not_too_often(site):
    ana, ben = site.login(), site.login("ben@example.test")
    ticket, conversation = site.ticket()
    url = f"{site.url}/tickets/{ticket}/typing"
    no_csrf = requests.post(url, json={"typing": True}, cookies=ana.cookies, timeout=10)
    assert no_csrf.status_code == 403 and no_csrf.json()["error"] == "bad_csrf_token"
    assert ana.post(url, json={"typing": "yes"}, timeout=10).status_code == 400
    assert ana.post(f"{site.url}/tickets/987654/typing", json={"typing": True}, timeout=10).status_code == 404
    answer = ana.post(url, json={"typing": True}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"ok": True, "delivered": True}
    poke = site.rasa.wait_for(lambda p: p["path"] == "/webhooks/socketio/agent_event"
                              and p["body"]["conversation_id"] == conversation and p["body"]["kind"] == "typing")
    assert poke[0]["body"] == {"conversation_id": conversation, "kind": "typing", "agent": "Ana Rivera",
                               "typing": True}
    assert ana.post(url, data={"typing": "0"}, timeout=10).json()["ok"], "a form works too"
    assert ana.post(f"{site.url}/tickets/{ticket}/take", json={}, timeout=30).json()["ok"]
    refused = ben.post(url, json={"typing": True}, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"] == "not_your_ticket"
    answers = [ana.post(url, json={"typing": True}, timeout=10).status_code for _ in range(6)]
    assert 429 in answers, answers
    limited = ana.post(url, json={"typing": True}, timeout=10)
    assert limited.status_code == 429 and limited.json()["retry_after_s"] > 0
    pokes = [p for p in site.rasa.posted if p["path"] == "/webhooks/socketio/agent_event"
             and p["body"]["conversation_id"] == conversation and p["body"]["kind"] == "typing"]
    assert len(pokes) <= 6, "the limit holds what reaches the bot server"
    assert ana.post(f"{site.url}/tickets/{ticket}/resolve", json={}, timeout=30).json()["ok"]
    assert ana.post(url, json={"typing": True}, timeout=10).status_code == 400, "not on a finished ticket"


def test_the_pokes_failing_never_fail_the_agents_action(site):
    ana = site.login()
    ticket, conversation = site.ticket()
    site.rasa.pokes_fail = True
    try:
        assert ana.post(f"{site.url}/tickets/{ticket}/take", json={}, timeout=30).json()["ok"]
        assert ana.post(f"{site.url}/tickets/{ticket}/reply", json={"text": "Still here."}, timeout=30).json()["ok"]
        typing = ana.post(f"{site.url}/tickets/{ticket}/typing", json={"typing": True}, timeout=30)
        assert typing.status_code == 200 and typing.json()["delivered"] is False
        assert ana.post(f"{site.url}/tickets/{ticket}/resolve", json={}, timeout=30).json()["ok"]
    finally:
        site.rasa.pokes_fail = False
    assert [p["body"]["text"] for p in site.rasa.posted
            if p["path"] == f"/conversations/{conversation}/tracker/events" and isinstance(p["body"], dict)] == \
        ["Still here."]
    kinds = [e["kind"] for e in ana.get(f"{site.url}/api/tickets/{ticket}", timeout=30).json()["events"]]
    assert kinds == ["take", "reply", "handback"]


def test_a_state_poke_that_fails_is_sent_again_until_the_widget_has_it(site):
    """Nothing else brings the widget's header up to date ("Ana Rivera is here"): a failed state poke goes
    again, after 1 s and 2 s, in the background (the agent's action answers at once)."""
    ana = site.login()
    ticket, conversation = site.ticket()
    site.rasa.state_pokes_to_fail[conversation] = 2
    state = {"conversation_id": conversation, "kind": "state", "agent": "Ana Rivera"}

    def state_pokes() -> List[Dict[str, Any]]:
        return [p for p in list(site.rasa.posted) if p["path"] == "/webhooks/socketio/agent_event"
                and p["body"] == state]
    assert ana.post(f"{site.url}/tickets/{ticket}/take", json={}, timeout=30).json()["ok"]
    assert state_pokes() == [], "the agent does not wait for the pokes"
    poke = site.rasa.wait_for(lambda p: p["path"] == "/webhooks/socketio/agent_event" and p["body"] == state)
    arrived = time.monotonic()
    first, second = site.rasa.failed_state_pokes
    assert len(poke) == 1 and site.rasa.state_pokes_to_fail[conversation] == 0
    assert second - first >= 0.9 and arrived - second >= 1.9, "1 s, then 2 s between the attempts"

    site.rasa.failed_state_pokes.clear()
    site.rasa.state_poke_status, site.rasa.state_pokes_to_fail[conversation] = 400, 5
    try:
        assert ana.post(f"{site.url}/tickets/{ticket}/reply", json={"text": "On it."}, timeout=30).json()["ok"]
        deadline = time.monotonic() + 10
        while not site.rasa.failed_state_pokes and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        assert len(site.rasa.failed_state_pokes) == 1 and len(state_pokes()) == 1, "a refusal is not sent again"
    finally:
        site.rasa.state_poke_status, site.rasa.state_pokes_to_fail[conversation] = 503, 0


# --- the ticket's lines, notes, queue filters and live stream ------------------------------------------------


def test_the_ticket_shows_what_people_saw_redacted_with_notes_apart(site):
    ana = site.login()
    ticket, conversation = site.ticket()
    assert ana.post(f"{site.url}/tickets/{ticket}/note", json={"text": "Call her back on +1 415 555 0134"},
                    timeout=30).json()["message"] == "Note added."
    view = ana.get(f"{site.url}/api/tickets/{ticket}", timeout=30).json()
    lines = view["lines"]
    assert [(line["who"], line["text"]) for line in lines] == [
        ("Customer", "my lamp arrived broken"), ("Bot", "Why would you like a refund?"),
        ("Customer", "It arrived damaged"), ("Customer", "my card is [card number], a person please")]
    assert lines[1]["buttons"] == ["It arrived damaged"] and all(line["iso"] for line in lines)
    assert view["saved_copy"] is False
    assert [note["text"] for note in view["notes"]] == ["Call her back on [phone number]"]
    assert "Call her back" not in json.dumps(lines)
    page = ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text
    assert "/inform" not in page and "4111" not in page and "It arrived damaged" in page
    assert page.index('id="transcript"') < page.index("my lamp arrived broken") < page.index('id="notes"')
    assert page.index('id="notes"') < page.index("Call her back on [phone number]")


def test_saved_replies_are_filled_on_the_server_for_this_ticket(site):
    ana = site.login()
    ticket, _ = site.ticket()
    page = ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text
    assert 'data-text="Hi Maria, I&#39;m Ana from the Harbor &amp; Pine team.' in page
    assert "{first_name}" not in page and "{agent_first_name}" not in page
    assert 'data-shortcut="1"' in page and "Alt+1" in page


def test_while_the_bot_server_is_down_the_saved_transcript_shows_with_a_notice(site):
    ana = site.login()
    ticket, _ = site.ticket()
    site.rasa.down = True
    try:
        view = ana.get(f"{site.url}/api/tickets/{ticket}", timeout=30).json()
        page = ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text
    finally:
        site.rasa.down = False
    assert view["saved_copy"] is True and view["live"] is None
    assert [line["text"] for line in view["lines"]][0] == "my lamp arrived broken"
    assert re.search(r'<p class="flash err" id="saved-copy">The bot server is not answering', page)


def test_the_queue_filters_mine_and_unassigned(site):
    ana, ben = site.login(), site.login("ben@example.test")
    mine, _ = site.ticket()
    theirs, _ = site.ticket()
    nobodys, _ = site.ticket()
    assert ana.post(f"{site.url}/tickets/{mine}/take", json={}, timeout=30).json()["ok"]
    assert ben.post(f"{site.url}/tickets/{theirs}/take", json={}, timeout=30).json()["ok"]

    def ids(show):
        return {item["ticket_id"] for item in ana.get(f"{site.url}/api/queue?show={show}", timeout=30).json()}
    assert mine in ids("mine") and theirs not in ids("mine") and nobodys not in ids("mine")
    assert nobodys in ids("unassigned") and mine not in ids("unassigned") and theirs not in ids("unassigned")
    assert {mine, theirs, nobodys} <= ids("all") and ids("all") == ids("whatever")
    item = next(i for i in ana.get(f"{site.url}/api/queue", timeout=30).json() if i["ticket_id"] == mine)
    assert (item["channel_name"], item["reason_title"], item["waiting"]) == ("Website chat", "Frustrated customer",
                                                                               "under 1 min")
    page = ana.get(f"{site.url}/queue?show=mine", timeout=30).text
    assert f'data-ticket="{mine}"' in page and f'data-ticket="{theirs}"' not in page
    assert re.search(r'href="/queue\?show=mine" class="filter-mine" aria-current="page"', page)


def test_the_ticket_stream_sends_a_snapshot_the_next_message_and_the_queue(site):
    ana = site.login()
    ticket, conversation = site.ticket()
    seen: Dict[str, List[dict]] = {"ticket": [], "queue": []}
    opened: List[str] = []

    def listen() -> None:
        with ana.get(f"{site.url}/api/tickets/{ticket}/stream?show=unassigned", stream=True, timeout=30) as stream:
            opened.append(stream.headers.get("content-type", ""))
            name = ""
            for line in stream.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    seen[name].append(json.loads(line[len("data: "):]))
                    if len(seen["ticket"]) >= 2:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not seen["ticket"] and time.monotonic() < deadline:
        time.sleep(0.05)
    site.rasa.events[conversation].append({"event": "user", "text": "hello? anyone?", "timestamp": time.time()})
    thread.join(15)
    assert opened == ["text/event-stream"]
    first, second = seen["ticket"][:2]
    assert first["ticket"]["id"] == ticket and len(first["lines"]) == 4
    assert second["lines"][-1]["text"] == "hello? anyone?", "without a tracker store to watch, it reloads"
    assert seen["queue"], "the workspace's queue pane rides on the same connection"
    assert ticket in [item["ticket_id"] for item in seen["queue"][0]]
    assert all(item["assigned_to"] is None for item in seen["queue"][0]), "as the agent filters it"
    assert ana.get(f"{site.url}/api/tickets/987654/stream", timeout=10).status_code == 404


# --- the workspace page as the newcomer's review asked ------------------------------------------------------


def test_unverified_customers_have_a_detail_that_tells_them_apart_in_the_queue_and_the_pane(site):
    ana = site.login()
    first, first_conversation = site.stranger_ticket("my parcel never came, mail x@example.com")
    second, _ = site.stranger_ticket("the lamp is broken")
    items = {item["ticket_id"]: item for item in ana.get(f"{site.url}/api/queue", timeout=30).json()}
    assert items[first]["detail"].endswith("“my parcel never came, mail [email]”")
    assert items[second]["detail"].endswith("“the lamp is broken”")
    assert items[first]["detail"] != items[second]["detail"]
    for path in ("/queue", f"/tickets/{second}"):
        page = ana.get(f"{site.url}{path}", timeout=30).text
        assert "my parcel never came, mail [email]" in page and "the lamp is broken" in page
        assert "x@example.com" not in page and first_conversation not in page
    queue = ana.get(f"{site.url}/queue", timeout=30).text
    assert re.search(r'<td data-label="Why">', queue) and 'data-label="Customer"' in queue, "cells named for the cards"


def test_the_header_close_asks_for_confirmation_and_the_reply_box_cuts_nothing(site):
    ana = site.login()
    ticket, _ = site.ticket()
    page = ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text
    start = page.index('<div class="conv-actions">')
    header = page[start:page.index("</header>", start)]
    assert re.search(r"<summary[^>]*>Close conversation</summary>", header), "named apart from the money panel's"
    assert re.search(rf'<form method="post" action="/tickets/{ticket}/close"[^>]*>.*?Confirm close</button>', header,
                     re.S), "a second step inside the opened disclosure"
    textarea = re.search(r"<textarea[^>]*>", page).group(0)
    assert "maxlength" not in textarea and 'data-max="2000"' in textarea, "never cut: refused with the reason"
    assert 'id="composer-count"' in page and 'id="composer-too-long"' in page
    assert '<a class="to-queue" href="#queue-pane">' in page and 'id="queue-pane"' in page


def test_a_finished_tickets_note_box_has_no_empty_button_group_and_the_history_is_in_words(site):
    ana = site.login()
    ticket, _ = site.stranger_ticket()
    TicketService(make_engine(site.store_url)).leave_contact(ticket, "stranger@example.com")
    assert ana.post(f"{site.url}/tickets/{ticket}/reply", json={"text": "Hi, Ana here."}, timeout=30).json()["ok"]
    assert ana.post(f"{site.url}/tickets/{ticket}/close", json={}, timeout=30).json()["ok"]
    page = ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text
    composer = page[page.index('id="composer"'):page.index("</form>", page.index('id="composer"'))]
    assert 'class="modes"' not in composer and "mode-tab" not in composer, "only the note box: no mode buttons"
    history = page[page.index('id="history"'):]
    history = history[:history.index("</ul>")]
    assert "None" not in history and "contact email" not in history and "stranger@example.com" not in history
    for said in ("The customer left an email address for the reply (replies they do not see go there too).",
                 "Ana Rivera took the conversation by sending the first reply",
                 "Ana Rivera replied: “Hi, Ana here.”", "Ana Rivera closed the conversation"):
        assert html.escape(said) in history, said

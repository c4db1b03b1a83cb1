"""The website widget's socket.io protocol against the whole running system (python-socketio as the widget).

What the server says about each message (who is talking, when, tracking numbers as links), the desk's
pokes (`POST /webhooks/socketio/agent_event`, only with the Rasa token, only to that conversation), the
conversation's state, and the `seen` marks: an agent reply the widget showed is not emailed, one the
customer missed is (the worker's unseen-replies job, a grace period of 3 s here, the fake SMTP server).
"""
from __future__ import annotations

import json
import queue
import sqlite3
import time
import uuid
from datetime import datetime, timezone
from typing import Any, List, Optional, Tuple

import pytest
import requests
import socketio

from careline.access import webchat
from careline.shared.settings import load_settings
from tests.e2e.desk_client import DeskClient
from tests.e2e.out_of_hours import OUT_OF_HOURS_ENV

pytestmark = pytest.mark.e2e

#: A system of its own (shared with the widget's out-of-hours test): agent replies left unseen for 3 s go
#: by email, and the team is out of hours.
SYSTEM_ENV = OUT_OF_HOURS_ENV
WAIT_S = 60
UPS_PAGE = "https://www.ups.com/track?loc=en_US&tracknum="


class Widget:
    """What the chat widget does, with python-socketio instead of a browser; keeps every event it gets."""

    NAMES = ("session_confirm", "history", "bot_uttered", "conversation_state", "agent_typing", "session_required")

    def __init__(self, system: Any) -> None:
        self.settings = load_settings(environ=system.env)
        self.events: queue.Queue[Tuple[str, Any, float]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        for name in self.NAMES:
            self.sio.on(name, lambda data=None, name=name: self.events.put((name, data, time.monotonic())))
        self.sio.connect(self.settings.rasa_url, socketio_path="/socket.io", transports=["polling"],
                         headers={"Origin": self.settings.web_url}, wait_timeout=WAIT_S)
        self.token = ""
        self.sender = ""

    def expect(self, name: str, timeout_s: float = WAIT_S) -> Tuple[Any, float]:
        """The next `name` event and when it came (others before it are dropped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            got, data, at = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if got == name:
                return data, at

    def quiet(self, seconds: float) -> List[Tuple[str, Any]]:
        """Everything that arrives within `seconds`."""
        got: List[Tuple[str, Any]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                name, data, _ = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            got.append((name, data))
        return got

    def start(self, token: Optional[str] = None) -> Tuple[List[dict], dict]:
        """session_request: the history and the state that follow it."""
        self.sio.emit("session_request", {"session_id": token})
        self.token = self.expect("session_confirm")[0]
        self.sender = webchat.sender_for(self.token)
        history = self.expect("history")[0]
        return history, self.expect("conversation_state")[0]

    def say(self, text: str) -> Tuple[List[dict], dict]:
        """The bot's messages for `text` and the state the server sends once it is handled."""
        self.sio.emit("user_uttered", {"message": text})
        messages: List[dict] = []
        while True:
            name, data, _ = self.events.get(timeout=WAIT_S)
            if name == "bot_uttered":
                messages.append(data)
            elif name == "conversation_state":
                return messages, data

    def close(self) -> None:
        self.sio.eio.disconnect(abort=True)


@pytest.fixture
def widget(system):
    opened: List[Widget] = []

    def make() -> Widget:
        opened.append(Widget(system))
        return opened[-1]

    yield make
    for each in opened:
        each.close()


def _poke(system, body: Any, token: Optional[str] = "ok", raw: Optional[bytes] = None) -> requests.Response:
    params = {} if token is None else {"token": system.token if token == "ok" else token}
    return requests.post(f"{system.rasa_url}/webhooks/socketio/agent_event", params=params, timeout=10,
                         data=raw if raw is not None else json.dumps(body),
                         headers={"Content-Type": "application/json"})


def _bot_event(system, sender: str, text: str, metadata: dict) -> float:
    """Post a bot event as the desk does (latest channel, side effects): the widget gets it live."""
    at = time.time()
    answer = requests.post(f"{system.rasa_url}/conversations/{sender}/tracker/events", timeout=30,
                           params={"token": system.token, "output_channel": "latest", "execute_side_effects": "true"},
                           json={"event": "bot", "text": text, "timestamp": at, "metadata": metadata})
    assert answer.status_code == 200, answer.text
    return at


def test_the_poke_route_needs_the_rasa_token_and_a_well_formed_body(system):
    state = {"conversation_id": "web-" + "0" * 40, "kind": "state"}
    assert _poke(system, state, token=None).status_code == 401
    assert _poke(system, state, token=system.token[:-1] + ("x" if system.token[-1] != "x" else "y")).status_code == 401
    assert _poke(system, state, token="short").status_code == 401
    assert _poke(system, state, token=system.rest_token).status_code == 401, "the REST credential is not the token"
    assert requests.get(f"{system.rasa_url}/webhooks/socketio/agent_event", params={"token": system.token},
                        timeout=10).status_code == 405
    for bad in ({"kind": "state"}, {"conversation_id": "web-x", "kind": "delete"},
                {"conversation_id": "web-x", "kind": "typing", "agent": "Ana"}, [state], "state"):
        answer = _poke(system, bad)
        assert answer.status_code == 400 and answer.json() == {"error": "bad_request"}, bad
    assert _poke(system, None, raw=b"{not json").status_code == 400
    assert _poke(system, None, raw=b'{"a": "\\ud800"}').status_code == 400
    assert _poke(system, None, raw=json.dumps({**state, "pad": "x" * 4000}).encode()).status_code == 413
    assert _poke(system, state).json() == {"ok": True}
    assert _poke(system, {"conversation_id": "fb-123", "kind": "state"}).json() == {"ok": True}, \
        "other channels' conversations have no widget: nothing to do"


def test_a_typing_poke_and_a_state_poke_reach_only_that_conversations_sockets(system, widget):
    customer, other_tab, stranger = widget(), widget(), widget()
    customer.start()
    other_tab.start(customer.token)
    stranger.start()
    assert other_tab.sender == customer.sender != stranger.sender
    typing = {"conversation_id": customer.sender, "kind": "typing", "agent": "Ana Rivera", "typing": True}
    assert _poke(system, typing).status_code == 200
    for tab in (customer, other_tab):
        assert tab.expect("agent_typing", 10)[0] == {"agent": "Ana Rivera", "initials": "AR", "typing": True}
    assert _poke(system, {**typing, "typing": False}).status_code == 200
    assert customer.expect("agent_typing", 10)[0]["typing"] is False
    assert _poke(system, {"conversation_id": customer.sender, "kind": "state"}).status_code == 200
    state = customer.expect("conversation_state", 10)[0]
    assert set(state) == {"waiting", "team_open", "eta_minutes", "back", "agent", "initials", "email_known",
                          "revision"}
    assert state["waiting"] is False and state["revision"] == [0, 0], "no ticket yet"
    assert stranger.quiet(3) == [], "nothing of another conversation reaches this one"


def test_an_agents_message_says_who_sent_it_and_the_history_has_roles_times_and_links(system, widget):
    customer, stranger = widget(), widget()
    customer.start()
    stranger.start()
    said, _ = customer.say("hello")
    assert said and all(isinstance(m.get("at"), float) and "agent" not in m for m in said), "the bot's own: a time"
    joined_at = _bot_event(system, customer.sender, "Ana joined the chat", {"agent": "Ana Rivera", "system": "joined"})
    joined = customer.expect("bot_uttered", 30)[0]
    assert (joined["text"], joined["agent"], joined["initials"], joined["system"]) == \
        ("Ana joined the chat", "Ana Rivera", "AR", "joined")
    assert joined["at"] == pytest.approx(joined_at)
    text = "Hi, Ana here. It left with UPS (tracking number UP1234567890) this morning."
    reply_at = _bot_event(system, customer.sender, text, {"agent": "Ana Rivera"})
    reply = customer.expect("bot_uttered", 30)[0]
    assert (reply["text"], reply["agent"], reply["initials"], reply["at"]) == (text, "Ana Rivera", "AR",
                                                                              pytest.approx(reply_at))
    assert "system" not in reply
    assert reply["links"] == [{"text": "UP1234567890", "url": UPS_PAGE + "UP1234567890"}]
    assert stranger.quiet(2) == [], "another conversation's socket gets none of it"

    again = widget()
    history, state = again.start(customer.token)
    assert [item["role"] for item in history][:1] == ["customer"] and history[0]["text"] == "hello"
    assert [item["role"] for item in history][-2:] == ["system", "agent"]
    assert history[-2]["system"] == "joined" and history[-2]["initials"] == "AR"
    assert history[-1]["links"] == reply["links"] and history[-1]["at"] == pytest.approx(reply_at)
    assert all(isinstance(item["at"], float) for item in history)
    assert all("intent" not in item and "frustration" not in item for item in history)
    assert state["waiting"] is False


def _seen_mark(system, sender: str) -> Optional[float]:
    """The conversation's seen mark in the store (Unix seconds), or None."""
    with sqlite3.connect(system.var_dir / "careline.db") as db:
        row = db.execute("SELECT seen_at FROM seen_marks WHERE conversation_id = ?", (sender,)).fetchone()
    return None if row is None else datetime.fromisoformat(str(row[0])).replace(tzinfo=timezone.utc).timestamp()


def test_seen_marks_take_their_turn_never_run_ahead_of_now_and_never_go_back(system, widget):
    customer = widget()
    customer.start()
    said, _ = customer.say("hello")
    newest = said[-1]["at"]
    for junk in ({"at": "soon"}, {"at": None}, {}, "x", {"at": float("inf")}):
        customer.sio.emit("seen", junk)
    customer.sio.emit("seen", {"at": newest - 30})  # an older message on screen: written at once
    deadline = time.monotonic() + 10
    while _seen_mark(system, customer.sender) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _seen_mark(system, customer.sender) == pytest.approx(newest - 30, abs=0.001)
    customer.sio.emit("seen", {"at": newest - 20})
    customer.sio.emit("seen", {"at": newest + 86_400})  # "tomorrow": the newest message, and nothing later
    time.sleep(0.5)
    assert _seen_mark(system, customer.sender) == pytest.approx(newest - 30, abs=0.001), \
        "at most one write every 2 s per conversation: the later marks wait for their turn"
    time.sleep(2.5)
    written = _seen_mark(system, customer.sender)
    assert newest <= written <= time.time(), "the newest message was on screen: seen up to then, never the future"
    customer.sio.emit("seen", {"at": newest - 100})
    time.sleep(2.5)
    assert _seen_mark(system, customer.sender) == written, "an old tab cannot un-see"
    assert customer.say("are you still there?")[0], "the socket lives on after junk marks"


class SeenWrites:
    """Counts the writes of `seen_marks` rows in the system's store (a trigger of the test's own)."""

    def __init__(self, system: Any) -> None:
        self.path = system.var_dir / "careline.db"

    def __enter__(self) -> SeenWrites:
        with sqlite3.connect(self.path, timeout=30) as db:
            db.executescript("""
                CREATE TABLE IF NOT EXISTS test_seen_writes (conversation_id TEXT, seen_at TEXT);
                CREATE TRIGGER IF NOT EXISTS test_seen_insert AFTER INSERT ON seen_marks
                    BEGIN INSERT INTO test_seen_writes VALUES (NEW.conversation_id, NEW.seen_at); END;
                CREATE TRIGGER IF NOT EXISTS test_seen_update AFTER UPDATE ON seen_marks
                    BEGIN INSERT INTO test_seen_writes VALUES (NEW.conversation_id, NEW.seen_at); END;
            """)
        return self

    def of(self, sender: str) -> List[str]:
        with sqlite3.connect(self.path, timeout=30) as db:
            return [row[0] for row in db.execute("SELECT seen_at FROM test_seen_writes WHERE conversation_id = ?",
                                                 (sender,))]

    def __exit__(self, *_: Any) -> None:
        with sqlite3.connect(self.path, timeout=30) as db:
            db.executescript("""
                DROP TRIGGER IF EXISTS test_seen_insert; DROP TRIGGER IF EXISTS test_seen_update;
                DROP TABLE IF EXISTS test_seen_writes;
            """)


def _reply_time(probes: List[Widget]) -> float:
    """Seconds from a customer's message to the bot's answer on their socket (the probes take turns:
    each conversation has its own message budget, careline.shared.ratelimit)."""
    probes.append(probes.pop(0))
    started = time.monotonic()
    said, _ = probes[0].say("hello")
    assert said
    return time.monotonic() - started


def test_many_sockets_on_one_session_sending_seen_make_one_write_per_interval_and_the_bot_stays_fast(
        system, widget):
    """The review's attack: forty sockets on one session, each sending `seen` every half second."""
    customer, probes = widget(), [widget() for _ in range(4)]
    customer.start()
    said, _ = customer.say("hello")
    newest = said[-1]["at"]
    for probe in probes:
        probe.start()
    _reply_time(probes)  # warm
    before = sorted(_reply_time(probes) for _ in range(3))[1]
    tabs = [widget() for _ in range(40)]
    for tab in tabs:
        tab.start(customer.token)
    with SeenWrites(system) as writes:
        during: List[float] = []
        started = time.monotonic()
        flood_s = 10.0
        next_probe = started + 1
        while time.monotonic() - started < flood_s:
            for tab in tabs:
                tab.sio.emit("seen", {"at": time.time()})  # "the newest message on screen", ever newer
            if time.monotonic() >= next_probe:
                during.append(_reply_time(probes))
                next_probe = time.monotonic() + 1
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        time.sleep(2.5)  # the last mark's turn
        written = writes.of(customer.sender)
    marks = 40 * int(flood_s / 0.5)
    print(f"\nseen flood: {marks} marks from 40 sockets in {elapsed:.1f} s -> {len(written)} writes; "
          f"bot reply {before * 1000:.0f} ms before, {', '.join(f'{d * 1000:.0f}' for d in during)} ms during")
    assert 1 <= len(written) <= elapsed / 2.0 + 2, "at most one write per conversation every 2 s"
    assert newest <= _seen_mark(system, customer.sender) <= time.time(), "never ahead of now"
    assert during and max(during) < max(2 * before, before + 1.0), (before, during)
    assert tabs[0].say("still there?")[0], "the sockets live on"


def _wait_for_ticket(desk: DeskClient, sender: str) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:
            return desk.ticket_of(sender)
        except StopIteration:
            assert time.monotonic() < deadline, "the handoff's ticket reaches the desk's queue"
            time.sleep(0.5)


def _waiting_with_an_address(customer: Widget, email: str) -> dict:
    _, handed = customer.say("I want to talk to a human")
    assert handed["waiting"] is True and handed["email_known"] is False and handed["agent"] is None
    assert handed["eta_minutes"] or handed["back"], "how long, or when the team is back"
    _, noted = customer.say(f"you can email me at {email}")
    assert noted["waiting"] is True and noted["email_known"] is True, "the address left while waiting is known"
    assert handed["revision"] == [1, 0] and noted["revision"] == [1, 1], \
        "each change labels a newer state, counted in this conversation (no global ticket or event ids)"
    return noted


def test_a_reply_the_customer_saw_is_not_emailed_and_a_missed_one_is(system, widget):
    seer, misser = widget(), widget()
    seer.start()
    misser.start()
    seer_email, misser_email = (f"{who}-{uuid.uuid4().hex[:8]}@example.net" for who in ("seer", "misser"))
    noted = _waiting_with_an_address(seer, seer_email)
    _waiting_with_an_address(misser, misser_email)
    desk = DeskClient(system)
    tickets = {widget_: _wait_for_ticket(desk, widget_.sender) for widget_ in (seer, misser)}
    delays = []
    for customer in (seer, misser):
        sent = time.monotonic()
        answer = desk.post(f"/tickets/{tickets[customer]}/reply", {"text": f"Hi, Ana here for {customer.sender}."})
        assert answer.status_code < 400, answer.text
        while True:
            message, arrived = customer.expect("bot_uttered", 30)
            if message.get("agent") and not message.get("system"):
                break
        assert message["agent"] == "Ana Rivera" and message["initials"] == "AR"
        delays.append(arrived - sent)
        if customer is seer:  # the widget shows it and says so
            seer.sio.emit("seen", {"at": message["at"]})
    print(f"\nagent send -> customer's socket: {', '.join(f'{d * 1000:.0f} ms' for d in delays)}")
    assert max(delays) < 10

    [email] = system.smtp.wait_for(misser_email, timeout_s=45)
    assert email["Subject"] == "Ana from Harbor & Pine replied to your message"
    assert f"Hi, Ana here for {misser.sender}." in email.get_content()
    time.sleep(3 + 5)  # the grace period, a worker round and a margin: the seer's would have come by now
    assert system.smtp.to(seer_email) == [], "a reply the widget showed is not emailed"
    assert len(system.smtp.to(misser_email)) == 1, "the missed reply is emailed once"
    state = _poke(system, {"conversation_id": seer.sender, "kind": "state"})
    assert state.status_code == 200
    taken = seer.expect("conversation_state", 10)[0]
    assert taken["waiting"] is True and taken["agent"] == "Ana Rivera" and taken["initials"] == "AR"
    assert taken["revision"][0] == noted["revision"][0] and taken["revision"][1] > noted["revision"][1], \
        "the same ticket, taken and answered since"


def test_replies_left_unseen_make_one_email_per_ticket_in_ten_minutes(system, widget):
    """The review's relay: an unverified customer leaves someone's address and the agent answers again
    and again, each reply left unseen past the grace period (3 s here): one email, the rest wait."""
    customer = widget()
    customer.start()
    victim = f"victim-{uuid.uuid4().hex[:8]}@example.org"
    _waiting_with_an_address(customer, victim)
    desk = DeskClient(system)
    ticket = _wait_for_ticket(desk, customer.sender)
    for number in range(1, 4):
        answer = desk.post(f"/tickets/{ticket}/reply", {"text": f"Reply {number} from Ana."})
        assert answer.status_code < 400, answer.text
        if number == 1:
            [email] = system.smtp.wait_for(victim, timeout_s=45)
            assert "Reply 1 from Ana." in email.get_content()
        else:
            time.sleep(3 + 4)  # past the grace period and a worker round
    assert len(system.smtp.to(victim)) == 1, "one email per ticket every 10 minutes: the replies wait"

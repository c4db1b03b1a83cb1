"""components/runtime/guards.py with real Rasa objects and real HTTP: an action that cannot run gets the customer
an apology with a way to a person (once a turn, no form left waiting), the tracker store is never wrapped in a
silent memory fallback, and the action server's answer is checked without re-checking the schema each time."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from careline.shared.settings import PROJECT_ROOT, load_settings
from components.runtime import guards

guards.install()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def slow_action_server() -> Iterator[str]:
    """An action server that answers after 3 s (a hung database behind it, say)."""
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            time.sleep(3)
            try:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"events": [], "responses": []}')
            except OSError:
                pass  # Rasa gave up on it long ago

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhook"
    finally:
        server.shutdown()
        server.server_close()


def _tracker(domain: Domain, *extra) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("guard-1", [
        ActionExecuted("action_listen"), UserUttered("where is my order CL-100003", {"name": "order_status"}),
        *extra], domain.slots)


def _run(action: RemoteAction, tracker: DialogueStateTracker, domain: Domain):
    return asyncio.run(action.run(None, None, tracker, domain))


def test_an_action_server_that_is_down_gets_the_customer_an_apology_with_a_way_to_a_person(domain):
    action = RemoteAction("action_order_request", EndpointConfig(f"http://127.0.0.1:{_closed_port()}/webhook"))
    events = _run(action, _tracker(domain), domain)
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    shop = load_settings().shop()
    assert shop.phone in events[0].text and shop.email in events[0].text
    assert events[0].data["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]


def test_one_apology_a_turn_and_no_form_left_waiting_on_the_dead_server(domain):
    action = RemoteAction("validate_order_form", EndpointConfig(f"http://127.0.0.1:{_closed_port()}/webhook"))
    tracker = _tracker(domain, ActiveLoop("order_form"), SlotSet("requested_slot", "email"))
    tracker.update(guards.apology())
    events = _run(action, tracker, domain)
    assert not any(isinstance(event, BotUttered) for event in events), "said once this turn already"
    assert ActiveLoop(None) in events and SlotSet("requested_slot", None) in events


def test_a_slow_action_server_gets_the_apology_after_the_time_limit(domain, slow_action_server, monkeypatch):
    monkeypatch.setattr(guards, "ACTION_TIMEOUT_S", 0.5)
    action = RemoteAction("action_order_request", EndpointConfig(slow_action_server))
    started = time.monotonic()
    events = _run(action, _tracker(domain), domain)
    assert time.monotonic() - started < 2.5
    assert [type(event) for event in events] == [BotUttered]


def test_after_one_failure_the_turns_other_actions_are_not_tried(domain, slow_action_server, monkeypatch):
    """A hung server costs one wait a turn, not one per action (the form's validation, then the answer...)."""
    monkeypatch.setattr(guards, "ACTION_TIMEOUT_S", 2.0)
    action = RemoteAction("action_order_request", EndpointConfig(slow_action_server))
    tracker = _tracker(domain)
    tracker.update(guards.apology())
    started = time.monotonic()
    assert _run(action, tracker, domain) == []
    assert time.monotonic() - started < 0.5


def test_a_store_that_refuses_silent_fallback_is_not_wrapped_in_one(domain):
    class Careful(InMemoryTrackerStore):
        refuses_silent_fallback = True

    assert type(Agent._create_tracker_store(Careful(domain), domain)) is Careful
    assert isinstance(Agent._create_tracker_store(InMemoryTrackerStore(domain), domain), FailSafeTrackerStore)


def test_a_store_class_that_cannot_be_imported_stops_the_server_instead_of_keeping_memory(domain):
    import rasa.core.tracker_store as stores

    with pytest.raises((ImportError, AttributeError)):
        stores.create_tracker_store(EndpointConfig(type="components.runtime.no_such_module.Store"), domain)


def test_the_action_servers_answer_is_checked_as_rasa_checks_it_but_without_rechecking_the_schema():
    action = RemoteAction("action_x", None)
    good = {"events": [{"event": "slot", "name": "email", "value": None}], "responses": [{"text": "hi"}]}
    assert action._validate_action_result(good)
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": "not a list"})
    started = time.perf_counter()
    for _ in range(200):
        action._validate_action_result(good)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(20):
        guards._original_validate(action, good)
    rasas = (time.perf_counter() - started) * 10
    assert ours * 5 < rasas, f"200 checks took {ours:.3f}s; Rasa's own would take {rasas:.3f}s"


def test_the_processor_asks_the_policies_about_the_last_turns_only(domain, monkeypatch):
    """Installed: the processor's prediction gets the policies' window of the tracker (the actions still get
    the whole tracker); a short tracker, and one with a follow-up action, go unchanged."""
    from rasa.core.processor import MessageProcessor

    from components.runtime.tracker_store import POLICY_TURNS

    seen = []
    monkeypatch.setattr(guards, "_original_predict", lambda processor, tracker: seen.append(tracker))
    processor = MessageProcessor.__new__(MessageProcessor)  # only its domain is used on the way in
    processor.domain = domain
    events = [ActionExecuted("action_listen")]
    for number in range(3 * POLICY_TURNS):
        events += [UserUttered(f"message {number}", {"name": "faq"}), ActionExecuted("utter_faq"),
                   BotUttered("ok"), ActionExecuted("action_listen")]
    long = DialogueStateTracker.from_events("w1", events, domain.slots, domain=domain)
    short = DialogueStateTracker.from_events("w2", events[:9], domain.slots, domain=domain)
    MessageProcessor._predict_next_with_tracker(processor, long)
    MessageProcessor._predict_next_with_tracker(processor, short)
    assert sum(isinstance(e, UserUttered) for e in seen[0].events) == POLICY_TURNS
    assert seen[0] is not long and seen[1] is short
    long.trigger_followup_action("utter_faq")
    MessageProcessor._predict_next_with_tracker(processor, long)
    assert seen[2] is long

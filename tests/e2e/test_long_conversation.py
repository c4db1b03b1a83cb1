"""A long conversation on a real system: every turn is answered, a turn late in it costs what an early one
did (the tracker store hands out a bounded tracker), and the trained policies decide on the bounded tracker
exactly as on the whole conversation, at every step of it."""
from __future__ import annotations

import statistics
import time
import uuid
from typing import Iterator, List

import pytest
import requests

from careline.shared.settings import PROJECT_ROOT
from ops.train import model_path
from tests.e2e.conftest import RunningSystem

#: One customer may send as many messages as the test needs (the default is 20 a minute).
SYSTEM_ENV = {"CARELINE_RATE_PER_SENDER": "100000"}

#: Ten customer turns of many kinds: an order checked after the identity form, FAQs, small talk, a
#: misunderstanding, a refund request declined, a wrong email; repeated. The conversation ends angry, with a
#: person asked for, and the customer writing on while waiting (more turns than the bounded tracker keeps:
#: only the state before its window says a person has the conversation).
CYCLE = ["where is my order CL-100003", "jkim88@example.net", "what is your return policy", "thanks",
         "asdkjh qwe zzz", "where is my order CL-100007", "wrong@example.com", "I want a refund for CL-100003",
         "no", "do you ship to canada"]
#: First, an identity form kept open for more turns than the policies' window (questions in between, then
#: the order's email).
DETOUR = ["where is my order CL-100003"] + ["what is your return policy", "do you ship to canada", "thanks"] * 3 + \
    ["jkim88@example.net"]
ENDING = ["this is ridiculous, the package is late again and nobody helps", "talk to a human please"] + \
    ["hello?", "any news?", "where is my order CL-100003", "what is your return policy"] * 5
TURNS = 80


@pytest.fixture(scope="module")
def conversation(system: RunningSystem) -> Iterator[tuple]:
    sender = f"long-{uuid.uuid4().hex[:10]}"
    took: List[float] = []
    answers: List[int] = []
    for text in DETOUR + [CYCLE[n % len(CYCLE)] for n in range(TURNS)] + ENDING:
        started = time.perf_counter()
        response = requests.post(f"{system.rasa_url}/webhooks/rest/webhook", headers=system.rest_headers,
                                 json={"sender": sender, "message": text}, timeout=60)
        took.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        answers.append(len(response.json()))
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker",
                           params={"token": system.token, "include_events": "ALL"}, timeout=60).json()
    yield sender, took, answers, tracker["events"]


def test_every_turn_is_answered_and_a_late_turn_costs_what_an_early_one_did(conversation):
    _, took, answers, events = conversation
    assert all(answers), f"turns without an answer: {[n for n, a in enumerate(answers) if not a]}"
    assert sum(1 for event in events if event["event"] == "user") == len(DETOUR) + TURNS + len(ENDING)
    took = took[len(DETOUR):]
    early, late = took[10:30], took[TURNS - 20:TURNS]       # the same ten messages twice in each
    ratio = statistics.median(late) / statistics.median(early)
    assert ratio < 1.5, f"median turn {statistics.median(early) * 1000:.0f} ms at turns 11-30 but " \
                        f"{statistics.median(late) * 1000:.0f} ms at turns {TURNS - 19}-{TURNS}"
    assert any(e["event"] == "action" and e["name"] == "action_handoff" for e in events), "the ending hands over"


def test_the_policies_decide_on_the_bounded_tracker_as_on_the_whole_conversation(conversation):
    from rasa.core.agent import Agent
    from rasa.shared.core.events import ActionExecuted, deserialise_events
    from rasa.shared.core.trackers import DialogueStateTracker

    from components.runtime.tracker_store import POLICY_TURNS, WINDOW_TURNS, bounded_tracker, prediction_tracker

    sender, _, _, stored = conversation
    agent = Agent.load(str(model_path(PROJECT_ROOT)))
    domain = agent.domain
    events = deserialise_events(stored)
    first_user = next(i for i, e in enumerate(stored) if e["event"] == "user")
    compared = trimmed = 0
    for index in range(first_user + 1, len(events)):
        if not isinstance(events[index], ActionExecuted):
            continue
        prefix = events[:index]
        whole = DialogueStateTracker.from_events(sender, prefix, domain.slots, domain=domain)
        bounded = bounded_tracker(sender, prefix, domain)
        expected = agent.processor._predict_next_with_tracker(whole)
        # as the server predicts: on the policies' window of the bounded tracker (components/runtime/guards.py)
        shorter = prediction_tracker(bounded, domain)
        trimmed += shorter is not bounded
        got = agent.processor._predict_next_with_tracker(shorter)
        assert (domain.action_names_or_texts[got.max_confidence_index], got.policy_name) == \
            (domain.action_names_or_texts[expected.max_confidence_index], expected.policy_name), \
            f"different decision before event {index} ({events[index]})"
        compared += 1
    assert compared > 1.5 * TURNS and sum(1 for e in stored if e["event"] == "user") > 4 * WINDOW_TURNS
    assert trimmed > compared - 5 * POLICY_TURNS, "most decisions were made on the policies' shorter window"
    assert _longest_form(stored) > POLICY_TURNS, "a form stayed open longer than the policies' window"


def _longest_form(stored: List[dict]) -> int:
    """The most customer turns one form stayed open for."""
    longest = turns = 0
    active = None
    for event in stored:
        if event["event"] == "active_loop":
            if event.get("name") != active:
                turns = 0
            active = event.get("name")
        elif event["event"] == "user" and active:
            turns += 1
            longest = max(longest, turns)
    return longest

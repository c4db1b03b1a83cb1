"""WaitingPolicy on real Rasa trackers: while a person has the conversation, every message is acknowledged."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from careline.shared.settings import PROJECT_ROOT
from components.waiting_policy import WAITING, WaitingPolicy


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path):
    return WaitingPolicy.create(WaitingPolicy.get_default_config(), LocalModelStorage(tmp_path),
                                Resource("waiting_policy"), ExecutionContext(GraphSchema({}), "test"))


def best(policy, domain, events):
    tracker = DialogueStateTracker.from_events("t", events, domain.slots)
    probabilities = policy.predict_action_probabilities(tracker, domain).probabilities
    top = max(range(len(probabilities)), key=probabilities.__getitem__)
    return domain.action_names_or_texts[top] if probabilities[top] > 0 else None


def message(text="hello?"):
    return [ActionExecuted("action_listen"), UserUttered(text, {"name": "greet", "confidence": 0.99})]


def test_every_message_while_waiting_gets_the_acknowledgement_then_the_bot_listens(policy, domain):
    waiting = [SlotSet("handoff_ticket", "12")] + message()
    assert best(policy, domain, waiting) == WAITING
    assert best(policy, domain, waiting + [ActionExecuted(WAITING)]) == "action_listen"
    assert policy.priority > 6, "ahead of RulePolicy (6) and FrustrationPolicy on equal confidence"


def test_without_a_person_it_predicts_nothing(policy, domain):
    assert best(policy, domain, message()) is None
    handed_back = [SlotSet("handoff_ticket", "12"), SlotSet("handoff_ticket", None)] + message()
    assert best(policy, domain, handed_back) is None

"""FrustrationPolicy on real Rasa trackers: acknowledge medium frustration, hand off when it stays high."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionReverted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from careline.shared.settings import PROJECT_ROOT
from components.frustration_policy import ACKNOWLEDGE, HANDOFF, FrustrationPolicy


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    return FrustrationPolicy.create(FrustrationPolicy.get_default_config(), LocalModelStorage(tmp_path),
                                    Resource("frustration_policy"), ExecutionContext(GraphSchema({}), "test"))


def said(text, intent, score):
    return [UserUttered(text, {"name": intent, "confidence": 0.9},
                        parse_data={"intent": {"name": intent, "confidence": 0.9}, "text": text,
                                    "frustration": {"score": score, "signals": []}})]


def answered(action="utter_greet"):
    return [ActionExecuted(action), ActionExecuted("action_listen")]


def predicted(policy, domain, events):
    tracker = DialogueStateTracker.from_events("t", [ActionExecuted("action_listen")] + events)
    prediction = policy.predict_action_probabilities(tracker, domain)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return domain.action_names_or_texts[best] if prediction.probabilities[best] > 0 else None


def test_calm_conversations_are_left_to_the_other_policies(policy, domain):
    assert predicted(policy, domain, said("where is my order", "order_status", 0.1)) is None
    assert policy.priority > 4, "ahead of RulePolicy on equal confidence"


def test_medium_frustration_is_acknowledged_once(policy, domain):
    events = said("this is taking forever", "order_status", 0.6)
    assert predicted(policy, domain, events) == ACKNOWLEDGE
    acknowledged = events + [ActionExecuted(ACKNOWLEDGE), ActionReverted()]
    assert predicted(policy, domain, acknowledged) is None, "after acknowledging, the usual answer follows"


def test_a_first_angry_message_is_acknowledged_a_second_one_goes_to_a_person(policy, domain):
    first = said("WHERE IS MY ORDER!!!", "order_status", 0.95)
    assert predicted(policy, domain, first) == ACKNOWLEDGE
    second = first + [ActionExecuted(ACKNOWLEDGE), ActionReverted()] + answered("order_form") + \
        said("this is ridiculous, I already told you!!!", "complain", 0.97)
    assert predicted(policy, domain, second) == HANDOFF


def test_nothing_while_paused_or_mid_turn(policy, domain):
    events = said("this is a joke", "complain", 0.99) + said("still a joke!!!", "complain", 0.99)
    tracker = DialogueStateTracker.from_events("t", [ActionExecuted("action_listen")] + events)
    tracker.update(ActionExecuted("utter_empathy"))
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert max(prediction.probabilities) == 0


def test_a_request_for_a_person_is_not_prefaced_with_an_apology(policy, domain):
    """Angry or not, "get me a human" goes straight to the handoff rule: no acknowledgement first."""
    assert predicted(policy, domain, said("I want to speak to a human NOW", "human_handoff", 0.7)) is None
    assert predicted(policy, domain, said("this is taking forever", "order_status", 0.7)) == ACKNOWLEDGE


def test_a_complaint_that_asks_for_a_person_is_handed_over_at_once(policy, domain):
    assert predicted(policy, domain, said("I'm fed up. Human please.", "complain", 0.93)) == HANDOFF
    assert predicted(policy, domain, said("I'm fed up with this lamp", "complain", 0.93)) is None, \
        "a complaint alone: its rule apologises and offers a person"


def test_nothing_while_a_person_has_the_conversation(policy, domain):
    from rasa.shared.core.events import SlotSet
    tracker = DialogueStateTracker.from_events("t", [SlotSet("handoff_ticket", "7"), ActionExecuted("action_listen")]
                                               + said("WHERE IS MY ORDER!!!", "order_status", 0.95), domain.slots)
    assert max(policy.predict_action_probabilities(tracker, domain).probabilities) == 0


def test_a_yes_or_no_is_not_acknowledged_it_answers_the_bots_question(policy, domain):
    assert predicted(policy, domain, said("no it did NOT work, still broken", "deny", 0.7)) is None
    assert predicted(policy, domain, said("yes!!!", "affirm", 0.6)) is None

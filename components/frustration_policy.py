"""FrustrationPolicy: reacts to how the conversation is going, before the normal answer.

- High frustration (see careline.nlu.frustration_model.conversation and policy.yml) after the first
  message, or a complaint that asks for a person ("I'm fed up. Human please."): hand over to a
  person (`action_handoff`) at once.
- Rising, medium frustration: acknowledge it first (`action_acknowledge_frustration`, which
  reverts itself so that the rules then answer the message as usual), at most once per turn
  and not again within the next two turns; never when the customer asked for a person (that
  request is honoured at once, without an apology in front of it) or complained (the complaint's
  own rule apologises, then offers a person).
- Nothing while a person has the conversation: components/waiting_policy.py answers then.
Its priority is above RulePolicy's, so on equal confidence it goes first.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from careline.nlu.frustration_model import Thresholds, conversation, turns_from_events
from careline.nlu.person_request import asks_for_a_person
from components.waiting_policy import waiting_for_a_person

HANDOFF = "action_handoff"
ASKED_FOR_A_PERSON = "human_handoff"
#: Messages that get no acknowledgement first: a request for a person is honoured at once, a
#: complaint's own rule apologises already (one apology, then the offer of a person), and a yes or
#: no answers the bot's question (a "no, it did not work out" brings in a person at once: no
#: "just say so" in front of it).
NO_ACKNOWLEDGEMENT = (ASKED_FOR_A_PERSON, "complain", "affirm", "deny")
ACKNOWLEDGE = "action_acknowledge_frustration"


def _acknowledged_recently(tracker: DialogueStateTracker, turns_back: int = 3) -> bool:
    users_seen = 0
    for event in reversed(tracker.events):
        name = getattr(event, "type_name", "")
        if name == "user":
            users_seen += 1
            if users_seen >= turns_back:
                return False
        elif name == "action" and getattr(event, "action_name", None) == ACKNOWLEDGE:
            return True
    return False


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True)
class FrustrationPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"priority": 5}

    def __init__(self, config: Dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._thresholds = Thresholds.from_settings()  # policy.yml, read when the model loads

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[str, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if tracker.is_paused() or waiting_for_a_person(tracker) or tracker.latest_action_name != ACTION_LISTEN_NAME:
            return self._prediction(result)
        turns = turns_from_events(event.as_dict() for event in tracker.events)
        if not turns:
            return self._prediction(result)
        mood = conversation(turns, self._thresholds)
        text = tracker.latest_message.text if tracker.latest_message else ""
        complaint_asking_for_a_person = turns[-1].intent == "complain" and asks_for_a_person(text)
        if HANDOFF in domain.action_names_or_texts and (
                complaint_asking_for_a_person or (mood.level == "high" and len(turns) >= 2)):
            result[domain.index_for_action(HANDOFF)] = 1.0
        elif mood.level in ("medium", "high") and ACKNOWLEDGE in domain.action_names_or_texts \
                and turns[-1].intent not in NO_ACKNOWLEDGEMENT and not _acknowledged_recently(tracker):
            result[domain.index_for_action(ACKNOWLEDGE)] = 1.0
        return self._prediction(result)

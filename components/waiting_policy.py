"""WaitingPolicy: while a person has the conversation, every customer message gets `action_waiting`.

A handed-over conversation is not paused (a paused Rasa conversation answers nothing at all): the
`handoff_ticket` slot (set by action_handoff, cleared by the desk's hand-back) says a person has
it, and then this policy answers each message with an honest acknowledgement (actions/handoff.py)
instead of the bot's own flows. Its priority is above every other policy's, so on equal
confidence it wins; it predicts nothing at all otherwise.
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

TICKET_SLOT = "handoff_ticket"
WAITING = "action_waiting"
#: Intents that still reach the bot's own rules while a person has the conversation: none. A
#: "restart" is Rasa's own and resets the conversation (and the slot) anyway.


def waiting_for_a_person(tracker: DialogueStateTracker) -> bool:
    """Whether a person has this conversation (the slot action_handoff sets)."""
    return bool(tracker.get_slot(TICKET_SLOT))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True)
class WaitingPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"priority": 7}  # above RulePolicy (6) and FrustrationPolicy (5)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[str, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if waiting_for_a_person(tracker) and WAITING in domain.action_names_or_texts:
            latest = tracker.latest_action_name
            target = WAITING if latest == ACTION_LISTEN_NAME else ACTION_LISTEN_NAME
            result[domain.index_for_action(target)] = 1.0
        return self._prediction(result)

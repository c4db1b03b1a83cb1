"""What Careline's Rasa server changes in Rasa at run time, installed by ops/rasa_server.py before Rasa starts.

1. No silent memory fallback. Rasa wraps every tracker store in a FailSafeTrackerStore that, when the
   database fails, logs an error and keeps the conversation in the process's memory (lost at the next
   restart, invisible to the other servers) while the customer gets a normal answer. A store that sets
   `refuses_silent_fallback` (components/runtime/tracker_store.py) is used unwrapped: its errors fail the turn.
   Rasa also swaps in a memory store, with a warning, when endpoints.yml names a store class it cannot
   import: here that stops the server instead.
2. Never silence when the action server fails. When a custom action cannot be run (the action server is
   down, answers with an error, or takes longer than CARELINE_ACTION_TIMEOUT_S), Rasa logs the error and
   the customer gets nothing (`200 []`). Instead the customer hears an apology with a way to a person
   (the shop's phone and email, and a button that asks for one), and the conversation goes on. The other
   custom actions of that turn are not tried: a hung server costs the customer one wait, not one per action.
3. The action server's answer is checked against Rasa's schema with a validator built once. Rasa calls
   `jsonschema.validate` on every answer, which first checks the schema itself against the JSON-Schema
   meta-schema: under load that was 38% of the Rasa server's CPU (py-spy, 8 concurrent conversations).
4. The policies decide on the last POLICY_TURNS customer turns (with the state before them), not on the whole
   bounded tracker: the rule and memoization policies compute a state for every action of the tracker at
   every prediction, which made a turn with a full window half again as slow as an early one (py-spy).
   The actions still get the whole bounded tracker.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Dict, List, Optional

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.agent import Agent
from rasa.core.processor import MessageProcessor
import rasa.core.tracker_store
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from careline.shared import button, render
from components.runtime.tracker_store import prediction_tracker
from careline.shared.settings import load_settings

logger = logging.getLogger(__name__)

#: How long a custom action may take before the customer hears the apology instead.
ACTION_TIMEOUT_S = float(os.environ.get("CARELINE_ACTION_TIMEOUT_S") or 20)  # Settings.action_timeout_s
ASK_FOR_A_PERSON = "/human_handoff"
MARK, MARK_FAILED = "careline", "actions_unavailable"

_installed = False


def apology() -> BotUttered:
    """What the customer hears when an action could not run: sorry, the shop's phone and email, a button."""
    shop = load_settings().shop()
    text = render("utter_actions_unavailable", phone=shop.phone, email=shop.email)
    buttons = [button("utter_button_human_handoff", ASK_FOR_A_PERSON)]
    return BotUttered(text, data={"buttons": buttons}, metadata={MARK: MARK_FAILED})


_response_validator: Any = None


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """Rasa's check of an action server's answer (same schema, same error), without re-checking the schema."""
    global _response_validator
    from jsonschema import ValidationError  # type: ignore[import-untyped]
    from jsonschema.validators import validator_for  # type: ignore[import-untyped]

    if _response_validator is None:
        schema = RemoteAction.action_response_format_spec()
        checker = validator_for(schema)
        checker.check_schema(schema)
        _response_validator = checker(schema)
    try:
        _response_validator.validate(result)
        return True
    except ValidationError as error:
        error.message += (". Failed to validate Action server response from API, make sure your response from "
                          "the Action endpoint is valid.")
        raise error


def _create_tracker_store(store: Optional[TrackerStore], domain: Domain) -> TrackerStore:
    if store is not None and getattr(store, "refuses_silent_fallback", False):
        store.domain = domain
        return store
    return _original_create_tracker_store(store, domain)


async def _guarded_run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
    if _apologised_this_turn(tracker):  # the action server failed earlier this turn: no second wait
        logger.warning("custom action %s skipped for conversation %s: the action server failed earlier this turn",
                       self.name(), tracker.sender_id)
        return _after_failure(tracker)
    try:
        return await asyncio.wait_for(_original_run(self, output_channel, nlg, tracker, domain), ACTION_TIMEOUT_S)
    except ActionExecutionRejection:
        raise  # a form's "not this slot": Rasa's own way on, not a failure
    except (RasaException, asyncio.TimeoutError) as error:
        why = f"took longer than {ACTION_TIMEOUT_S:.0f}s" if isinstance(error, asyncio.TimeoutError) else str(error)
        logger.error("custom action %s failed for conversation %s (%s); the customer was told and offered a "
                     "person", self.name(), tracker.sender_id, why)
        return _after_failure(tracker)


def _apologised_this_turn(tracker: Any) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get(MARK) == MARK_FAILED:
            return True
    return False


def _after_failure(tracker: Any) -> List[Event]:
    """One apology a turn, and no form left waiting on the action server (asked again it would fail again)."""
    events: List[Event] = [] if _apologised_this_turn(tracker) else [apology()]
    if tracker.active_loop_name:
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    return events


def _load_store_class(domain: Domain, store: Any, event_broker: Any = None) -> TrackerStore:
    from rasa.shared.utils.common import class_from_module_path

    store_class = class_from_module_path(store.type)  # an ImportError stops the server
    instance: TrackerStore = store_class(host=store.url, domain=domain, event_broker=event_broker, **store.kwargs)
    return instance


def _predict_on_window(self: MessageProcessor, tracker: DialogueStateTracker) -> Any:
    if tracker.followup_action:  # Rasa answers with it without asking the policies
        return _original_predict(self, tracker)
    return _original_predict(self, prediction_tracker(tracker, self.domain))


_original_create_tracker_store = Agent._create_tracker_store
_original_predict = MessageProcessor._predict_next_with_tracker
_original_run = RemoteAction.run
_original_validate = RemoteAction._validate_action_result


def install() -> None:
    """Install the changes (once per process)."""
    global _installed
    if _installed:
        return
    Agent._create_tracker_store = staticmethod(_create_tracker_store)
    RemoteAction.run = _guarded_run
    RemoteAction._validate_action_result = _validate_action_result
    rasa.core.tracker_store._load_from_module_name_in_endpoint_config = _load_store_class
    MessageProcessor._predict_next_with_tracker = _predict_on_window
    _installed = True

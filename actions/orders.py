"""Order requests: check the customer's identity, propose what policy allows, act on a yes.

Thin adapters: identity checks, policy and money live in `careline`. Every slot is untrusted
(a customer can type `/inform{...}`): actions re-check identity, and amounts come from the
store through `ClaimService`, never from a slot.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import Any, Callable, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.deps import claim_service, follow_up_schedule, identity_guard, identity_tokens, return_label_url, settings
from actions.followup import watch_order
from actions.followup import ActionFollowUpNo, ActionFollowUpYes
from actions.handoff import hand_off
from actions.identity import (
    channel_of,
    client_of,
    latest_message_id,
    pending_proposal,
    person_offered,
    proven_order,
    seal,
    session_of,
)
from careline.dialogue.conversation import (
    MAX_FAILED_VERIFICATIONS,
    MAX_SAME_PROMPT,
    failed_verifications,
    is_locked,
    latest_question,
    order_topic,
    times_in_a_row,
    topic_texts,
)
from careline.dialogue.replies import done_text, offer_text, order_reply, payment_reply
from careline.money.customer_input import (
    REFUND_REASONS,
    find_address,
    guess_reason,
    normalize_address,
    normalize_reason,
)
from careline.money.identity import find_email, find_order_number, normalize_email, normalize_order_number
from careline.money.policy import APPROVE, ESCALATE, PARTIAL, RETURN_EXISTS, Request
from careline.money.proposal import Proposal
from careline.money.verification import LOCKED as CHECK_LOCKED
from careline.shared import button, render
from careline.shared.clock import utctoday

KIND_OF_TOPIC = {
    "cancel_order": "cancel",
    "return_item": "return",
    "request_refund": "refund",
    "dispute_charge": "waiver",
    "delivery_problem": "reship",
    "change_address": "address",
}
EXTRA_SLOTS = {"request_refund": ["refund_reason"], "change_address": ["new_address"]}
NOT_DUE_RULES = ("not_due_yet", "not_delivered_yet")
CLEARED = ("refund_reason", "new_address")
#: Questions answered in the middle of the identity check: the form's question follows again, and
#: that is not the customer failing to answer it (the no-loop guard leaves it alone).
DIGRESSIONS = ("faq", "bot_challenge")


def yes_no() -> List[Dict[str, str]]:
    return [button("utter_button_yes_please", "/affirm"), button("utter_button_no_thanks", "/deny")]


def person_or_not() -> List[Dict[str, str]]:
    return [button("utter_button_human_handoff", "/human_handoff"), button("utter_button_no_thanks", "/deny")]


def check_or_person() -> List[Dict[str, str]]:
    return [button("utter_button_where_is_it_now", "/order_status"),
            button("utter_button_human_handoff", "/human_handoff")]


def reason_buttons() -> List[Dict[str, str]]:
    return [button(title, f'/inform{{"refund_reason":"{key}"}}') for key, title in REFUND_REASONS.items()]


def _clear(*names: str) -> List[EventType]:
    return [SlotSet(name, None) for name in names]


def _offer_person(dispatcher: CollectingDispatcher, tracker: Tracker, text: str, order_number: str,
                  buttons: Optional[List[Dict[str, str]]] = None) -> List[EventType]:
    """Say `text` with a "talk to a person" button; a plain "yes" then means a person too."""
    dispatcher.utter_message(text=text, buttons=buttons or person_or_not())
    return person_offered(tracker, order_number)


def _given_in_this_check(tracker: Tracker, address: str) -> bool:
    """Whether the customer typed `address` during the current identity check.

    An email carried over from an earlier session, or left from an expired proof, is not
    evidence of anything: it is asked for again, and no check is counted.
    """
    texts = topic_texts(tracker.events, tracker.latest_message.get("text") or "")
    return any(address in text.lower() for text in texts)


def _prove(dispatcher: CollectingDispatcher, tracker: Tracker, number: str, address: str) -> Dict[str, Any]:
    """Renew the conversation's proof, or check number + email once (counted and locked in the store)."""
    token = identity_tokens().refresh(tracker.get_slot("verified"), session_of(tracker), number, address)
    if token:
        return {"order_id": number, "email": address, "verified": token}
    if not _given_in_this_check(tracker, address):
        return {"email": None, "verified": None}
    result = identity_guard().check(number, address, client=client_of(tracker), conversation_id=tracker.sender_id,
                                    channel=channel_of(tracker))
    if result.verified:
        return {"order_id": number, "email": address,
                "verified": identity_tokens().issue(session_of(tracker), number, address)}
    if result.status == CHECK_LOCKED:
        return {"email": None, "order_id": None, "verified": None,
                "failed_verifications": float(MAX_FAILED_VERIFICATIONS)}
    failures = failed_verifications(tracker.get_slot("failed_verifications")) + 1
    if failures < MAX_FAILED_VERIFICATIONS:
        dispatcher.utter_message(text=render("utter_identity_denied"))
    # Only the email is asked again: the order number is kept (the customer may send a corrected one
    # instead). The words are the same whichever part was wrong, so they tell an attacker nothing.
    return {"email": None, "order_id": number, "verified": None, "failed_verifications": float(failures)}


def _escalate_or_offer(dispatcher: CollectingDispatcher, tracker: Tracker, explanation: str, outcome: str,
                       order_number: str, rule: str = "", declined: Optional[Proposal] = None) -> List[EventType]:
    """A request the policy escalates goes to a person at once; a denial offers one.

    A claim that is not due yet (the order is still on its way) offers to check where it is now.
    `declined`: the offer the customer has just said no to (for the ticket, which cannot find this
    turn's no in the events yet).
    """
    if outcome == ESCALATE:
        return _clear(*CLEARED) + hand_off(dispatcher, tracker, after_policy_offer=True, preface=explanation,
                                           declined=[declined] if declined else [])
    if rule in NOT_DUE_RULES:  # one question: check where it is, or a person (not the policy's offer too)
        explanation = explanation.replace(render("utter_policy_offer_person"), "").strip()
        return _offer_person(dispatcher, tracker, f"{explanation} {render('utter_check_back')}", order_number,
                             check_or_person()) + _clear(*CLEARED)
    return _offer_person(dispatcher, tracker, explanation, order_number) + _clear(*CLEARED)


class ValidateOrderForm(FormValidationAction):
    """Collects order number and email (plus a refund reason or new address where needed)."""

    def name(self) -> str:
        return "validate_order_form"

    async def required_slots(
        self, domain_slots: List[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[str]:
        if is_locked(tracker.get_slot("failed_verifications")):
            return []
        extra = EXTRA_SLOTS.get(order_topic(tracker.events), [])
        return list(domain_slots) + [slot for slot in extra if slot not in domain_slots]

    @staticmethod
    def _from_text(tracker: Tracker, slot: str, finder: Callable[[Any], Optional[str]]) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot:
            return {}
        value = finder(tracker.latest_message.get("text"))
        return {slot: value} if value else {}

    async def extract_order_id(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[str, Any]:
        return self._from_text(tracker, "order_id", find_order_number)

    async def extract_email(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> Dict[str, Any]:
        return self._from_text(tracker, "email", find_email)

    @staticmethod
    def _said_already(tracker: Tracker, slot: str, topic: str, finder: Callable[[Any], Optional[str]]
                      ) -> Dict[str, Any]:
        """A detail the customer gave in any message since making the request ("refund for CL-100003,
        it never arrived"), so that it is not asked for again; the latest mention wins."""
        if tracker.get_slot(slot) or order_topic(tracker.events) != topic:
            return {}
        for text in reversed(topic_texts(tracker.events, tracker.latest_message.get("text"))):
            value = finder(text)
            if value:
                return {slot: value}
        return {}

    async def extract_refund_reason(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[str, Any]:
        return (self._from_text(tracker, "refund_reason", normalize_reason)
                or self._said_already(tracker, "refund_reason", "request_refund", guess_reason))

    async def extract_new_address(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[str, Any]:
        found = self._from_text(tracker, "new_address", normalize_address)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if not found and tracker.get_slot("requested_slot") == "new_address" and intent in ("inform", "nlu_fallback"):
            return {"new_address": tracker.latest_message.get("text") or ""}
        return found or self._said_already(tracker, "new_address", "change_address", find_address)

    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> Dict[str, Any]:
        number = normalize_order_number(value)
        if number is None:
            dispatcher.utter_message(text=render("utter_order_bad_number"))
            return {"order_id": None}
        address = normalize_email(tracker.get_slot("email"))
        if address and "email" not in tracker.slots_to_validate():  # the email came first: check both now
            return {"order_id": number, **_prove(dispatcher, tracker, number, address)}
        return {"order_id": number}

    def validate_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> Dict[str, Any]:
        """Check the email against the order right away, so a mismatch is never asked anything more."""
        address = normalize_email(value)
        if address is None:
            dispatcher.utter_message(text=render("utter_order_bad_email"))
            return {"email": None}
        number = normalize_order_number(tracker.get_slot("order_id"))
        if number is None:
            return {"email": address}  # checked as soon as the order number comes
        return _prove(dispatcher, tracker, number, address)

    def validate_refund_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[str, Any]:
        reason = normalize_reason(value)
        if reason is None:
            dispatcher.utter_message(text=render("utter_order_bad_reason"), buttons=reason_buttons())
        return {"refund_reason": reason}

    def validate_new_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[str, Any]:
        address = normalize_address(value)
        if address is None:
            dispatcher.utter_message(text=render("utter_order_bad_address"))
        return {"new_address": address}


class _AskAction(Action, ABC):
    """Sends one fixed question of the identity form (a form's `action_ask_<slot>`).

    Never three times in a row: the third time the customer is offered a person or to stop
    instead (a typed "yes" then means a person). Abstract, so that rasa-sdk registers only the
    concrete subclasses.
    """

    action_name: str

    @property
    @abstractmethod
    def missing(self) -> str:
        """The response naming what is missing, for the offer that replaces a third identical question."""

    question: str = ""

    def question_for(self, tracker: Tracker) -> str:
        """The name of the response the customer is asked with."""
        return self.question

    def buttons(self) -> List[Dict[str, str]]:
        return []

    def name(self) -> str:
        return self.action_name

    def asked_already(self, tracker: Tracker) -> bool:
        """Whether this turn has asked for the same thing in other words already."""
        return False

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if self.asked_already(tracker):
            return []
        text = render(self.question_for(tracker))
        digression = (tracker.latest_message.get("intent") or {}).get("name") in DIGRESSIONS
        if not digression and times_in_a_row(tracker.events, text) >= MAX_SAME_PROMPT:
            dispatcher.utter_message(text=render("utter_loop_offer", missing=render(self.missing)),
                                     buttons=[button("utter_button_human_handoff", "/human_handoff"),
                                              button("utter_button_stop_here", "/deny")])
            return person_offered(tracker, tracker.get_slot("order_id") or "")
        dispatcher.utter_message(text=text, buttons=self.buttons())
        return []


class ActionAskOrderId(_AskAction):
    action_name = "action_ask_order_id"
    missing = "utter_missing_order_number"

    def question_for(self, tracker: Tracker) -> str:
        """Acknowledge an email given before the number, so the customer sees it was not ignored."""
        email = normalize_email(tracker.get_slot("email"))
        return "utter_order_ask_number_have_email" if email and find_email(
            tracker.latest_message.get("text")) == email else "utter_order_ask_number"


class ActionAskEmail(_AskAction):
    action_name = "action_ask_email"
    question = "utter_order_ask_email"
    missing = "utter_missing_email"

    def asked_already(self, tracker: Tracker) -> bool:
        """Right after a failed check the denial has asked for the email again."""
        denied = render("utter_identity_denied")
        return any(event.get("event") == "bot" and event.get("text") == denied
                   for event in _this_turn(tracker))


class ActionAskRefundReason(_AskAction):
    action_name = "action_ask_refund_reason"
    question = "utter_order_ask_reason"
    missing = "utter_missing_reason"

    def buttons(self) -> List[Dict[str, str]]:
        return reason_buttons()


class ActionAskNewAddress(_AskAction):
    action_name = "action_ask_new_address"
    question = "utter_order_ask_address"
    missing = "utter_missing_address"


def _this_turn(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events since the customer's latest message."""
    events = list(tracker.events)
    start = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "user"), 0)
    return events[start + 1:]


def _message_key(tracker: Tracker, kind: str) -> str:
    return f"{tracker.sender_id}:{latest_message_id(tracker)}:{kind}"[:128]


class ActionOrderRequest(Action):
    """Once number and email match the same order: answer, or propose what the policy allows."""

    def name(self) -> str:
        return "action_order_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        failures = failed_verifications(tracker.get_slot("failed_verifications"))
        if failures >= MAX_FAILED_VERIFICATIONS:
            dispatcher.utter_message(text=render("utter_identity_locked"), buttons=person_or_not())
            return _clear("order_id", "email", "proposal", *CLEARED)
        email = tracker.get_slot("email")
        order, proof = proven_order(tracker)
        if order is None:
            dispatcher.utter_message(text=render("utter_identity_reverify"))
            return proof + _clear("order_id", "email", "verified", "proposal", *CLEARED)
        topic = order_topic(tracker.events)
        if topic == "order_status":
            dispatcher.utter_message(text=order_reply(order, utctoday()))
            watch_order(tracker, order.number)  # if it becomes late, this conversation hears first
            return proof + _clear("proposal", *CLEARED)
        if topic == "payment_issue":
            return proof + _offer_person(dispatcher, tracker, payment_reply(order), order.number)
        return proof + self._propose(dispatcher, tracker, KIND_OF_TOPIC[topic], order, email)

    @staticmethod
    def _propose(dispatcher: CollectingDispatcher, tracker: Tracker, kind: str, order, email: str):
        service = claim_service()
        fee = None
        if kind == "waiver":
            fees = service.waivable_fees(order.number, email)
            if not fees:
                return _offer_person(dispatcher, tracker, render("utter_no_fees"), order.number)
            fee = fees[0]
        reason = normalize_reason(tracker.get_slot("refund_reason")) if kind == "refund" else None  # untrusted
        request = Request(kind, reason=reason,
                          charge_id=fee.charge_id if fee else None,
                          detail=tracker.get_slot("new_address") if kind == "address" else None)
        decision = service.preview(order_number=order.number, email=email, request=request)
        if decision.outcome in (APPROVE, PARTIAL):
            proposal = Proposal.new(kind, order.number, reason=request.reason, charge_id=request.charge_id,
                                    detail=request.detail,
                                    amount=f"{decision.amount:.2f}" if decision.amount > 0 else None)
            dispatcher.utter_message(
                text=offer_text(kind, order, decision.amount, rule=decision.rule, detail=request.detail or "",
                                fee_description=fee.description if fee else "",
                                fee_day=fee.charged_on if fee else None,
                                last_day=date.fromisoformat(decision.facts["last_day"])
                                if "last_day" in decision.facts else None),
                buttons=yes_no(),
            )
            return [SlotSet("proposal", seal(proposal, tracker))]
        outcome = service.decide_and_apply(idempotency_key=_message_key(tracker, kind), order_number=order.number,
                                           email=email, request=request, conversation_id=tracker.sender_id)
        if outcome.decision.rule == RETURN_EXISTS:  # the return they have, with its label again
            existing = str(outcome.decision.facts.get("reference") or "")
            dispatcher.utter_message(text=render("utter_return_label_again", explanation=outcome.decision.explanation,
                                                 label_url=return_label_url("return", existing)))
            return _clear(*CLEARED)
        return _escalate_or_offer(dispatcher, tracker, outcome.decision.explanation, outcome.decision.outcome,
                                  order.number, outcome.decision.rule)


def _latest_yes_no_asker(tracker: Tracker) -> Optional[str]:
    """The action that asked the bot's latest question, if that question is a yes/no one.

    Anything else asked since (the rating, a menu of requests) retires an older yes/no question, so
    a later "yes" never carries out a stale proposal. None: no yes/no question is open.
    """
    question = latest_question(tracker.events)
    return question.asker if question is not None and question.yes_no else None


def _answers_follow_up(asker: Optional[str], tracker: Tracker) -> bool:
    """Whether a yes or no answers a follow-up: it was the bot's latest yes/no question and is still open."""
    return asker == "action_follow_up" and follow_up_schedule().awaiting_answer(tracker.sender_id) is not None


def _open_proposal(asker: Optional[str], tracker: Tracker) -> Optional[Proposal]:
    """The pending proposal, while its question is the bot's latest yes/no question."""
    return pending_proposal(tracker) if asker is not None and asker != "action_follow_up" else None


class ActionAnswerYes(Action):
    """The customer said yes: to the bot's latest question, whatever was said in between.

    The latest question is a follow-up ("did it work out?", then the rating), or the pending
    proposal (sealed by this server, still fresh): carry it out once (its id is the idempotency
    key), or bring in the person that was offered. With nothing pending, a yes is a cue to ask what
    the customer needs.
    """

    def name(self) -> str:
        return "action_answer_yes"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        asker = _latest_yes_no_asker(tracker)
        if _answers_follow_up(asker, tracker):  # "did it work out?", perhaps after a detour
            return await ActionFollowUpYes().run(dispatcher, tracker, domain) + [FollowupAction("feedback_form")]
        proposal = _open_proposal(asker, tracker)
        if proposal is None:  # none pending, or not one this server made for this conversation
            dispatcher.utter_message(text=render("utter_nothing_pending"))
            return _clear("proposal") if tracker.get_slot("proposal") else []
        if proposal.kind == "handoff":
            return hand_off(dispatcher, tracker, after_policy_offer=True)
        email = tracker.get_slot("email")
        order, proof = proven_order(tracker)
        if order is None or order.number != proposal.order_number:
            dispatcher.utter_message(text=render("utter_identity_reverify"))
            return proof + _clear("order_id", "email", "verified", "proposal", *CLEARED)
        request = Request(proposal.kind, reason=proposal.reason, charge_id=proposal.charge_id, detail=proposal.detail)
        outcome = claim_service().decide_and_apply(
            idempotency_key=f"{tracker.sender_id}:{proposal.id}"[:128], order_number=proposal.order_number,
            email=email, request=request, conversation_id=tracker.sender_id,
        )
        decision = outcome.decision
        if decision.outcome in (APPROVE, PARTIAL):
            dispatcher.utter_message(text=done_text(proposal.kind, proposal.order_number, decision.amount,
                                                    outcome.reference, decision.next_step, proposal.detail or "",
                                                    label_url=return_label_url(proposal.kind, outcome.reference),
                                                    drop_off_days=settings().shop().drop_off_days,
                                                    warehouse=bool(settings().warehouse_url)))
            return proof + _clear("proposal", *CLEARED)
        return proof + _escalate_or_offer(dispatcher, tracker, decision.explanation, decision.outcome,
                                          proposal.order_number, decision.rule)


class ActionAnswerNo(Action):
    """The customer said no to the bot's latest question: change nothing, carry on with the bot
    instead of a person, or offer a refund instead of a reshipment. With nothing pending, ask
    what else the customer needs."""

    def name(self) -> str:
        return "action_answer_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        asker = _latest_yes_no_asker(tracker)
        if _answers_follow_up(asker, tracker):
            return await ActionFollowUpNo().run(dispatcher, tracker, domain)
        proposal = _open_proposal(asker, tracker)
        if proposal is None or proposal.kind == "handoff":
            dispatcher.utter_message(text=render("utter_anything_else"))
            return _clear("proposal", *CLEARED) if tracker.get_slot("proposal") else []
        email = tracker.get_slot("email")
        order, proof = proven_order(tracker) if proposal and proposal.kind == "reship" else (None, [])
        if proposal and order is not None and order.number == proposal.order_number:
            request = Request("refund", reason="not_received")
            decision = claim_service().preview(order_number=proposal.order_number, email=email, request=request)
            if decision.outcome in (APPROVE, PARTIAL):
                alternative = Proposal.new("refund", proposal.order_number, reason="not_received",
                                           amount=f"{decision.amount:.2f}")
                dispatcher.utter_message(text=render("utter_refund_instead", amount=f"${decision.amount:.2f}"),
                                         buttons=yes_no())
                return proof + [SlotSet("proposal", seal(alternative, tracker))]
            if decision.outcome == ESCALATE:
                claim_service().decide_and_apply(  # audited, so the ticket shows why it came to a person
                    idempotency_key=_message_key(tracker, "refund"), order_number=proposal.order_number,
                    email=email, request=request, conversation_id=tracker.sender_id)
                return proof + _escalate_or_offer(dispatcher, tracker,
                                                  render("utter_no_problem_then", explanation=decision.explanation),
                                                  decision.outcome, proposal.order_number, declined=proposal)
        dispatcher.utter_message(text=render("utter_nothing_changed"))
        return _clear("proposal", *CLEARED)


class ActionOfferPerson(Action):
    """Offers a person (after a complaint); the customer's yes or no is resolved by the answer actions."""

    def name(self) -> str:
        return "action_offer_person"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        order, proof = proven_order(tracker)
        return proof + _offer_person(dispatcher, tracker, render("utter_offer_human"),
                                     order.number if order else "", [
                                         button("utter_button_person_please", "/human_handoff"),
                                         button("utter_button_try_here", "/deny")])

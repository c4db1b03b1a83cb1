import asyncio

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ActionAskEmail, ActionAskOrderId, ActionOrderRequest, ValidateOrderForm
from careline.shared import render
from tests.actions.conftest import make_tracker, proof, run_action, user_event

BAD_EMAIL = render("utter_order_bad_email")
BAD_ORDER_NUMBER = render("utter_order_bad_number")
REVERIFY = render("utter_identity_reverify")


def test_verified_customer_hears_about_their_order_by_name():
    tracker = make_tracker(
        [user_event("order_status", "where is my order"), user_event("inform", "CL-100001")],
        slots={"order_id": "CL-100001", "email": "maria.lopez@example.com"},
    )
    messages, events = run_action(ActionOrderRequest(), tracker)
    assert all(event["value"] is None for event in events if event["name"] != "verified"), \
        "only leftovers are cleared"
    assert [e for e in events if e["name"] == "verified"][0]["value"], "the proof is renewed"
    text = messages[0]["text"]
    assert text.startswith("Thanks, Maria.") and "CL-100001" in text and "Brass table lamp" in text


@pytest.mark.parametrize("order_id, email", [
    ("CL-100001", "jkim88@example.net"),
    ("CL-100003", "maria.lopez@example.com"),
    ("CL-999998", "maria.lopez@example.com"),
    ("CL-100001' OR 1=1 --", "maria.lopez@example.com"),
    ("CL-100001", None),
])
def test_slots_without_the_servers_proof_show_nothing(order_id, email):
    """Slots a customer can set with /inform{...} prove nothing: no order detail, the slots cleared."""
    tracker = make_tracker([user_event("order_status")], slots={"order_id": order_id, "email": email},
                           verified=False)
    messages, events = run_action(ActionOrderRequest(), tracker)
    assert [m["text"] for m in messages] == [REVERIFY]
    assert SlotSet("order_id", None) in events and SlotSet("email", None) in events


def test_a_proof_for_another_email_or_conversation_shows_nothing():
    slots = {"order_id": "CL-100001", "email": "maria.lopez@example.com"}
    for verified in (proof("CL-100001", "jkim88@example.net"), proof("CL-100001", slots["email"], "other-chat"),
                     proof("CL-100003", slots["email"]), proof("CL-100001", slots["email"])[:-2] + "xx"):
        tracker = make_tracker([user_event("order_status")], slots={**slots, "verified": verified})
        messages, _ = run_action(ActionOrderRequest(), tracker)
        assert [m["text"] for m in messages] == [REVERIFY]


def _validate(slot_value, slot):
    form = ValidateOrderForm()
    dispatcher = CollectingDispatcher()
    method = getattr(form, f"validate_{slot}")
    result = method(slot_value, dispatcher, make_tracker([user_event("inform")]), {})
    return result, [m["text"] for m in dispatcher.messages]


def test_form_normalises_good_values_silently():
    assert _validate("cl 100001", "order_id") == ({"order_id": "CL-100001"}, [])
    assert _validate("Maria.Lopez@Example.com", "email") == ({"email": "maria.lopez@example.com"}, [])


def test_form_rejects_malformed_values_with_a_helpful_hint():
    assert _validate("12345", "order_id") == ({"order_id": None}, [BAD_ORDER_NUMBER])
    assert _validate("maria at example", "email") == ({"email": None}, [BAD_EMAIL])
    assert _validate("x" * 5000, "email") == ({"email": None}, [BAD_EMAIL])


def test_form_extracts_values_from_free_text_only_for_the_requested_slot():
    form = ValidateOrderForm()
    dispatcher = CollectingDispatcher()
    asking_number = make_tracker([user_event("inform", "umm I think it's cl 204817")],
                                 slots={"requested_slot": "order_id"})
    assert asyncio.run(form.extract_order_id(dispatcher, asking_number, {})) == {"order_id": "CL-204817"}
    asking_email = make_tracker([user_event("inform", "umm I think it's cl 204817")],
                                slots={"requested_slot": "email"})
    assert asyncio.run(form.extract_order_id(dispatcher, asking_email, {})) == {}
    email_text = make_tracker([user_event("inform", "it is Maria.Lopez@example.com")],
                              slots={"requested_slot": "email"})
    assert asyncio.run(form.extract_email(dispatcher, email_text, {})) == {"email": "maria.lopez@example.com"}


def test_ask_actions_explain_what_is_needed():
    messages, _ = run_action(ActionAskOrderId(), make_tracker([]))
    assert "CL-123456" in messages[0]["text"]
    messages, _ = run_action(ActionAskEmail(), make_tracker([]))
    assert "email" in messages[0]["text"]


def test_a_new_session_starts_without_any_proof_of_identity():
    """carry_over_slots_to_new_session keeps the slots, but the proof belonged to the old session."""
    slots = {"order_id": "CL-100001", "email": "maria.lopez@example.com"}
    events = [{"event": "session_started", "timestamp": 1_796_000_000.0}, user_event("order_status")]
    messages, _ = run_action(ActionOrderRequest(), make_tracker(events, slots=slots))
    assert [m["text"] for m in messages] == [REVERIFY]

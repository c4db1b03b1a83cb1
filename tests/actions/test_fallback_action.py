from actions.fallback import ActionFallback, ActionOutOfScope
from tests.actions.conftest import make_tracker, run_action, user_event

RANKING = [{"name": "nlu_fallback", "confidence": 0.55}, {"name": "cancel_order", "confidence": 0.3},
           {"name": "greet", "confidence": 0.1}]


def test_first_miss_suggests_the_likeliest_requests_as_buttons():
    tracker = make_tracker([user_event("greet", "hi"),
                            user_event("nlu_fallback", "blorp the thing", 0.55, RANKING)])
    messages, events = run_action(ActionFallback(), tracker)
    assert events == []
    assert "say it another way" in messages[0]["text"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads[0] == "/cancel_order" and payloads[-1] == "/human_handoff"


def test_second_miss_in_a_row_offers_a_person():
    tracker = make_tracker([user_event("nlu_fallback", "blorp", 0.5, RANKING),
                            user_event("nlu_fallback", "blorp again", 0.5, RANKING)])
    messages, _ = run_action(ActionFallback(), tracker)
    assert "talk to a person" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/human_handoff", "/deny"]


def test_two_close_requests_get_a_question_instead_of_a_guess():
    from actions.deps import fallback_thresholds

    threshold, ambiguity = fallback_thresholds()
    best = threshold + 0.1
    ranking = [{"name": "nlu_fallback", "confidence": threshold}, {"name": "cancel_order", "confidence": best},
               {"name": "change_address", "confidence": best - ambiguity / 2}]
    tracker = make_tracker([user_event("nlu_fallback", "i need to sort out my order", threshold, ranking)])
    messages, _ = run_action(ActionFallback(), tracker)
    assert "which of these do you mean" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/cancel_order", "/change_address", "/human_handoff"]


def _offered_return():
    """A conversation whose bot just offered a return (a sealed proposal and its yes/no question)."""
    from actions.orders import ActionOrderRequest
    slots = {"order_id": "CL-100003", "email": "jkim88@example.net"}
    events = [user_event("return_item", "I want to return something"), {"event": "action", "name": "order_form"},
              {"event": "active_loop", "name": "order_form"}]
    offer, proposed = run_action(ActionOrderRequest(), make_tracker(events, slots=slots))
    proposal = next(e["value"] for e in proposed if e.get("name") == "proposal")
    said = [{"event": "action", "name": "action_order_request"},
            {"event": "bot", "text": offer[0]["text"], "data": {"buttons": offer[0]["buttons"]}},
            {"event": "action", "name": "action_listen"}]
    return events + said, {**slots, "proposal": proposal}


def test_an_unreadable_answer_to_an_open_question_gets_the_question_again():
    events, slots = _offered_return()
    for action, text in ((ActionFallback(), "hmm it doesn't fit"), (ActionOutOfScope(), "they're too small")):
        messages, returned = run_action(action, make_tracker(events + [user_event("nlu_fallback", text)], slots=slots))
        assert messages[0]["text"].endswith("Shall I create a return authorisation with a prepaid label?")
        assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"] and returned == []


def test_out_of_scope_without_an_open_question_says_what_the_bot_does():
    messages, _ = run_action(ActionOutOfScope(), make_tracker([user_event("out_of_scope", "what's the weather")]))
    assert messages[0]["response"] == "utter_out_of_scope"


def test_an_unreadable_message_with_an_order_number_starts_the_identity_check():
    from rasa_sdk.events import FollowupAction
    tracker = make_tracker([user_event("nlu_fallback", "CL-100001? maria.lopez@example.com", 0.2, RANKING)])
    messages, events = run_action(ActionFallback(), tracker)
    assert messages == [] and events == [FollowupAction("order_form")]

from actions.fallback import ActionFallback
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

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

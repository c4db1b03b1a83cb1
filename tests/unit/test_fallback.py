from careline.fallback import consecutive_misses, fallback_reply, suggestions


def test_consecutive_misses_counts_only_the_latest_run():
    assert consecutive_misses([]) == 0
    assert consecutive_misses(["greet", "nlu_fallback"]) == 1
    assert consecutive_misses(["nlu_fallback", "faq", "nlu_fallback", "nlu_fallback"]) == 2
    assert consecutive_misses(["nlu_fallback", "greet"]) == 0


def test_suggestions_follow_the_ranking_and_skip_small_talk():
    ranking = [("nlu_fallback", 0.6), ("greet", 0.2), ("cancel_order", 0.1), ("dispute_charge", 0.05)]
    assert suggestions(ranking) == [
        ("Cancel an order", "/cancel_order"),
        ("Query a charge or fee", "/dispute_charge"),
        ("Where is my order?", "/order_status"),
    ]


def test_suggestions_are_padded_when_nothing_ranks():
    assert [payload for _, payload in suggestions([])] == ["/order_status", "/return_item", "/request_refund"]


def test_first_miss_asks_to_rephrase_with_suggestions_and_a_person_button():
    reply = fallback_reply(1, [("request_refund", 0.3)])
    assert "say it another way" in reply.text
    assert reply.buttons[0] == ("Get a refund", "/request_refund")
    assert reply.buttons[-1] == ("Talk to a person", "/human_handoff")


def test_second_miss_in_a_row_offers_a_person():
    reply = fallback_reply(2, [("request_refund", 0.3)])
    assert "talk to a person" in reply.text
    assert [payload for _, payload in reply.buttons] == ["/human_handoff", "/deny"]

from careline.nlu.clarification import consecutive_misses, fallback_reply, suggestions


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


# --- ask, don't guess ----------------------------------------------------------------------

def test_two_close_requests_are_asked_about_with_a_button_each_and_a_person():
    from careline.nlu.clarification import clarification

    reply = clarification([("nlu_fallback", 0.4), ("request_refund", 0.41), ("return_item", 0.38),
                           ("greet", 0.02)], None, threshold=0.35, ambiguity=0.05)
    assert reply is not None and "which of these" in reply.text
    assert reply.buttons == [("Get a refund", "/request_refund"), ("Return an item", "/return_item"),
                             ("Talk to a person", "/human_handoff")]


def test_a_close_faq_topic_is_offered_as_its_question():
    from careline.nlu.clarification import clarification

    reply = clarification([("faq", 0.45), ("order_status", 0.42)], "faq/shipping_times", 0.35, 0.05)
    assert reply.buttons[0] == ("Delivery times", "How long does delivery take?")
    assert reply.buttons[1] == ("Where is my order?", "/order_status")


def test_no_question_when_one_clearly_wins_nothing_is_confident_or_a_choice_is_no_request():
    from careline.nlu.clarification import clarification

    assert clarification([("request_refund", 0.6), ("return_item", 0.3)], None, 0.35, 0.05) is None
    assert clarification([("request_refund", 0.2), ("return_item", 0.19)], None, 0.35, 0.05) is None
    assert clarification([("greet", 0.4), ("order_status", 0.39)], None, 0.35, 0.05) is None
    assert clarification([("out_of_scope", 0.4), ("order_status", 0.39)], None, 0.35, 0.05) is None
    assert clarification([("faq", 0.4), ("order_status", 0.39)], None, 0.35, 0.05) is None   # topic unknown
    assert clarification([("order_status", 0.5)], None, 0.35, 0.05) is None

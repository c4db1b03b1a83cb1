"""Ticket building: transcript, summary, priority and the customer's expectation.

Redaction itself is careline.shared.redact (tests/careline/shared/test_patterns.py).
"""

from careline.handoff.ticket import TicketFacts, build_ticket, priority


def _user(text, intent, score, ts):
    return {"event": "user", "text": text, "timestamp": ts,
            "parse_data": {"intent": {"name": intent}, "frustration": {"score": score}}}


EVENTS = [
    _user("where is my order", "order_status", 0.2, 1_700_000_000),
    {"event": "bot", "text": "What's your order number?", "timestamp": 1_700_000_001},
    _user("CL-100001, maria.lopez@example.com", "inform", 0.1, 1_700_000_010),
    {"event": "action", "name": "action_listen", "timestamp": 1_700_000_011},
    _user("this is RIDICULOUS, my card 4111 1111 1111 1111 was charged twice!!!", "dispute_charge", 0.95,
          1_700_000_020),
]


def test_ticket_holds_a_redacted_transcript_intents_trajectory_and_summary():
    facts = TicketFacts(customer_name="Maria Lopez", customer_tier="plus", order_number="CL-100001",
                        order_total=207.0, decisions=[{"kind": "waiver", "outcome": "escalate", "amount": 14.99,
                                                       "rule": "waiver_already_used",
                                                       "why": "the customer had a fee waived in the past year"}])
    ticket = build_ticket("conv-1", "rest", "frustration", EVENTS, facts)
    assert [line.role for line in ticket.transcript] == ["customer", "bot", "customer", "customer"]
    assert "[email]" in ticket.transcript[2].text and "[card number]" in ticket.transcript[3].text
    assert "maria.lopez" not in str(ticket) and "4111" not in str(ticket)
    assert ticket.intents == ["order_status", "inform", "dispute_charge"]
    assert ticket.frustration == [0.2, 0.1, 0.95]
    assert ticket.summary == ("Maria wants to query a charge or fee with order CL-100001. "
                              "Tried: waiving a $14.99 fee needs a person's approval: the customer had a fee "
                              "waived in the past year. "
                              "Escalated because the customer was getting frustrated. Frustration peaked at 0.95.")
    assert ticket.priority == priority("frustration", 0.95, facts) == 100  # 60 + 28 + 10 + 5, capped
    assert priority("customer_request", 0.5, facts) == 40 + 15 + 10 + 5


def test_unverified_customer_summary_and_priority_bounds():
    ticket = build_ticket("conv-2", "socketio", "customer_request", EVENTS[:1])
    assert ticket.summary.startswith("The customer (not verified) wants to know where their order is.")
    assert 0 <= priority("customer_request", 5.0, TicketFacts(customer_tier="premium", order_total=9999)) <= 100


def test_the_handoff_limits_defaults_are_policy_yml_s():
    from careline.handoff.ticket import HandoffLimits
    from careline.shared import load_settings

    assert HandoffLimits() == HandoffLimits.from_mapping(load_settings().policy_section("handoff"))


def test_the_summary_names_declined_offers_and_decisions_in_plain_words():
    facts = TicketFacts(customer_name="James Kim", order_number="CL-100003", declined=[
        {"kind": "refund", "amount": "28.95", "order_number": "CL-100003"},
        {"kind": "reship", "amount": None, "order_number": "CL-100003"}])
    summary = build_ticket("conv-3", "socketio", "customer_request", EVENTS[:1], facts).summary
    assert summary == ("James wants to know where their order is with order CL-100003. James declined a $28.95 "
                       "refund and a free replacement. Escalated because the customer asked for a person. "
                       "Frustration peaked at 0.20.")
    decided = TicketFacts(customer_name="James Kim", decisions=[
        {"kind": "refund", "outcome": "approve", "amount": 38.95, "rule": "refund_within_limit",
         "reference": "RF-000012", "why": "within the bot's refund limit"},
        {"kind": "refund", "outcome": "deny", "amount": 0.0, "rule": "outside_return_window",
         "why": "the order is past the return window"}], declined=[{"kind": "waiver", "amount": "14.99"}])
    summary = build_ticket("conv-4", "rest", "policy", EVENTS[:1], decided).summary
    assert "James declined waiving a $14.99 fee. Tried: a $38.95 refund was approved (RF-000012); a refund was " \
           "refused: the order is past the return window." in summary
    assert "_" not in summary and "(RULE" not in summary


def test_the_saved_transcript_shows_what_people_saw_redacted_with_intent_and_frustration():
    events = [
        {"event": "bot", "text": "Shall I refund $28.95?", "timestamp": 1_700_000_000,
         "data": {"buttons": [{"title": "Yes, please", "payload": "/affirm"},
                              {"title": "No, thanks", "payload": "/deny"}]}},
        {**_user("/deny", "deny", 0.3, 1_700_000_005)},
        {"event": "bot", "text": "Ana joined the chat", "timestamp": 1_700_000_010,
         "metadata": {"agent": "Ana Rivera", "system": "joined"}},
        {"event": "bot", "text": "Hi, write to ana@harborpine.example", "timestamp": 1_700_000_011,
         "metadata": {"agent": "Ana Rivera"}},
        {"event": "user", "text": "/EXTERNAL_follow_up", "timestamp": 1_700_000_012,
         "parse_data": {"intent": {"name": "EXTERNAL_follow_up"}}},
    ]
    lines = build_ticket("conv-5", "socketio", "customer_request", events).transcript
    assert [(line.role, line.text) for line in lines] == [
        ("bot", "Shall I refund $28.95?"), ("customer", "No, thanks"), ("system", "Ana joined the chat"),
        ("agent", "Hi, write to [email]")]
    assert (lines[1].intent, lines[1].frustration, lines[3].agent) == ("deny", 0.3, "Ana Rivera")
    assert lines[0].at == "2023-11-14T22:13:20+00:00"

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
                        order_total=207.0, decisions=[{"kind": "waiver", "outcome": "escalate",
                                                       "rule": "waiver_already_used"}])
    ticket = build_ticket("conv-1", "rest", "frustration", EVENTS, facts)
    assert [line.role for line in ticket.transcript] == ["customer", "bot", "customer", "customer"]
    assert "[email]" in ticket.transcript[2].text and "[card number]" in ticket.transcript[3].text
    assert "maria.lopez" not in str(ticket) and "4111" not in str(ticket)
    assert ticket.intents == ["order_status", "inform", "dispute_charge"]
    assert ticket.frustration == [0.2, 0.1, 0.95]
    assert ticket.summary == ("Maria wants to query a charge or fee with order CL-100001. "
                              "Tried: waiver escalate (waiver_already_used). "
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

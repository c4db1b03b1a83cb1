"""Tickets and their delivery to a (fake, local) helpdesk: nothing lost, nothing sent twice."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db.engine import make_engine
from careline.db.models.handoff import OutboxMessage, Ticket, TicketEvent
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.outbox import HelpdeskOutbox
from careline.handoff.tickets import CONTACT_EMAIL, MAX_CONTACTS, TicketService
from careline.shared import utcnow
from tests.conftest import Clock
from tests.fakes.helpdesk import FakeHelpdesk

EVENTS = [
    {"event": "user", "text": "my card 4111 1111 1111 1111 was charged twice!!!", "timestamp": 1_700_000_000,
     "parse_data": {"intent": {"name": "dispute_charge"}, "frustration": {"score": 0.9}}},
    {"event": "bot", "text": "I'm sorry. Let me get a person.", "timestamp": 1_700_000_001},
]




@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


def _draft(conversation="conv-1", reason="frustration"):
    return build_ticket(conversation, "rest", reason, EVENTS, TicketFacts(customer_name="Maria Lopez",
                                                                          order_number="CL-100001"))


def test_opening_is_idempotent_and_queues_one_message(engine):
    service = TicketService(engine)
    first = service.open(_draft(), "conv-1:handoff-1")
    again = service.open(_draft(), "conv-1:handoff-1")
    assert first.created and not again.created and again.id == first.id
    with Session(engine) as session:
        assert session.execute(sa.select(sa.func.count(Ticket.id))).scalar_one() == 1
        message = session.execute(sa.select(OutboxMessage)).scalar_one()
        payload = json.loads(message.payload)
    assert payload["summary"].startswith("Maria wants to query a charge or fee with order CL-100001")
    assert "4111" not in message.payload and payload["frustration"] == [0.9]


def test_a_conversation_waits_in_the_queue_once_and_a_flood_per_client_is_refused(engine):
    """The attack review: /human_handoff and /restart in turn opened a new ticket every time."""
    from careline.handoff.ticket import HandoffLimits

    service = TicketService(engine)
    first = service.open(_draft("flood"), "flood:m1", client="rest:198.51.100.7")
    for message in range(2, 9):
        again = service.open(_draft("flood"), f"flood:m{message}", client="rest:198.51.100.7")
        assert (again.id, again.created) == (first.id, False)
    limits = HandoffLimits(max_tickets_per_client=3, window_minutes=60)
    for number in range(2, 4):
        assert service.may_open(f"new-{number}", "rest:198.51.100.7", limits)
        service.open(_draft(f"new-{number}"), f"new-{number}:m1", client="rest:198.51.100.7")
    assert not service.may_open("new-4", "rest:198.51.100.7", limits)
    assert service.may_open("new-2", "rest:198.51.100.7", limits), "a conversation with a ticket keeps it"
    assert service.may_open("other", "web:203.0.113.1", limits)


def test_queue_position_follows_priority_then_age(engine):
    service = TicketService(engine)
    low = service.open(_draft("a", "customer_request"), "a")
    high = service.open(_draft("b", "frustration"), "b")
    later_low = service.open(_draft("c", "customer_request"), "c")
    assert (low.queue_position, high.queue_position, later_low.queue_position) == (1, 1, 3)


def test_delivery_survives_a_helpdesk_outage_and_sends_once(engine):
    clock = Clock()
    TicketService(engine, now=clock).open(_draft(), "conv-1:handoff-1")
    with FakeHelpdesk() as helpdesk:
        outbox = HelpdeskOutbox(engine, helpdesk.url, timeout_s=2, now=clock)
        helpdesk.down = True
        assert outbox.deliver_due() == (0, 1)
        assert outbox.deliver_due() == (0, 0), "the next try waits for its backoff"
        clock.now += timedelta(seconds=3)
        assert outbox.deliver_due() == (0, 1)
        helpdesk.down = False
        helpdesk.fail_after_store = 1  # stored, but the answer is lost: we must retry, it must dedupe
        clock.now += timedelta(seconds=10)
        assert outbox.deliver_due() == (0, 1)
        clock.now += timedelta(seconds=20)
        assert outbox.deliver_due() == (1, 0)
        clock.now += timedelta(hours=1)
        assert outbox.deliver_due() == (0, 0) and outbox.pending() == 0
    assert len(helpdesk.tickets) == 1 and len(helpdesk.requests) == 4
    assert len(set(helpdesk.requests)) == 1, "every attempt carries the same idempotency key"
    ticket = next(iter(helpdesk.tickets.values()))
    assert ticket["conversation_id"] == "conv-1" and ticket["priority"] >= 60


def test_an_unreachable_helpdesk_is_retried_with_growing_backoff(engine):
    clock = Clock()
    TicketService(engine, now=clock).open(_draft(), "k")
    outbox = HelpdeskOutbox(engine, "http://127.0.0.1:9/nothing-listens", timeout_s=0.5, now=clock)
    assert outbox.deliver_due() == (0, 1)
    with Session(engine) as session:
        message = session.execute(sa.select(OutboxMessage)).scalar_one()
        assert message.attempts == 1 and "ConnectionError" in message.last_error
        assert message.next_attempt_at == clock.now + timedelta(seconds=2)
    assert outbox.backoff(10) == timedelta(seconds=300)


def test_a_bad_helpdesk_url_is_refused():
    with pytest.raises(ValueError):
        HelpdeskOutbox(None, "ftp://example")
    assert requests  # the outbox talks HTTP through requests


def test_a_ticket_keeps_a_few_contact_addresses_and_then_the_one_it_has(engine, caplog):
    service = TicketService(engine)
    ticket = service.open(_draft("conv-contacts"), "conv-contacts:1").id
    assert service.leave_contact(ticket, "kim@example.net") == "kim@example.net"
    assert service.leave_contact(ticket, "kim@example.net") == "kim@example.net", "the same one again: nothing new"
    assert service.leave_contact(ticket, "kim.fixed@example.net") == "kim.fixed@example.net"
    assert service.leave_contact(ticket, "kim@example.net") == "kim@example.net", "one it has: the contact again"
    assert service.leave_contact(ticket, "third@example.net") == "third@example.net"
    assert MAX_CONTACTS == 3
    with caplog.at_level("WARNING", logger="careline.handoff.tickets"):
        assert service.leave_contact(ticket, "victim.person@example.org") == "third@example.net", \
            "a fourth address is not kept: the current one stays"
    assert "victim" not in caplog.text and "beyond the 3" in caplog.text, "logged, without the address"
    assert service.state("conv-contacts").contact_email == "third@example.net"
    assert service.leave_contact(ticket, "kim.fixed@example.net") == "kim.fixed@example.net"
    with Session(engine) as session:
        kept = session.execute(sa.select(TicketEvent.detail).where(
            TicketEvent.ticket_id == ticket, TicketEvent.kind == CONTACT_EMAIL)).scalars().all()
    assert set(kept) == {"kim@example.net", "kim.fixed@example.net", "third@example.net"}
    other = service.open(_draft("conv-other"), "conv-other:1").id
    assert service.leave_contact(other, "victim.person@example.org") == "victim.person@example.org", "per ticket"


def test_on_postgresql_the_revision_grows_with_each_commit_even_when_ids_do_not_follow_them(pg_url):
    """PostgreSQL hands out ids at insert: the desk's take gets the smaller id, the contact the customer left
    meanwhile commits first with the larger one. A state read between the two commits must be labelled lower
    than one read after both (the latest id would be the same for both: the older state could win)."""
    engine = make_engine(pg_url)
    service = TicketService(engine)
    ticket = service.open(_draft("conv-pg"), "conv-pg:1").id
    with Session(engine) as desk:
        take = TicketEvent(ticket_id=ticket, agent_id=None, kind="take", detail="", created_at=utcnow())
        desk.add(take)
        desk.flush()  # the take has its id, not yet committed
        assert service.leave_contact(ticket, "kim@example.net") == "kim@example.net"
        between = service.revision("conv-pg")
        desk.commit()
        taken_id = take.id
    after = service.revision("conv-pg")
    with Session(engine) as session:
        contact_id = session.execute(sa.select(TicketEvent.id).where(
            TicketEvent.ticket_id == ticket, TicketEvent.kind == CONTACT_EMAIL)).scalar_one()
    assert taken_id < contact_id, "the ids do not follow the commits"
    assert between == (1, 1) and after == (1, 2) and after > between


def test_the_state_reads_its_revision_before_the_rest(engine):
    """A state is never labelled newer than what it says: its revision is the first thing read."""
    service = TicketService(engine)
    ticket = service.open(_draft("conv-order"), "conv-order:1").id
    statements: list = []

    def record(conn, cursor, statement, *_):
        statements.append(statement)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        state = service.state("conv-order")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert "count(ticket_events.id)" in selects[0] and state is not None and state.revision == (1, 0)
    assert state.id == ticket and len(selects) > 1 and all("count(ticket_events.id)" not in s for s in selects[1:])

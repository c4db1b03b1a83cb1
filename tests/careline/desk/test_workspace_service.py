"""The desk service's side of the workspace: queue filters in plain words, who joined (take, or the first
reply), and the fingerprints the live views watch."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db.models.handoff import TicketEvent
from careline.desk import conversation, words
from careline.desk.auth import Accounts
from careline.desk.service import DeskError, Forbidden
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.tickets import TicketService

EVENTS = [{"event": "user", "text": "I want a person", "timestamp": 1_700_000_000,
           "parse_data": {"intent": {"name": "human_handoff"}, "frustration": {"score": 0.5}}}]


@pytest.fixture
def people(engine, clock):
    accounts = Accounts(engine, now=clock)
    return (accounts.create("ana@example.test", "Ana Rivera", "agent", "correct horse battery"),
            accounts.create("ben@example.test", "Ben Second", "agent", "correct horse battery"),
            accounts.create("sam@example.test", "Sam Okafor", "supervisor", "correct horse battery"))


def _ticket(engine, clock, conversation_id, channel="socketio", reason="customer_request"):
    draft = build_ticket(conversation_id, channel, reason, EVENTS, TicketFacts())
    return TicketService(engine, now=clock).open(draft, f"{conversation_id}:1").id


def test_the_queue_in_plain_words_and_its_filters(engine, desk, clock, people):
    ana, ben, _ = people
    web = _ticket(engine, clock, "web-1", "socketio", "frustration")
    clock.now += timedelta(minutes=65)
    messenger = _ticket(engine, clock, "fb-1", "facebook", "identity_locked")
    api = _ticket(engine, clock, "rest-1", "rest", "policy")
    desk.take(messenger, ana)
    desk.take(api, ben)
    items = {item.ticket_id: item.as_dict() for item in desk.queue()}
    assert (items[web]["channel_name"], items[web]["reason_title"], items[web]["waiting"]) == \
        ("Website chat", "Frustrated customer", "1 h 05 min")
    assert (items[messenger]["channel_name"], items[messenger]["reason_title"]) == \
        ("Messenger", "Identity check failed")
    assert items[api]["channel_name"] == "API" and items[api]["waiting"] == "under 1 min"
    assert {i.ticket_id for i in desk.queue("mine", ana)} == {messenger}
    assert {i.ticket_id for i in desk.queue("mine", ben)} == {api}
    assert {i.ticket_id for i in desk.queue("unassigned", ana)} == {web}
    assert {i.ticket_id for i in desk.queue("all", ana)} == {web, messenger, api}
    assert {i.ticket_id for i in desk.queue("nonsense", ana)} == {web, messenger, api}, "anything else: all"
    with pytest.raises(DeskError):
        desk.queue("mine")


def test_taking_says_whether_it_is_new(engine, desk, clock, people):
    ana, ben, sam = people
    ticket = _ticket(engine, clock, "c-take")
    assert desk.take(ticket, ana) is True
    assert desk.take(ticket, ana) is False, "taking your own ticket again announces nothing"
    with pytest.raises(Forbidden):
        desk.take(ticket, ben)
    assert desk.take(ticket, sam) is True, "a supervisor taking it over joins"


def test_the_first_reply_to_an_unassigned_ticket_joins_before_it_is_sent(engine, desk, clock, people):
    ana, ben, sam = people
    ticket = _ticket(engine, clock, "c-reply")
    calls = []
    taken = desk.reply(ticket, ana, "Hi, Ana here.", lambda c, text: calls.append(("send", c, text)),
                       joining=lambda c: calls.append(("joined", c)))
    assert taken is True and calls == [("joined", "c-reply"), ("send", "c-reply", "Hi, Ana here.")]
    calls.clear()
    assert desk.reply(ticket, ana, "More.", lambda c, text: calls.append(("send", c, text)),
                      joining=lambda c: calls.append(("joined", c))) is False
    assert calls == [("send", "c-reply", "More.")], "joined once"
    assert desk.reply(ticket, sam, "Sam supervising.", lambda *_: None, joining=lambda c: calls.append("x")) is False
    assert "x" not in calls, "a supervisor replying on Ana's ticket does not take it"
    view = desk.view(ticket)
    assert [e["kind"] for e in view.events] == ["take", "reply", "reply", "reply"]
    assert view.ticket["assigned_to"] == "Ana Rivera"
    lines = conversation.system_lines(view.events)
    assert [line["text"] for line in lines] == ["Ana Rivera joined"]
    with pytest.raises(Forbidden):
        desk.conversation_for(ticket, ben)
    assert desk.conversation_for(ticket, ana) == ("c-reply", False)


def test_a_reply_whose_joining_fails_loudly_is_not_sent(engine, desk, clock, people):
    """The routes wrap `joining` (a courtesy); the service itself sends nothing when it raises."""
    ana = people[0]
    ticket = _ticket(engine, clock, "c-fail")
    sent = []

    def broken(_conversation):
        raise RuntimeError("bot down")

    with pytest.raises(RuntimeError):
        desk.reply(ticket, ana, "hello", lambda c, t: sent.append(t), joining=broken)
    assert sent == []
    with Session(engine) as session:
        assert session.execute(sa.select(sa.func.count(TicketEvent.id))).scalar_one() == 0


def test_the_ticket_fingerprint_changes_with_its_record(engine, desk, clock, people):
    ana = people[0]
    ticket = _ticket(engine, clock, "c-print")
    other = _ticket(engine, clock, "c-other")
    first = desk.ticket_fingerprint(ticket)
    desk.note(other, ana, "another ticket's note")
    assert desk.ticket_fingerprint(ticket) == first, "another ticket's events do not wake this one's page"
    desk.note(ticket, ana, "checked")
    second = desk.ticket_fingerprint(ticket)
    assert second != first
    desk.take(ticket, ana)
    assert desk.ticket_fingerprint(ticket) != second
    with pytest.raises(DeskError):
        desk.ticket_fingerprint(987654)


def test_unverified_customers_are_told_apart_in_the_queue_by_a_tag_and_their_words(engine, desk, clock):
    said = [{"event": "user", "text": "my parcel never came, mail me at maria@example.com", "timestamp": 1_700_000_000,
             "parse_data": {"intent": {"name": "order_status"}}}, *EVENTS]
    first = TicketService(engine, now=clock).open(
        build_ticket("web-first", "socketio", "customer_request", said, TicketFacts()), "web-first:1").id
    second = _ticket(engine, clock, "+14155550134", "rest")
    items = {item.ticket_id: item.as_dict() for item in desk.queue()}
    assert items[first]["customer"] == items[second]["customer"] == "Unverified customer"
    tag = words.conversation_tag("web-first")
    assert items[first]["detail"] == f"{tag} · “my parcel never came, mail me at [email]”"
    assert items[second]["detail"] == f"{words.conversation_tag('+14155550134')} · “I want a person”"
    assert items[first]["detail"] != items[second]["detail"]
    assert "maria@example.com" not in str(items[first]) and "0134" not in items[second]["detail"]


def _maria(engine) -> int:
    with engine.connect() as db:
        return int(db.exec_driver_sql("SELECT id FROM customers WHERE email='maria.lopez@example.com'").scalar_one())


def test_a_verified_customers_row_names_the_order(engine, desk, clock):
    customer = _maria(engine)
    draft = build_ticket("web-maria", "socketio", "frustration", EVENTS,
                         TicketFacts(customer_name="Maria Lopez", order_number="CL-100001", order_total=207.0))
    ticket = TicketService(engine, now=clock).open(draft, "web-maria:1", customer_id=customer).id
    item = next(item.as_dict() for item in desk.queue() if item.ticket_id == ticket)
    assert (item["customer"], item["detail"], item["verified"]) == ("Maria Lopez", "CL-100001", True)


def test_the_desk_history_is_in_words_with_no_none_and_the_contact_address_redacted(engine, desk, clock, people):
    ana = people[0]
    ticket = _ticket(engine, clock, "c-history")
    TicketService(engine, now=clock).leave_contact(ticket, "stranger@example.com")
    desk.reply(ticket, ana, "Hi, call me on +1 415 555 0134", lambda *_: None)
    desk.note(ticket, ana, "checked the courier")
    desk.finish(ticket, ana, "closed", lambda _: None)
    texts = [event["text"] for event in desk.view(ticket).events]
    assert texts == [
        "The customer left an email address for the reply (replies they do not see go there too).",
        "Ana Rivera took the conversation by sending the first reply",
        "Ana Rivera replied: “Hi, call me on [phone number]”",
        "Ana Rivera added an internal note",
        "Ana Rivera closed the conversation",
    ]
    assert "stranger@example.com" not in str(desk.view(ticket).events), "an unverified customer's address never shows"


def test_a_verified_customer_sees_their_own_contact_address_in_the_history(engine, desk, clock):
    customer = _maria(engine)
    draft = build_ticket("web-maria-mail", "socketio", "frustration", EVENTS,
                         TicketFacts(customer_name="Maria Lopez", order_number="CL-100001", order_total=207.0))
    ticket = TicketService(engine, now=clock).open(draft, "web-maria-mail:1", customer_id=customer).id
    TicketService(engine, now=clock).leave_contact(ticket, "maria.home@example.com")
    [event] = desk.view(ticket).events
    assert event["text"].endswith("(replies they do not see go there too): maria.home@example.com.")

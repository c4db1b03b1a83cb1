"""The desk shows a return's label link with the decision, where agents read the ticket's history."""
from __future__ import annotations

from urllib.parse import urlparse

from careline.db.engine import make_engine
from careline.desk.service import DeskService
from careline.fulfilment import LabelLinks, ReturnLabels
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.tickets import TicketService
from careline.money import ClaimService, Request, load_policy
from careline.shared import load_settings
from tests.conftest import SEED_DAY

KEY = "desk-label-tests-signing-key-0123456789"
EVENTS = [{"event": "user", "text": "I need a person", "timestamp": 1_700_000_000,
           "parse_data": {"intent": {"name": "human_handoff"}}}]


def test_an_approved_return_in_a_tickets_history_links_to_its_label(fresh_store_url):
    engine = make_engine(fresh_store_url)
    claims = ClaimService(engine, load_policy(), today=lambda: SEED_DAY)
    conversation = "conv-return"
    returned = claims.decide_and_apply(idempotency_key="r", order_number="CL-100003", email="jkim88@example.net",
                                       request=Request("return"), conversation_id=conversation).reference
    claims.decide_and_apply(idempotency_key="f", order_number="CL-100003", email="jkim88@example.net",
                            request=Request("refund", reason="damaged"), conversation_id=conversation)
    draft = build_ticket(conversation, "rest", "customer_request", EVENTS, TicketFacts(order_number="CL-100003"))
    ticket = TicketService(engine).open(draft, f"{conversation}:1").id
    links = LabelLinks(KEY, "https://shop.example")
    view = DeskService(engine, claims, label_url=links.url).view(ticket)
    by_kind = {d["kind"]: d for d in view.decisions}
    assert by_kind["refund"]["label_url"] is None
    url = by_kind["return"]["label_url"]
    assert url.startswith("https://shop.example/returns/label/")
    labels = ReturnLabels(engine, load_settings().shop, links)
    assert labels.answer(urlparse(url).path).filename == f"return-label-{returned}.pdf"
    assert DeskService(engine, claims).view(ticket).decisions[0]["label_url"] is None, "no signing key: no link"

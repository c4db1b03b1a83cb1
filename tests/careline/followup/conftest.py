"""Follow-ups on a real SQLite copy of the seeded shop, with a settable clock and a fake bot."""
from __future__ import annotations

import zlib
from datetime import timedelta
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from careline.db import FollowUp, Ticket, make_engine
from careline.followup import LATE_ORDER_INTENT, FollowUpRules, FollowUpSchedule
from careline.handoff.ticket import TicketFacts, build_ticket
from careline.handoff.tickets import TicketService
from careline.money import ClaimService, Request, load_policy
from careline.shared import utcnow
from tests.conftest import SEED_DAY, Clock

RULES = FollowUpRules(after={"refund": timedelta(days=5), "return": timedelta(days=10), "reship": timedelta(days=3),
                             "handoff": timedelta(hours=20)},
                      quiet=timedelta(minutes=10), answer_window=timedelta(hours=48),
                      give_up_after=timedelta(hours=72), late_watch=timedelta(days=30))


@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


@pytest.fixture
def clock() -> Clock:
    """Now (the claim service stamps its decisions with the real time), then moved by the tests."""
    return Clock(utcnow())


@pytest.fixture
def schedule(engine, clock) -> FollowUpSchedule:
    return FollowUpSchedule(engine, RULES, now=clock)


@pytest.fixture
def claims(engine) -> ClaimService:
    return ClaimService(engine, load_policy(), today=lambda: SEED_DAY)


def refund(claims: ClaimService, conversation: str = "conv-1", key: str = "k1") -> str:
    """James Kim's delivered CL-100003 refunded in `conversation` (damaged): the reference."""
    outcome = claims.decide_and_apply(idempotency_key=key, order_number="CL-100003", email="jkim88@example.net",
                                      request=Request("refund", "damaged", Decimal("20")), conversation_id=conversation)
    assert outcome.reference
    return outcome.reference


def authorise_return(claims: ClaimService, conversation: str, key: str, engine: Engine) -> str:
    """A return authorised in `conversation` (returns have no claim limits), on a new delivered order of
    James Kim's (a copy of CL-100003: an order has one return): the reference."""
    with engine.begin() as connection:
        columns = [row[1] for row in connection.exec_driver_sql("PRAGMA table_info(orders)") if row[1] != "id"]
        number = "CL-9" + f"{zlib.crc32(key.encode()) % 100000:05d}"
        values = ", ".join("?" if c == "number" else c for c in columns)
        connection.exec_driver_sql(f"INSERT INTO orders ({', '.join(columns)}) SELECT {values} FROM orders "
                                   "WHERE number = 'CL-100003'", (number,))
    outcome = claims.decide_and_apply(idempotency_key=key, order_number=number, email="jkim88@example.net",
                                      request=Request("return"), conversation_id=conversation)
    assert outcome.reference
    return outcome.reference


def resolved_ticket(engine, clock, conversation: str = "conv-h") -> int:
    """A handoff a person resolved now."""
    draft = build_ticket(conversation, "socketio", "customer_request", [], TicketFacts())
    opened = TicketService(engine, now=clock).open(draft, f"{conversation}:1")
    with Session(engine) as session, session.begin():
        ticket = session.get(Ticket, opened.id)
        ticket.status, ticket.resolved_at = "resolved", clock()
    return opened.id


def follow_ups(engine) -> List[FollowUp]:
    with Session(engine) as session:
        return list(session.execute(sa.select(FollowUp).order_by(FollowUp.id)).scalars())


class FakeBot:
    """Rasa as the worker sees it: conversations' trackers, and trigger_intent running the action.

    `answer=True`: the triggered action asks (marks the follow-up sent through the schedule), as
    actions/followup.py does; `down`: every call fails as if the server were unreachable.
    """

    def __init__(self, schedule: FollowUpSchedule, clock: Clock) -> None:
        self.schedule = schedule
        self.clock = clock
        self.conversations: Dict[str, Dict[str, Any]] = {}
        self.triggered: List[Tuple[str, str, Dict[str, str]]] = []
        self.down = False
        self.answer = True

    def talk(self, conversation: str, channel: str = "socketio", ago: timedelta = timedelta(hours=1),
             paused: bool = False, form: Optional[str] = None) -> None:
        """The customer of `conversation` last wrote `ago` on `channel`."""
        self.conversations[conversation] = {
            "sender_id": conversation, "latest_input_channel": channel, "paused": paused,
            "active_loop": {"name": form} if form else {},
            "events": [{"event": "user", "text": "hi", "timestamp": (self.clock() - ago).timestamp(),
                        "parse_data": {"intent": {"name": "greet"}}}],
        }

    def tracker(self, conversation_id: str) -> Mapping[str, Any]:
        if self.down:
            raise ConnectionError("connection refused")
        return self.conversations.get(conversation_id, {"sender_id": conversation_id, "events": []})

    def trigger_intent(self, conversation_id: str, intent: str, entities: Mapping[str, str]) -> None:
        if self.down:
            raise ConnectionError("connection refused")
        self.triggered.append((conversation_id, intent, dict(entities)))
        if self.answer:
            channel = self.conversations[conversation_id]["latest_input_channel"]
            self.schedule.ask(entities["follow_up_id"], conversation_id, channel,
                              late_notice=intent == LATE_ORDER_INTENT)


@pytest.fixture
def bot(schedule, clock) -> FakeBot:
    return FakeBot(schedule, clock)

"""Agent replies a customer has not seen go by email (the worker's `unseen-replies` job).

An agent's reply reaches a website customer live; if they have not seen it (the widget's `seen`
marks, careline.access.seen_marks) a grace period after it was sent, the replies they missed go in
one email through the outbox (`queue_email`, once per ticket and last reply). Channels without seen
marks (Messenger, REST) email their replies only when the customer left an address while waiting.
Where the email goes is the handoff's rule (careline.handoff.reply_address, handed in by the worker):
a verified customer's own address, else the one they left while waiting.

Each ticket keeps how far its replies are settled (`reply_notices`): a reply seen in time, emailed,
or with nowhere to go is never looked at again, so every round reads only the replies still open.

A ticket gets at most one such email every REPLY_EMAIL_GAP (a live chat is not an email thread, and
the shop's address is nobody's relay: an unverified customer chooses where the email goes). Replies
missed meanwhile stay open and go together in the next email after the gap; nothing is lost.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, List, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careline.db import Agent, ReplyNotice, SeenMark, Ticket, TicketEvent
from careline.notify.emails import OutgoingEmail, queue_email
from careline.shared import render, transcript, utcnow

REPLY = "reply"
GRACE = timedelta(minutes=2)
#: Replies older than this are never emailed (a worker that was down for days, a first deployment).
HORIZON = timedelta(days=1)
#: A reply recorded this soon after the customer's mark was on their screen already: the desk records
#: a reply just after the customer's widget got it (careline.access.seen_marks).
SLACK = timedelta(seconds=2)
#: At most one unseen-reply email per ticket this often (the replies missed meanwhile go in the next one).
REPLY_EMAIL_GAP = timedelta(minutes=10)
WEB_CHANNEL = "socketio"
TICKETS_PER_ROUND = 50

#: (session, ticket, only_if_left) -> the address an agent's reply goes to, or None (careline.handoff).
ReplyAddress = Callable[[Session, Ticket, bool], Optional[str]]


def unseen(replies: Sequence[TicketEvent], seen_at: Optional[datetime]) -> List[TicketEvent]:
    """The replies not on the customer's screen by their mark (all of them without a mark)."""
    if seen_at is None:
        return list(replies)
    return [reply for reply in replies if reply.created_at > seen_at + SLACK]


class UnseenReplies:
    """Queues the email of agent replies left unseen for `grace` (blocking; run by the worker)."""

    def __init__(self, engine: Engine, address: ReplyAddress, grace: timedelta = GRACE,
                 now: Callable[[], datetime] = utcnow, horizon: timedelta = HORIZON,
                 gap: timedelta = REPLY_EMAIL_GAP) -> None:
        self._sessions = sessionmaker(bind=engine, future=True)
        self._address, self.grace, self._now, self.horizon, self.gap = address, grace, now, horizon, gap

    def queue_due(self) -> int:
        """Settle every ticket with a reply past its grace period and no email within the gap; how many
        emails were queued."""
        now = self._now()
        settled = sa.func.coalesce(ReplyNotice.through_event_id, 0)
        with self._sessions.begin() as session:
            due = session.execute(
                sa.select(TicketEvent.ticket_id).outerjoin(ReplyNotice, ReplyNotice.ticket_id == TicketEvent.ticket_id)
                .where(TicketEvent.kind == REPLY, TicketEvent.id > settled,
                       TicketEvent.created_at <= now - self.grace, TicketEvent.created_at > now - self.horizon,
                       sa.or_(ReplyNotice.emailed_at.is_(None), ReplyNotice.emailed_at <= now - self.gap))
                .distinct().order_by(TicketEvent.ticket_id).limit(TICKETS_PER_ROUND)).scalars().all()
            return sum(self._settle(session, ticket_id, now) for ticket_id in due)

    def _settle(self, session: Session, ticket_id: int, now: datetime) -> int:
        ticket = session.get(Ticket, ticket_id)
        notice = session.get(ReplyNotice, ticket_id)
        if ticket is None:
            return 0
        replies = session.execute(sa.select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.kind == REPLY,
            TicketEvent.id > (notice.through_event_id if notice else 0),
            TicketEvent.created_at > now - self.horizon).order_by(TicketEvent.id)).scalars().all()
        if not replies:
            return 0
        web = ticket.channel == WEB_CHANNEL
        seen_at = session.execute(sa.select(SeenMark.seen_at).where(
            SeenMark.conversation_id == ticket.conversation_id)).scalar_one_or_none() if web else None
        missed = unseen(replies, seen_at)
        queued = 0
        emailed_lately = notice is not None and notice.emailed_at is not None and notice.emailed_at > now - self.gap
        if missed and missed[0].created_at <= now - self.grace and not emailed_lately:
            through = replies[-1].id  # the missed ones are emailed (or have nowhere to go), the others were seen
            to = self._address(session, ticket, not web)
            if to:
                queued = int(queue_email(session, self._email(session, ticket, missed, to), now))
        elif missed:  # in its grace period, or an email went lately: settle the seen ones before the first missed
            through = max((reply.id for reply in replies if reply.id < missed[0].id), default=0)
        else:
            through = replies[-1].id
        if through:
            if notice is None:
                notice = ReplyNotice(ticket_id=ticket_id, through_event_id=0, updated_at=now)
                session.add(notice)
            if through > notice.through_event_id:
                notice.through_event_id, notice.updated_at = through, now
            if queued:
                notice.emailed_at = now
        return queued

    @staticmethod
    def _email(session: Session, ticket: Ticket, missed: Sequence[TicketEvent], to: str) -> OutgoingEmail:
        """One email for the replies the customer missed, named after the agent of the latest."""
        author = session.get(Agent, missed[-1].agent_id) if missed[-1].agent_id is not None else None
        agent = transcript.first_name(author.name if author else "")  # a reply is always an agent's
        return OutgoingEmail(
            key=f"unseen-reply:{ticket.id}:{missed[-1].id}", to=to,
            subject=render("utter_email_reply_subject", agent=agent),
            body=render("utter_email_reply_body", agent=agent, reply="\n\n".join(r.detail for r in missed)))

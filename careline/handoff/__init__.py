"""Handing a conversation to people: the ticket (transcript, summary, trajectory, redaction), its store,
the wait, the outbox.

ticket.py    building a ticket from a conversation's events: transcript, summary, priority, redaction
             (with careline.shared.redact, the one redaction of the system)
tickets.py   the ticket store (a ticket and its outbox message in one transaction; a conversation's
             ticket state, handling history, agents at work, the email a waiting customer left)
waiting.py   the promised wait (from real handling times and shop.yml's hours) and what a waiting
             customer hears
customer_view.py  the wait as the website widget shows it (conversation_state) and where an agent's
             reply goes by email (reply_address)
outbox.py    delivering tickets to the helpdesk with retries (run by the worker: python -m careline.worker)
"""
from careline.handoff.customer_view import (
    ConversationState,
    CustomerView,
    conversation_state,
    estimate_for,
    reply_address,
)
from careline.handoff.tickets import CONTACT_EMAIL, TicketService, TicketState
from careline.handoff.waiting import WaitEstimate, WaitSettings, estimate_wait, expectation, waiting_reply

__all__ = ["CONTACT_EMAIL", "ConversationState", "CustomerView", "conversation_state", "estimate_for",
           "reply_address", "TicketService", "TicketState", "WaitEstimate", "WaitSettings", "estimate_wait",
           "expectation", "waiting_reply"]

"""Handing a conversation to people: the ticket (transcript, summary, trajectory, redaction), its store, the outbox.

ticket.py    building a ticket from a conversation's events: transcript, summary, priority, redaction
tickets.py   the ticket store (a ticket and its outbox message in one transaction)
outbox.py    delivering tickets to the helpdesk with retries (worker: python -m careline.handoff)
"""
from careline.handoff.ticket import redact

__all__ = ["redact"]

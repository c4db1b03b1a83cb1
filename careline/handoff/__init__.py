"""Handing a conversation to people: the ticket (transcript, summary, trajectory, redaction), its store, the outbox.

ticket.py    building a ticket from a conversation's events: transcript, summary, priority, redaction
tickets.py   the ticket store, the helpdesk outbox and its worker (python -m careline.handoff.tickets)
"""
from careline.handoff.ticket import redact

__all__ = ["redact"]

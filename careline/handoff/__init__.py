"""Handing a conversation to people: the ticket (transcript, summary, trajectory, redaction), its store, the outbox.

ticket.py    building a ticket from a conversation's events: transcript, summary, priority, redaction
             (with careline.shared.redact, the one redaction of the system)
tickets.py   the ticket store (a ticket and its outbox message in one transaction)
outbox.py    delivering tickets to the helpdesk with retries (run by the worker: python -m careline.worker)
"""

__all__: list[str] = []

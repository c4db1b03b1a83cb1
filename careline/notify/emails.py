"""The email outbox: an email is queued in the store and stays there until the mail server took it.

`queue_email` adds one in the caller's transaction, once per idempotency key (it names what the
email announces, e.g. "return-label:RA-100003-0007"), so a sweep that runs again, or a crash and a
restart, never sends the same announcement twice. `EmailOutbox.deliver_due` sends what is due with
the store's one outbox loop (`careline.db.Outbox`): claimed in a short transaction, sent over SMTP
with no transaction open, the result recorded with backoff. A mail server that is down only delays
the email; the row waits, with its last error, until the server takes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from careline.db import EmailRecord, Outbox, Sent, Tally
from careline.shared import EMAIL_WHOLE, utcnow

SUBJECT_MAX = 200
KEY_MAX = 160


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (a return label)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingEmail:
    """One email to one customer. `key` names what it announces: one email per key, ever."""

    key: str
    to: str
    subject: str
    body: str
    attachment: Optional[Attachment] = None


class Mailer(Protocol):
    """What delivers an email (careline.notify.SmtpMailer); `timeout_s` bounds one send."""

    timeout_s: float

    def send(self, email: OutgoingEmail) -> Sent[None]:
        ...


def _one_line(text: str) -> str:
    return " ".join(text.split())


def queue_email(session: Session, email: OutgoingEmail, now: datetime) -> bool:
    """Add `email` to the outbox in the caller's transaction; False if one with its key is there already.

    Raises ValueError for a key that is empty or too long, or a recipient that is not one email address.
    """
    if not email.key or len(email.key) > KEY_MAX:
        raise ValueError(f"an email needs an idempotency key of 1-{KEY_MAX} characters")
    if not EMAIL_WHOLE.match(email.to) or "\n" in email.to:
        raise ValueError(f"not an email address: {email.to!r}")
    exists = session.execute(sa.select(EmailRecord.id).where(EmailRecord.idempotency_key == email.key)).first()
    if exists:
        return False
    attachment = email.attachment
    session.add(EmailRecord(
        idempotency_key=email.key, recipient=email.to, subject=_one_line(email.subject)[:SUBJECT_MAX],
        body=email.body, attachment=attachment.data if attachment else None,
        attachment_name=attachment.filename if attachment else None,
        attachment_type=attachment.content_type if attachment else None,
        created_at=now, attempts=0, next_attempt_at=now,
    ))
    return True


def _outgoing(row: EmailRecord) -> OutgoingEmail:
    attachment = None
    if row.attachment is not None:
        attachment = Attachment(row.attachment_name or "attachment", row.attachment_type or "application/octet-stream",
                                bytes(row.attachment))
    return OutgoingEmail(row.idempotency_key, row.recipient, row.subject, row.body, attachment)


class EmailOutbox:
    """Delivers queued emails through a mailer, retrying with backoff until the mail server takes them."""

    def __init__(self, engine: Engine, mailer: Mailer, max_backoff_s: float = 300.0,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._outbox: Outbox[OutgoingEmail, None] = Outbox(
            engine, EmailRecord, read=_outgoing, send=mailer.send, send_timeout_s=mailer.timeout_s,
            max_backoff_s=max_backoff_s, now=now)

    def deliver_due(self, limit: int = 20) -> Tally:
        """Send the emails that are due; (delivered, failed)."""
        return self._outbox.deliver_due(limit)

    def pending(self) -> int:
        return self._outbox.pending()

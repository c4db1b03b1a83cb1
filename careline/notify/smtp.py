"""Sending an email over SMTP (smtplib), with a Message-ID derived from its idempotency key.

A send that the server took but whose result was never recorded (a crash in between) is sent
again with the same Message-ID, so the receiving side (and anyone reading the mailbox) can tell
it is the same email.
"""
from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr

from careline.db import Sent
from careline.notify.emails import OutgoingEmail
from careline.shared import Settings


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: the CARELINE_SMTP_* settings (the password only from the environment)."""

    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    security: str = "starttls"  # starttls, ssl or none
    timeout_s: float = 20.0

    @staticmethod
    def from_settings(settings: Settings) -> SmtpConfig:
        """The configured server; the sender is CARELINE_SMTP_FROM or the shop's name and support email."""
        shop = settings.shop()
        return SmtpConfig(host=settings.smtp_host, port=settings.smtp_port,
                          sender=settings.smtp_from or formataddr((shop.name, shop.email)),
                          user=settings.smtp_user, password=settings.smtp_password, security=settings.smtp_security)


def message_id(key: str, sender: str) -> str:
    """The Message-ID of the email with idempotency key `key`: the same for every try of it."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "careline.invalid"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.careline@{domain}>"


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    """The MIME message of `email`: plain text, the attachment if any, a Message-ID from its key."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(email.key, sender)
    message.set_content(email.body)
    if email.attachment is not None:
        main, _, sub = email.attachment.content_type.partition("/")
        message.add_attachment(email.attachment.data, maintype=main, subtype=sub or "octet-stream",
                               filename=email.attachment.filename)
    return message


class SmtpMailer:
    """Sends one email per connection (the worker sends a few a second at most)."""

    def __init__(self, config: SmtpConfig) -> None:
        if config.security not in ("starttls", "ssl", "none"):
            raise ValueError(f"unknown SMTP security {config.security!r}")
        self.config = config
        self.timeout_s = config.timeout_s

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        if config.security == "ssl":
            return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s,
                                    context=ssl.create_default_context())
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
        if config.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, email: OutgoingEmail) -> Sent[None]:
        """Deliver `email` to the SMTP server; an error (never raised) means try again later."""
        message = build_message(email, self.config.sender)
        try:
            with self._connect() as client:
                if self.config.user:
                    client.login(self.config.user, self.config.password)
                client.send_message(message)
        except (smtplib.SMTPException, OSError, ValueError) as error:
            return Sent(error=f"{type(error).__name__}: {error}")
        return Sent()

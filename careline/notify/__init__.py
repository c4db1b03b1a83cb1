"""Notifications to customers: the email outbox and its delivery over SMTP.

emails.py    queueing an email in the store (once per idempotency key) and the outbox that delivers
             them with retries and backoff (run by the worker: python -m careline.worker)
smtp.py      sending one email with smtplib (CARELINE_SMTP_*), its Message-ID derived from its key
unseen_replies.py  emailing the agent replies a customer has not seen (run by the worker)
"""
from careline.notify.emails import Attachment, EmailOutbox, Mailer, OutgoingEmail, queue_email
from careline.notify.smtp import SmtpConfig, SmtpMailer, build_message, message_id
from careline.notify.unseen_replies import ReplyAddress, UnseenReplies

__all__ = ["Attachment", "EmailOutbox", "Mailer", "OutgoingEmail", "SmtpConfig", "SmtpMailer", "build_message",
           "message_id", "queue_email", "ReplyAddress", "UnseenReplies"]

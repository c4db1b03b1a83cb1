"""The email outbox against a local SMTP server (aiosmtpd): nothing lost while it is down, sent once,
and a retried send recognisable by its Message-ID."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db import EmailRecord, make_engine
from careline.notify import (
    Attachment,
    EmailOutbox,
    OutgoingEmail,
    SmtpConfig,
    SmtpMailer,
    build_message,
    message_id,
    queue_email,
)
from tests.conftest import Clock
from tests.fakes.smtp import FakeSmtp

SENDER = "Harbor & Pine <help@harborandpine.example>"
LABEL = Attachment("return-label-RA-1.pdf", "application/pdf", b"%PDF-1.4 a label\n%%EOF")


@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


def _email(key="return-label:RA-100003-0007", to="jkim88@example.net", attachment=LABEL):
    return OutgoingEmail(key=key, to=to, subject="Your return label for order CL-100003",
                         body="Hello James,\n\nyour label is attached.", attachment=attachment)


def _queue(engine, email, clock):
    with Session(engine) as session, session.begin():
        return queue_email(session, email, clock())


def _mailer(smtp: FakeSmtp, timeout_s: float = 5.0) -> SmtpMailer:
    return SmtpMailer(SmtpConfig(host=smtp.host, port=smtp.port, sender=SENDER, security="none", timeout_s=timeout_s))


def _rows(engine):
    with Session(engine) as session:
        return session.execute(sa.select(EmailRecord)).scalars().all()


def test_an_email_is_queued_once_per_key(engine):
    clock = Clock()
    assert _queue(engine, _email(), clock) is True
    assert _queue(engine, _email(), clock) is False, "the same announcement again"
    assert _queue(engine, _email(key="return-label:RA-100003-0008"), clock) is True
    rows = _rows(engine)
    assert [r.idempotency_key for r in rows] == ["return-label:RA-100003-0007", "return-label:RA-100003-0008"]
    assert rows[0].attachment == LABEL.data and rows[0].next_attempt_at == clock.now and rows[0].attempts == 0


@pytest.mark.parametrize("email", [_email(to="not an address"), _email(to="a@example.com\nBcc: x@example.com"),
                                   _email(key=""), _email(key="k" * 161)])
def test_a_bad_recipient_or_key_is_refused(engine, email):
    with pytest.raises(ValueError):
        _queue(engine, email, Clock())
    assert _rows(engine) == []


def test_a_subject_is_one_line():
    email = OutgoingEmail(key="k", to="a@example.com", subject="Hi\r\nBcc: x@example.com", body="b")
    with Session(make_engine("sqlite://")) as session:
        EmailRecord.metadata.create_all(session.bind, tables=[EmailRecord.__table__])
        queue_email(session, email, Clock()())
        assert session.execute(sa.select(EmailRecord.subject)).scalar_one() == "Hi Bcc: x@example.com"


def test_the_message_id_comes_from_the_key():
    first, again = message_id("return-label:RA-1", SENDER), message_id("return-label:RA-1", SENDER)
    assert first == again and first.endswith("@harborandpine.example>") and first.startswith("<")
    assert message_id("return-label:RA-2", SENDER) != first
    message = build_message(_email(), SENDER)
    assert message["Message-ID"] == message_id("return-label:RA-100003-0007", SENDER)
    assert message["To"] == "jkim88@example.net" and message["From"] == SENDER
    attachments = list(message.iter_attachments())
    assert [(a.get_filename(), a.get_content_type(), a.get_content()) for a in attachments] == \
        [(LABEL.filename, "application/pdf", LABEL.data)]


def test_delivery_survives_a_mail_server_outage_and_sends_once(engine):
    clock = Clock()
    _queue(engine, _email(), clock)
    smtp = FakeSmtp()  # its port is chosen, but nothing listens yet
    outbox = EmailOutbox(engine, _mailer(smtp), now=clock)
    assert outbox.deliver_due() == (0, 1)
    row = _rows(engine)[0]
    assert row.attempts == 1 and "ConnectionRefused" in row.last_error and row.delivered_at is None
    assert row.next_attempt_at == clock.now + timedelta(seconds=2)
    assert outbox.deliver_due() == (0, 0), "the next try waits for its backoff"
    with smtp:
        smtp.down = True  # up, but it refuses every recipient for now
        clock.now += timedelta(seconds=3)
        assert outbox.deliver_due() == (0, 1)
        assert "421" in _rows(engine)[0].last_error and smtp.messages == []
        smtp.down = False
        clock.now += timedelta(seconds=5)
        assert outbox.deliver_due() == (1, 0)
        clock.now += timedelta(hours=1)
        assert outbox.deliver_due() == (0, 0) and outbox.pending() == 0
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Message-ID"].strip() == message_id("return-label:RA-100003-0007", SENDER)
    assert message["Subject"] == "Your return label for order CL-100003"
    assert "your label is attached" in message.get_body(("plain",)).get_content()
    assert [a.get_content() for a in message.iter_attachments()] == [LABEL.data]
    row = _rows(engine)[0]
    assert row.delivered_at == clock.now - timedelta(hours=1) and row.last_error is None and row.attempts == 3


def test_a_lost_answer_is_sent_again_with_the_same_message_id(engine):
    clock = Clock()
    _queue(engine, _email(), clock)
    with FakeSmtp() as smtp:
        smtp.lose_answers = 1
        outbox = EmailOutbox(engine, _mailer(smtp), now=clock)
        assert outbox.deliver_due() == (0, 1)
        clock.now += timedelta(seconds=3)
        assert outbox.deliver_due() == (1, 0)
    ids = [m["Message-ID"].strip() for m in smtp.messages]
    assert len(ids) == 2 and len(set(ids)) == 1, "the receiver can tell the retry is the same email"


def test_a_claimed_email_is_left_alone_by_another_worker(engine):
    clock = Clock()
    _queue(engine, _email(), clock)
    smtp = FakeSmtp()
    calls = []

    class Slow:
        timeout_s = 5.0

        def send(self, email):
            calls.append(email.key)
            assert EmailOutbox(engine, _mailer(smtp), now=clock).deliver_due() == (0, 0), "claimed: not due"
            return _mailer(smtp).send(email)

    assert EmailOutbox(engine, Slow(), now=clock).deliver_due() == (0, 1)
    assert calls == ["return-label:RA-100003-0007"]


def test_a_wrong_security_setting_is_an_error_to_retry_not_a_crash(engine):
    clock = Clock()
    _queue(engine, _email(), clock)
    with FakeSmtp() as smtp:
        mailer = SmtpMailer(SmtpConfig(host=smtp.host, port=smtp.port, sender=SENDER, security="ssl", timeout_s=3))
        assert EmailOutbox(engine, mailer, now=clock).deliver_due() == (0, 1)
    assert _rows(engine)[0].last_error and smtp.messages == []
    with pytest.raises(ValueError):
        SmtpMailer(SmtpConfig(host="x", port=25, sender=SENDER, security="tls-maybe"))

"""REST is for trusted integrations: both routes need CARELINE_REST_TOKEN, checked before anything else.

The attack: anyone who knew or guessed a sender id could read the bot's messages (with order details)
with GET /webhooks/rest/messages, or POST as that sender and act as the verified customer.
"""
from __future__ import annotations

import uuid

import pytest
import requests

from careline.shared.settings import load_settings
from tests.e2e.conftest import loopback_session, until_refused

pytestmark = pytest.mark.e2e


def _sender() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def _verified_conversation(system) -> str:
    sender = _sender()
    system.say(sender, "where is my order?")
    system.say(sender, "CL-100001")
    said = " ".join(system.say(sender, "maria.lopez@example.com"))
    assert "lamp" in said.lower() or "shipped" in said.lower(), said
    return sender


def _user_events(system, sender: str) -> list:
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker",
                           params={"token": system.token}, timeout=10).json()
    return [e for e in tracker["events"] if e["event"] == "user"]


def _wrong_credentials(system) -> list:
    return [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-the-token-" + uuid.uuid4().hex},
        {"Authorization": f"Bearer {system.token}"},          # the Rasa API token is not a REST credential
        {"Authorization": f"Basic {system.rest_token}"},
        {"Authorization": f"Bearer {system.rest_token}x"},
        {"Authorization": f"Bearer {system.rest_token[:-1]}"},
    ]


def test_a_stranger_cannot_read_a_verified_customers_messages(system):
    sender = _verified_conversation(system)
    url = f"{system.rasa_url}/webhooks/rest/messages"
    for headers in _wrong_credentials(system):
        answer = requests.get(url, params={"sender": sender}, headers=headers, timeout=10)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
        assert answer.json()["error"] == "unauthorized"
        assert "maria" not in answer.text.lower() and "lamp" not in answer.text.lower()
    trusted = requests.get(url, params={"sender": sender}, headers=system.rest_headers, timeout=10)
    assert trusted.status_code == 200 and "lamp" in trusted.text.lower(), "the integration still reads it"


def test_a_stranger_cannot_write_as_a_verified_customer(system):
    sender = _verified_conversation(system)
    before = len(_user_events(system, sender))
    url = f"{system.rasa_url}/webhooks/rest/webhook"
    for headers in _wrong_credentials(system):
        answer = requests.post(url, json={"sender": sender, "message": "I want a refund"}, headers=headers,
                               timeout=30)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert len(_user_events(system, sender)) == before, "nothing reached the conversation"


def test_the_credential_is_checked_before_the_body_or_the_query(system):
    url = f"{system.rasa_url}/webhooks/rest/webhook"
    for data, content_type in ((b"{not json", "application/json"), (b"x=1", "text/plain"),
                               (b'{"sender": "default"}', "application/json")):
        answer = requests.post(url, data=data, headers={"Content-Type": content_type}, timeout=10)
        assert answer.status_code == 401, answer.text
    answer = requests.get(f"{system.rasa_url}/webhooks/rest/messages", params={"after": "x"}, timeout=10)
    assert answer.status_code == 401


def test_reading_messages_is_rate_limited(limits_system):
    """On the system with a low per-address limit, from an address of its own (it spends that address's budget)."""
    per_minute = load_settings(environ=limits_system.env).address_per_minute
    burst = max(5, int(per_minute // 2))  # channels/guard.py: reads have a budget of their own of this size
    http, url = loopback_session(), f"{limits_system.rasa_url}/webhooks/rest/messages"
    codes, refilled = until_refused(
        lambda: http.get(url, params={"sender": _sender()}, headers=limits_system.rest_headers, timeout=10),
        per_minute, burst)
    statuses = [answer.status_code for answer in codes]
    assert statuses[:burst] == [200] * burst, statuses
    assert statuses[-1] == 429 and len(statuses) <= burst + refilled + 1, (statuses, refilled)
    assert int(codes[-1].headers["Retry-After"]) >= 1 and codes[-1].json()["error"] == "rate_limited"
    said = http.post(f"{limits_system.rasa_url}/webhooks/rest/webhook", headers=limits_system.rest_headers,
                     json={"sender": _sender(), "message": "hello"}, timeout=60)
    assert said.status_code == 200 and said.json(), "sending messages from that address has its own budget"

"""The HTTP surface against the running system: REST edge cases, limits, Messenger, the API token."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Optional

import pytest
import requests

from careline.shared.settings import load_settings
from tests.e2e.conftest import MESSENGER_APP_SECRET as APP_SECRET
from tests.e2e.conftest import MESSENGER_VERIFY_TOKEN as VERIFY_TOKEN
from tests.e2e.conftest import loopback_session, until_refused

pytestmark = pytest.mark.e2e


def _rest(system, body: Optional[bytes] = None, content_type: str = "application/json", http=requests,
          **json_body):
    data = body if body is not None else json.dumps(json_body).encode()
    return http.post(f"{system.rasa_url}/webhooks/rest/webhook", data=data,
                     headers={"Content-Type": content_type, **system.rest_headers}, timeout=60)


def _sender() -> str:
    return f"e2e-{uuid.uuid4().hex}"


@pytest.mark.parametrize("body, content_type, status, error", [
    (b"", "application/json", 400, "malformed_json"),
    (b"{\"sender\": \"x\", ", "application/json", 400, "malformed_json"),
    (b"\xff\xfe\x00binary\x00", "application/json", 400, "malformed_json"),
    (b"[1, 2]", "application/json", 400, "malformed_json"),
    (b"sender=a&message=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b"{\"sender\": \"a\", \"message\": \"hi\"}", "text/plain", 415, "unsupported_media_type"),
    (b"{\"message\": \"hi\"}", "application/json", 400, "bad_sender"),
    (b"{\"sender\": \"\", \"message\": \"hi\"}", "application/json", 400, "bad_sender"),
    (b"{\"sender\": \"default\"}", "application/json", 400, "missing_message"),
    (b"{\"sender\": \"a b/../c\", \"message\": \"hi\"}", "application/json", 400, "bad_sender"),
    (b"{\"sender\": \"web-0123\", \"message\": \"hi\"}", "application/json", 400, "bad_sender"),
    (b"{\"sender\": \"fb-42\", \"message\": \"hi\"}", "application/json", 400, "bad_sender"),
    (b"{\"sender\": \"abc\", \"message\": 42}", "application/json", 400, "missing_message"),
    (b"{\"sender\": \"abc\", \"message\": \"hi\", \"metadata\": [1]}", "application/json", 400, "bad_metadata"),
])
def test_rest_refuses_bad_requests_with_the_right_status(system, body, content_type, status, error):
    answer = _rest(system, body, content_type)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and answer.json()["detail"]


def test_rest_answers_a_good_message_and_an_empty_one_politely(system):
    sender = _sender()
    assert _rest(system, sender=sender, message="hello").status_code == 200
    empty = _rest(system, sender=sender, message="   ")
    assert empty.status_code == 400 and "didn't get any text" in empty.json()["messages"][0]["text"]


def test_a_message_over_the_length_limit_gets_413_and_a_polite_answer(system):
    sender = _sender()
    answer = _rest(system, sender=sender, message="where is my order " * 80)
    assert answer.status_code == 413 and answer.json()["error"] == "message_too_long"
    assert "too long for me" in answer.json()["messages"][0]["text"]
    huge = _rest(system, json.dumps({"sender": sender, "message": "x" * 2_000_000}).encode())
    assert huge.status_code == 413, "bodies over the server's limit are refused before parsing"
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker",
                           params={"token": system.token}, timeout=10).json()
    assert not [e for e in tracker["events"] if e["event"] == "user"], "refused messages never reach the bot"


def test_one_sender_is_slowed_down_politely_without_losing_earlier_messages(system):
    per_minute = load_settings(environ=system.env).sender_per_minute
    burst = max(3, int(per_minute // 2))  # channels/guard.py: a burst of half the minute's messages
    sender, greetings = _sender(), iter(range(1000))
    codes, refilled = until_refused(
        lambda: _rest(system, sender=sender, message=f"/greet{{\"n\": {next(greetings)}}}"), per_minute, burst)
    statuses = [c.status_code for c in codes]
    assert statuses[:burst] == [200] * burst, statuses
    assert statuses[-1] == 429 and len(statuses) <= burst + refilled + 1, (statuses, refilled)
    assert int(codes[-1].headers["Retry-After"]) >= 1
    assert "faster than I can read" in codes[-1].json()["messages"][0]["text"]
    assert _rest(system, sender=_sender(), message="hello").status_code == 200, "other senders go on"


def test_the_api_needs_a_valid_token(system):
    for path in ("/conversations/abc/tracker", "/status", "/domain"):
        assert requests.get(f"{system.rasa_url}{path}", timeout=10).status_code == 401
        wrong = requests.get(f"{system.rasa_url}{path}", params={"token": "not-the-token"}, timeout=10)
        assert wrong.status_code in (401, 403)
    assert requests.get(f"{system.rasa_url}/status", params={"token": system.token}, timeout=10).status_code == 200


# --- Messenger -------------------------------------------------------------------------------------

def _delivery(psid: str, mid: str, text: str = "", quick_reply: str = "") -> bytes:
    message = {"mid": mid, "text": text}
    if quick_reply:
        message["quick_reply"] = {"payload": quick_reply}
    return json.dumps({"object": "page", "entry": [{"id": "page-1", "time": 1, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": "page-1"}, "timestamp": 1, "message": message}]}]}).encode()


def _post_fb(system, body: bytes, headers: dict):
    return requests.post(f"{system.rasa_url}/webhooks/facebook/webhook", data=body,
                         headers={"Content-Type": "application/json", **headers}, timeout=60)


def _signed(body: bytes, secret: str = APP_SECRET, algorithm=hashlib.sha256) -> str:
    return hmac.new(secret.encode(), body, algorithm).hexdigest()


def _psid() -> str:
    return str(uuid.uuid4().int)[:16]


def _user_events(system, sender: str):
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker",
                           params={"token": system.token}, timeout=10).json()
    return [e for e in tracker["events"] if e["event"] == "user"]


def test_messenger_answers_the_verification_challenge_only_with_our_token(system):
    url = f"{system.rasa_url}/webhooks/facebook/webhook"
    ok = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                   "hub.challenge": "1158201444"}, timeout=10)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}, {}):
        assert requests.get(url, params=params, timeout=10).status_code == 403


def test_a_signed_message_is_answered_through_the_graph_api(system, graph_api):
    psid = _psid()
    answer = _post_fb(system, body := _delivery(psid, f"m-{uuid.uuid4().hex}", "hello"),
                      {"X-Hub-Signature-256": "sha256=" + _signed(body)})
    assert answer.status_code == 200
    sent = graph_api.wait_for(psid)
    assert sent and "Careline" in sent[0]["text"]
    assert not graph_api.refused, "the page token from the environment was used"


@pytest.mark.parametrize("headers", [
    {},
    {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    {"X-Hub-Signature-256": "sha256=deadbeef"},
    {"X-Hub-Signature-256": "garbage"},
    "wrong-secret",
    "sha1-only",
])
def test_unsigned_or_badly_signed_deliveries_are_refused_before_anything_else(system, graph_api, headers):
    psid = _psid()
    body = _delivery(psid, f"m-{uuid.uuid4().hex}", "hello")
    if headers == "wrong-secret":
        headers = {"X-Hub-Signature-256": "sha256=" + _signed(body, secret="not-our-secret")}
    elif headers == "sha1-only":
        headers = {"X-Hub-Signature": "sha1=" + _signed(body, algorithm=hashlib.sha1)}
    assert _post_fb(system, body, headers).status_code == 403
    assert _post_fb(system, b"not json at all", headers).status_code == 403, "the signature comes first"
    assert graph_api.to(psid) == [] and _user_events(system, f"fb-{psid}") == []


def test_a_redelivered_message_is_handled_once(system, graph_api):
    psid, mid = _psid(), f"m-{uuid.uuid4().hex}"
    body = _delivery(psid, mid, "hi there")
    headers = {"X-Hub-Signature-256": "sha256=" + _signed(body)}
    assert _post_fb(system, body, headers).status_code == 200
    replies = len(graph_api.wait_for(psid))
    assert _post_fb(system, body, headers).status_code == 200, "Facebook gets its 200 again"
    assert len(graph_api.to(psid)) == replies
    assert [e["message_id"] for e in _user_events(system, f"fb-{psid}")] == [mid]


def test_buttons_become_quick_replies_and_a_quick_reply_is_understood(system, graph_api):
    psid = _psid()
    body = _delivery(psid, f"m-{uuid.uuid4().hex}", "zxqv blorp wug")  # not understood: suggestions follow
    _post_fb(system, body, {"X-Hub-Signature-256": "sha256=" + _signed(body)})
    with_buttons = [m for m in graph_api.wait_for(psid) if m.get("quick_replies")]
    assert with_buttons, graph_api.to(psid)
    quick = with_buttons[-1]["quick_replies"]
    assert all(q["content_type"] == "text" and 0 < len(q["title"]) <= 20 for q in quick)
    talk = next(q for q in quick if q["payload"] == "/human_handoff")
    before = len(graph_api.to(psid))
    body = _delivery(psid, f"m-{uuid.uuid4().hex}", talk["title"], quick_reply=talk["payload"])
    assert _post_fb(system, body, {"X-Hub-Signature-256": "sha256=" + _signed(body)}).status_code == 200
    after = graph_api.wait_for(psid, before + 1)
    assert after[before]["text"].startswith("I'm bringing in a person from our team.")
    assert _user_events(system, f"fb-{psid}")[-1]["parse_data"]["intent"]["name"] == "human_handoff"


def test_a_persons_reply_reaches_a_messenger_customer(system, graph_api):
    from careline.desk.rasa_api import RasaAPI

    psid = _psid()
    body = _delivery(psid, f"m-{uuid.uuid4().hex}", "I want to talk to a human")
    _post_fb(system, body, {"X-Hub-Signature-256": "sha256=" + _signed(body)})
    before = len(graph_api.wait_for(psid))
    assert "bringing in a person" in graph_api.to(psid)[-1]["text"]
    RasaAPI(system.rasa_url, system.token).send_agent_message(f"fb-{psid}", "Hi, I'm Ana from the team.", "Ana")
    assert graph_api.wait_for(psid, before + 1)[before]["text"] == "Hi, I'm Ana from the team."


def test_a_malformed_but_signed_delivery_is_a_400(system):
    body = b'{"object": "user"}'
    assert _post_fb(system, body, {"X-Hub-Signature-256": "sha256=" + _signed(body)}).status_code == 400


def test_one_address_is_limited_across_many_senders(limits_system):
    """On the system with a low per-address limit, from an address of its own (it spends that address's budget)."""
    per_minute = load_settings(environ=limits_system.env).address_per_minute
    burst = max(5, int(per_minute // 2))  # channels/guard.py
    http = loopback_session()
    codes, refilled = until_refused(
        lambda: _rest(limits_system, http=http, sender=_sender(), message="/greet"), per_minute, burst)
    statuses = [c.status_code for c in codes]
    assert statuses[:burst] == [200] * burst, "a burst of ordinary traffic is allowed first"
    assert statuses[-1] == 429 and len(statuses) <= burst + refilled + 1, (statuses, refilled)
    assert _rest(limits_system, sender=_sender(), message="/greet").status_code == 200, "other addresses go on"

"""Pure parts of the channels: rate limits, the message gate, Messenger signatures and formats, web sessions."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from careline.access import messenger, webchat
from careline.shared.ratelimit import Limit, MessageGate, RateLimiter
from ops.web_server import WEB_ROOT, public_file


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    clock = Clock()
    limiter = RateLimiter(Limit(per_minute=6, burst=3), clock=clock)
    assert [limiter.hit("a").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.hit("a")
    assert not refused.allowed and 9.0 < refused.retry_after_s <= 10.0
    assert limiter.hit("b").allowed, "keys are independent"
    assert limiter.blocked("a") and not limiter.blocked("b")
    clock.now += 10
    assert not limiter.blocked("a"), "looking does not take a token"
    assert limiter.hit("a").allowed and not limiter.hit("a").allowed


def test_a_token_given_back_can_be_taken_again():
    limiter = RateLimiter(Limit(per_minute=1, burst=2), clock=Clock())
    assert limiter.hit("a").allowed and limiter.hit("a").allowed and not limiter.hit("a").allowed
    limiter.give_back("a")
    assert limiter.hit("a").allowed and not limiter.hit("a").allowed
    for _ in range(5):
        limiter.give_back("a")
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False], "never more than the burst"
    limiter.give_back("unknown")
    assert limiter.hit("unknown").allowed


def test_the_limiter_forgets_the_oldest_keys_beyond_its_size():
    limiter = RateLimiter(Limit(60, 1), max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):
        limiter.hit(key)
    assert limiter.hit("a").allowed, "a was forgotten, so it starts with a full bucket"


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        Limit(0, 1)


def test_the_gate_checks_empty_length_address_and_sender_in_that_order():
    gate = MessageGate(max_chars=10, per_sender=Limit(60, 2), per_address=Limit(60, 3), clock=Clock())
    assert gate.check("s", "1.2.3.4", " ").status == 400
    too_long = gate.check("s", "1.2.3.4", "x" * 11)
    assert too_long.status == 413 and "11 characters; the limit is 10" in too_long.reply
    assert [gate.check("s", "1.2.3.4", "hi").status for _ in range(3)] == [200, 200, 429]
    slow = gate.check("t", "1.2.3.4", "hi")
    assert slow.status == 429 and int(slow.headers()["Retry-After"]) >= 1
    assert gate.check("t", "", "hi").ok, "no address (Messenger) means only the sender limit"


def _sign(body: bytes, secret: str = "shh") -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("header, expected", [
    (_sign(b"{}"), True),
    (_sign(b"{}").upper().replace("SHA256", "sha256"), True),
    (_sign(b"{} "), False),
    (_sign(b"{}", "other"), False),
    ("sha1=" + hmac.new(b"shh", b"{}", hashlib.sha1).hexdigest(), False),
    ("sha256=", False),
    ("", False),
    (None, False),
])
def test_signature_verification(header, expected):
    assert messenger.verify_signature("shh", b"{}", header) is expected


def test_no_secret_verifies_nothing():
    assert not messenger.verify_signature("", b"{}", _sign(b"{}", ""))


def test_subscription_handshake():
    assert messenger.verify_subscription("tok", "subscribe", "tok")
    assert not messenger.verify_subscription("tok", "subscribe", "nope")
    assert not messenger.verify_subscription("tok", "unsubscribe", "tok")
    assert not messenger.verify_subscription("", "subscribe", "")


def test_incoming_messages_take_texts_quick_replies_and_postbacks_and_skip_echoes():
    payload = {"object": "page", "entry": [{"messaging": [
        {"sender": {"id": "111"}, "message": {"mid": "m1", "text": "hello"}},
        {"sender": {"id": "111"},
         "message": {"mid": "m2", "text": "Yes, please", "quick_reply": {"payload": "/affirm"}}},
        {"sender": {"id": "222"}, "postback": {"mid": "m3", "payload": "/greet", "title": "Start"}},
        {"sender": {"id": "999"}, "message": {"mid": "m4", "text": "bot says", "is_echo": True}},
        {"sender": {"id": "111"}, "delivery": {"mids": ["m1"]}},
        {"sender": {"id": "not-a-number"}, "message": {"mid": "m5", "text": "x"}},
    ]}]}
    found = messenger.incoming_messages(payload)
    assert [(m.sender_id, m.message_id, m.text) for m in found] == [
        ("fb-111", "m1", "hello"), ("fb-111", "m2", "/affirm"), ("fb-222", "m3", "/greet")]


@pytest.mark.parametrize("payload", [None, [], {"object": "user", "entry": []}, {"object": "page"}])
def test_malformed_deliveries_are_refused(payload):
    with pytest.raises(messenger.MalformedDelivery):
        messenger.incoming_messages(payload)


def test_outgoing_texts_are_split_and_buttons_become_at_most_13_short_quick_replies():
    buttons = [{"title": f"Option number {i} with a long title", "payload": f"/p{i}"} for i in range(15)]
    messages = messenger.text_messages("x" * 2500, buttons)
    assert [len(m["text"]) for m in messages] == [2000, 500]
    quick = messages[-1]["quick_replies"]
    assert len(quick) == 13 and all(len(q["title"]) <= 20 and q["content_type"] == "text" for q in quick)
    assert "quick_replies" not in messages[0]
    assert messenger.recipient("fb-123") == "123"
    assert json.dumps(messenger.image_message("https://x/y.png"))


def test_web_sessions_are_one_way_and_only_server_shaped_tokens_count():
    token = webchat.new_token()
    assert webchat.valid_token(token) == token
    sender = webchat.sender_for(token)
    assert sender.startswith("web-") and token not in sender
    assert webchat.valid_token(sender) is None, "a conversation id is not a session token"
    assert webchat.valid_token("short") is None and webchat.valid_token(None) is None
    assert webchat.sender_for(webchat.new_token()) != sender


def test_history_shows_titles_for_clicked_buttons_and_keeps_only_the_last_quick_replies():
    events = [
        {"event": "user", "text": "hi"},
        {"event": "bot", "text": "Pick one", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}},
        {"event": "user", "text": "/affirm", "metadata": {"display": "Yes"}},
        {"event": "user", "text": "/inform{\"order_id\": \"x\"}"},
        {"event": "bot", "text": "Shall I?", "data": {"buttons": [{"title": "No", "payload": "/deny"}]}},
        {"event": "action", "name": "action_listen"},
    ]
    items = webchat.history(events)
    assert [i["text"] for i in items] == ["hi", "Pick one", "Yes", '/inform{"order_id": "x"}', "Shall I?"], \
        "a payload no button offered shows as sent"
    assert "buttons" not in items[1] and items[-1]["buttons"] == [{"title": "No", "payload": "/deny"}]


@pytest.mark.parametrize("path, served", [
    ("/", True), ("/index.html", True), ("/widget/careline-widget.js", True), ("/vendor/socket.io.min.js", True),
    ("/../Makefile", False), ("/%2e%2e/.env", False), ("/package.json", False),
    ("/node_modules/socket.io-client/package.json", False), ("/missing.js", False),
])
def test_the_web_server_serves_only_page_files(path, served):
    assert (public_file(WEB_ROOT, path) is not None) is served


def test_the_vendored_socket_io_client_is_the_pinned_npm_release():
    pinned = json.loads((WEB_ROOT / "package.json").read_text())["dependencies"]["socket.io-client"]
    locked = json.loads((WEB_ROOT / "package-lock.json").read_text())["packages"]["node_modules/socket.io-client"]
    header = (WEB_ROOT / "vendor" / "socket.io.min.js").read_text()[:200]
    assert locked["version"] == pinned and f"Socket.IO v{pinned}" in header


def test_a_customer_cannot_type_an_intent_only_the_system_triggers():
    gate = MessageGate(max_chars=200, per_sender=Limit(60, 5), per_address=Limit(60, 5), clock=Clock())
    for text in ('/EXTERNAL_follow_up{"follow_up_id": "1"}', "  /external_late_order"):
        refused = gate.check("s", "1.2.3.4", text)
        assert (refused.status, refused.error) == (400, "reserved_intent") and refused.reply
    assert gate.check("s", "1.2.3.4", "/affirm").ok and gate.check("s", "1.2.3.4", "EXTERNAL: hello").ok

"""The channels with their rate limits in a real Redis (CARELINE_REDIS_URL), over real HTTP and socket.io.

Two channel processes (tests/careline/access/channels_app.py, as two Rasa servers behind nginx) share
one budget. While Redis is down nothing reaches the bot and every customer is told politely: REST
503 `unavailable` with Retry-After, the web chat a bot message with "error": "unavailable", Messenger
200 to Facebook and the polite message through the Send API; one log line, not a flood. When Redis
is back, everything works again.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import queue
import secrets
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import redis
import requests
import socketio

from careline.shared import render
from careline.shared.ratelimit import RateLimiter
from careline.shared.redis_limits import RedisRateLimiter
from channels import guard
from tests.careline.access.channels_app import ChannelsProcess, start_channels, stop_all
from tests.fakes.graph_api import FakeGraphAPI
from tests.redis_server import RedisServer, running_redis

REST_TOKEN = secrets.token_urlsafe(24)
APP_SECRET = "app-secret-" + uuid.uuid4().hex
PAGE_TOKEN = "page-token-" + uuid.uuid4().hex
POLITE = render("utter_systems_unavailable")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI(PAGE_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def servers(redis_server: RedisServer, graph: FakeGraphAPI, store_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[ChannelsProcess, ChannelsProcess]]:
    folder = tmp_path_factory.mktemp("channels")
    store = folder / "careline.db"
    shutil.copyfile(Path(store_url[len("sqlite:///"):]), store)
    env = {
        "CARELINE_REDIS_URL": redis_server.url, "CARELINE_STORE_DB_URL": f"sqlite:///{store}",
        "CARELINE_VAR_DIR": str(folder / "var"), "CARELINE_REST_TOKEN": REST_TOKEN,
        "CARELINE_RATE_PER_SENDER": "6", "CARELINE_RATE_PER_ADDRESS": "10",  # bursts of 3 and 5
        "CARELINE_FB_APP_SECRET": APP_SECRET, "CARELINE_FB_VERIFY_TOKEN": "verify",
        "CARELINE_FB_PAGE_TOKEN": PAGE_TOKEN, "CARELINE_FB_GRAPH_URL": graph.url,
    }
    first: Optional[ChannelsProcess] = None
    second: Optional[ChannelsProcess] = None
    try:
        first = start_channels(env, str(folder / "first.log"), wait=False)
        second = start_channels(env, str(folder / "second.log"), wait=False)
        yield first.wait_ready(), second.wait_ready()
    finally:
        stop_all(first, second)


@pytest.fixture
def fresh(redis_server: RedisServer, servers: Tuple[ChannelsProcess, ChannelsProcess]
          ) -> Tuple[ChannelsProcess, ChannelsProcess]:
    """Both servers, with Redis running and every budget full (its buckets removed)."""
    if not redis_server.running:
        redis_server.restart()
        time.sleep(1.1)  # the servers try Redis again once their fail-fast second is over
    redis.Redis.from_url(redis_server.url).flushdb()
    return servers


def _post(server: ChannelsProcess, sender: str, text: str = "hello") -> requests.Response:
    return requests.post(f"{server.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                         headers={"Authorization": f"Bearer {REST_TOKEN}"}, timeout=10)


def _deliver(server: ChannelsProcess, psid: str, text: str) -> requests.Response:
    body = json.dumps({"object": "page", "entry": [{"id": "1", "time": 0, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "1"}, "timestamp": 0,
        "message": {"mid": "m-" + uuid.uuid4().hex, "text": text}}]}]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(f"{server.url}/webhooks/facebook/webhook", data=body, timeout=30,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})


class Widget:
    """The web chat widget's side of the socket (python-socketio); keeps the events it gets."""

    def __init__(self, server: ChannelsProcess) -> None:
        self.events: queue.Queue[Tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        for name in ("session_confirm", "history", "bot_uttered", "conversation_state", "session_required"):
            self.sio.on(name, lambda data=None, name=name: self.events.put((name, data)))
        self.sio.connect(server.url, socketio_path="/socket.io", transports=["polling"], wait_timeout=30)

    def expect(self, name: str, timeout_s: float = 30) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            got, data = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if got == name:
                return data

    def quiet(self, seconds: float) -> List[Tuple[str, Any]]:
        got: List[Tuple[str, Any]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                got.append(self.events.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                break
        return got

    def close(self) -> None:
        self.sio.eio.disconnect(abort=True)


def test_the_guard_shares_its_limiters_only_with_a_redis_url(monkeypatch):
    caches = (guard.settings, guard.shared_limits, guard.gate, guard.reads, guard.seen_writes)
    monkeypatch.delenv("CARELINE_PROFILE", raising=False)
    try:
        monkeypatch.setenv("CARELINE_REDIS_URL", "")
        for cache in caches:
            cache.cache_clear()
        limiters = [guard.gate()._senders, guard.gate()._addresses, guard.reads(), guard.seen_writes()]
        assert not any(isinstance(limiter, RedisRateLimiter) for limiter in limiters), "in memory without Redis"
        assert all(type(limiter) is RateLimiter for limiter in limiters)
        monkeypatch.setenv("CARELINE_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing connects until used
        for cache in caches:
            cache.cache_clear()
        shared = [guard.gate()._senders, guard.gate()._addresses, guard.reads(), guard.seen_writes()]
        assert all(isinstance(limiter, RedisRateLimiter) for limiter in shared)
        assert [limiter.key("k") for limiter in shared] == [
            "careline:rl:gate_senders:k", "careline:rl:gate_addresses:k", "careline:rl:reads:k",
            "careline:rl:seen_writes:k"]
    finally:
        for cache in caches:
            cache.cache_clear()


def test_two_servers_share_one_budget(fresh):
    first, second = fresh
    before = first.handled() + second.handled()
    answers = [_post(server, "rest-shared") for server in (first, second, first, second)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429], [a.text for a in answers]
    assert answers[0].json()[0]["text"] == "echo: hello"
    assert answers[3].json()["error"] == "rate_limited" and int(answers[3].headers["Retry-After"]) >= 1
    # every message above took one of the address's 5 tokens (the refused one too: the address is checked first)
    assert [_post(second, "rest-other").status_code, _post(first, "rest-third").status_code] == [200, 429], \
        "the address's 5 across both servers"
    assert first.handled() + second.handled() - before == 4


def test_while_redis_is_down_every_channel_answers_politely_and_nothing_reaches_the_bot(
        fresh, redis_server, graph):
    first, second = fresh
    widget = Widget(first)
    try:
        widget.sio.emit("session_request", {"session_id": None})
        widget.expect("session_confirm")
        widget.sio.emit("user_uttered", {"message": "hi"})
        assert widget.expect("bot_uttered")["text"] == "echo: hi"
        assert _deliver(second, "1001", "hi").status_code == 200
        assert [m["text"] for m in graph.wait_for("1001")] == ["echo: hi"]
        log_before = len(first.log()), len(second.log())
        handled = first.handled() + second.handled()

        redis_server.stop()
        started = time.monotonic()
        refused = _post(first, "rest-down")
        assert time.monotonic() - started < 1.5, "a dead Redis does not hang a turn"
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "10"
        body = refused.json()
        assert body["error"] == "unavailable" and "try again" in body["detail"]
        assert [m["text"] for m in body["messages"]] == [POLITE]
        read = requests.get(f"{first.url}/webhooks/rest/messages", params={"sender": "rest-down"}, timeout=10,
                            headers={"Authorization": f"Bearer {REST_TOKEN}"})
        assert read.status_code == 503 and read.json()["error"] == "unavailable"
        assert {_post(server, f"rest-flood-{n}").status_code for n in range(10) for server in (first, second)} == {503}

        widget.sio.emit("user_uttered", {"message": "are you there?"})
        said = widget.expect("bot_uttered")
        assert said == {"text": POLITE, "error": "unavailable"}
        widget.sio.emit("seen", {"at": time.time()})
        widget.sio.emit("session_request", {"session_id": None})
        assert widget.expect("bot_uttered") == {"text": POLITE, "error": "unavailable"}
        assert not [e for e in widget.quiet(0.5) if e[0] in ("session_confirm", "bot_uttered")], "nothing else"

        delivered = _deliver(second, "1002", "where is my order?")
        assert delivered.status_code == 200 and delivered.text == "EVENT_RECEIVED", "Facebook must not redeliver"
        assert [m["text"] for m in graph.wait_for("1002")] == [POLITE]
        assert first.handled() + second.handled() == handled, "nothing reached the bot"

        logs = first.log()[log_before[0]:] + second.log()[log_before[1]:]
        assert 1 <= logs.count("rate limits unavailable: Redis at") <= 2, "one line per server, not a flood"
        assert f"127.0.0.1:{redis_server.port}" in logs and "make redis" in logs
        assert logs.count("rest: a message refused") == 2, "one line per server in 10 s"
        assert "webchat: a message refused" in logs and "messenger: a message (not handled" in logs

        redis_server.restart()
        time.sleep(1.1)  # past the fail-fast second
        assert _post(first, "rest-back").json()[0]["text"] == "echo: hello"
        assert _post(second, "rest-back").status_code == 200
        widget.sio.emit("session_request", {"session_id": None})
        widget.expect("session_confirm")
        widget.sio.emit("user_uttered", {"message": "back?"})
        assert widget.expect("bot_uttered")["text"] == "echo: back?"
        assert _deliver(second, "1003", "hi again").status_code == 200
        assert [m["text"] for m in graph.wait_for("1003")] == ["echo: hi again"]
        assert "answers again" in first.log()[log_before[0]:]
    finally:
        widget.close()


def test_a_hung_redis_answers_within_a_second_and_does_not_stall_the_server(fresh, redis_server):
    first, _ = fresh
    assert _post(first, "rest-hung").status_code == 200
    redis_server.pause()
    try:
        answers: Dict[str, Any] = {}

        def post() -> None:
            started = time.monotonic()
            answers["response"] = _post(first, "rest-hung")
            answers["took"] = time.monotonic() - started

        waiting = threading.Thread(target=post)
        waiting.start()
        time.sleep(0.1)
        started = time.monotonic()
        assert requests.get(f"{first.url}/webhooks/rest/", timeout=5).status_code == 200
        assert time.monotonic() - started < 0.3, "the event loop is not blocked by Redis"
        waiting.join(timeout=10)
        assert answers["response"].status_code == 503 and answers["took"] < 1.5
    finally:
        redis_server.resume()

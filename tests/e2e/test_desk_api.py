"""Every desk endpoint over real HTTP against the running system: access rules, actions, live queue."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import requests

from tests.e2e.desk_client import DeskClient

pytestmark = pytest.mark.e2e

PAGES = ["/", "/queue", "/tickets/1", "/analytics", "/analytics.csv"]
APIS = ["/api/queue", "/api/queue/stream", "/api/tickets/1", "/api/analytics"]
ACTIONS = ["take", "reply", "note", "refund", "waiver", "resolve", "close"]


def _handoff(system, words="I want to talk to a human now!") -> str:
    sender = f"e2e-{uuid.uuid4().hex}"
    system.say(sender, "where is my order CL-100001")
    system.say(sender, "maria.lopez@example.com")
    assert "bringing in a person" in " ".join(system.say(sender, words))
    return sender


def test_without_login_pages_redirect_and_apis_and_posts_are_401(system):
    anonymous = DeskClient(system, role=None)
    for path in PAGES:
        answer = anonymous.get(path)
        assert answer.status_code in (302, 401), path
        if answer.status_code == 302 and path != "/":
            assert answer.headers["location"].startswith("/login")
    for path in APIS:
        assert anonymous.get(path).status_code == 401, path
    for action in ACTIONS:
        assert anonymous.post(f"/tickets/1/{action}", {"text": "x"}).status_code == 401
    assert anonymous.post("/logout").status_code == 401
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/login").status_code == 200


def test_login_refuses_wrong_passwords_forged_forms_and_floods(system):
    client = DeskClient(system, role=None)
    wrong = client.login("ana.rivera@harborpine.example", "not-the-password")
    assert "/login?err=" in wrong.headers["location"] and "careline_desk" not in wrong.headers.get("set-cookie", "")
    forged = requests.post(f"{client.url}/login", timeout=10, allow_redirects=False,
                           data={"csrf": "made-up", "email": "ana.rivera@harborpine.example", "password": "x"})
    assert "expired" in requests.utils.unquote(forged.headers["location"])
    answers = [client.login("flood@harborpine.example", "guess") for _ in range(7)]
    assert "Too many failed attempts" in requests.utils.unquote(answers[-1].headers["location"])
    good = DeskClient(system, "agent")
    cookie = good.http.cookies.get("careline_desk")
    assert cookie and len(cookie) >= 40
    raw = good.http.get(f"{good.url}/login", timeout=10)
    assert raw.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in raw.headers["Content-Security-Policy"]


def test_login_sets_an_httponly_samesite_cookie(system):
    client = DeskClient(system, role=None)
    form = client.http.get(f"{client.url}/login", timeout=10)
    from tests.e2e.desk_client import CSRF
    from careline.settings import load_settings
    answer = client.http.post(f"{client.url}/login", allow_redirects=False, timeout=10, data={
        "csrf": CSRF.search(form.text).group(1), "email": "ana.rivera@harborpine.example",
        "password": load_settings(environ=system.env).desk_agent_password})
    cookie = answer.headers["set-cookie"].lower()
    assert "careline_desk=" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_posts_need_the_csrf_token_and_our_origin(system):
    sender = _handoff(system)
    agent = DeskClient(system, "agent")
    ticket = agent.ticket_of(sender)
    assert agent.post(f"/tickets/{ticket}/note", {"text": "x"}, csrf=False).status_code == 403
    assert agent.post(f"/tickets/{ticket}/note", {"text": "x", "csrf": "wrong"}, csrf=False).status_code == 403
    evil = agent.post(f"/tickets/{ticket}/note", {"text": "x"}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"] == "bad_origin"
    ok = agent.post(f"/tickets/{ticket}/note", {"text": "checked the order"})
    assert ok.status_code == 200 and ok.json()["ok"]


def test_analytics_are_for_supervisors_only(system):
    agent, supervisor = DeskClient(system, "agent"), DeskClient(system, "supervisor")
    for path in ("/analytics", "/analytics.csv", "/api/analytics"):
        assert agent.get(path).status_code == 403, path
        assert supervisor.get(path).status_code == 200, path
    assert supervisor.get("/analytics?from=2026-13-01").status_code == 400
    assert supervisor.get("/api/analytics?from=2026-11-10&to=2026-11-01").status_code == 400
    csv_text = supervisor.get("/analytics.csv").text
    assert csv_text.splitlines()[0] == "section,name,value" and "containment_rate" in csv_text


def test_the_queue_streams_a_new_handoff_at_once(system):
    agent = DeskClient(system, "agent")
    seen = []

    def listen() -> None:
        with agent.http.get(f"{agent.url}/api/queue/stream", stream=True, timeout=60) as stream:
            seen.append(("status", stream.status_code, stream.headers.get("content-type")))
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    seen.append(json.loads(line[len("data: "):]))
                    if len(seen) >= 3:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(2)
    sender = _handoff(system, "this is useless, get me a human!!!")
    thread.join(30)
    assert seen[0] == ("status", 200, "text/event-stream"), seen[:1]
    assert len(seen) >= 3 and any(item["conversation_id"] == sender for item in seen[-1])


def test_an_agent_takes_replies_refunds_and_hands_back(system):
    sender = _handoff(system)
    agent = DeskClient(system, "agent")
    ticket = agent.ticket_of(sender)
    view = agent.get(f"/api/tickets/{ticket}").json()
    assert view["customer"]["name"] == "Maria Lopez" and view["ticket"]["reason"] in ("frustration",
                                                                                       "customer_request")
    assert view["frustration"] and view["summary" if "summary" in view else "ticket"]
    assert agent.post(f"/tickets/{ticket}/take").json()["ok"]
    assert agent.post(f"/tickets/{ticket}/reply", {"text": "Hi Maria, this is Ana."}).json()["ok"]
    assert agent.post(f"/tickets/{ticket}/reply", {"text": ""}).status_code == 400
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker",
                           params={"token": system.token}, timeout=10).json()
    agent_lines = [e for e in tracker["events"] if e["event"] == "bot" and (e.get("metadata") or {}).get("agent")]
    assert agent_lines[-1]["text"] == "Hi Maria, this is Ana." and agent_lines[-1]["metadata"]["agent"] == "Ana Rivera"
    pulled = requests.get(f"{system.rasa_url}/webhooks/rest/messages", timeout=10, headers=system.rest_headers,
                          params={"sender": sender, "after": agent_lines[-1]["timestamp"] - 0.001}).json()
    assert pulled == [{"recipient_id": sender, "text": "Hi Maria, this is Ana.", "agent": "Ana Rivera",
                       "timestamp": agent_lines[-1]["timestamp"]}], "a REST client fetches the person's reply"
    assert requests.get(f"{system.rasa_url}/webhooks/rest/messages", params={"sender": sender, "after": "x"},
                        headers=system.rest_headers, timeout=10).status_code == 400
    refund = agent.post(f"/tickets/{ticket}/refund", {"form_key": "f1", "amount": "180.00", "reason": "damaged"})
    assert refund.json()["result"]["outcome"] == "approve", "above the bot's limit, within an agent's"
    again = agent.post(f"/tickets/{ticket}/refund", {"form_key": "f1", "amount": "180.00", "reason": "damaged"})
    assert again.json()["result"]["reference"] == refund.json()["result"]["reference"]
    fees = agent.get(f"/api/tickets/{ticket}").json()["fees"]
    waiver = agent.post(f"/tickets/{ticket}/waiver", {"form_key": "w1", "charge_id": str(fees[0]["id"])})
    assert waiver.json()["result"]["outcome"] == "approve"
    assert agent.post(f"/tickets/{ticket}/refund", {"form_key": "f2", "amount": "abc"}).status_code == 400
    assert agent.post("/tickets/999999/note", {"text": "x"}).status_code == 404
    assert agent.get("/api/tickets/999999").status_code == 404
    assert agent.post(f"/tickets/{ticket}/resolve").json()["ok"]
    assert agent.post(f"/tickets/{ticket}/note", {"text": "after"}).json()["ok"], "notes stay possible"
    assert agent.post(f"/tickets/{ticket}/reply", {"text": "late"}).status_code == 400
    events = [e["kind"] for e in agent.get(f"/api/tickets/{ticket}").json()["events"]]
    assert events == ["take", "reply", "refund", "waiver", "handback", "note"]
    after = " ".join(system.say(sender, "thank you")).lower()
    assert "welcome" in after or "happy to help" in after, "the bot answers again (either utter_you_are_welcome)"


def test_close_resumes_the_bot_quietly(system):
    sender = _handoff(system)
    agent = DeskClient(system, "agent")
    ticket = agent.ticket_of(sender)
    assert agent.post(f"/tickets/{ticket}/close").json()["ok"]
    assert ticket not in [item["ticket_id"] for item in agent.queue()]
    assert system.say(sender, "hello"), "the bot is not paused any more"


def test_logout_ends_the_session(system):
    agent = DeskClient(system, "agent")
    assert agent.get("/queue").status_code == 200
    assert agent.post("/logout", {}).status_code == 302
    assert agent.get("/api/queue").status_code == 401

"""Every desk endpoint over real HTTP against the running system: access rules, actions, live queue."""
from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from html import unescape

import pytest
import requests
import sqlalchemy as sa

from careline.db.engine import make_engine
from careline.desk.auth import Accounts
from careline.shared.settings import load_settings
from tests.e2e import customers
from tests.e2e.desk_client import DeskClient, SourceAddress

pytestmark = pytest.mark.e2e

PAGES = ["/", "/queue", "/tickets/1", "/analytics", "/analytics.csv"]
APIS = ["/api/queue", "/api/queue/stream", "/api/tickets/1", "/api/analytics"]
ACTIONS = ["take", "reply", "note", "refund", "waiver", "resolve", "close"]


def _handoff(system, words="I want to talk to a human now!", order="CL-100001",
             email="maria.lopez@example.com") -> str:
    """A customer who verifies and asks for a person, from a loopback address of their own: each
    customer is a client of their own (one client may open only a few tickets an hour)."""
    sender = f"e2e-{uuid.uuid4().hex}"
    http = requests.Session()
    http.mount("http://", SourceAddress(f"127.0.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 2}"))

    def say(text: str) -> str:
        answer = http.post(f"{system.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                           headers=system.rest_headers, timeout=60)
        answer.raise_for_status()
        return " ".join(message.get("text", "") for message in answer.json())

    say(f"where is my order {order}")
    say(email)
    assert "bringing in a person" in say(words)
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


def _banner(client, answer) -> str:
    """The sign-in page after a refused sign-in: its banner comes from a one-time cookie, never the URL."""
    assert answer.status_code == 302 and answer.headers["location"] == "/login", answer.headers
    return unescape(client.http.get(f"{client.url}/login", timeout=10).text)


def test_login_refuses_wrong_passwords_forged_forms_and_floods(system):
    client = DeskClient(system, role=None)
    wrong = client.login("ana.rivera@harborpine.example", "not-the-password")
    assert "careline_desk=" not in wrong.headers.get("set-cookie", "")
    assert "That email and password don't match an account." in _banner(client, wrong)
    stranger = DeskClient(system, role=None)
    forged = stranger.http.post(f"{client.url}/login", timeout=10, allow_redirects=False,
                                data={"csrf": "made-up", "email": "ana.rivera@harborpine.example", "password": "x"})
    assert "Your sign-in form expired" in _banner(stranger, forged)
    answers = [client.login("flood@harborpine.example", "guess") for _ in range(7)]
    assert "Too many failed attempts" in _banner(client, answers[-1])
    good = DeskClient(system, "agent")
    cookie = good.http.cookies.get("careline_desk")
    assert cookie and len(cookie) >= 40
    raw = good.http.get(f"{good.url}/login", timeout=10)
    assert raw.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in raw.headers["Content-Security-Policy"]


def test_login_sets_an_httponly_samesite_cookie(system):
    client = DeskClient(system, role=None)
    form = client.http.get(f"{client.url}/login", timeout=10)
    from careline.shared.settings import load_settings
    from tests.e2e.desk_client import CSRF
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
    maria = customers.maria(system)  # a copy of Maria Lopez: her goodwill and her fee's waiver are this test's own
    sender = _handoff(system, order=maria.order("CL-100001"), email=maria.email)
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
    _, form = _reviewed(agent, ticket, "refund", {"form_key": agent.form_key(ticket), "amount": "60.00",
                                                  "goodwill": "1"})
    refund = agent.post(f"/tickets/{ticket}/refund", form)
    assert refund.json()["result"]["outcome"] == "approve", "above the bot's goodwill limit, within an agent's"
    again = agent.post(f"/tickets/{ticket}/refund", form)
    assert again.json()["result"]["reference"] == refund.json()["result"]["reference"]
    fees = agent.get(f"/api/tickets/{ticket}").json()["fees"]
    waiver = _confirmed(agent, ticket, "waiver", {"form_key": agent.form_key(ticket), "charge_id": str(fees[0]["id"])})
    assert waiver.json()["result"]["outcome"] == "approve"
    assert agent.post(f"/tickets/{ticket}/refund", {"form_key": agent.form_key(ticket), "amount": "abc"}
                      ).status_code == 400
    assert agent.post("/tickets/999999/note", {"text": "x"}).status_code == 404
    assert agent.get("/api/tickets/999999").status_code == 404
    assert agent.post(f"/tickets/{ticket}/resolve").json()["ok"]
    assert agent.post(f"/tickets/{ticket}/note", {"text": "after"}).json()["ok"], "notes stay possible"
    assert agent.post(f"/tickets/{ticket}/reply", {"text": "late"}).status_code == 400
    events = [e["kind"] for e in agent.get(f"/api/tickets/{ticket}").json()["events"]]
    assert events == ["take", "reply", "goodwill", "waiver", "handback", "note"]
    after = " ".join(system.say(sender, "thank you")).lower()
    assert "welcome" in after or "happy to help" in after, "the bot answers again (either utter_you_are_welcome)"


def test_close_tells_the_customer_and_gives_the_conversation_back_to_the_bot(system):
    sender = _handoff(system)
    agent = DeskClient(system, "agent")
    ticket = agent.ticket_of(sender)
    since = time.time() - 1
    assert agent.post(f"/tickets/{ticket}/close").json()["ok"]
    assert ticket not in [item["ticket_id"] for item in agent.queue()]
    told = requests.get(f"{system.rasa_url}/webhooks/rest/messages", params={"sender": sender, "after": since},
                        headers=system.rest_headers, timeout=30).json()
    assert any("Ana from our team has closed this conversation" in m["text"] for m in told), told
    assert system.say(sender, "hello"), "the bot answers again"


def test_logout_ends_the_session(system):
    agent = DeskClient(system, "agent")
    assert agent.get("/queue").status_code == 200
    assert agent.post("/logout", {}).status_code == 302
    assert agent.get("/api/queue").status_code == 401


# --- security issue: redaction (6), money limits (7), password spraying (11), assigned tickets (13)

CARD, PHONE, EMAIL = "4111 1111 1111 1111", "+1 415 555 0134", "maria.lopez@example.com"


def test_the_desk_redacts_card_numbers_phones_and_emails_wherever_an_agent_looks(system):
    sender = _handoff(system)
    system.say(sender, f"my card {CARD} was charged twice, call me on {PHONE}")  # the bot is paused: kept only
    agent = DeskClient(system, "agent")
    ticket = agent.ticket_of(sender)
    assert agent.post(f"/tickets/{ticket}/note", {"text": f"She asked for a call on {PHONE}"}).json()["ok"]
    view = agent.get(f"/api/tickets/{ticket}").json()
    assert view["live"], "the live conversation from Rasa's tracker"
    assert view["customer"]["email"] == EMAIL, "the verified customer's own address stays in the customer panel"
    shown = json.dumps({key: value for key, value in view.items() if key != "customer"}) + json.dumps(agent.queue())
    for secret in (CARD, CARD.replace(" ", ""), PHONE, "555 0134", EMAIL):
        assert secret not in shown, secret
    live = " ".join(line["text"] for line in view["live"])
    assert "[card number]" in live and "[phone number]" in live and "[email]" in live
    assert any("[phone number]" in event["detail"] for event in view["events"])
    page = agent.get(f"/tickets/{ticket}").text
    assert CARD not in page and PHONE not in page and page.count(EMAIL) == 1, "only the customer panel"


def _big_order(system) -> tuple:
    """A seeded delivered order over $400 whose customer had no money decision yet: (number, email)."""
    engine = make_engine(load_settings(environ=system.env).store_db_url)
    try:
        with engine.connect() as db:
            return tuple(db.execute(sa.text(
                "SELECT o.number, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
                "WHERE o.total_cents > 40000 AND o.status = 'delivered' AND c.id NOT IN "
                "(SELECT customer_id FROM decisions WHERE customer_id IS NOT NULL) ORDER BY o.number")).first())
    finally:
        engine.dispose()


def _reviewed(client, ticket, action, form):
    """A money form reviewed as the desk's page does it: (the review's answer, the form that confirms it -
    the amount it showed and its review_token - or None when it was refused or failed: nothing to confirm)."""
    review = client.post(f"/tickets/{ticket}/{action}/review", form)
    if review.status_code != 200 or not review.json()["result"]["allowed"]:
        return review, None
    shown = review.json()["result"]
    return review, {**form, "review_token": shown["review_token"],
                    **({"amount": shown["amount"]} if action == "refund" else {})}


def _confirmed(client, ticket, action, form):
    """The confirm's answer after its review, or the review's when there is nothing to confirm."""
    review, confirm = _reviewed(client, ticket, action, form)
    return review if confirm is None else client.post(f"/tickets/{ticket}/{action}", confirm)


def _goodwill(client, ticket, amount, key=None, **extra):
    return _confirmed(client, ticket, "refund", {"form_key": key or client.form_key(ticket), "amount": amount,
                                                 "goodwill": "1", **extra})


def test_money_forms_need_server_issued_keys_and_a_persons_limits_are_totals(system):
    number, email = _big_order(system)
    sender = _handoff(system, order=number, email=email)
    agent, supervisor = DeskClient(system, "agent"), DeskClient(system, "supervisor")
    ticket = agent.ticket_of(sender)
    assert agent.post(f"/tickets/{ticket}/take").json()["ok"]
    for made_up in ("f1", "f2", "f3", "f4"):  # the reported attack used keys the client chose
        answer = _goodwill(agent, ticket, "75", key=made_up)
        assert answer.status_code == 400 and "not issued" in answer.json()["detail"], answer.text
    keys = [agent.form_key(ticket) for _ in range(4)]
    _, first = _reviewed(agent, ticket, "refund", {"form_key": keys[0], "amount": "75", "goodwill": "1"})
    results = [agent.post(f"/tickets/{ticket}/refund", first).json()["result"]]
    results += [_goodwill(agent, ticket, "75", key=key).json()["result"] for key in keys[1:]]  # reviews: refused
    assert [r["outcome"] for r in results] == ["approve", "escalate", "escalate", "escalate"], results
    assert {r["rule"] for r in results[1:]} == {"ticket_total_limit"}
    again = agent.post(f"/tickets/{ticket}/refund", first).json()
    assert again["result"] == {**results[0], "replayed": True}, "a used key replays"
    assert again["message"] == f"Already decided with this form: {results[0]['message']} Nothing was done again."
    assert results[0]["replayed"] is False
    assert agent.post(f"/tickets/{ticket}/refund", {**first, "amount": "5"}).status_code == 400, "as reviewed only"
    assert _goodwill(supervisor, ticket, "75", key=keys[1]).status_code == 400, "the key was the agent's"
    assert _goodwill(supervisor, ticket, "50").json()["result"]["outcome"] == "approve"  # 2nd goodwill: the cap
    assert _goodwill(agent, ticket, "5", override_cap="1").json()["result"]["rule"] == "goodwill_cap_reached"
    assert _goodwill(supervisor, ticket, "50").json()["result"]["rule"] == "goodwill_cap_reached"
    overridden = _goodwill(supervisor, ticket, "50", override_cap="1").json()["result"]
    assert (overridden["outcome"], overridden["rule"]) == ("approve", "goodwill_cap_overridden")
    over = _goodwill(supervisor, ticket, "100", override_cap="1").json()["result"]
    assert (over["outcome"], over["rule"]) == ("escalate", "ticket_total_limit"), "175 + 100 > the $250 limit"
    view = agent.get(f"/api/tickets/{ticket}").json()
    paid = sum(float(d["amount"].lstrip("$")) for d in view["decisions"] if d["outcome"] in ("approve", "partial"))
    assert paid == 175.0
    assert [e["agent"] for e in view["events"] if e["kind"] == "cap_override"] == ["Sam Okafor"]
    assert [d["authority"] for d in view["decisions"] if d["rule"] == "goodwill_cap_overridden"] == ["supervisor"]


def test_password_spraying_from_one_address_is_throttled_across_accounts(system):
    sprayer = DeskClient(system, role=None, source="127.0.0.2")  # another client than the other tests
    answers = [_banner(sprayer, sprayer.login(f"spray{i}@harborpine.example", "Winter2026!")) for i in range(25)]
    assert all("don't match" in answer for answer in answers[:10]), answers[:10]
    assert "Too many failed attempts" in answers[-1], "one try per account, yet the address is throttled"
    right = sprayer.login("ana.rivera@harborpine.example", load_settings(environ=system.env).desk_agent_password)
    assert "Too many failed attempts" in _banner(sprayer, right), "the same answer, even for a right one"
    assert "careline_desk=" not in right.headers.get("set-cookie", "")
    assert DeskClient(system, "agent").get("/api/queue").status_code == 200, "other addresses sign in as usual"


def test_only_the_assigned_agent_or_a_supervisor_acts_on_a_taken_ticket(system):
    email, password = f"ben.{uuid.uuid4().hex[:8]}@harborpine.example", secrets.token_urlsafe(16)
    engine = make_engine(load_settings(environ=system.env).store_db_url)
    try:
        Accounts(engine).create(email, "Ben Second", "agent", password)
    finally:
        engine.dispose()
    ben = DeskClient(system, role=None)
    assert ben.login(email, password).headers["location"] == "/queue" and ben.csrf
    sender = _handoff(system)
    ana, sam = DeskClient(system, "agent"), DeskClient(system, "supervisor")
    ticket = ana.ticket_of(sender)
    assert ben.post(f"/tickets/{ticket}/note", {"text": "before anyone took it"}).json()["ok"]
    assert ana.post(f"/tickets/{ticket}/take").json()["ok"]
    for action, form in (("take", {}), ("reply", {"text": "Hi, Ben here."}), ("form-key", {}),
                         ("refund", {"form_key": "x", "amount": "10", "goodwill": "1"}),
                         ("waiver", {"form_key": "x", "charge_id": "1"}), ("resolve", {}), ("close", {})):
        answer = ben.post(f"/tickets/{ticket}/{action}", form)
        assert answer.status_code == 403 and answer.json()["error"] == "not_your_ticket", (action, answer.text)
        assert "assigned to Ana Rivera" in answer.json()["detail"]
    html = ben.http.post(f"{ben.url}/tickets/{ticket}/reply", data={"csrf": ben.csrf, "text": "Ben again"},
                         allow_redirects=False, timeout=30)
    assert html.status_code == 403 and "Not your conversation" in html.text
    tracker = requests.get(f"{system.rasa_url}/conversations/{sender}/tracker", params={"token": system.token},
                           timeout=10).json()
    assert not any("Ben" in (e.get("text") or "") for e in tracker["events"]), "nothing reached the customer"
    assert "Ana" in " ".join(system.say(sender, "hello?")), "the bot only says Ana has the message"
    page = ben.get(f"/tickets/{ticket}").text
    assert 'id="not-yours"' in page and f'action="/tickets/{ticket}/reply"' not in page
    assert ben.post(f"/tickets/{ticket}/note", {"text": "I know this customer"}).json()["ok"], "notes stay open"
    assert sam.post(f"/tickets/{ticket}/reply", {"text": "Sam here, I'm supervising."}).json()["ok"]
    view = ana.get(f"/api/tickets/{ticket}").json()
    assert view["ticket"]["status"] == "assigned" and view["ticket"]["assigned_to"] == "Ana Rivera"
    assert ana.post(f"/tickets/{ticket}/resolve").json()["ok"]

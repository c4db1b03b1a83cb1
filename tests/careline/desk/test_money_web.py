"""Money routes over real HTTP (a real desk process on a real SQLite store, the fake Rasa of
test_workspace_web): a confirm applies only what its review showed, with plain forms (no JavaScript)
and with JSON; "Tell the customer" sends its message once however many requests come at once, and
can be tried again when the bot server did not answer."""
from __future__ import annotations

import html
import re
import threading
from typing import Dict, List

import requests

from tests.careline.desk.test_workspace_web import site  # noqa: F401 - the running desk (module fixture)

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def _banner(page: str) -> str:
    found = re.search(r'<p class="flash (?:ok|err)" role="(?:status|alert)" id="flash">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


def _refund_key(http: requests.Session, url: str, ticket: int) -> str:
    page = http.get(f"{url}/tickets/{ticket}", timeout=30).text
    form = re.search(rf'<form method="post" action="/tickets/{ticket}/refund/review".*?</form>', page, re.S)
    assert form, "the ticket page offers the refund form"
    return dict(HIDDEN.findall(form.group(0)))["form_key"]


def _told(site, conversation: str) -> List[str]:  # noqa: F811
    return [post["body"]["text"] for post in list(site.rasa.posted)
            if post["path"] == f"/conversations/{conversation}/tracker/events" and isinstance(post["body"], dict)
            and (post["body"].get("metadata") or {}).get("agent") and post["body"]["text"].startswith("Done:")]


def _decisions(http: requests.Session, url: str, ticket: int) -> List[Dict]:
    return http.get(f"{url}/api/tickets/{ticket}", timeout=30).json()["decisions"]


def test_without_javascript_the_confirm_carries_the_review_and_another_amount_is_refused(site):  # noqa: F811
    ana = site.login()
    ticket, conversation = site.ticket()
    csrf = ana.headers["X-CSRF-Token"]
    key = _refund_key(ana, site.url, ticket)
    review = ana.post(f"{site.url}/tickets/{ticket}/refund/review", timeout=30, data={
        "csrf": csrf, "form_key": key, "amount": "5", "reason": "damaged", "goodwill": "1"})
    assert review.status_code == 200 and "Goodwill refund $5.00 on CL-100001" in review.text
    confirm = re.search(rf'<form method="post" action="/tickets/{ticket}/refund".*?</form>', review.text, re.S)
    fields = dict(HIDDEN.findall(confirm.group(0)))
    assert fields["form_key"] == key and fields["amount"] == "5.00" and fields["review_token"]
    changed = ana.post(f"{site.url}/tickets/{ticket}/refund", data={**fields, "amount": "7", "tell": "1"},
                       allow_redirects=False, timeout=30)
    assert changed.status_code == 302 and changed.headers["location"] == f"/tickets/{ticket}"
    assert _banner(ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text).startswith(
        "this is not what was reviewed (the amount, kind, reason, charge or cap override differ)")
    bare = {key: value for key, value in fields.items() if key != "review_token"}
    assert ana.post(f"{site.url}/tickets/{ticket}/refund", data=bare, allow_redirects=False, timeout=30
                    ).status_code == 302
    assert _banner(ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text).startswith("review it first")
    assert _decisions(ana, site.url, ticket) == [], "nothing was paid"
    done = ana.post(f"{site.url}/tickets/{ticket}/refund", data={**fields, "tell": "1"}, allow_redirects=False,
                    timeout=30)
    assert done.status_code == 302
    banner = _banner(ana.get(f"{site.url}/tickets/{ticket}", timeout=30).text)
    assert re.fullmatch(r"Done: goodwill refund of \$5\.00 \(RF-\d+\)\. The customer was told\.", banner), banner
    [decision] = _decisions(ana, site.url, ticket)
    assert decision["amount"] == "$5.00" and decision["told"] and len(_told(site, conversation)) == 1


def test_with_json_the_review_token_binds_kind_and_override_too(site):  # noqa: F811
    ana = site.login()
    ticket, _ = site.ticket()
    key = _refund_key(ana, site.url, ticket)
    review = ana.post(f"{site.url}/tickets/{ticket}/refund/review", timeout=30, json={
        "form_key": key, "amount": "6", "reason": "damaged", "goodwill": "1"}).json()["result"]
    base = {"form_key": key, "review_token": review["review_token"], "amount": review["amount"],
            "reason": "damaged", "goodwill": "1"}
    for changed in ({"amount": "7"}, {"goodwill": ""}, {"override_cap": "1"}, {"review_token": "x.y"}):
        answer = ana.post(f"{site.url}/tickets/{ticket}/refund", json={**base, **changed}, timeout=30)
        assert answer.status_code == 400 and answer.json()["error"] == "not_done", changed
        assert "review it" in answer.json()["detail"]
    assert _decisions(ana, site.url, ticket) == []
    paid = ana.post(f"{site.url}/tickets/{ticket}/refund", json=base, timeout=30).json()
    assert paid["ok"] and paid["result"]["amount"] == "6.00" and not paid["result"]["told"]
    no_key = ana.post(f"{site.url}/tickets/{ticket}/refund/review", json={"amount": "6", "reason": "damaged"},
                      timeout=30)
    assert no_key.status_code == 400 and "missing its key" in no_key.json()["detail"], "a review names its form"


def test_five_tells_at_once_send_one_message_and_a_failed_one_can_be_tried_again(site):  # noqa: F811
    ana = site.login()
    ticket, conversation = site.ticket()
    key = ana.post(f"{site.url}/tickets/{ticket}/form-key", json={}, timeout=30).json()["result"]["form_key"]
    fee = ana.get(f"{site.url}/api/tickets/{ticket}", timeout=30).json()["fees"][0]["id"]
    review = ana.post(f"{site.url}/tickets/{ticket}/waiver/review", timeout=30, json={
        "form_key": key, "charge_id": str(fee)}).json()["result"]
    reference = ana.post(f"{site.url}/tickets/{ticket}/waiver", timeout=30, json={
        "form_key": key, "review_token": review["review_token"], "charge_id": str(fee)}).json()["result"]["reference"]

    site.rasa.down = True
    try:
        failed = ana.post(f"{site.url}/tickets/{ticket}/tell", json={"reference": reference}, timeout=30).json()
    finally:
        site.rasa.down = False
    assert failed["result"]["told"] is False and "Try \"Tell the customer\" again" in failed["message"]
    assert not _decisions(ana, site.url, ticket)[0]["told"], "not told: it can be tried again"

    start = threading.Barrier(5)
    answers: List[Dict] = []

    def tell() -> None:
        start.wait()
        answers.append(ana.post(f"{site.url}/tickets/{ticket}/tell", json={"reference": reference},
                                timeout=30).json())
    threads = [threading.Thread(target=tell) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer["message"] for answer in answers) == sorted(["The customer was told."] + [
        "The customer was told already."] * 4)
    assert len(_told(site, conversation)) == 1, "one message reached the bot server"
    events = [event["kind"] for event in ana.get(f"{site.url}/api/tickets/{ticket}", timeout=30).json()["events"]]
    assert events.count("reply") == 1 and _decisions(ana, site.url, ticket)[0]["told"]

"""Hostile JSON and metadata over real HTTP: answered 400/413, never a 500, never stored.

The attacks: a lone surrogate (`"\\ud800"`, sent as raw bytes with a literal backslash escape) and
100,000 nested `[` gave a 500 on REST and Messenger; a 900 KB `metadata` object was stored in the
tracker (3.6 MB). Also: every channel stamps `careline_client` into the metadata, whatever a caller sent.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
import requests

from tests.e2e.conftest import MESSENGER_APP_SECRET as APP_SECRET
from tests.e2e.desk_client import DeskClient

pytestmark = pytest.mark.e2e

LONE_SURROGATES = [
    b'{"sender": "%s", "message": "\\ud800"}',
    b'{"sender": "%s", "message": "hi \\udfff there"}',
    b'{"sender": "%s", "message": "hello", "metadata": {"k\\ud800": 1}}',
    b'{"sender": "%s", "message": "hello", "metadata": {"a": ["\\udc00"]}}',
    b'{"sender": "%s", "message": "hello", "x\\ud83d": 1}',
]


def _sender() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def _rest(system, body: bytes):
    return requests.post(f"{system.rasa_url}/webhooks/rest/webhook", data=body, timeout=60,
                         headers={"Content-Type": "application/json", **system.rest_headers})


def _events(system, sender: str) -> list:
    return requests.get(f"{system.rasa_url}/conversations/{sender}/tracker",
                        params={"token": system.token}, timeout=30).json()["events"]


def _user_events(system, sender: str) -> list:
    return [e for e in _events(system, sender) if e["event"] == "user"]


@pytest.mark.parametrize("template", LONE_SURROGATES, ids=["message", "inside", "metadata-key", "metadata-list",
                                                           "other-key"])
def test_rest_refuses_a_lone_surrogate_with_400(system, template):
    sender = _sender()
    body = template.replace(b"%s", sender.encode())
    assert b"\\ud8" in body or b"\\udc" in body or b"\\udf" in body, "a literal escape, not a character"
    answer = _rest(system, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "malformed_json"
    assert _user_events(system, sender) == []


def test_a_valid_surrogate_pair_is_an_ordinary_character(system):
    sender = _sender()
    answer = _rest(system, b'{"sender": "%s", "message": "hello \\ud83d\\ude00"}' % sender.encode())
    assert answer.status_code == 200, answer.text
    assert _user_events(system, sender)[-1]["text"] == "hello \U0001F600"


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b'{"sender": "x", "message": "hi", "m": '
                                  + b"[" * 50_000 + b"]" * 50_000 + b"}"], ids=["arrays", "objects", "balanced"])
def test_rest_refuses_deep_nesting_with_400(system, body):
    answer = _rest(system, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in ("too_deeply_nested", "malformed_json")


def test_rest_bounds_metadata(system):
    sender = _sender()
    huge = {"blob": "x" * 900_000}
    answer = _rest(system, json.dumps({"sender": sender, "message": "hello", "metadata": huge}).encode())
    assert answer.status_code == 413 and answer.json()["error"] == "metadata_too_large", answer.text[:300]
    many = {f"k{i}": i for i in range(21)}
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    for metadata in (many, deep, [1], "text"):
        answer = _rest(system, json.dumps({"sender": sender, "message": "hello", "metadata": metadata}).encode())
        assert answer.status_code == 400 and answer.json()["error"] == "bad_metadata", answer.text
        assert answer.json()["detail"]
    assert _user_events(system, sender) == [], "nothing was stored"
    fine = {"order_ref": "abc", "tags": ["a", "b"], "shop": {"id": 7}}
    assert _rest(system, json.dumps({"sender": sender, "message": "hello", "metadata": fine}).encode()).ok
    stored = _user_events(system, sender)[-1]["metadata"]
    assert {k: stored[k] for k in fine} == fine


def test_rest_stamps_the_client_over_what_the_caller_claims(system):
    sender = _sender()
    body = {"sender": sender, "message": "hello", "metadata": {"careline_client": "web:10.9.9.9", "a": 1}}
    assert _rest(system, json.dumps(body).encode()).status_code == 200
    metadata = _user_events(system, sender)[-1]["metadata"]
    assert metadata["careline_client"] == "rest:127.0.0.1" and metadata["a"] == 1


# --- Messenger -------------------------------------------------------------------------------------

def _post_fb(system, body: bytes):
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(f"{system.rasa_url}/webhooks/facebook/webhook", data=body, timeout=60,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})


def _psid() -> str:
    return str(uuid.uuid4().int)[:16]


def _delivery(psid: str, text_json: bytes) -> bytes:
    return (b'{"object": "page", "entry": [{"id": "page-1", "time": 1, "messaging": [{"sender": {"id": "%s"}, '
            b'"recipient": {"id": "page-1"}, "timestamp": 1, "message": {"mid": "m-%s", "text": %s}}]}]}'
            % (psid.encode(), uuid.uuid4().hex.encode(), text_json))


def test_messenger_refuses_hostile_json_with_400(system, graph_api):
    psid = _psid()
    for body in (_delivery(psid, b'"\\ud800"'), _delivery(psid, b'"ok \\udfff"'), b"[" * 100_000,
                 b'{"object": "page", "entry": ' + b"[" * 100_000):
        answer = _post_fb(system, body)
        assert answer.status_code == 400, (body[:80], answer.status_code, answer.text[:200])
    assert _user_events(system, f"fb-{psid}") == [] and graph_api.to(psid) == []


def test_messenger_names_the_client_by_its_page_scoped_id(system, graph_api):
    psid = _psid()
    assert _post_fb(system, _delivery(psid, b'"hello"')).status_code == 200
    graph_api.wait_for(psid)
    assert _user_events(system, f"fb-{psid}")[-1]["metadata"]["careline_client"] == f"messenger:{psid}"


# --- the agent desk's JSON routes ----------------------------------------------------------------

def _handoff(system) -> str:
    sender = _sender()
    system.say(sender, "I want to talk to a human")
    return sender


def test_the_desk_refuses_hostile_json_with_400(system):
    sender = _handoff(system)
    agent = DeskClient(system, "agent")
    ticket = agent.ticket_of(sender)
    headers = {"Content-Type": "application/json", "X-CSRF-Token": agent.csrf, "Accept": "application/json"}
    for body in (b'{"text": "\\ud800"}', b'{"text": "fine", "x\\udc00": 1}', b"[" * 20_000):  # the desk's body limit
        answer = agent.http.post(f"{agent.url}/tickets/{ticket}/note", data=body, headers=headers, timeout=30)
        assert answer.status_code == 400, (body[:40], answer.status_code, answer.text[:200])
    fine = agent.http.post(f"{agent.url}/tickets/{ticket}/note", data=b'{"text": "a real note"}', headers=headers,
                           timeout=30)
    assert fine.status_code == 200 and fine.json()["ok"], fine.text
    notes = [e for e in agent.get(f"/api/tickets/{ticket}").json()["events"] if e["kind"] == "note"]
    assert len(notes) == 1

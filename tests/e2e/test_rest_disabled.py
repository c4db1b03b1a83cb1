"""Without CARELINE_REST_TOKEN the REST channel is off: 503 on both routes, whatever the caller sends."""
from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.e2e

# A system of its own: the channel is off only when the server starts without a token, and every
# other test needs it on.
SYSTEM_ENV = {"CARELINE_REST_TOKEN": ""}


def test_rest_is_off_unless_configured(system):
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything-at-all-here"}):
        posted = requests.post(f"{system.rasa_url}/webhooks/rest/webhook", headers=headers, timeout=10,
                               json={"sender": "e2e-disabled", "message": "hello"})
        read = requests.get(f"{system.rasa_url}/webhooks/rest/messages", params={"sender": "e2e-disabled"},
                            headers=headers, timeout=10)
        for answer in (posted, read):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "rest_disabled" and "CARELINE_REST_TOKEN" in answer.json()["detail"]
    tracker = requests.get(f"{system.rasa_url}/conversations/e2e-disabled/tracker",
                           params={"token": system.token}, timeout=10).json()
    assert not [e for e in tracker["events"] if e["event"] == "user"]

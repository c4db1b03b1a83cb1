"""A new model is loaded into the running server while customers keep getting answers."""
from __future__ import annotations

import shutil
import threading
import time
import uuid

import pytest
import requests

from careline.shared.settings import PROJECT_ROOT
from ops.train import model_path

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(lifecycle_system):
    """The system for restarts and model swaps: the shared system's tests should not be served a swapped model."""
    return lifecycle_system


def _serving(system) -> str:
    return requests.get(f"{system.rasa_url}/status", params={"token": system.token}, timeout=10).json()["model_file"]


def test_make_reload_knows_when_the_current_model_is_served(system):
    assert "already serving" in system.make("reload").stdout


def test_a_model_swap_drops_no_message(system, tmp_path):
    copy = tmp_path / f"careline-reload-{uuid.uuid4().hex[:8]}.tar.gz"
    shutil.copy(model_path(PROJECT_ROOT), copy)
    answers, stop = [], threading.Event()

    def chat() -> None:
        while not stop.is_set():   # a new customer each time: one customer this fast is rate limited
            reply = requests.post(f"{system.rasa_url}/webhooks/rest/webhook", timeout=120,
                                  headers=system.rest_headers,
                                  json={"sender": f"e2e-{uuid.uuid4().hex}", "message": "hello"})
            answers.append((reply.status_code, bool(reply.json())))
            time.sleep(0.2)

    talker = threading.Thread(target=chat, daemon=True)
    talker.start()
    time.sleep(1)
    loaded = requests.put(f"{system.rasa_url}/model", params={"token": system.token}, timeout=600,
                          json={"model_file": str(copy)})
    time.sleep(2)
    stop.set()
    talker.join(120)
    assert loaded.status_code == 204
    assert _serving(system).endswith(copy.name)
    assert len(answers) >= 5 and all(answer == (200, True) for answer in answers), answers
    assert requests.put(f"{system.rasa_url}/model", json={"model_file": str(copy)}, timeout=10).status_code == 401

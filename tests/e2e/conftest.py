"""Start the real system with `make up` in an isolated var/ folder and on free ports."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

from careline.shared.settings import PROJECT_ROOT, load_settings
from tests.fakes.helpdesk import FakeHelpdesk

MAKE_TIMEOUT_S = 900


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningSystem:
    env: Dict[str, str]
    var_dir: Path
    rasa_url: str
    token: str
    helpdesk: FakeHelpdesk
    rest_token: str = ""

    @property
    def rest_headers(self) -> Dict[str, str]:
        """What a trusted integration sends to the REST channel (CARELINE_REST_TOKEN)."""
        return {"Authorization": f"Bearer {self.rest_token}"}

    def make(self, *targets: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["make", "--no-print-directory", *targets], cwd=PROJECT_ROOT, env=self.env,
            capture_output=True, text=True, timeout=MAKE_TIMEOUT_S,
        )
        assert result.returncode == 0, f"make {' '.join(targets)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def say(self, sender: str, text: str, client: str = "") -> List[str]:
        """Send one message over the REST channel; return the bot's texts.

        `client` is the end customer's address an integration may name (X-Careline-Client).
        """
        headers = {**self.rest_headers, **({"X-Careline-Client": client} if client else {})}
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text}, headers=headers, timeout=60,
        )
        response.raise_for_status()
        return [message.get("text", "") for message in response.json()]


@pytest.fixture(scope="module")
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """The whole system (actions, Rasa, shop page, helpdesk outbox) on free ports, with a fake helpdesk.

    A test module can add environment variables with a module-level `SYSTEM_ENV` dict.
    """
    var_dir = tmp_path_factory.mktemp("var")
    with FakeHelpdesk() as helpdesk:
        env = dict(
            os.environ,
            CARELINE_VAR_DIR=str(var_dir),
            CARELINE_RASA_PORT=str(free_port()),
            CARELINE_ACTIONS_PORT=str(free_port()),
            CARELINE_WEB_PORT=str(free_port()),
            CARELINE_DESK_PORT=str(free_port()),
            CARELINE_HELPDESK_URL=helpdesk.url,
            CARELINE_RATE_PER_ADDRESS="100000",  # every test talks from 127.0.0.1
            CARELINE_REST_TOKEN=secrets.token_urlsafe(32),  # REST is for integrations holding this
        )
        env.update(getattr(request.module, "SYSTEM_ENV", {}))
        for key in ("CARELINE_TRACKER_DB_URL", "CARELINE_STORE_DB_URL"):
            env.pop(key, None)
        settings = load_settings(environ=env)
        running = RunningSystem(env=env, var_dir=var_dir, rasa_url=settings.rasa_url, token="", helpdesk=helpdesk,
                                rest_token=settings.rest_token)
        try:
            running.make("up")
            running.token = load_settings(environ=env).auth_token
            yield running
        finally:
            subprocess.run(["make", "--no-print-directory", "down"], cwd=PROJECT_ROOT, env=env,
                           capture_output=True, timeout=120)

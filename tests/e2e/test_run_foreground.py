"""`make run`: prints the addresses once everything is healthy and Ctrl-C stops it all."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time

import pytest
import requests

from careline.shared.settings import PROJECT_ROOT, load_settings
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

SERVICES = ("actions", "rasa", "web", "desk", "mail", "worker")  # mail: the local catcher (no CARELINE_SMTP_HOST)


def _a_return_is_emailed_to_the_mail_catcher(settings, folder):
    """Without a mail server the demo still keeps the bot's promise: the label email lands in var/mail/."""
    def say(text):
        answer = requests.post(f"{settings.rasa_url}/webhooks/rest/webhook", timeout=60,
                               json={"sender": "run-test-return", "message": text},
                               headers={"Authorization": f"Bearer {settings.rest_token}"})
        return " ".join(m.get("text", "") for m in answer.json())

    for text in ("I want to return something", "CL-100003", "jkim88@example.net"):
        say(text)
    done = say("yes")
    assert "we're emailing it to you too" in done, done
    reference = done.split("your return number is ")[1].split(".")[0]
    deadline = time.monotonic() + 30
    while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
        time.sleep(0.2)
    (saved,) = folder.glob("*.eml")
    assert b"Subject: Your return label for order CL-100003" in saved.read_bytes()
    assert f"return-label-{reference}.pdf".encode() in saved.read_bytes()


def test_make_run_serves_until_ctrl_c_then_stops_everything(tmp_path):
    """Starts a system of its own: what it tests is `make run` itself and that Ctrl-C stops everything."""
    env = dict(os.environ, CARELINE_VAR_DIR=str(tmp_path), CARELINE_RASA_PORT=str(free_port()),
               CARELINE_ACTIONS_PORT=str(free_port()), CARELINE_WEB_PORT=str(free_port()),
               CARELINE_DESK_PORT=str(free_port()), CARELINE_MAIL_PORT=str(free_port()),
               CARELINE_REST_TOKEN=secrets.token_urlsafe(32))
    env.pop("CARELINE_SMTP_HOST", None)
    settings = load_settings(environ=env)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"], cwd=PROJECT_ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 600
        for line in process.stdout:
            output.append(line)
            if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
                break
        printed = "".join(output)
        assert "Press Ctrl-C to stop." in printed, printed
        assert f"{settings.rasa_url}/webhooks/rest/webhook" in printed
        assert f"{settings.actions_url}/webhook" in printed
        assert f"{settings.web_url}/" in printed
        assert f"local mail catcher 127.0.0.1:{settings.mail_port}" in printed and str(settings.mail_dir) in printed
        assert f"local mail catcher 127.0.0.1:{settings.mail_port}" in printed and str(settings.mail_dir) in printed
        assert "careline-widget.js" in requests.get(f"{settings.web_url}/", timeout=10).text
        reply = requests.post(f"{settings.rasa_url}/webhooks/rest/webhook",
                              json={"sender": "run-test", "message": "hello"}, timeout=60,
                              headers={"Authorization": f"Bearer {settings.rest_token}"})
        assert "Careline" in reply.text
        _a_return_is_emailed_to_the_mail_catcher(settings, tmp_path / "mail")
        pids = [json.loads(path.read_text())["pid"] for path in (tmp_path / "run").glob("*.pid")]
        assert len(pids) == len(SERVICES)

        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        rest, _ = process.communicate(timeout=60)
        assert "stopping" in rest and "down: stopped" in rest
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{settings.rasa_url}/", timeout=5)
        assert not list((tmp_path / "run").glob("*.pid"))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        subprocess.run(["make", "--no-print-directory", "down"], cwd=PROJECT_ROOT, env=env,
                       capture_output=True, timeout=120)

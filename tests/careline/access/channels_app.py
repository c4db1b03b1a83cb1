"""Careline's three channels (REST, web chat, Messenger, as credentials.yml registers them) served by a
Sanic process of their own on 127.0.0.1, for tests of what the channels do before the bot.

The Rasa agent is replaced by one that answers "echo: <text>" and counts the messages that reached it
(GET /test/handled), so a test sees whether a message got past the channel. Settings come from the
environment as in a Rasa server (CARELINE_REDIS_URL, CARELINE_STORE_DB_URL, CARELINE_REST_TOKEN, ...).

    python -m tests.careline.access.channels_app     prints "PORT <n>" once it listens
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any, Dict, Mapping, Optional

import requests

from careline.shared.settings import PROJECT_ROOT

START_TIMEOUT_S = 120.0


class EchoAgent:
    """Stands in for rasa's Agent: no tracker store; every message is answered and counted."""

    tracker_store = None

    def __init__(self) -> None:
        self.handled = 0

    async def handle_message(self, message: Any) -> None:
        self.handled += 1
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


def serve() -> None:
    from rasa.core.channels.channel import register
    from sanic import Sanic, response

    from channels.messenger import MessengerInput
    from channels.rest import RestInput
    from channels.webchat import WebChatInput

    app = Sanic("careline_channels_test")
    agent = EchoAgent()
    app.ctx.agent = agent
    register([RestInput(), WebChatInput(), MessengerInput()], app, route="/webhooks/")

    @app.get("/test/handled")
    async def handled(_: Any) -> Any:
        return response.json({"handled": agent.handled})

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    app.run(sock=listener, access_log=False, motd=False, workers=1)


class ChannelsProcess:
    """One channels process (as one Rasa server); `stop()` ends it. Its log is `log()`."""

    def __init__(self, env: Mapping[str, str], log_path: str) -> None:
        self._log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.careline.access.channels_app"], cwd=PROJECT_ROOT,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3", **env},
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        self.url = ""

    def wait_ready(self) -> ChannelsProcess:
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the channels app did not start:\n{self.log()[-3000:]}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/webhooks/rest/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the channels app did not answer:\n{self.log()[-3000:]}")

    def handled(self) -> int:
        count: int = requests.get(f"{self.url}/test/handled", timeout=5).json()["handled"]
        return count

    def log(self) -> str:
        self._log.flush()
        with open(self._log_path, "rb") as log:
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()


def start_channels(env: Dict[str, str], log_path: str, wait: bool = True) -> ChannelsProcess:
    """Start a channels process with these settings (the caller stops it)."""
    started = ChannelsProcess(env, log_path)
    return started.wait_ready() if wait else started


def stop_all(*processes: Optional[ChannelsProcess]) -> None:
    for process in processes:
        if process is not None:
            process.stop()


if __name__ == "__main__":
    serve()

"""The rendered nginx configuration in front of two real Sanic servers (what the Rasa servers run on):
the client's address reaches them as request.remote_addr and cannot be forged, socket.io stays on one
server, webhooks spread over both (one conversation's REST messages on one), a POST that reached a server is
never sent to the other, a server that is down is passed over, and bodies above 1 MB are refused."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

from careline.shared.settings import PROJECT_ROOT, Settings, load_settings
from ops import processes
from ops.infra import ServerMissing, nginx
from ops.services import places, proxy
from ops.watch import EventLog, Watcher
from tests.e2e.conftest import free_port
from tests.e2e.desk_client import SourceAddress
from tests.pg import unavailable
from tests.prod import consecutive_free_ports

BACKEND = textwrap.dedent("""
    import json, os, sys
    from sanic import Sanic, response

    port, record = int(sys.argv[1]), sys.argv[2]
    app = Sanic(f"backend_{port}")

    @app.route("/<path:path>", methods=["GET", "POST"])
    async def anything(request, path):
        with open(record, "a") as log:
            log.write(json.dumps({"port": port, "method": request.method, "path": request.path}) + "\\n")
        if path == "die" or b'"message": "die"' in (request.body or b""):  # crashes with the request in hand
            os._exit(1)
        return response.json({"port": port, "remote_addr": request.remote_addr, "ip": request.ip,
                              "upgrade": request.headers.get("upgrade"),
                              "connection": request.headers.get("connection")})

    app.run(host="127.0.0.1", port=port, access_log=False)
""")


class Proxy:
    def __init__(self, settings: Settings, record: Path, backends: Dict[int, subprocess.Popen]) -> None:
        self.settings, self.record, self.backends = settings, record, backends
        self.url = settings.rasa_url

    def received(self) -> List[dict]:
        return [json.loads(line) for line in self.record.read_text().splitlines()] if self.record.exists() else []


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Proxy]:
    try:
        nginx.find_nginx()
    except ServerMissing as missing:
        unavailable(str(missing))
    first = consecutive_free_ports(2)
    settings = load_settings(environ={
        "CARELINE_VAR_DIR": str(tmp_path / "var"), "CARELINE_RASA_SERVERS": "2",
        "CARELINE_RASA_PORT": str(free_port()), "CARELINE_RASA_BACKEND_PORT": str(first),
        "RASA_AUTH_TOKEN": secrets.token_urlsafe(32), "PATH": os.environ["PATH"],
    }, root=PROJECT_ROOT)
    assert settings.behind_proxy and settings.rasa_backend_ports == (first, first + 1)
    script, record = tmp_path / "backend.py", tmp_path / "received.jsonl"
    script.write_text(BACKEND)
    env = dict(os.environ, **nginx.backend_env(settings))
    backends = {port: subprocess.Popen([sys.executable, str(script), str(port), str(record)], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for port in settings.rasa_backend_ports}
    where = places(settings)
    watcher = Watcher(where, [proxy(settings)], EventLog(tmp_path / "supervisor.log"))
    try:
        deadline = time.monotonic() + 30
        while not all(processes.port_in_use("127.0.0.1", port) for port in backends):
            assert time.monotonic() < deadline, "the Sanic backends did not start"
            time.sleep(0.1)
        watcher.start_all()
        yield Proxy(settings, record, backends)
    finally:
        watcher.stop_all()
        for process in backends.values():
            process.kill()
            process.wait(10)


def _from(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddress(address))
    return session


def test_the_client_address_reaches_the_servers_and_cannot_be_forged(proxied):
    forged = {"Forwarded": "for=6.6.6.6;secret=guessed", "X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6"}
    seen = _from("127.0.0.7").post(f"{proxied.url}/webhooks/rest/webhook", json={}, headers=forged, timeout=10).json()
    assert seen["remote_addr"] == "127.0.0.7"   # what the channels must read behind the proxy
    assert seen["ip"] == "127.0.0.1"            # the socket's peer: nginx
    direct = requests.post(f"http://127.0.0.1:{proxied.settings.rasa_backend_ports[0]}/webhooks/rest/webhook",
                           json={}, headers={**forged, "Forwarded": "for=6.6.6.6;secret=guessed"}, timeout=10).json()
    assert direct["remote_addr"] == ""          # without nginx's secret the header is ignored


def test_webhooks_spread_over_both_servers_and_socket_io_stays_on_one(proxied):
    ports = {requests.post(f"{proxied.url}/webhooks/rest/webhook", json={}, timeout=10).json()["port"]
             for _ in range(6)}
    assert ports == set(proxied.settings.rasa_backend_ports)
    client = _from("127.0.0.9")
    sticky = {client.get(f"{proxied.url}/socket.io/x", params={"EIO": "4", "transport": "polling"},
                         timeout=10).json()["port"] for _ in range(6)}
    assert len(sticky) == 1
    upgrade = client.get(f"{proxied.url}/socket.io/x", timeout=10,
                         headers={"Upgrade": "websocket", "Connection": "Upgrade"}).json()
    assert upgrade["upgrade"] == "websocket" and upgrade["connection"].lower() == "upgrade"


def test_a_post_a_server_took_is_never_replayed_and_a_dead_server_is_passed_over(proxied):
    answer = requests.post(f"{proxied.url}/die", json={"message": "once"}, timeout=30)
    assert answer.status_code == 502
    assert [entry["path"] for entry in proxied.received()].count("/die") == 1  # the other server never got it
    deadline = time.monotonic() + 10
    while not any(process.poll() is not None for process in proxied.backends.values()):
        assert time.monotonic() < deadline, "the server that took /die did not exit"
        time.sleep(0.05)
    dead = [port for port, process in proxied.backends.items() if process.poll() is not None]
    assert len(dead) == 1
    answers = [requests.post(f"{proxied.url}/webhooks/rest/webhook", json={}, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert {a.json()["port"] for a in answers} == set(proxied.settings.rasa_backend_ports) - set(dead)


def test_bodies_up_to_a_megabyte_pass_in_memory_and_larger_ones_are_refused(proxied):
    """The workers (an unprivileged account under root) never write temporary files: 900 kB still passes."""
    assert requests.post(f"{proxied.url}/webhooks/rest/webhook", data=b"x" * 900_000, timeout=10).status_code == 200
    assert requests.post(f"{proxied.url}/webhooks/rest/webhook", data=b"x" * 1_100_000, timeout=10).status_code == 413
    assert requests.get(f"{proxied.url}{nginx.HEALTH_PATH}", timeout=5).text == "ok\n"


def test_the_access_log_names_the_backend_and_never_the_token(proxied):
    token = proxied.settings.auth_token
    requests.get(f"{proxied.url}/status", params={"token": token}, timeout=10)
    deadline = time.monotonic() + 5
    log = nginx.access_log(proxied.settings)
    while "/status" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert '"GET /status" 200' in text and "upstream=127.0.0.1:" in text
    assert token not in text


def test_one_conversations_rest_messages_go_to_one_server_and_conversations_spread_over_both(proxied):
    """njs reads the REST message's sender: a conversation keeps its server (so its messages keep their order)."""
    def port_for(sender: str) -> int:
        answer = requests.post(f"{proxied.url}/webhooks/rest/webhook", json={"sender": sender, "message": "hi"},
                               timeout=10)
        assert answer.status_code == 200
        return answer.json()["port"]

    for sender in ("customer-a", "customer-b", "customer-c"):
        assert len({port_for(sender) for _ in range(6)}) == 1, sender
        slash = requests.post(f"{proxied.url}/webhooks/rest/webhook/", json={"sender": sender, "message": "hi"},
                              timeout=10)
        assert slash.json()["port"] == port_for(sender), "a trailing slash takes the same route"
    ports = {port_for(f"customer-{number}") for number in range(24)}
    assert ports == set(proxied.settings.rasa_backend_ports)


def test_a_rest_message_whose_server_dies_gets_the_rest_channels_json_503_and_is_not_replayed(proxied):
    answer = requests.post(f"{proxied.url}/webhooks/rest/webhook", json={"sender": "c-dies", "message": "die"},
                           timeout=30)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.json()["error"] == "unavailable" and answer.json()["messages"] == []
    assert [entry["path"] for entry in proxied.received()].count("/webhooks/rest/webhook") == 1

"""Health check of one Careline container, by the supervisor's own probe for that service (ops/services.py).

    python -m deploy.healthcheck SERVICE        SERVICE: actions, rasa, web, desk, mail or worker

Exit 0 when the service answers as the supervisor expects, 1 when it does not (one line says why), 2 for
an unknown service. Compose's healthchecks and Kubernetes' probes run it inside the container, so the
Rasa API token of `GET /status?token=...` comes from the container's environment, never from a manifest.
Servers in a container listen on every interface (CARELINE_HOST=0.0.0.0); the probe asks 127.0.0.1.
tests/ops/test_deploy_sync.py runs these probes and the supervisor's against the same servers.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from typing import Callable, Dict, List

from careline.shared.settings import LOCALHOST, Settings, SettingsError, load_settings
from ops.processes import heartbeat_probe, http_probe, smtp_probe

Probe = Callable[[], bool]


def _json_field(body: bytes, key: str) -> object:
    return json.loads(body or b"{}").get(key)


def probes(settings: Settings) -> Dict[str, Probe]:
    """Each Careline service's probe, as ops/services.py defines it (a Rasa container serves the first backend port)."""
    if settings.host in ("0.0.0.0", "::", ""):
        settings = dataclasses.replace(settings, host=LOCALHOST)
    rasa_port = settings.rasa_backend_ports[0]
    return {
        "actions": http_probe(f"{settings.actions_url}/health", lambda body: _json_field(body, "status") == "ok"),
        "rasa": http_probe(f"http://{settings.host}:{rasa_port}/status?token={settings.auth_token}",
                           lambda body: bool(_json_field(body, "model_id"))),
        "web": http_probe(f"{settings.web_url}/health", lambda body: b"ok" in body),
        "desk": http_probe(f"{settings.desk_url}/health", lambda body: b"ok" in body),
        "mail": smtp_probe(settings.host, settings.mail_port),
        "worker": heartbeat_probe(settings.worker_heartbeat),
    }


def main(argv: List[str]) -> int:
    try:
        table = probes(load_settings())
    except SettingsError as error:
        print(f"healthcheck: {error}", file=sys.stderr)
        return 1
    if len(argv) != 1 or argv[0] not in table:
        print(f"usage: python -m deploy.healthcheck SERVICE  (one of {', '.join(table)})", file=sys.stderr)
        return 2
    if table[argv[0]]():
        return 0
    print(f"healthcheck: {argv[0]} is not healthy (the supervisor's probe failed)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

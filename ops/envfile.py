"""Create the project's `.env` with generated secrets when it does not exist yet.

Usage: python -m ops.envfile [PATH]
An existing file is kept as it is; a missing secret in it is appended.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from careline.shared.settings import PROJECT_ROOT, load_env_file

#: Secrets the processes get.
PROCESS_SECRETS = {
    "RASA_AUTH_TOKEN": lambda: secrets.token_urlsafe(32),
    # Rasa -> action server credential, and the key that signs verified identities and proposals.
    "CARELINE_ACTIONS_TOKEN": lambda: secrets.token_urlsafe(32),
    "CARELINE_SIGNING_KEY": lambda: secrets.token_urlsafe(32),
    # Passwords of the demo desk accounts that `make seed` creates (README: "Agent desk").
    "CARELINE_DESK_AGENT_PASSWORD": lambda: secrets.token_urlsafe(12),
    "CARELINE_DESK_SUPERVISOR_PASSWORD": lambda: secrets.token_urlsafe(12),
    # The `careline` role's password on the prod profile's PostgreSQL server (`make up PROFILE=prod`).
    "CARELINE_PG_PASSWORD": lambda: secrets.token_urlsafe(24),
    # ... and the password of its Redis server (lock store, shared rate limits).
    "CARELINE_REDIS_PASSWORD": lambda: secrets.token_urlsafe(24),
}
#: Secrets only a deployment with deploy/ (compose, Kubernetes) uses: the one nginx proves to the Rasa
#: servers (locally derived from RASA_AUTH_TOKEN) and PostgreSQL's superuser password (no process gets it).
DEPLOY_SECRETS = {
    "CARELINE_FORWARDED_SECRET": lambda: secrets.token_urlsafe(24),
    "CARELINE_PG_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(24),
}
GENERATED = {**PROCESS_SECRETS, **DEPLOY_SECRETS}


def ensure_env_file(path: Path) -> list:
    """Make sure `path` holds every generated secret; return the keys that were added."""
    existing = load_env_file(path)
    added = [key for key in GENERATED if not existing.get(key) and not os.environ.get(key)]
    if not added:
        return []
    header = "" if path.exists() else "# Careline local secrets (generated; never commit this file)\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(header)
        for key in added:
            handle.write(f"{key}={GENERATED[key]()}\n")
    path.chmod(0o600)
    return added


def main(argv: list) -> int:
    path = Path(argv[0]) if argv else PROJECT_ROOT / ".env"
    added = ensure_env_file(path)
    if added:
        print(f"env: wrote {', '.join(added)} to {path}")
    else:
        print(f"env: {path.name} is complete")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run `rasa run` with the HTTP API enabled and its token taken from the environment.

The token never appears on a command line (where `ps` would show it): this wrapper
reads RASA_AUTH_TOKEN and hands it to Rasa's own command-line entry point in-process.

Usage: python -m ops.rasa_server --model PATH [--interface HOST] [--port PORT]
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List

#: Largest request body the server reads (Sanic answers 413 above it); chat messages are far smaller.
REQUEST_MAX_BYTES = 1_000_000


def rasa_argv(model: str, interface: str, port: int, token: str) -> List[str]:
    """The argument vector for `rasa run` serving the channels and the protected API."""
    return [
        "rasa", "run",
        "--model", model,
        "--endpoints", "endpoints.yml",
        "--credentials", "credentials.yml",
        "--interface", interface,
        "--port", str(port),
        "--enable-api",
        f"--auth-token={token}",  # one word: a generated token may start with "-"
    ]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5005)
    args = parser.parse_args(argv)
    token = os.environ.get("RASA_AUTH_TOKEN", "")
    if len(token) < 16:
        print("rasa_server: RASA_AUTH_TOKEN must be set to a secret of 16+ characters", file=sys.stderr)
        return 2
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(REQUEST_MAX_BYTES))
    sys.argv = rasa_argv(args.model, args.interface, args.port, token)
    from components.runtime.guards import install
    from rasa.__main__ import main as rasa_main

    install()  # no silent memory fallback for the tracker store, an apology when an action cannot run

    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run the agent desk: python -m careline.desk [--port PORT] (binds to CARELINE_HOST, 127.0.0.1)."""
from __future__ import annotations

import argparse
import sys
from typing import List

from careline.desk.app import Desk, create_app
from careline.shared import load_settings


def main(argv: List[str]) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=settings.desk_port)
    args = parser.parse_args(argv)
    if not settings.auth_token:
        print("desk: RASA_AUTH_TOKEN is not set (run `make env`)", file=sys.stderr)
        return 2
    app = create_app(Desk(settings))
    app.run(host=settings.host, port=args.port, access_log=False, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

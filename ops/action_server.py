"""The action server, with the credential rasa-sdk lacks.

Rasa sends `CARELINE_ACTIONS_TOKEN` as `?token=` (endpoints.yml `token:`); every route but
/health answers 401 without it, checked in constant time before the body is even parsed, so a
forged tracker posted to :5055/webhook runs nothing. Errors never echo the request body.

Usage: python -m ops.action_server --port 5055
"""
from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

import yaml
from typing import Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from careline.shared import catalogue
from careline.shared.settings import load_settings

logger = logging.getLogger("careline.actions")
OPEN_PATHS = ("/health",)
MAX_BODY_BYTES = 20 * 1024 * 1024


def token_ok(expected: str, given: Optional[str]) -> bool:
    """Constant-time comparison; an unset expected token never matches."""
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def create_app(token: str, package: str = "actions") -> Sanic:
    """rasa-sdk's app for `package`, guarded by `token`."""
    from rasa_sdk.endpoint import create_app as sdk_app

    if not token:
        raise RuntimeError("CARELINE_ACTIONS_TOKEN is not set: run `make env` (it writes .env) or export it")
    app = sdk_app(package, cors_origins=[])
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES

    @app.middleware("request")
    async def authenticate(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        if not token_ok(token, request.args.get("token")):
            logger.warning("action server: refused %s %s from %s (no valid token)", request.method, request.path,
                           request.ip)
            return response.json({"error": "unauthorized", "detail": "a valid ?token= is required"}, status=401)
        return None

    @app.exception(Exception)
    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        logger.error("action server: %s %s failed", request.method, request.path, exc_info=exception)
        status = getattr(exception, "status_code", 500)
        return response.json({"error": "internal_error" if status >= 500 else "bad_request"},
                             status=status if isinstance(status, int) else 500)

    return app


def main(argv: list) -> int:  # pragma: no cover - run as a process by the supervisor
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = load_settings()
    parser.add_argument("--port", type=int, default=settings.actions_port)
    parser.add_argument("--host", default=settings.host)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ.setdefault("SANIC_HOST", args.host)
    try:
        app = create_app(settings.actions_token)
    except RuntimeError as error:
        print(f"actions: {error}", file=sys.stderr)
        return 2
    try:  # read domain.yml's sentences now: a broken file fails the start, not a customer's turn
        texts = catalogue()
    except (OSError, yaml.YAMLError) as error:
        print(f"actions: cannot read the customer sentences in domain.yml: {error}", file=sys.stderr)
        return 2
    for name, problem in texts.problems().items():
        logging.getLogger("careline.actions").warning("response %s cannot be rendered by Python: %s", name, problem)
    app.run(args.host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

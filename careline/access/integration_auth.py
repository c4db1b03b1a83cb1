"""The REST channel's integration credential (pure, no Rasa).

REST is for trusted server-to-server integrations. Each call carries
`Authorization: Bearer <CARELINE_REST_TOKEN>`; the channel is off while no token is configured.
The comparison is constant-time and happens before anything else of the request is read.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Dict, Optional

REALM = "careline-rest"


@dataclass(frozen=True)
class AuthResult:
    """200 when the caller may go on; else the status, error code, detail and headers to answer with."""

    status: int
    error: str = ""
    detail: str = ""
    headers: Optional[Dict[str, str]] = None

    @property
    def ok(self) -> bool:
        return self.status == 200


DISABLED = AuthResult(503, "rest_disabled",
                      "the REST channel is off: set CARELINE_REST_TOKEN to enable it for integrations")


def _challenge(error: str) -> Dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")}


def check_bearer(expected: str, authorization: Optional[str]) -> AuthResult:
    """Whether an `Authorization` header carries the configured token.

    Args:
        expected: the configured token; empty means the channel is disabled.
        authorization: the request's `Authorization` header, if any.
    """
    if not expected:
        return DISABLED
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return AuthResult(401, "unauthorized", "send 'Authorization: Bearer <CARELINE_REST_TOKEN>'",
                          _challenge(""))
    if not hmac.compare_digest(expected.encode("utf-8"), given.strip().encode("utf-8", "surrogatepass")):
        return AuthResult(401, "unauthorized", "the REST credential is not valid", _challenge("invalid_token"))
    return AuthResult(200)

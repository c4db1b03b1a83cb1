"""Return and reshipment decisions written by the real ClaimService on a seeded SQLite store."""
from __future__ import annotations

import pytest

from careline.db import make_engine
from careline.money import ClaimService, Request, load_policy
from careline.shared import Shop, load_settings
from tests.conftest import SEED_DAY

SIGNING_KEY = "fulfilment-tests-signing-key-0123456789"
BASE_URL = "https://shop.example"


@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


@pytest.fixture
def claims(engine) -> ClaimService:
    return ClaimService(engine, load_policy(), today=lambda: SEED_DAY)


@pytest.fixture
def shop() -> Shop:
    return load_settings().shop()


def decide(claims: ClaimService, kind: str, order: str, email: str, key: str = "", **request) -> str:
    """Apply one decision the way the bot does; its reference (None when it was not approved)."""
    outcome = claims.decide_and_apply(idempotency_key=key or f"{kind}:{order}", order_number=order, email=email,
                                      request=Request(kind, **request), conversation_id="conv-" + (key or kind))
    return outcome.reference


def james_return(claims: ClaimService, key: str = "") -> str:
    """An approved return of James Kim's delivered CL-100003 (a mug set)."""
    reference = decide(claims, "return", "CL-100003", "jkim88@example.net", key)
    assert reference and reference.startswith("RA-100003-")
    return reference


def priya_reship(claims: ClaimService) -> str:
    """An approved reshipment of Priya Shah's CL-100004, 9 days late."""
    reference = decide(claims, "reship", "CL-100004", "priya.shah@example.org")
    assert reference and reference.startswith("RS-100004-")
    return reference

"""The identity check against a determined stranger (issue 13, items 3 and 4), on a real SQLite store."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from careline.db.engine import make_engine
from careline.db.models.money import VerificationAttempt
from careline.db.orders import OrderRepository
from careline.money.verification import DENIED, LOCKED, VERIFIED, IdentityGuard, IdentityRules, IdentityTokens
from careline.shared.signing import Signer
from tests.conftest import Clock

RULES = IdentityRules(max_failures_per_order=5, max_failures_per_client=10, failure_window_minutes=1440,
                      cool_off_minutes=60, idle_minutes=30, max_age_minutes=120)
MARIA = ("CL-100001", "maria.lopez@example.com")


@pytest.fixture
def engine(fresh_store_url):
    return make_engine(fresh_store_url)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def guard(engine, clock):
    return IdentityGuard(engine, OrderRepository(engine), RULES, now=clock)


def test_failures_count_per_order_across_conversations_channels_and_clients(guard, engine):
    """A new sender, /restart or another channel buys no extra guesses: the 6th caller is locked out."""
    for attempt in range(5):
        result = guard.check("CL-100001", f"guess{attempt}@x.com", client=f"web:10.0.0.{attempt}",
                             conversation_id=f"attacker-{attempt}", channel=("rest", "socketio")[attempt % 2])
        assert result.status == (DENIED if attempt < 4 else LOCKED)
    right = guard.check(*MARIA, client="web:192.0.2.7", conversation_id="maria", channel="socketio")
    assert right.status == LOCKED and right.order is None, "the same answer for every caller, right email or not"
    with Session(engine) as session:
        outcomes = session.execute(sa.select(VerificationAttempt.outcome).order_by(VerificationAttempt.id)
                                   ).scalars().all()
    assert outcomes == [DENIED] * 5 + [LOCKED], "every attempt is audited"


def test_the_lock_lifts_after_the_cool_off(guard, clock):
    for attempt in range(5):
        guard.check("CL-100001", f"guess{attempt}@x.com", client=f"c{attempt}")
    clock.now += timedelta(minutes=59)
    assert guard.check(*MARIA, client="maria").status == LOCKED
    clock.now += timedelta(minutes=2)
    assert guard.check(*MARIA, client="maria").status == VERIFIED


def test_one_message_with_a_whole_guess_counts_like_any_other(guard):
    """'where is CL-100001 guess@x.com' is one attempt; unknown orders lock the same way (no oracle)."""
    statuses = [guard.check("CL-999999", f"g{i}@x.com", client=f"c{i}").status for i in range(6)]
    assert statuses == [DENIED] * 4 + [LOCKED, LOCKED]


def test_failures_count_per_client_across_orders(guard):
    statuses = [guard.check(f"CL-1{i:05d}", "guess@x.com", client="rest:203.0.113.9").status for i in range(11)]
    assert statuses[:9] == [DENIED] * 9 and statuses[9:] == [LOCKED, LOCKED]
    assert guard.check(*MARIA, client="rest:203.0.113.9").status == LOCKED
    assert guard.check(*MARIA, client="web:198.51.100.1").status == VERIFIED


def test_a_right_check_verifies(guard):
    result = guard.check("cl 100001", "Maria.Lopez@Example.com ", client="c")
    assert result.verified and result.order.number == "CL-100001"


def test_guesses_an_hour_anyone_can_make_against_one_order(guard, clock, engine):
    """Measured: a guess a minute for six hours from ever new clients; count the emails actually compared."""
    for minute in range(6 * 60):
        clock.now += timedelta(minutes=1)
        guard.check("CL-100001", f"g{minute}@x.com", client=f"rotating-{minute}")
    with Session(engine) as session:
        compared = session.execute(sa.select(sa.func.count(VerificationAttempt.id))
                                   .where(VerificationAttempt.outcome == DENIED)).scalar_one()
    assert compared <= RULES.max_failures_per_order + 6, "five, then one per cool-off hour"
    print(f"emails compared in six hours against one order: {compared} ({compared / 360:.3f} a minute)")


def test_the_fifth_failure_is_the_last_email_compared(guard):
    for attempt in range(4):
        guard.check("CL-100001", f"guess{attempt}@x.com", client=f"c{attempt}")
    assert guard.check(*MARIA, client="maria").status == VERIFIED, "the fifth guess is still compared"
    guard.check("CL-100001", "guess4@x.com", client="c4")
    assert guard.check(*MARIA, client="maria").status == LOCKED


KEY = "store-tests-signing-key-0123456"


def test_a_proof_expires_when_idle_at_its_maximum_age_and_is_bound(clock):
    tokens = IdentityTokens(Signer(KEY, "identity"), RULES, now=clock)
    token = tokens.issue("chat-1", *MARIA)
    assert tokens.refresh(token, "chat-1", *MARIA)
    assert tokens.refresh(token, "chat-2", *MARIA) is None, "bound to the conversation that proved it"
    assert tokens.refresh(token, "chat-1", "CL-100003", MARIA[1]) is None
    assert tokens.refresh(token, "chat-1", MARIA[0], "jkim88@example.net") is None
    assert tokens.refresh(IdentityTokens(Signer(KEY + "x", "identity"), RULES, now=clock).issue("chat-1", *MARIA),
                          "chat-1", *MARIA) is None, "another key's token is forged"
    clock.now += timedelta(minutes=31)
    assert tokens.refresh(token, "chat-1", *MARIA) is None, "idle for more than 30 minutes"
    token = tokens.issue("chat-1", *MARIA)
    for _ in range(4):  # kept busy, it still ends at the maximum age
        clock.now += timedelta(minutes=29)
        token = tokens.refresh(token, "chat-1", *MARIA)
        assert token
    clock.now += timedelta(minutes=29)
    assert tokens.refresh(token, "chat-1", *MARIA) is None


def test_the_rules_defaults_are_policy_yml_s():
    """A key left out of policy.yml falls back to the same value, never to another one (the window was once 60)."""
    from careline.shared import load_settings

    assert IdentityRules() == IdentityRules.from_mapping(load_settings().policy_section("identity"))

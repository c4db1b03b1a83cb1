"""Shared, lazily created dependencies of the actions (nothing connects at import time)."""
from __future__ import annotations

from functools import lru_cache
from typing import Optional, Tuple

from sqlalchemy.engine import Engine

from careline.db.engine import make_engine
from careline.db.orders import OrderRepository
from careline.feedback.csat import FeedbackService
from careline.fulfilment import LabelLinks
from careline.followup import FollowUpRules, FollowUpSchedule
from careline.handoff.ticket import HandoffLimits
from careline.handoff.tickets import TicketService
from careline.handoff.waiting import WaitSettings
from careline.money.claims import ClaimService
from careline.money.policy import load_policy
from careline.money.verification import IdentityGuard, IdentityRules, IdentityTokens
from careline.nlu import pipeline_config
from careline.nlu.frustration_model import Thresholds
from careline.shared.settings import Settings, load_settings
from careline.shared.signing import Signer


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings, read once; policy.yml's sections are reached through them."""
    return load_settings()


@lru_cache(maxsize=1)
def store_engine() -> Engine:
    return make_engine(settings().store_db_url)


@lru_cache(maxsize=1)
def order_repository() -> OrderRepository:
    """The repository over the shop database, created on first use."""
    return OrderRepository(store_engine())


@lru_cache(maxsize=1)
def claim_service() -> ClaimService:
    """Policy decisions applied to the shop database, created on first use."""
    return ClaimService(store_engine(), load_policy(settings().policy_path))


@lru_cache(maxsize=1)
def ticket_service() -> TicketService:
    """Handoff tickets and their helpdesk outbox, created on first use."""
    return TicketService(store_engine())


@lru_cache(maxsize=1)
def feedback_service() -> FeedbackService:
    """Customer ratings (CSAT), created on first use."""
    return FeedbackService(store_engine())


@lru_cache(maxsize=1)
def fallback_thresholds() -> Tuple[float, float]:
    """The FallbackClassifier's `threshold` and `ambiguity_threshold` from config.yml, read once."""
    return pipeline_config.fallback_thresholds()


@lru_cache(maxsize=1)
def identity_rules() -> IdentityRules:
    """Limits and lifetimes of the identity check (policy.yml `identity:`)."""
    return IdentityRules.from_mapping(settings().policy_section("identity"))


@lru_cache(maxsize=1)
def identity_guard() -> IdentityGuard:
    """The order-number + email check, counted and locked across conversations in the store."""
    return IdentityGuard(store_engine(), order_repository(), identity_rules())


@lru_cache(maxsize=1)
def identity_tokens() -> IdentityTokens:
    """Signed, expiring proof that a conversation verified an order."""
    return IdentityTokens(Signer(settings().signing_key, "identity"), identity_rules())


def return_label_url(kind: str, reference: Optional[str]) -> str:
    """The signed link to an approved return's label, for the chat ("" for anything else)."""
    if kind != "return" or not reference:
        return ""
    config = settings()
    return LabelLinks(config.signing_key, config.customer_url, config.label_link_days).url(reference)


@lru_cache(maxsize=1)
def proposal_signer() -> Signer:
    """Signs the proposals the bot makes, so that only the server's own are carried out."""
    return Signer(settings().signing_key, "proposal")


@lru_cache(maxsize=1)
def handoff_limits() -> HandoffLimits:
    """How many tickets one client may open (policy.yml `handoff:`)."""
    return HandoffLimits.from_mapping(settings().policy_section("handoff"))


@lru_cache(maxsize=1)
def wait_settings() -> WaitSettings:
    """How the wait for a person is estimated (policy.yml `handoff:`)."""
    return WaitSettings.from_mapping(settings().policy_section("handoff"))


@lru_cache(maxsize=1)
def follow_up_schedule() -> FollowUpSchedule:
    """Follow-ups and order watches in the store (policy.yml `follow_up:`), created on first use."""
    return FollowUpSchedule(store_engine(), FollowUpRules.from_settings(settings()))


@lru_cache(maxsize=1)
def late_remedy_days() -> int:
    """policy.yml `late_delivery.days_late_for_remedy`: when a late order's customer may ask for a remedy."""
    return load_policy(settings().policy_path).days_late_for_remedy


@lru_cache(maxsize=1)
def frustration_thresholds() -> Thresholds:
    """The frustration levels of policy.yml."""
    return Thresholds.from_settings(settings())


def reset() -> None:
    """Forget the cached engine and services (tests point them at another database)."""
    for cached in (settings, store_engine, order_repository, claim_service, ticket_service, feedback_service,
                   frustration_thresholds, identity_guard, identity_tokens, proposal_signer, handoff_limits,
                   identity_rules, follow_up_schedule, late_remedy_days, wait_settings):
        cached.cache_clear()

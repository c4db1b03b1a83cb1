"""Money: who the customer is (identity check), what the policy allows, and paying it out (claims).

identity.py        order number and email: normalising and the exact match against the store
verification.py    counted, locking identity checks and the signed proof of a verified order
customer_input.py  a refund reason and a delivery address read from the customer's words
proposal.py        what the bot offered and awaits a yes for, sealed by the server
policy.py          policy.yml as data and the pure decide() over it
rules.py           the rule codes and outcomes of decisions in the words agents read
claims.py          applying a decision: refunds, waivers, the audit of every decision
"""
from careline.money.claims import ClaimService, from_cents
from careline.money.policy import (
    GOODWILL_CAP_OVERRIDDEN,
    GOODWILL_RULES,
    Decision,
    Policy,
    Request,
    decide,
    load_policy,
    next_step,
)
from careline.money.rules import allowed, higher_authority, outcome_words, rule_words

__all__ = ["GOODWILL_CAP_OVERRIDDEN", "GOODWILL_RULES", "ClaimService", "Decision", "Policy", "Request", "allowed",
           "decide", "from_cents", "higher_authority", "load_policy", "next_step", "outcome_words", "rule_words"]

"""The policy's rule codes in agent language (careline/money/rules.py): every code has words, and
the words never show a code or a placeholder."""
from __future__ import annotations

import ast
import re
from typing import Set

from careline.money import policy
from careline.money.rules import RULES, higher_authority, outcome_words, rule_words
from careline.shared import PROJECT_ROOT

#: Where policy.py names a decision's rule: the call and the position of its rule argument.
RULE_ARGUMENT = {"_deny": 0, "_escalate": 0, "Decision": 2, "_paid_decision": 2}


def _codes_in(node: ast.AST) -> Set[str]:
    codes: Set[str] = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            codes.add(part.value)
        elif isinstance(part, ast.Name) and isinstance(getattr(policy, part.id, None), str):
            codes.add(getattr(policy, part.id))
    if isinstance(node, ast.JoinedStr):  # f"{scope}_total_limit"
        suffix = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        codes = {f"{scope}{suffix}" for scope in policy.TOTAL_SCOPES}
    return codes


def policy_rule_codes() -> Set[str]:
    tree = ast.parse((PROJECT_ROOT / "careline" / "money" / "policy.py").read_text())
    codes: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in RULE_ARGUMENT:
            position = RULE_ARGUMENT[node.func.id]
            if len(node.args) > position:
                codes |= _codes_in(node.args[position])
    return {code for code in codes if re.fullmatch(r"[a-z]+(_[a-z]+)+", code)}


def test_every_rule_code_of_the_policy_has_words_and_no_word_list_is_stale():
    codes = policy_rule_codes()
    assert len(codes) > 35 and {"above_limit", "ticket_total_limit", "goodwill_cap_overridden"} <= codes
    assert codes - set(RULES) == set(), "a rule without agent words"
    assert set(RULES) - codes == set(), "words for a rule the policy no longer has"


def test_words_use_the_facts_when_known_and_read_without_them():
    assert rule_words("outside_return_window", {"age": "45", "window": "30"}) == \
        "the order was delivered 45 days ago; returns close after 30 days"
    assert rule_words("outside_return_window") == "the order is past the return window"
    assert rule_words("above_limit", {"limit": "$1000.00"}, authority="agent") == \
        "the amount is over an agent's limit of $1000.00"
    assert rule_words("above_limit", authority="agent") == "the amount is over the limit", "a fact is missing"
    assert rule_words("above_limit") == "the amount is over the limit"
    assert rule_words("brand_new_rule") == "brand new rule" and rule_words("") == ""
    for code in RULES:
        for text in (rule_words(code), rule_words(code, authority="bot")):
            assert "{" not in text and "_" not in text, (code, text)


def test_outcomes_and_the_next_step_for_an_agent():
    assert outcome_words("approve") == "approved" and outcome_words("partial") == "approved in part"
    assert outcome_words("deny") == "refused"
    assert outcome_words("escalate", "bot") == "passed to a person"
    assert outcome_words("escalate", "agent") == "needs a supervisor"
    assert higher_authority("outside_return_window", "agent") == "A supervisor can approve goodwill."
    assert higher_authority("above_limit", "supervisor") == "" and higher_authority("not_verified", "agent") == ""


def test_a_refusal_past_the_return_window_carries_its_facts():
    from datetime import date, timedelta
    from decimal import Decimal

    today = date(2026, 11, 23)
    maria = policy.CustomerFacts(id=1, name="Maria Lopez", lifetime_paid=Decimal("500"))
    order = policy.OrderFacts("CL-100001", 1, "delivered", Decimal("28.95"), delivered_date=today - timedelta(days=45),
                              promised_date=today - timedelta(days=46))
    used = [policy.PastClaim("goodwill", Decimal("5"), today - timedelta(days=d)) for d in (10, 20)]
    decision = policy.decide(policy.Request("refund", reason="changed_mind"), maria, order, used,
                             policy.load_policy(), today, authority="agent", verified=True)
    assert (decision.outcome, decision.rule, decision.facts) == ("deny", "outside_return_window",
                                                                 {"age": "45", "window": "30"})
    assert rule_words(decision.rule, decision.facts) == \
        "the order was delivered 45 days ago; returns close after 30 days"

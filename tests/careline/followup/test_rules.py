"""policy.yml `follow_up:` as data: the defaults, the checks, the demo override."""
from __future__ import annotations

from datetime import timedelta

import pytest

from careline.followup import CASE_KINDS, FollowUpRules
from careline.shared import PolicyFileError, load_settings
from careline.shared.settings import SettingsError


def test_the_policy_file_follows_up_refunds_returns_reshipments_and_handoffs():
    rules = FollowUpRules.from_mapping(load_settings(environ={}).policy_section("follow_up"))  # whatever .env says
    assert rules.delay("refund") == timedelta(days=5) and rules.delay("return") == timedelta(days=10)
    assert rules.delay("reship") == timedelta(days=3) and rules.delay("handoff") == timedelta(hours=20)
    assert rules.delay("waiver") is None and rules.delay("address") is None
    assert rules.quiet == timedelta(minutes=10) and rules.answer_window == timedelta(hours=48)
    assert rules.horizon == timedelta(days=10) + rules.give_up_after
    assert set(rules.kinds) <= set(CASE_KINDS)


def test_the_demo_override_makes_every_follow_up_due_in_seconds():
    settings = load_settings(environ={"CARELINE_FOLLOW_UP_DELAY_S": "4"})
    assert settings.follow_up_delay_s == 4
    rules = FollowUpRules.from_settings(settings)
    assert set(rules.after.values()) == {timedelta(seconds=4)} and rules.quiet == timedelta(seconds=4)
    assert rules.delay("waiver") is None  # the override changes when, not what is followed up
    assert load_settings(environ={"CARELINE_FOLLOW_UP_DELAY_S": ""}).follow_up_delay_s is None
    with pytest.raises(SettingsError, match="CARELINE_FOLLOW_UP_DELAY_S"):
        load_settings(environ={"CARELINE_FOLLOW_UP_DELAY_S": "-1"})


def test_missing_keys_take_the_defaults():
    rules = FollowUpRules.from_mapping({})
    assert rules.delay("refund") == timedelta(hours=120) and rules.late_watch == timedelta(days=30)
    assert FollowUpRules.from_mapping({"after_hours": {"refund": 0.5}}).kinds == ("refund",)


@pytest.mark.parametrize("section, complaint", [
    ({"after_hours": {"refnud": 5}}, "unknown kinds"),
    ({"after_hours": {"refund": -1}}, "after_hours.refund"),
    ({"after_hours": {"refund": "5 days"}}, "after_hours.refund"),
    ({"after_hours": {"refund": True}}, "after_hours.refund"),
    ({"after_hours": ["refund"]}, "mapping of kind to hours"),
    ({"quiet_minutes": -5}, "quiet_minutes"),
    ({"answer_hours": 0}, "answer_hours"),
    ({"give_up_hours": None}, "give_up_hours"),
    ({"late_notice_days": float("nan")}, "late_notice_days"),
    ({"answer_hour": 4}, "unknown keys"),
])
def test_a_malformed_section_names_the_key(section, complaint):
    with pytest.raises(PolicyFileError, match=complaint):
        FollowUpRules.from_mapping(section)

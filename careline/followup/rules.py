"""When follow-ups are due: policy.yml `follow_up:` as data, validated, with the demo override.

    follow_up:
      after_hours: {refund: 120, return: 240, reship: 72, handoff: 20, ...}
      quiet_minutes: 10
      answer_hours: 48
      give_up_hours: 72
      late_notice_days: 30

A case whose kind is not under `after_hours` gets no follow-up. `CARELINE_FOLLOW_UP_DELAY_S`
(`Settings.follow_up_delay_s`, for demos and tests) makes every listed kind due that many seconds
after its case, and a conversation quiet after that long too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Dict, Mapping, Optional

from careline.shared import PolicyFileError, Settings

SECTION = "follow_up"
#: What can be followed up: the money decisions of careline.money (`DecisionRecord.kind`) and a resolved handoff.
CASE_KINDS = ("refund", "goodwill", "cancel", "return", "reship", "waiver", "address", "handoff")
#: The notice that an order a customer asked about became late (due as soon as it is late).
LATE_ORDER = "late_order"

DEFAULT_AFTER_HOURS: Dict[str, float] = {"refund": 120, "goodwill": 120, "cancel": 120, "return": 240,
                                         "reship": 72, "handoff": 20}


def _number(data: Mapping[str, Any], key: str, default: float, minimum: float, where: str) -> float:
    raw = data.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw or raw < minimum or raw > 10**6:
        raise PolicyFileError(f"policy.yml: {where}{key} must be a number >= {minimum:g}, got {raw!r}")
    return float(raw)


@dataclass(frozen=True)
class FollowUpRules:
    """How long after each kind of case the bot asks, and the windows around asking."""

    after: Mapping[str, timedelta] = field(
        default_factory=lambda: {kind: timedelta(hours=hours) for kind, hours in DEFAULT_AFTER_HOURS.items()})
    quiet: timedelta = timedelta(minutes=10)        # the conversation must be this quiet (nobody typing)
    answer_window: timedelta = timedelta(hours=48)  # then a follow-up without a yes or no has no answer
    give_up_after: timedelta = timedelta(hours=72)  # a follow-up not sendable this long after it was due is dropped
    late_watch: timedelta = timedelta(days=30)      # how long asking about an order keeps the customer told

    def delay(self, kind: str) -> Optional[timedelta]:
        """How long after a case of `kind` its follow-up is due; None: no follow-up for that kind."""
        return self.after.get(kind)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.after)

    @property
    def horizon(self) -> timedelta:
        """The oldest case still worth scheduling: older ones could only be dropped."""
        return max(self.after.values(), default=timedelta(0)) + self.give_up_after

    @staticmethod
    def from_mapping(data: Optional[Mapping[str, Any]], delay_override_s: Optional[float] = None) -> FollowUpRules:
        """Validate policy.yml's `follow_up:` section (missing keys take the defaults above)."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise PolicyFileError(f"policy.yml: {SECTION} must be a mapping, got {data!r}")
        unknown = set(data) - {"after_hours", "quiet_minutes", "answer_hours", "give_up_hours", "late_notice_days"}
        if unknown:
            raise PolicyFileError(f"policy.yml: {SECTION} has unknown keys {sorted(unknown)}")
        after_hours = data.get("after_hours", DEFAULT_AFTER_HOURS)
        if not isinstance(after_hours, Mapping):
            raise PolicyFileError(f"policy.yml: {SECTION}.after_hours must be a mapping of kind to hours")
        wrong = sorted(set(after_hours) - set(CASE_KINDS))
        if wrong:
            raise PolicyFileError(f"policy.yml: {SECTION}.after_hours names unknown kinds {wrong}; "
                                  f"known: {', '.join(CASE_KINDS)}")
        where = f"{SECTION}.after_hours."
        after = {kind: timedelta(hours=_number(after_hours, kind, 0, 0.001, where)) for kind in after_hours}
        quiet = timedelta(minutes=_number(data, "quiet_minutes", 10, 0, f"{SECTION}."))
        if delay_override_s is not None:
            after = {kind: timedelta(seconds=delay_override_s) for kind in after}
            quiet = timedelta(seconds=delay_override_s)
        return FollowUpRules(
            after=after, quiet=quiet,
            answer_window=timedelta(hours=_number(data, "answer_hours", 48, 0.001, f"{SECTION}.")),
            give_up_after=timedelta(hours=_number(data, "give_up_hours", 72, 0.001, f"{SECTION}.")),
            late_watch=timedelta(days=_number(data, "late_notice_days", 30, 0.001, f"{SECTION}.")),
        )

    @staticmethod
    def from_settings(settings: Settings) -> FollowUpRules:
        """The rules of this deployment: policy.yml's section and CARELINE_FOLLOW_UP_DELAY_S."""
        return FollowUpRules.from_mapping(settings.policy_section(SECTION), settings.follow_up_delay_s)

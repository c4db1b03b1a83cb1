"""Waiting for a person: how long, said honestly.

The wait is estimated from how long people really took with the tickets they handled lately
(working time only: a ticket handled across a night counts its working hours), divided among the
agents at work, times the customer's place in the queue. With too little history the estimate is
policy.yml's `handoff.default_minutes_per_ticket`, and the customer hears "usually". Out of hours
the customer hears when the team is back (shop.yml), and that a reply can also go by email.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional, Sequence

from careline.shared import Shop, render, whole_numbers


@dataclass(frozen=True)
class WaitSettings:
    """policy.yml `handoff:`: the estimate's default and how much history it reads."""

    default_minutes_per_ticket: int = 6   # without enough history: minutes per ticket ahead
    history_tickets: int = 50             # the latest handled tickets the estimate reads
    min_history: int = 5                  # fewer handled tickets than this: use the default
    agent_active_minutes: int = 30        # an agent who acted this recently is at work

    @staticmethod
    def from_mapping(data: Optional[Mapping[str, Any]]) -> WaitSettings:
        known = {key: value for key, value in (data or {}).items() if key in WaitSettings.__dataclass_fields__}
        return WaitSettings(**whole_numbers(known, WaitSettings, "handoff"))


@dataclass(frozen=True)
class HandledSpan:
    """When a person started on a ticket (took it, or first replied) and when they finished it."""

    started: datetime
    finished: datetime


@dataclass(frozen=True)
class WaitEstimate:
    minutes: int
    from_history: bool   # estimated from handled tickets (else the default, said as "usually")


def handling_minutes(spans: Sequence[HandledSpan], shop: Shop) -> list[float]:
    """Working minutes a person spent on each handled ticket (spans outside working hours count 0)."""
    return [shop.working_seconds_between(span.started, span.finished) / 60 for span in spans]


def estimate_wait(position: int, minutes_per_ticket: Sequence[float], agents_at_work: int,
                  settings: WaitSettings) -> WaitEstimate:
    """Minutes until a person answers the customer at `position` in the queue."""
    handled = [m for m in minutes_per_ticket if m > 0]
    from_history = len(handled) >= settings.min_history
    per_ticket = statistics.median(handled) if from_history else float(settings.default_minutes_per_ticket)
    raw = max(1, position) * per_ticket / max(1, agents_at_work)
    minutes = max(2, math.ceil(raw))
    if minutes > 15:
        minutes = 5 * math.ceil(minutes / 5)
    return WaitEstimate(minutes, from_history)


def _clock(moment: datetime) -> str:
    """'8:00 AM' in the moment's own time zone."""
    return f"{moment:%I:%M %p}".lstrip("0")


def when_back(opening: datetime, now: datetime, shop: Shop) -> str:
    """'today at 8:00 AM EST', 'tomorrow at 9:00 AM EST' or 'on Monday at 8:00 AM EST'."""
    local_now = now.astimezone(shop.timezone)
    hour = _clock(opening)
    zone = opening.tzname() or ""
    days = (opening.date() - local_now.date()).days
    if days == 0:
        return render("utter_when_today", time=hour, zone=zone)
    if days == 1:
        return render("utter_when_tomorrow", time=hour, zone=zone)
    return render("utter_when_day", day=f"{opening:%A}", time=hour, zone=zone)


def after_closing(now: datetime, shop: Shop, estimate: WaitEstimate) -> Optional[tuple[datetime, datetime]]:
    """(closing, next opening) when the estimated reply would come after today's closing time."""
    closing = shop.closing(now)
    if closing is None or now + timedelta(minutes=estimate.minutes) <= closing:
        return None
    reopening = shop.next_opening(closing + timedelta(seconds=1))
    return (closing, reopening) if reopening is not None else None


def expectation(position: int, now: datetime, shop: Shop, estimate: WaitEstimate) -> str:
    """What the customer hears when handed over: their place and wait, or when the team is back."""
    opening = shop.next_opening(now)
    if opening is not None:
        return render("utter_handoff_offline", when=when_back(opening, now, shop))
    late = after_closing(now, shop, estimate)
    if late is not None:  # the team leaves before the estimated reply: say so, and when they are back
        return render("utter_handoff_queue_past_closing", position=max(1, position),
                      closing=f"{_clock(late[0])} {late[0].tzname() or ''}".rstrip(),
                      when=when_back(late[1], now, shop))
    if estimate.from_history:
        return render("utter_handoff_queue", position=max(1, position), minutes=estimate.minutes)
    return render("utter_handoff_queue_usually", position=max(1, position), minutes=estimate.minutes)


def waiting_reply(position: int, now: datetime, shop: Shop, estimate: WaitEstimate, agent: Optional[str],
                  contact_email: Optional[str], brief: bool, email_just_left: bool = False) -> str:
    """The short acknowledgement of a message the customer sends while waiting for a person.

    `brief` gives the shorter wording (used when the full one was said last), so that the bot never
    says the same thing three times in a row. `email_just_left`: the message gave `contact_email`.
    """
    if email_just_left and contact_email:
        return render("utter_waiting_email_noted", email=contact_email)
    if agent and brief:
        return render("utter_waiting_with_agent_brief", agent=agent)
    if agent:
        return render("utter_waiting_with_agent", agent=agent)
    opening = shop.next_opening(now)
    if opening is not None:
        when = when_back(opening, now, shop)
        if contact_email and brief:
            return render("utter_waiting_offline_email_known_brief", when=when)
        if contact_email:
            return render("utter_waiting_offline_email_known", when=when, email=contact_email)
        if brief:
            return render("utter_waiting_offline_brief", when=when)
        return render("utter_waiting_offline", when=when)
    if brief:
        return render("utter_waiting_queue_brief", position=max(1, position), minutes=estimate.minutes)
    return render("utter_waiting_queue", position=max(1, position), minutes=estimate.minutes)


def alternative(shop: Shop) -> str:
    """The other way to reach people, from shop.yml."""
    return render("utter_handoff_alternative", phone=shop.phone)

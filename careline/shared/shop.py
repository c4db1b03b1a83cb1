"""The shop's facts from shop.yml: name, time zone, the support team's hours, holidays and contacts.

One home for "when are people at work" and "how to reach them": the handoff's promised wait, the
waiting messages, the return label and the FAQ answers (checked by tests) all read them from here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from careline.shared.carriers import Carrier, parse_carriers

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class ShopFileError(ValueError):
    """shop.yml holds a value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Shop:
    name: str
    country: str
    currency: str
    timezone: ZoneInfo
    phone: str
    email: str
    email_reply_days: int
    hours: Mapping[int, Tuple[time, time]]   # weekday (Monday 0) -> opening, closing (local)
    holidays: FrozenSet[date]
    returns_address: Tuple[str, ...]
    drop_off_days: int
    carriers: Tuple[Carrier, ...] = ()       # their tracking pages (careline/shared/carriers.py)

    def is_open(self, now: datetime) -> bool:
        """Whether the support team is at work at `now` (any time zone)."""
        local = now.astimezone(self.timezone)
        hours = self._hours_on(local.date())
        return hours is not None and hours[0] <= local.time() < hours[1]

    def next_opening(self, now: datetime) -> Optional[datetime]:
        """None while the team is at work, else when it is next (aware, in the shop's time zone)."""
        if self.is_open(now):
            return None
        local = now.astimezone(self.timezone)
        for offset in range(0, 21):
            day = local.date() + timedelta(days=offset)
            hours = self._hours_on(day)
            if hours is None:
                continue
            opening = datetime.combine(day, hours[0], tzinfo=self.timezone)
            if opening > local:
                return opening
        return None

    def closing(self, now: datetime) -> Optional[datetime]:
        """When today's working hours end, while the team is at work (else None)."""
        if not self.is_open(now):
            return None
        local = now.astimezone(self.timezone)
        hours = self._hours_on(local.date())
        assert hours is not None
        return datetime.combine(local.date(), hours[1], tzinfo=self.timezone)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of working hours between `start` and `end` (how long a ticket really waited)."""
        if end <= start:
            return 0.0
        total = 0.0
        local_start, local_end = start.astimezone(self.timezone), end.astimezone(self.timezone)
        day = local_start.date()
        while day <= local_end.date():
            hours = self._hours_on(day)
            if hours is not None:
                opened = datetime.combine(day, hours[0], tzinfo=self.timezone)
                closed = datetime.combine(day, hours[1], tzinfo=self.timezone)
                overlap = (min(closed, local_end) - max(opened, local_start)).total_seconds()
                total += max(0.0, overlap)
            day += timedelta(days=1)
        return total

    def _hours_on(self, day: date) -> Optional[Tuple[time, time]]:
        if day in self.holidays:
            return None
        return self.hours.get(day.weekday())


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ShopFileError(f"shop.yml: {where}{key} must be a non-empty text, got {value!r}")
    return value.strip()


def _whole(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ShopFileError(f"shop.yml: {where}{key} must be a whole number >= 1, got {value!r}")
    return value


def _hours(data: Any) -> Dict[int, Tuple[time, time]]:
    if not isinstance(data, dict) or not data:
        raise ShopFileError("shop.yml: support.hours must map days (monday ...) to HH:MM-HH:MM")
    result = {}
    for day, span in data.items():
        if day not in DAYS:
            raise ShopFileError(f"shop.yml: support.hours.{day} is not a day of the week ({', '.join(DAYS)})")
        match = HOURS.match(str(span))
        if not match:
            raise ShopFileError(f"shop.yml: support.hours.{day} must look like 08:00-20:00, got {span!r}")
        opening = time(int(match.group(1)), int(match.group(2)))
        closing = time.max if match.group(3) == "24" else time(int(match.group(3)), int(match.group(4)))
        if closing <= opening:
            raise ShopFileError(f"shop.yml: support.hours.{day} closes before it opens ({span})")
        result[DAYS.index(day)] = (opening, closing)
    return result


def parse_shop(data: Any) -> Shop:
    """shop.yml's content as a Shop, or ShopFileError naming the first bad key."""
    if not isinstance(data, dict):
        raise ShopFileError("shop.yml: the top level must be a mapping")
    support = data.get("support")
    returns = data.get("returns")
    if not isinstance(support, dict) or not isinstance(returns, dict):
        raise ShopFileError("shop.yml: `support` and `returns` must be mappings")
    try:
        zone = ZoneInfo(_text(data, "timezone", ""))
    except ZoneInfoNotFoundError:
        raise ShopFileError(f"shop.yml: timezone {data.get('timezone')!r} is not a known time zone") from None
    holidays = support.get("holidays") or []
    if not isinstance(holidays, list) or not all(isinstance(day, date) for day in holidays):
        raise ShopFileError("shop.yml: support.holidays must be a list of dates (YYYY-MM-DD)")
    address = returns.get("address")
    if not isinstance(address, list) or not address or not all(isinstance(line, str) and line for line in address):
        raise ShopFileError("shop.yml: returns.address must be a list of address lines")
    try:
        carriers = parse_carriers(data.get("carriers"))
    except ValueError as error:
        raise ShopFileError(str(error)) from None
    return Shop(
        name=_text(data, "name", ""),
        country=_text(data, "country", ""),
        currency=_text(data, "currency", ""),
        timezone=zone,
        phone=_text(support, "phone", "support."),
        email=_text(support, "email", "support."),
        email_reply_days=_whole(support, "email_reply_days", "support."),
        hours=_hours(support.get("hours")),
        holidays=frozenset(holidays),
        returns_address=tuple(address),
        drop_off_days=_whole(returns, "drop_off_days", "returns."),
        carriers=carriers,
    )


def load_shop(path: Path) -> Shop:
    """shop.yml at `path`, parsed once per version of the file."""
    stat = path.stat()
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> Shop:
    return parse_shop(yaml.safe_load(Path(path).read_text(encoding="utf-8")))

"""One clock for the whole system: timezone-aware UTC.

Every stored time is UTC (`careline.db.UTCDateTime` keeps it that way in any database);
local time is only ever a matter of display.
"""
from __future__ import annotations

from datetime import date, datetime, timezone


def utcnow() -> datetime:
    """Now, as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


def utctoday() -> date:
    """Today's date in UTC (the day policy rules count in)."""
    return utcnow().date()


def as_utc(value: datetime) -> datetime:
    """`value` as aware UTC; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

"""Reading settings sections of policy.yml that more than one context uses."""
from __future__ import annotations

from typing import Dict, Mapping, Optional


class PolicyFileError(ValueError):
    """policy.yml holds a value that cannot be used; the message names the key."""


def whole_numbers(data: Optional[Mapping[str, object]], defaults: object, section: str) -> Dict[str, int]:
    """The whole-number settings of a policy.yml section, each >= 1, defaulting to `defaults`' fields."""
    values = {}
    for key in defaults.__dataclass_fields__:  # type: ignore[attr-defined]
        raw = (data or {}).get(key, getattr(defaults, key))
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            raise PolicyFileError(f"policy.yml: {section}.{key} must be a whole number >= 1, got {raw!r}")
        values[key] = raw
    return values

"""Reading policy.yml: the one reader of the file, and the settings sections more than one context uses.

`Settings.policy_section(name)` is how a process reaches a section: the file's place comes from the
settings (like every other path), and the file is parsed here, once per version of it. Each context
turns its section into its own type (the frustration levels in careline.nlu, the identity rules in
careline.money, the handoff limits in careline.handoff), because the shared kernel knows nothing of
models, orders or tickets; so the reader is here and the types are theirs. It is cached by the file's
path, modification time and size rather than once per process: a process that reads a section again
(the frustration scorer and policy when a model loads) sees an edited policy.yml, as promised
("thresholds change without retraining"), and nothing parses an unchanged file twice. Services built
once per process (the action server's claim service, identity rules and handoff limits) keep what
they read at start: restart the process (`make restart`) after editing their sections. Every caller
gets its own copy, so none can change what another reads.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml


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


def read_policy(path: Path) -> Any:
    """policy.yml at `path` parsed (a mapping when well-formed), a fresh copy for each caller.

    Raises FileNotFoundError when the file is missing: there is no policy without it.
    """
    stat = path.stat()
    return copy.deepcopy(_parsed(str(path.resolve()), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int, size: int) -> Any:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def policy_section(path: Path, name: str) -> Dict[str, Any]:
    """The section `name` of policy.yml at `path`; empty when the file does not have it."""
    data = read_policy(path)
    if not isinstance(data, dict):
        raise PolicyFileError("policy.yml: the top level must be a mapping")
    section = data.get(name)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise PolicyFileError(f"policy.yml: {name} must be a mapping, got {section!r}")
    return section

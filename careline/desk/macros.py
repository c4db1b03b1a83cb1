"""Saved replies ("macros") for the desk's reply box, with placeholders filled for the ticket at hand.

Supervisors keep them in macros.yml at the project root (a list of `name` and `text`). A text may
use the placeholders in PLACEHOLDERS, written `{first_name}`; any other `{...}` is refused when the
file is read, with the macro's name. The desk re-reads the file when it changes (no restart).

A macro is filled on the server for one ticket. When one of its placeholders has no value there
(no verified customer, so no first name; no verified order), it is offered disabled with the reason,
never inserted with a gap the customer could receive.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from careline.desk.service import MAX_TEXT
from careline.shared import PROJECT_ROOT, transcript

MACROS_PATH = PROJECT_ROOT / "macros.yml"
MAX_MACROS = 50
MAX_NAME = 60
#: How many macros have a keyboard shortcut (Alt+1 .. Alt+9).
SHORTCUTS = 9

#: placeholder -> why a macro using it cannot be used when this ticket has no value for it.
PLACEHOLDERS: Dict[str, str] = {
    "first_name": "needs the customer's first name, and this customer has not verified who they are",
    "order_number": "needs an order number, and this conversation has no verified order",
    "agent_first_name": "needs your first name, and your desk account has none",
}
_FIELD = re.compile(r"\{([^{}]*)\}")


class MacroError(ValueError):
    """macros.yml cannot be used as it is; the message says where and why."""


@dataclass(frozen=True)
class Macro:
    name: str
    text: str
    placeholders: Tuple[str, ...]


@dataclass(frozen=True)
class FilledMacro:
    """A macro for one ticket: its text filled in, or `why` it cannot be used there."""

    name: str
    text: str
    why: str = ""
    shortcut: Optional[int] = None  # Alt+<shortcut> inserts it

    @property
    def ready(self) -> bool:
        return not self.why


def _placeholders(name: str, text: str) -> Tuple[str, ...]:
    stray = _FIELD.sub("", text)
    if "{" in stray or "}" in stray:
        raise MacroError(f"macro {name!r}: a brace that is not part of a placeholder")
    found: List[str] = []
    for field in _FIELD.findall(text):
        if field not in PLACEHOLDERS:
            raise MacroError(f"macro {name!r}: unknown placeholder {{{field}}}; use one of "
                             + ", ".join(f"{{{known}}}" for known in PLACEHOLDERS))
        if field not in found:
            found.append(field)
    return tuple(found)


def parse(data: Any) -> List[Macro]:
    """The macros of macros.yml's content (`macros: [{name, text}, ...]`); raises MacroError."""
    if not isinstance(data, Mapping) or not isinstance(data.get("macros"), list):
        raise MacroError("macros.yml needs a list under `macros:`")
    entries = data["macros"]
    if len(entries) > MAX_MACROS:
        raise MacroError(f"at most {MAX_MACROS} macros, there are {len(entries)}")
    macros: List[Macro] = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping) or set(entry) != {"name", "text"}:
            raise MacroError(f"macro {number}: give exactly a `name` and a `text`")
        name, text = entry["name"], entry["text"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise MacroError(f"macro {number}: a name of 1 to {MAX_NAME} characters")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise MacroError(f"macro {name!r}: a text of 1 to {MAX_TEXT} characters")
        if any(macro.name == name.strip() for macro in macros):
            raise MacroError(f"macro {name!r} appears twice")
        macros.append(Macro(name.strip(), text.strip(), _placeholders(name, text)))
    return macros


_cache: Dict[Path, Tuple[float, List[Macro]]] = {}
_cache_lock = threading.Lock()


def load(path: Path = MACROS_PATH) -> List[Macro]:
    """The macros of `path`, read again whenever the file changes; raises MacroError (or OSError)."""
    stamp = path.stat().st_mtime
    with _cache_lock:
        cached = _cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
    try:
        macros = parse(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        raise MacroError(f"{path.name} is not valid YAML: {error}") from None
    with _cache_lock:
        _cache[path] = (stamp, macros)
    return macros


def values(customer_name: Optional[str], order_number: Optional[str], agent_name: str) -> Dict[str, str]:
    """The placeholders' values for a ticket (a missing one is left out)."""
    given = {"first_name": transcript.first_name(customer_name), "order_number": order_number or "",
             "agent_first_name": transcript.first_name(agent_name)}
    return {key: value for key, value in given.items() if value}


def fill(macros: Sequence[Macro], known: Mapping[str, str]) -> List[FilledMacro]:
    """Each macro filled with `known` values, or disabled with why (its first missing placeholder)."""
    result = []
    for index, macro in enumerate(macros):
        shortcut = index + 1 if index < SHORTCUTS else None
        missing = [name for name in macro.placeholders if not known.get(name)]
        if missing:
            result.append(FilledMacro(macro.name, macro.text, f"This reply {PLACEHOLDERS[missing[0]]}.", shortcut))
            continue
        text = _FIELD.sub(lambda match: known[match.group(1)], macro.text)
        result.append(FilledMacro(macro.name, text, "", shortcut))
    return result

"""Every sentence a customer reads, rendered from the `responses:` of domain.yml.

domain.yml is the one home of the bot's words: Rasa utters `utter_*` responses itself, and Python
code that must compose a sentence (an order's status with its dates, an offer with its amount, a
channel's answer to a message it refused) renders a named response here instead of writing it.
Placeholders are Rasa's: `{name}`, filled with `str(value)`; a value is never interpolated again.
Amounts, dates and names are formatted by the caller.

    render("utter_refund_instead", amount="$38.95")
    -> "No problem. Would you rather have a refund of $38.95 instead?"

A response name that does not exist, a placeholder without a value and a value without a
placeholder are errors (CatalogueError), never a half-filled sentence. domain.yml is read once per
process, on first use.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

import yaml

from careline.shared.settings import PROJECT_ROOT

DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
#: Rasa's own placeholder rule (rasa.core.nlg.interpolator): `{name}`, no newline or brace inside.
PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")
RESERVED = "variation"  # render()'s own argument, so no placeholder may be called that


class CatalogueError(LookupError):
    """A response is missing, or the values given do not match its placeholders."""


@dataclass(frozen=True)
class Response:
    """One named response: its text variations and the placeholders they share."""

    name: str
    texts: Tuple[str, ...]
    placeholders: FrozenSet[str]


def placeholders_of(text: str) -> FrozenSet[str]:
    return frozenset(PLACEHOLDER.findall(text))


class Catalogue:
    """The responses of one domain file."""

    def __init__(self, responses: Mapping[str, Any], source: str = "domain.yml") -> None:
        self.source = source
        self._responses: Dict[str, Response] = {}
        self._problems: Dict[str, str] = {}
        for name, variations in (responses or {}).items():
            try:
                self._responses[name] = self._read(name, variations)
            except CatalogueError as error:
                self._problems[name] = str(error)  # only this response is unusable: it fails when rendered

    def _read(self, name: str, variations: Any) -> Response:
        """A response Python can render: its plain text variations (channel- or condition-bound ones are Rasa's)."""
        plain = [v for v in variations or () if isinstance(v, dict) and "channel" not in v and "condition" not in v]
        texts = tuple(str(v["text"]) for v in plain if v.get("text") is not None)
        if not texts:
            raise CatalogueError(f"{self.source}: response {name} has no text")
        kinds = {placeholders_of(text) for text in texts}
        if any(RESERVED in kind for kind in kinds):
            raise CatalogueError(f"{self.source}: response {name} may not use the placeholder {{{RESERVED}}}")
        if len(kinds) > 1:
            raise CatalogueError(f"{self.source}: the variations of {name} use different placeholders: "
                                 + " / ".join(sorted(", ".join(sorted(k)) or "none" for k in kinds)))
        return Response(name, texts, kinds.pop())

    def problems(self) -> Dict[str, str]:
        """Responses Python could not render, with the reason (Rasa may still send them itself)."""
        return dict(self._problems)

    @classmethod
    def from_file(cls, path: Path = DOMAIN_FILE) -> Catalogue:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        return cls(data.get("responses") or {}, source=path.name)

    def names(self) -> List[str]:
        return sorted(self._responses)

    def response(self, name: str) -> Response:
        if name in self._problems:
            raise CatalogueError(self._problems[name])
        try:
            return self._responses[name]
        except KeyError:
            raise CatalogueError(f"{self.source} has no response {name!r}") from None

    def render(self, name: str, /, variation: Optional[int] = None, **values: object) -> str:
        """The text of response `name` with its placeholders filled.

        Args:
            name: the response's name in domain.yml.
            variation: which variation (modulo their number); None picks one at random, as Rasa does.
            values: one value per placeholder, no more and no fewer.
        """
        response = self.response(name)
        missing = response.placeholders - values.keys()
        if missing:
            raise CatalogueError(f"{name} needs a value for {', '.join(sorted(missing))}")
        extra = values.keys() - response.placeholders
        if extra:
            raise CatalogueError(f"{name} has no placeholder {', '.join(sorted(extra))}")
        texts = response.texts
        text = texts[variation % len(texts)] if variation is not None else random.choice(texts)
        return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The project's catalogue (domain.yml), read once."""
    return Catalogue.from_file()


def render(name: str, /, variation: Optional[int] = None, **values: object) -> str:
    """`Catalogue.render` on the project's domain.yml."""
    return catalogue().render(name, variation, **values)


def button(title: str, payload: str) -> Dict[str, str]:
    """A quick-reply button whose title is the response `title` (a title has no placeholders)."""
    return {"title": render(title), "payload": payload}

"""Carriers' tracking pages (shop.yml `carriers:`) and the tracking numbers a message names.

shop.yml maps each carrier the shop ships with to its tracking page, a https URL template with
`{number}` where the tracking number goes. `tracking_links` finds the tracking numbers a message
names ("with UPS (tracking number UP1234567890)", "Your FedEx tracking number is 1234...") and the
carrier each belongs to (the nearest carrier named before it, else the first one named after it),
and links each to that carrier's page. A link is only ever built from shop.yml's template and the
URL-encoded number: nothing of a message's text other than the number reaches a URL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote

PLACEHOLDER = "{number}"
#: "tracking number UP1234567890", "tracking number is 1Z999AA10123456784", "tracking: 9400...", "tracking #DH12..."
TRACKING_NUMBER = re.compile(
    r"\btracking(?:\s+(?:number|no\.?|code|id))?(?:\s+is)?\s*[:#]?\s*(?P<number>[A-Z0-9]{8,34})\b", re.IGNORECASE)
MAX_LINKS = 10


@dataclass(frozen=True)
class Carrier:
    """A carrier and the template of its tracking page (https, with `{number}`)."""

    name: str
    tracking_url: str

    def url(self, number: str) -> str:
        """The tracking page of `number` (URL-encoded: a number is never more than a query value)."""
        return self.tracking_url.replace(PLACEHOLDER, quote(number, safe=""))


def parse_carriers(data: Any) -> Tuple[Carrier, ...]:
    """shop.yml's `carriers:` (name -> https URL template with {number}); ValueError names a bad entry."""
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ValueError("shop.yml: carriers must map carrier names to tracking page URLs")
    result = []
    for name, template in data.items():
        if not isinstance(name, str) or not name.strip() or not re.fullmatch(r"[\w&. -]+", name):
            raise ValueError(f"shop.yml: carriers: {name!r} is not a carrier name")
        if (not isinstance(template, str) or not template.startswith("https://") or template.count(PLACEHOLDER) != 1
                or any(c.isspace() for c in template) or "{" in template.replace(PLACEHOLDER, "")):
            raise ValueError(f"shop.yml: carriers.{name} must be one https:// URL with {PLACEHOLDER} in it, "
                             f"got {template!r}")
        result.append(Carrier(name.strip(), template))
    return tuple(result)


def _mentions(text: str, carriers: Sequence[Carrier]) -> List[Tuple[int, Carrier]]:
    """(position, carrier) of every carrier named in `text`, in order."""
    found = []
    for carrier in carriers:
        for match in re.finditer(rf"(?<![\w]){re.escape(carrier.name)}(?![\w])", text, re.IGNORECASE):
            found.append((match.start(), carrier))
    return sorted(found, key=lambda pair: pair[0])


def _carrier_of(position: int, mentions: Sequence[Tuple[int, Carrier]]) -> Optional[Carrier]:
    before = [carrier for at, carrier in mentions if at < position]
    if before:
        return before[-1]
    after = [carrier for at, carrier in mentions if at > position]
    return after[0] if after else None


def tracking_links(text: str, carriers: Sequence[Carrier]) -> List[Dict[str, str]]:
    """[{"text": <the number, as it is in `text`>, "url": <its carrier's tracking page>}] for `text`.

    A number whose carrier the message does not name (or shop.yml does not know) gets no link.
    """
    if not text or not carriers or "tracking" not in text.lower():
        return []
    mentions = _mentions(text, carriers)
    links: List[Dict[str, str]] = []
    for match in TRACKING_NUMBER.finditer(text):
        number = match.group("number")
        carrier = _carrier_of(match.start(), mentions)
        if carrier is None or not any(c.isdigit() for c in number) or any(link["text"] == number for link in links):
            continue
        links.append({"text": number, "url": carrier.url(number)})
        if len(links) >= MAX_LINKS:
            break
    return links


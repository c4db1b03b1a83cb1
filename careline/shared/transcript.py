"""A conversation as the people in it saw it (pure, over Rasa event dictionaries).

One reading of the tracker for every screen that shows a conversation: the website widget's
history, the agent desk's live transcript and the ticket's saved copy.

- A clicked button shows its title ("No", "It arrived damaged"), never its payload
  (`/deny`, `/inform{"refund_reason": "damaged"}`): the title of a button the bot offered with that
  payload (its latest such offer), else a plain word for a bare yes or no. Anything else starting with
  "/" is shown as sent: the client's own account of what it showed (`metadata.display`) is never
  believed, so a customer cannot dress a typed command up as harmless words for the agent or the
  ticket's record.
- A bot event with `metadata.agent` is an agent's message; with `metadata.system` it is a system
  line ("Ana joined the chat"), which the desk may leave out because it has its own record.
- Messages the system triggered (follow-ups, `EXTERNAL_` intents) were typed by nobody: left out.
- `at` is the event's Unix time (seconds), as Rasa stores it.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional

from careline.shared.events import said_by_customer

CUSTOMER, BOT, AGENT, SYSTEM = "customer", "bot", "agent", "system"
#: How a bare yes/no payload reads when no button named it (Messenger quick replies, old conversations).
PLAIN_PAYLOADS = {"/affirm": "Yes", "/deny": "No"}
MAX_BUTTONS = 10

Line = Dict[str, Any]


def _buttons(data: Mapping[str, Any]) -> List[Dict[str, str]]:
    buttons = data.get("buttons") or data.get("quick_replies") or []
    return [{"title": str(b.get("title") or ""), "payload": str(b.get("payload") or "")}
            for b in buttons[:MAX_BUTTONS] if isinstance(b, Mapping) and b.get("title")]


def shown_text(text: str, offered: Mapping[str, str]) -> str:
    """What the customer saw themselves send: typed text as typed, a payload of a button the bot offered
    as that button's title (`offered`: payload -> title), a bare yes/no as a word, anything else as sent."""
    if not text.startswith("/"):
        return text
    return offered.get(text) or PLAIN_PAYLOADS.get(text.strip()) or text


def lines(events: Iterable[Mapping[str, Any]]) -> List[Line]:
    """Customer, bot, agent and system lines in order.

    Each line: `role` (customer, bot, agent, system), `text`, `at` (Unix seconds or None); agent and
    system lines carry `agent` (the agent's name) when known; bot and agent lines may carry `buttons`
    ([{title, payload}]) and `image`; customer lines carry `intent` and `frustration` (the NLU's
    reading) when known.
    """
    result: List[Line] = []
    offered: Dict[str, str] = {}  # every button payload the bot offered so far -> its latest title
    for event in events:
        kind = event.get("event")
        at = event.get("timestamp")
        at = float(at) if isinstance(at, (int, float)) else None
        if kind == "user":
            if not said_by_customer(event):
                continue
            text = shown_text(str(event.get("text") or ""), offered)
            if not text:
                continue
            parse = event.get("parse_data") or {}
            score = (parse.get("frustration") or {}).get("score")
            line: Line = {"role": CUSTOMER, "text": text, "at": at,
                          "intent": (parse.get("intent") or {}).get("name"),
                          "frustration": float(score) if isinstance(score, (int, float)) else None}
            result.append(line)
        elif kind == "bot":
            data = event.get("data") or {}
            metadata = event.get("metadata") or {}
            buttons = _buttons(data)
            offered.update((button["payload"], button["title"]) for button in buttons if button["payload"])
            text = str(event.get("text") or "")
            role = SYSTEM if metadata.get("system") else AGENT if metadata.get("agent") else BOT
            line = {"role": role, "text": text, "at": at}
            if metadata.get("agent"):
                line["agent"] = str(metadata["agent"])
            if metadata.get("system"):
                line["system"] = str(metadata["system"])
            if buttons:
                line["buttons"] = buttons
            image = data.get("image")
            if isinstance(image, str) and image:
                line["image"] = image
            if text or "image" in line:
                result.append(line)
    return result


def initials(name: Optional[str]) -> str:
    """"Ana Rivera" -> "AR" (at most two letters; "" for no name)."""
    parts = [part for part in (name or "").split() if part[:1].isalpha()]
    if not parts:
        return ""
    return (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper()


def first_name(name: Optional[str]) -> str:
    """The name a customer is greeted with: "Ana Rivera" -> "Ana"."""
    parts = (name or "").split()
    return parts[0] if parts else ""

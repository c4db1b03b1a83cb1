"""Website chat sessions, history and what the widget is told about each message (pure, no Rasa).

The browser keeps a secret session token; the conversation id is a hash of it. Knowing a
conversation id (agents and logs see it) does not let anyone join the conversation, and a
token the server did not issue in the right shape is replaced by a fresh one.

Every message the widget shows says who is talking (`speaker`: an agent's name and initials, a
system line such as "Ana joined the chat"), when (`at`, Unix seconds) and which tracking numbers in
it are links to the carrier's page (`links`, careline.shared.carriers): the same for a live
`bot_uttered` (`bot_fields`) and for the `history` of a resumed conversation.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from careline.shared import carriers as tracking
from careline.shared import transcript

SENDER_PREFIX = "web-"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_HISTORY = 200
MAX_AGENT_NAME = 80
SYSTEM_LINES = ("joined", "left")
AGENT_EVENTS = ("typing", "state")
MAX_AGENT_EVENT_BYTES = 2048
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(token: Any) -> Optional[str]:
    return token if isinstance(token, str) and TOKEN_PATTERN.match(token) else None


def sender_for(token: str) -> str:
    """The conversation id of a session token (one-way)."""
    return SENDER_PREFIX + hashlib.sha256(b"careline-web-session:" + token.encode("ascii")).hexdigest()[:40]


def _agent_name(name: str) -> str:
    """An agent's name as the widget shows it: single spaces, at most MAX_AGENT_NAME characters."""
    return " ".join(name.split())[:MAX_AGENT_NAME]


def speaker(metadata: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """Who a bot event speaks for, from its metadata: {"agent", "initials"} and {"system": joined|left}."""
    who: Dict[str, str] = {}
    agent = (metadata or {}).get("agent")
    if isinstance(agent, str) and agent.strip():
        name = _agent_name(agent)
        who.update(agent=name, initials=transcript.initials(name))
    system = (metadata or {}).get("system")
    if system in SYSTEM_LINES and who:
        who["system"] = str(system)
    return who


def unix_time(value: Any) -> Optional[float]:
    """A finite, positive Unix time in seconds, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def bot_fields(text: str, message: Mapping[str, Any], carriers: Sequence[tracking.Carrier]) -> Dict[str, Any]:
    """What a live `bot_uttered` carries besides its text: speaker, `at` and tracking `links`.

    `message` is Rasa's dictionary of the bot event (its data, `timestamp` and metadata merged).
    """
    result: Dict[str, Any] = dict(speaker(message))
    result["at"] = unix_time(message.get("timestamp")) or time.time()
    links = tracking.tracking_links(text, carriers)
    if links:
        result["links"] = links
    return result


def history(events: Iterable[Mapping[str, Any]], carriers: Sequence[tracking.Carrier] = ()) -> List[Dict[str, Any]]:
    """A stored conversation as the widget shows it (careline.shared.transcript's reading).

    Items: `role` (customer, bot, agent, system), `text`, `at`; agent and system lines their
    `agent` and `initials` (system lines their `system`), messages from us their tracking `links`.
    Only the latest bot message keeps its quick replies (older ones are no longer a question).
    """
    items: List[Dict[str, Any]] = []
    for line in transcript.lines(events):
        role = line["role"]
        item: Dict[str, Any] = {"role": role, "text": line["text"], "at": line.get("at")}
        if role == transcript.CUSTOMER:
            items.append(item)
            continue
        if role in (transcript.AGENT, transcript.SYSTEM):
            item.update(speaker({"agent": line.get("agent"), "system": line.get("system")}))
        if line.get("image"):
            item["image"] = line["image"]
        if line.get("buttons"):
            item["buttons"] = [{"title": b["title"], "payload": b["payload"]} for b in line["buttons"]]
        links = tracking.tracking_links(item["text"], carriers)
        if links:
            item["links"] = links
        items.append(item)
    for item in items[:-1]:
        item.pop("buttons", None)
    return items[-MAX_HISTORY:]


def token_matches(expected: str, given: Any) -> bool:
    """Whether `given` is the configured token (constant time); never with no token configured."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class AgentEvent:
    """The desk's poke (POST /webhooks/socketio/agent_event): an agent types, or the state changed."""

    conversation_id: str
    kind: str                 # typing or state
    agent: str = ""           # typing: who types (full name)
    typing: bool = False

    @property
    def for_the_widget(self) -> bool:
        """Only website conversations have a widget to tell."""
        return self.conversation_id.startswith(SENDER_PREFIX)

    def typing_event(self) -> Dict[str, Any]:
        """The `agent_typing` event the widget receives."""
        return {"agent": self.agent, "initials": transcript.initials(self.agent), "typing": self.typing}


def agent_event(body: Any) -> Optional[AgentEvent]:
    """The desk's poke from its parsed JSON body, or None when it is malformed.

    {"conversation_id": str, "kind": "typing"|"state", "agent": str, "typing": bool}; a typing poke
    needs the agent's name and `typing`.
    """
    if not isinstance(body, dict):
        return None
    conversation, kind = body.get("conversation_id"), body.get("kind")
    if not isinstance(conversation, str) or not CONVERSATION_ID.match(conversation) or kind not in AGENT_EVENTS:
        return None
    if kind == "state":
        return AgentEvent(conversation, "state")
    name, typing = body.get("agent"), body.get("typing")
    if not isinstance(name, str) or not name.strip() or not isinstance(typing, bool):
        return None
    return AgentEvent(conversation, "typing", _agent_name(name), typing)

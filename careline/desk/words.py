"""The desk's plain words for what the stores keep as codes: channels, handoff reasons, waiting times,
intents and FAQ topics, the desk history's events, and the short tag that tells conversations apart.

One place for each, used by the pages (Jinja) and the JSON the live queue is drawn from, so the
queue page, the workspace's queue pane and the API never name a thing two ways.
"""
from __future__ import annotations

import hashlib
from typing import Dict, Optional

from careline.desk.money_view import MONEY_ACTIONS, describe_event
from careline.handoff import CONTACT_EMAIL

#: Rasa's input channel names (channels/*.py `name()`) as agents know them.
CHANNEL_NAMES: Dict[str, str] = {
    "socketio": "Website chat",
    "facebook": "Messenger",
    "rest": "API",
}

#: Why a conversation came to a person, in a few words for the queue (the summary's longer
#: clauses are careline.handoff's REASON_LABELS; tests check both name the same reasons).
REASON_TITLES: Dict[str, str] = {
    "customer_request": "Asked for a person",
    "frustration": "Frustrated customer",
    "policy": "Needs approval",
    "identity_locked": "Identity check failed",
    "not_understood": "Bot did not understand",
    "follow_up": "Follow-up did not work out",
}

#: Show filters of the queue: ?show=<key> -> its button label.
SHOW_FILTERS: Dict[str, str] = {"all": "All", "mine": "Mine", "unassigned": "Unassigned"}
DEFAULT_SHOW = "all"
#: What an empty queue says, per filter.
EMPTY_QUEUE: Dict[str, str] = {
    "all": "Nobody is waiting. New handoffs appear here at once.",
    "mine": "Nothing is assigned to you.",
    "unassigned": "Every conversation has someone.",
}


def channel_name(channel: Optional[str]) -> str:
    """"socketio" -> "Website chat"; an unknown channel keeps its code, "unknown" reads "Unknown"."""
    if not channel or channel == "unknown":
        return "Unknown"
    return CHANNEL_NAMES.get(channel, channel)


def reason_title(reason: Optional[str]) -> str:
    """"frustration" -> "Frustrated customer"; an unknown code reads as words ("new_reason" -> "New reason")."""
    if not reason:
        return "Unknown"
    return REASON_TITLES.get(reason) or words(reason)


def waiting(seconds: float) -> str:
    """How long someone has waited: "under 1 min", "4 min", "1 h 05 min", "2 d 3 h"."""
    total = max(0, int(seconds))
    minutes = total // 60
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def show_filter(value: Optional[str]) -> str:
    """The queue filter asked for (?show=), or the default for anything else."""
    return value if value in SHOW_FILTERS else DEFAULT_SHOW


FALLBACK_INTENT = "nlu_fallback"
#: The retrieval intent of the FAQ answers: the NLU names the topic as "faq/<topic>" (domain.yml).
FAQ_INTENT = "faq"
#: Small talk: greetings, goodbyes, thanks, yes and no, "are you a bot?". It says nothing of what a
#: customer needs: analytics counts it as customer messages but leaves it out of the top intents, and
#: the queue looks past it for a customer's gist (careline/desk/conversation.py).
SMALL_TALK_INTENTS = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge"})
#: Intents whose name alone does not read well; any other reads as its words ("order_status" -> "Order status").
INTENT_TITLES: Dict[str, str] = {
    FALLBACK_INTENT: "Not understood",
    FAQ_INTENT: "General question (FAQ)",
    "order_status": "Where is my order",
    "inform": "Gave details asked for",
    "human_handoff": "Asked for a person",
    "dispute_charge": "Query a charge",
    "complain": "Complaint",
    "bot_challenge": "Asked if it is a bot",
    "greet": "Greeting",
    "thank": "Thanks",
    "affirm": "Yes",
    "deny": "No",
}


def words(code: str) -> str:
    """A code as words: "shipping_times" -> "Shipping times"."""
    return code.replace("_", " ").strip().capitalize()


def intent_title(intent: str) -> str:
    """An intent in words: "nlu_fallback" -> "Not understood", "return_item" -> "Return item"."""
    return INTENT_TITLES.get(intent) or words(intent)


def topic_title(topic: str) -> str:
    """An FAQ topic in words: "shipping_times" -> "Shipping times"."""
    return words(topic)


def conversation_tag(conversation_id: str) -> str:
    """A short tag that tells one conversation from another in the queue: "#3F2A".

    Four characters of a hash of the conversation id, never the id itself (on some channels the id is
    an account id or a phone number): the same conversation always has the same tag.
    """
    return "#" + hashlib.sha256(str(conversation_id).encode()).hexdigest()[:4].upper()


#: Desk events (careline.db TicketEvent.kind) in words: kind -> what follows the name of who did it.
EVENT_VERBS: Dict[str, str] = {
    "take": "took the conversation",
    "reply": "replied",
    "note": "added an internal note",
    "handback": "resolved it and handed the conversation back to the bot",
    "close": "closed the conversation",
    "cap_override": "went past the goodwill cap per customer",
}
#: The detail of a "take" that the first reply to an unassigned conversation made (DeskService.reply).
TAKEN_BY_REPLYING = "with the first reply"
#: What the desk history says of the email address a waiting customer left (careline.handoff.CONTACT_EMAIL).
CONTACT_EMAIL_LEFT = "The customer left an email address for the reply (replies they do not see go there too)"
#: How much of a reply the desk history quotes.
QUOTE_CHARS = 120


def _quoted(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` on one line, in quotes, cut at `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return f"“{text}”"


def event_text(kind: str, agent: Optional[str], detail: Optional[str] = "", show_address: bool = False) -> str:
    """A desk event in a sentence, for the desk history: "Ana Rivera took the conversation".

    `agent`: who did it (None: the customer for what customers do, else the bot); `detail`: the event's
    stored detail (a reply's text, a money action's JSON result: in words with money_view.describe_event).
    A contact email reads as CONTACT_EMAIL_LEFT, with the address only when `show_address` (a verified
    customer's own address; the caller redacts everything else it shows).
    """
    detail = str(detail or "").strip()
    if kind == CONTACT_EMAIL:
        return CONTACT_EMAIL_LEFT + (f": {detail}" if show_address and detail else "") + "."
    who = agent or "The bot"
    if kind in MONEY_ACTIONS:
        return f"{who}: {describe_event(kind, detail)}" if detail else f"{who}: {words(kind).lower()}"
    if kind == "take" and detail == TAKEN_BY_REPLYING:
        return f"{who} took the conversation by sending the first reply"
    if kind == "reply" and detail:
        return f"{who} replied: {_quoted(detail)}"
    if kind == "cap_override" and detail:
        return detail
    if kind in EVENT_VERBS:
        return f"{who} {EVENT_VERBS[kind]}"
    return f"{who}: {words(kind).lower()}" + (f" ({detail})" if detail else "")

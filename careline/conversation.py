"""Conversation helpers over plain event dictionaries (no Rasa imports).

- which request started the current identity check,
- the reason a customer gives for a refund, from their own words,
- a plausible delivery address,
- the proposal the bot made and awaits a yes or no for,
- how many identity checks failed in this conversation.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Tuple

from careline.signing import Signer

ORDER_REQUESTS = (
    "order_status",
    "cancel_order",
    "return_item",
    "request_refund",
    "dispute_charge",
    "change_address",
    "payment_issue",
    "delivery_problem",
)
IDENTITY_FORM = "order_form"
MAX_FAILED_VERIFICATIONS = 3
PROPOSAL_MAX_AGE_S = 30 * 60  # a "yes" later than this answers nothing: the bot proposes again

REFUND_REASONS: Dict[str, str] = {
    "damaged": "It arrived damaged or broken",
    "wrong_item": "I got the wrong item",
    "not_as_described": "It's not as described",
    "not_received": "It never arrived",
    "late": "It came too late",
    "changed_mind": "I changed my mind",
}
_REASON_PATTERNS: List[Tuple[str, re.Pattern]] = [
    (reason, re.compile(pattern, re.IGNORECASE))
    for reason, pattern in (
        ("damaged", r"\b(damag\w*|broke\w*|crack\w*|smash\w*|shatter\w*|dent\w*|ripped|torn|faulty|"
                    r"defect\w*|doesn'?t work|does not work|not working|stopped working)\b"),
        ("wrong_item", r"\b(wrong|incorrect|different (item|product|colou?r|size)|not what i ordered)\b"),
        ("not_as_described", r"\b(not as described|doesn'?t match|does not match|misleading|"
                             r"looks? (nothing|different)|poor quality|cheap)\b"),
        ("not_received", r"\b(never (arrived|came|got)|not (arrived|received)|didn'?t (arrive|get|receive)|"
                         r"missing|lost|stolen)\b"),
        ("late", r"\b(late|too long|delay\w*|overdue)\b"),
        ("changed_mind", r"\b(changed? my mind|don'?t (want|need|like)|do not (want|need|like)|"
                         r"no longer (want|need)|ordered by mistake|by accident|didn'?t like)\b"),
    )
]
_ADDRESS = re.compile(r"^(?=.*\d)(?=.*[A-Za-z]{3})[\w .,'#/\-\n]{10,200}$")


def guess_reason(text: object) -> Optional[str]:
    """The refund reason a customer's words point to, or None when unclear."""
    if not isinstance(text, str):
        return None
    for reason, pattern in _REASON_PATTERNS:
        if pattern.search(text[:1000]):
            return reason
    return None


def normalize_reason(value: object) -> Optional[str]:
    """A known reason key (from a button payload or guessed from words), or None."""
    if isinstance(value, str) and value.strip().lower() in REFUND_REASONS:
        return value.strip().lower()
    return guess_reason(value)


def normalize_address(text: object) -> Optional[str]:
    """A tidy one-line address when the text looks like one (a number, words, 10-200 characters)."""
    if not isinstance(text, str):
        return None
    candidate = " ".join(text.replace("\n", ", ").split())
    return candidate if _ADDRESS.match(candidate) else None


def _intent(event: Dict[str, Any]) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def order_topic(events: Iterable[Dict[str, Any]]) -> str:
    """The request that started the latest identity check (`order_status` if none did).

    It is the customer's message just before the identity form was last activated, so that
    an answer given inside the form ("it arrived broken") cannot change what was asked.
    """
    history = list(events)
    for index in range(len(history) - 1, -1, -1):
        event = history[index]
        if event.get("event") == "active_loop" and event.get("name") == IDENTITY_FORM:
            for earlier in reversed(history[:index]):
                if earlier.get("event") == "user":
                    intent = _intent(earlier)
                    return intent if intent in ORDER_REQUESTS else "order_status"
            break
    for event in reversed(history):
        if event.get("event") == "user" and _intent(event) in ORDER_REQUESTS:
            return _intent(event)
    return "order_status"


def failed_verifications(value: object) -> int:
    """The slot's count as a whole number (slots arrive as floats or junk)."""
    try:
        return max(0, int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def is_locked(value: object) -> bool:
    return failed_verifications(value) >= MAX_FAILED_VERIFICATIONS


@dataclass(frozen=True)
class Proposal:
    """What the bot offered to do and awaits a yes for. `id` makes the yes idempotent."""

    kind: str
    order_number: str
    reason: Optional[str] = None
    charge_id: Optional[int] = None
    detail: Optional[str] = None
    id: str = ""

    @staticmethod
    def new(kind: str, order_number: str, **extra: Any) -> Proposal:
        return Proposal(kind=kind, order_number=order_number, id=uuid.uuid4().hex, **extra)

    def seal(self, signer: Signer, conversation_id: str, now: datetime) -> str:
        """The slot value: this proposal signed by the server and bound to one conversation."""
        return signer.sign({"p": asdict(self), "c": conversation_id, "iat": int(now.timestamp())})

    @staticmethod
    def unseal(value: object, signer: Signer, conversation_id: str, now: datetime,
               max_age_s: int = PROPOSAL_MAX_AGE_S) -> Optional[Proposal]:
        """The proposal this server issued to this conversation, if still fresh; None for anything else.

        A forged, altered, foreign or stale slot is honoured as nothing at all.
        """
        sealed = signer.verify(value)
        if sealed is None or sealed.get("c") != conversation_id:
            return None
        try:
            age = int(now.timestamp()) - int(sealed["iat"])
        except (KeyError, TypeError, ValueError):
            return None
        if not -60 <= age <= max_age_s:
            return None
        return Proposal.from_dict(sealed.get("p"))

    @staticmethod
    def from_dict(data: object) -> Optional[Proposal]:
        """A well-formed proposal from its fields, or None."""
        if not isinstance(data, dict):
            return None
        try:
            proposal = Proposal(
                kind=str(data["kind"]), order_number=str(data["order_number"]),
                reason=data.get("reason"), charge_id=data.get("charge_id"), detail=data.get("detail"),
                id=str(data["id"]),
            )
        except (KeyError, TypeError):
            return None
        if not re.fullmatch(r"[0-9a-f]{32}", proposal.id):
            return None
        if proposal.charge_id is not None and not isinstance(proposal.charge_id, int):
            return None
        return proposal

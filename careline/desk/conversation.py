"""A conversation as the desk shows it: who said what and when, with the desk's own system lines.

The lines come from careline.shared.transcript (what the customer saw: button titles, not
payloads), live from the tracker or, while the bot server is down, from the copy saved with the
ticket. The tracker's own system lines (the "Ana joined the chat" the widget shows) are left out:
the desk's ticket events are the record, and they give the system lines here ("Ana Rivera joined"
on take, "... handed back to the bot" on resolve, "... closed the conversation" on close).
Internal notes are never part of the transcript: `notes` lists them apart. `gist` gives the first
words of what the customer needs, which tells the queue's unverified customers apart.

Every line is a dict: role (customer, bot, agent, system), who (the name shown), text, at (Unix
seconds or None), iso (UTC, for <time datetime>), clock (HH:MM UTC, until the page shows local
time), key (the same for the same line on every load: the page appends only what is new), and
buttons (titles the customer was offered) when there were any.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from careline.desk.words import SMALL_TALK_INTENTS
from careline.shared import transcript

Line = Dict[str, Any]

#: Desk events that are system lines of the conversation: kind -> what it says after the agent's name.
SYSTEM_EVENTS: Dict[str, str] = {
    "take": "joined",
    "handback": "handed back to the bot",
    "close": "closed the conversation",
}
WHO = {transcript.CUSTOMER: "Customer", transcript.BOT: "Bot"}


def stamp(at: Optional[float]) -> Dict[str, Any]:
    """`at` (Unix seconds) with its ISO form and a server-side HH:MM (UTC) for the page to localise."""
    if at is None:
        return {"at": None, "iso": "", "clock": ""}
    moment = datetime.fromtimestamp(at, tz=timezone.utc)
    return {"at": at, "iso": moment.isoformat(timespec="seconds"), "clock": moment.strftime("%H:%M UTC")}


def _stored_utc(iso: Any) -> Optional[datetime]:
    """A time the store wrote as ISO text (UTC, with or without its offset), or None."""
    try:
        value = datetime.fromisoformat(str(iso))
    except (TypeError, ValueError):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def moment(iso: str) -> Dict[str, str]:
    """A stored time (ISO, UTC) for <time datetime>: {"iso", "label": "2026-11-20 10:04 UTC"}."""
    value = _stored_utc(iso)
    if value is None:
        return {"iso": "", "label": str(iso)}
    return {"iso": value.isoformat(timespec="seconds"), "label": value.strftime("%Y-%m-%d %H:%M UTC")}


def _line(role: str, who: str, text: str, at: Optional[float], **extra: Any) -> Line:
    key = hashlib.sha256(f"{role}|{who}|{at!r}|{text}".encode()).hexdigest()[:16]
    return {"role": role, "who": who, "text": text, **stamp(at), "key": key, **extra}


def from_tracker(lines: Iterable[Mapping[str, Any]]) -> List[Line]:
    """careline.shared.transcript lines as the desk shows them, without the tracker's system lines."""
    result = []
    for line in lines:
        role = line.get("role")
        if role == transcript.SYSTEM:
            continue
        text = str(line.get("text") or "") or ("(sent an image)" if line.get("image") else "")
        who = str(line.get("agent") or "Agent") if role == transcript.AGENT else WHO.get(str(role), str(role))
        extra = {"buttons": [str(b["title"]) for b in line["buttons"]]} if line.get("buttons") else {}
        result.append(_line(str(role), who, text, line.get("at"), **extra))
    return result


def _saved_at(value: Any) -> Optional[float]:
    """A saved transcript's time: ISO text in the server's local time (careline.handoff), or Unix seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except (TypeError, ValueError):
        return None


def from_saved(lines: Iterable[Mapping[str, Any]]) -> List[Line]:
    """The transcript saved with the ticket at handoff (customer and bot lines)."""
    return [_line(str(line.get("role")), WHO.get(str(line.get("role")), str(line.get("role"))),
                  str(line.get("text") or ""), _saved_at(line.get("at")))
            for line in lines if line.get("text")]


def event_at(event: Mapping[str, Any]) -> Optional[float]:
    """A desk event's Unix time (`ts`, else its ISO `at`, which is UTC)."""
    if isinstance(event.get("ts"), (int, float)):
        return float(event["ts"])
    value = _stored_utc(event.get("at"))
    return value.timestamp() if value is not None else None


def system_lines(events: Iterable[Mapping[str, Any]]) -> List[Line]:
    """The desk's events that are part of the conversation's story (take, hand back, close)."""
    return [_line(transcript.SYSTEM, "", f"{event.get('agent') or 'An agent'} {SYSTEM_EVENTS[event['kind']]}",
                  event_at(event), system=event["kind"])
            for event in events if event.get("kind") in SYSTEM_EVENTS]


def merged(lines: Sequence[Line], events: Iterable[Mapping[str, Any]]) -> List[Line]:
    """The messages in their own order with the desk's system lines put in by time (after messages of
    the same moment; a system line without a time goes last)."""
    pending = sorted(system_lines(events), key=lambda line: float("inf") if line["at"] is None else line["at"])
    result: List[Line] = []
    for line in lines:
        while pending and line["at"] is not None and pending[0]["at"] is not None and pending[0]["at"] < line["at"]:
            result.append(pending.pop(0))
        result.append(line)
    return result + pending


def notes(events: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Internal notes (never shown to the customer), oldest first."""
    return [{"agent": event.get("agent") or "", "text": str(event.get("detail") or ""), **stamp(event_at(event))}
            for event in events if event.get("kind") == "note"]


#: Customer intents whose words say nothing of what the customer needs: asking for a person, small
#: talk, answers to the bot's questions (an order number, an email, a button's title).
NOT_THE_POINT = SMALL_TALK_INTENTS | {"human_handoff", "inform"}
GIST_WORDS = 8
GIST_CHARS = 60


def gist(saved: Iterable[Mapping[str, Any]], words: int = GIST_WORDS, chars: int = GIST_CHARS) -> str:
    """The first words of the customer's latest message that says what they need, from the transcript
    saved with the ticket (already redacted): "my lamp arrived broken". Messages that only ask for a
    person or answer the bot are passed over, unless there is nothing else; "" without any message."""
    said = [line for line in saved if line.get("role") == transcript.CUSTOMER and str(line.get("text") or "").strip()]
    if not said:
        return ""
    telling = [line for line in said if line.get("intent") not in NOT_THE_POINT]
    text = " ".join(str((telling or said)[-1]["text"]).split())
    cut = " ".join(text.split(" ")[:words])
    if len(cut) > chars:
        cut = cut[:chars - 1].rstrip()
    return cut + ("…" if cut != text else "")

"""What customers said that the model was unsure of, for trainers to label (pure, no Rasa).

`candidates` reads tracker events (as stored by Rasa's SQL tracker store) and keeps customer
messages that had low confidence, hit the fallback, or came right before a handoff; they are
redacted (cards, emails, phones), de-duplicated and grouped by the predicted intent.
`merge` adds the labelled ones to a training file, refusing unknown intents and duplicates.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from careline.nlu.datacheck import normalize
from careline.shared import redact

FALLBACK = "nlu_fallback"
HANDOFF_ACTION = "action_handoff"
SKIP = "skip"


@dataclass
class Candidate:
    text: str
    predicted: str
    confidence: float
    reasons: List[str] = field(default_factory=list)
    count: int = 1


def candidates(rows: Iterable[Tuple[str, str, Optional[str], str]], low_confidence: float = 0.6) -> List[Candidate]:
    """From (sender, type, action name, data JSON) rows in event order: messages worth labelling."""
    found: OrderedDict[str, Candidate] = OrderedDict()
    last_user: Dict[str, Candidate] = {}

    def add(candidate: Candidate, reason: str) -> None:
        key = normalize(candidate.text)
        if not key:
            return
        known = found.get(key)
        if known is None:
            candidate.reasons = [reason]
            found[key] = candidate
        else:
            if reason not in known.reasons:
                known.reasons.append(reason)
            if candidate is not known and reason != "handoff":
                known.count += 1

    for sender, kind, action, data in rows:
        if kind == "user":
            try:
                event = json.loads(data or "{}")
            except ValueError:
                continue
            parsed = event.get("parse_data") or {}
            text = (event.get("text") or parsed.get("text") or "").strip()
            if not text or text.startswith("/"):
                last_user.pop(sender, None)
                continue
            intent = parsed.get("intent") or {}
            candidate = Candidate(redact(text), intent.get("name") or "", float(intent.get("confidence") or 0.0))
            last_user[sender] = candidate
            if candidate.predicted == FALLBACK:
                ranked = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK]
                if ranked:
                    candidate.predicted = ranked[0].get("name") or FALLBACK
                    candidate.confidence = float(ranked[0].get("confidence") or 0.0)
                add(candidate, "fallback")
            elif candidate.confidence < low_confidence:
                add(candidate, "low_confidence")
        elif kind == "action" and action == HANDOFF_ACTION and sender in last_user:
            add(last_user.pop(sender), "handoff")
    return list(found.values())


def review_document(items: Sequence[Candidate], intents: Sequence[str], generated: str) -> Dict[str, Any]:
    """The YAML document a trainer fills in: `intent:` per message (or `skip`)."""
    groups: Dict[str, List[Dict[str, Any]]] = {}
    for item in sorted(items, key=lambda c: (c.predicted, -c.count, c.text)):
        groups.setdefault(item.predicted or "unknown", []).append({
            "text": item.text, "confidence": round(item.confidence, 3), "seen": item.count,
            "why": ", ".join(item.reasons), "intent": ""})
    return {"generated": generated,
            "how_to": "Set `intent` to the right intent or FAQ topic (faq/<topic>), or to `skip`; "
                      "then run `make label FILE=<this file>`.",
            "intents": list(intents), "by_predicted_intent": groups}


class LabelError(ValueError):
    """The labelled file cannot be merged as it is; the message says what to fix."""


def labelled(document: Any, known_intents: Set[str]) -> List[Tuple[str, str]]:
    """(intent, text) pairs a trainer labelled; unknown intents are an error naming the message."""
    if not isinstance(document, dict) or not isinstance(document.get("by_predicted_intent"), dict):
        raise LabelError("this is not a review file from `make review` (no by_predicted_intent section)")
    pairs, problems = [], []
    for group, items in document["by_predicted_intent"].items():
        for index, item in enumerate(items or [], start=1):
            intent = str((item or {}).get("intent") or "").strip()
            text = str((item or {}).get("text") or "").strip()
            if not intent or intent == SKIP or not text:
                continue
            if intent not in known_intents:
                problems.append(f"{group} #{index} ('{text}'): unknown intent '{intent}'")
                continue
            pairs.append((intent, text))
    if problems:
        raise LabelError("fix these labels first:\n  " + "\n  ".join(problems))
    return pairs


def merge(existing_yaml: str, pairs: Sequence[Tuple[str, str]], taken: Set[str]) -> Tuple[str, int, int]:
    """Append labelled examples to a Rasa NLU file's text; returns (new text, added, skipped duplicates)."""
    added_by_intent: OrderedDict[str, List[str]] = OrderedDict()
    seen = set(taken)
    skipped = 0
    for intent, text in pairs:
        key = normalize(text)
        if key in seen:
            skipped += 1
            continue
        seen.add(key)
        added_by_intent.setdefault(intent, []).append(text)
    text = existing_yaml.rstrip() + "\n" if existing_yaml.strip() else 'version: "3.1"\nnlu:\n'
    for intent, texts in added_by_intent.items():
        text += f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
    return text, sum(len(t) for t in added_by_intent.values()), skipped

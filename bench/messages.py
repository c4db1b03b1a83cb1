"""The benchmark's conversations: real customer phrasings from the test data, chosen deterministically.

Both systems get exactly the same messages. A conversation is built from snippets, each one thing a
customer does: say one phrasing from the test sets (tests/data/realdata_test.yml: real customer
messages from public corpora; tests/data/nlu_test.yml: hand-written ones), or ask about one of the seeded
shop's demo orders the way a customer would (a question, then the order number, then the email on it,
careline/db/seed.py). Stock Rasa's `rasa init` bot understands little of this; it answers anyway, and
that is the comparison: the same traffic, each system's own answers.

Phrasings of intents that hand the conversation to a person (or that a person must settle) are left out:
after a handoff the bot stays silent by design, so the rest of that conversation would measure a paused
bot instead of a working one.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "tests" / "data" / "realdata_test.yml", ROOT / "tests" / "data" / "nlu_test.yml")
#: Intents whose phrasings the load leaves out (they end in a person, see the module's docstring). A yes
#: (affirm) drawn at random would accept whatever the bot had just offered: a person, a replacement.
HANDOFF_INTENTS = frozenset({"human_handoff", "complain", "dispute_charge", "request_refund", "payment_issue",
                             "affirm"})
#: The seeded shop's demo orders and the email on each (careline/db/seed.py DEMO_CUSTOMERS).
DEMO_ORDERS: Tuple[Tuple[str, str], ...] = (
    ("CL-100001", "maria.lopez@example.com"),
    ("CL-100002", "maria.lopez@example.com"),
    ("CL-100003", "jkim88@example.net"),
    ("CL-100004", "priya.shah@example.org"),
)
#: How often a snippet is an order question rather than one phrasing.
ORDER_SHARE = 0.25
DEFAULT_SEED = 18
ENTITY_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def _plain(text: str) -> str:
    """An example without Rasa's entity markup: `[CL-1](order_id)` -> `CL-1`."""
    return ENTITY_MARKUP.sub(lambda match: match.group(1), text).strip()


def phrasings(paths: Iterable[Path] = SOURCES) -> Dict[str, List[str]]:
    """Every example of every intent in the NLU files, without entity markup, per intent (file order)."""
    found: Dict[str, List[str]] = {}
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or ():
            intent, examples = block.get("intent"), block.get("examples")
            if not intent or not isinstance(examples, str):
                continue
            for line in examples.splitlines():
                line = line.strip()
                if line.startswith("- ") and line[2:].strip():
                    found.setdefault(intent, []).append(_plain(line[2:]))
    if not found:
        raise ValueError(f"no intent examples found in {', '.join(str(p) for p in paths)}")
    return found


def message_pool(by_intent: Dict[str, List[str]], leave_out: Iterable[str] = HANDOFF_INTENTS) -> Dict[str, List[str]]:
    """The phrasings a benchmark conversation may use, per intent: every intent but `leave_out`, sorted."""
    excluded = frozenset(leave_out)
    pool = {intent: sorted(set(texts)) for intent, texts in sorted(by_intent.items()) if intent not in excluded}
    if not pool:
        raise ValueError("every intent was left out: no phrasings to send")
    return pool


def conversation(rng: random.Random, pool: Dict[str, List[str]], order_questions: Sequence[str],
                 turns: int) -> List[str]:
    """`turns` messages: snippets until the length is reached (an intent drawn evenly, then one of its
    phrasings, so the many out-of-scope examples do not crowd out the rest)."""
    if turns < 1:
        raise ValueError("a conversation needs at least one turn")
    messages: List[str] = []
    intents = sorted(pool)
    while len(messages) < turns:
        if order_questions and rng.random() < ORDER_SHARE:
            number, email = rng.choice(DEMO_ORDERS)
            messages.extend([rng.choice(order_questions), number, email])
        else:
            messages.append(rng.choice(pool[rng.choice(intents)]))
    return messages[:turns]


def conversations(count: int, turns: int, seed: int = DEFAULT_SEED, paths: Iterable[Path] = SOURCES) -> List[List[str]]:
    """`count` conversations of `turns` messages each; the same arguments always give the same messages."""
    by_intent = phrasings(paths)
    pool = message_pool(by_intent)
    questions = sorted({text for text in by_intent.get("order_status", []) if "CL-" not in text})
    rng = random.Random(f"careline-bench-{seed}-{turns}")
    return [conversation(rng, pool, questions, turns) for _ in range(count)]


def long_conversations(count: int, turns: int, window: int = 20, seed: int = DEFAULT_SEED,
                       paths: Iterable[Path] = SOURCES) -> List[List[str]]:
    """Conversations for latency against length: their last `window` turns repeat their first `window`
    messages, so turns 1-20 and 181-200 send the same messages and differ only in what came before."""
    found = conversations(count, turns, seed=seed, paths=paths)
    window = min(window, turns // 2)
    for messages in found:
        messages[turns - window:] = messages[:window]
    return found

"""Frustration: scoring one message, and a conversation's trajectory (pure, no Rasa).

A message is scored by a logistic regression learned from labelled customer messages
(`data/frustration/train.yml`). Its features are spaCy tokens of a blank English pipeline
(no downloads), uni- and bigrams, with words after a negation marked (`not angry` is not
`angry`), plus explicit signals: ALL CAPS, repeated `!!!`/`???`, "I already told you",
"third time", threats to leave, profanity and sarcasm markers. The learned model is plain
data (vocabulary and weights), saved as JSON, and scoring needs no sklearn.

The conversation score follows the trajectory of message scores and adds what a single
message cannot show: the same request over and over, misunderstandings in a row, and the
bot repeating itself. Thresholds come from policy.yml.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

LEVELS = ("low", "medium", "high")
NEGATIONS = {"not", "no", "never", "n't", "nothing", "without", "hardly", "dont", "don't", "isnt", "isn't",
             "wasnt", "wasn't", "aint"}
CLAUSE_END = {".", ",", "!", "?", ";", ":", "but", "and"}

SIGNALS: Dict[str, re.Pattern] = {
    "repeated_punctuation": re.compile(r"[!?]{2,}"),
    "already_told": re.compile(
        r"\b(already (told|said|gave|asked|explained)|told you (already|twice|before)|i (just )?gave you|"
        r"repeat(ing)? myself|how many times|asked (that|this) already|you asked me that|"
        r"same (question|thing) again)\b",
        re.IGNORECASE),
    "repeated_contact": re.compile(
        r"\b((second|third|fourth|fifth|\d+(st|nd|rd|th)) (time|email|message|call)|(three|four|five|\d+) times|"
        r"for the (third|fourth|fifth) time|again\?|again!|still (no|nothing|not|waiting))\b", re.IGNORECASE),
    "threat_to_leave": re.compile(
        r"\b(never (order|ordering|shop|shopping|buy|buying|again)|taking my business|switch(ing)? to|"
        r"close my account|cancel(ling)? (my )?membership|lost a customer|chargeback|(call|calling|to) my bank|"
        r"lawyer|(bad|one star|zero star)s? review|leave a review|twitter|bbb|report you|done with (you|this))\b",
        re.IGNORECASE),
    "profanity": re.compile(
        r"\b(wtf|wth|damn|hell|crap|bs|bloody|pissed|shit\w*|f+u+c+k\w*|fk|ffs|for god'?s sake|screw)\b",
        re.IGNORECASE),
    "sarcasm": re.compile(
        r"(thanks for nothing|yeah,? right|well done|shocker|love that for me|what a surprise|like last (week|time)|"
        r"of course\W*$|"
        r"\b(great|wonderful|fantastic|brilliant|perfect|lovely|amazing|oh sure|sure)\b[,.!]*\s+"
        r"(just great|another|more|again|thanks a lot|lost|because|it only|like last)|\.\s*not\s*$|"
        r"'[^']{3,40}' (my foot|right)|\"[^\"]{3,40}\" my foot)",
        re.IGNORECASE),
}
NEGATIVE_WORDS = frozenset("""
useless terrible awful horrible worst ridiculous unacceptable angry furious livid fuming frustrated frustrating
annoyed annoying upset disappointed disappointing disgusted joke joking kidding scam pathetic disgrace disgraceful
nonsense rubbish garbage incompetent appalling shocking outrageous nightmare shambles fed sick hate hated ignored
ignoring excuse excuses lied lying cheated ripoff theft ruined wasted waste stupid insane unbelievable rude
fault mess messed broken lost worse bad poor
""".split())
POSITIVE_WORDS = frozenset("""
happy calm fine thanks thank appreciate appreciated lovely pleased love glad kind helpful patient worries
great perfect wonderful brilliant cheers nice
""".split())
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_ACRONYMS = frozenset({"USD", "UPS", "DHL", "USPS", "FAQ", "ETA", "RMA", "BBB", "UK", "USA", "PDF", "ASAP"})
_ORDER_NUMBER = re.compile(r"\bCL-?\d{6}\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def tokens(text: str) -> List[str]:
    """Lower-cased spaCy tokens with words after a negation marked `NEG_` up to the clause end."""
    result: List[str] = []
    negated = False
    for token in _tokenizer()(text[:2000]):
        word = token.lower_
        if token.is_space:
            continue
        if word in CLAUSE_END or token.is_punct:
            negated = False
            result.append(word)
            continue
        if word in NEGATIONS:
            negated = True
            result.append(word)
            continue
        result.append(f"NEG_{word}" if negated else word)
    return result


def signals(text: str) -> List[str]:
    """The explicit frustration signals found in a message."""
    found = [name for name, pattern in SIGNALS.items() if pattern.search(text[:2000])]
    caps = [w for w in _CAPS_WORD.findall(_ORDER_NUMBER.sub("", text[:2000])) if w not in _ACRONYMS]
    if caps:
        found.append("all_caps")
    return sorted(found)


def _sentiment_markers(words: Sequence[str]) -> List[str]:
    markers = []
    for word in words:
        negated = word.startswith("NEG_")
        bare = word[4:] if negated else word
        if bare in NEGATIVE_WORDS:
            markers.append("__negated_negative__" if negated else "__negative_word__")
        elif bare in POSITIVE_WORDS and not negated:
            markers.append("__positive_word__")
    return markers


def features(text: str) -> List[str]:
    """Everything the model looks at: unigrams, bigrams, sentiment and signal markers."""
    words = [t for t in tokens(text) if t not in (",", ".")]
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    return grams + _sentiment_markers(words) + [f"__{name}__" for name in signals(text)]


@dataclass(frozen=True)
class FrustrationModel:
    """A logistic regression over `features`: weights per feature and an intercept."""

    weights: Mapping[str, float]
    intercept: float

    def score(self, text: str) -> float:
        if not isinstance(text, str) or not text.strip():
            return 0.0
        counts: Dict[str, int] = {}
        for feature in features(text):
            counts[feature] = counts.get(feature, 0) + 1
        z = self.intercept + sum(self.weights.get(f, 0.0) * n for f, n in counts.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> Dict[str, object]:
        return {"intercept": self.intercept, "weights": dict(self.weights)}

    @staticmethod
    def from_dict(data: Mapping[str, object]) -> FrustrationModel:
        return FrustrationModel(weights={str(k): float(v) for k, v in dict(data["weights"]).items()},
                                intercept=float(data["intercept"]))


def train(frustrated: Sequence[str], calm: Sequence[str], c: float = 2.0) -> FrustrationModel:
    """Fit the model on labelled messages (sklearn is only needed here)."""
    if len(frustrated) < 10 or len(calm) < 10:
        raise ValueError("need at least 10 frustrated and 10 calm messages to learn from")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(analyzer=features, min_df=1)
    matrix = vectorizer.fit_transform(list(frustrated) + list(calm))
    labels = [1] * len(frustrated) + [0] * len(calm)
    classifier = LogisticRegression(C=c, class_weight="balanced", max_iter=1000, random_state=0)
    classifier.fit(matrix, labels)
    weights = {name: float(w) for name, w in zip(vectorizer.get_feature_names_out(), classifier.coef_[0])
               if abs(w) > 1e-6}
    return FrustrationModel(weights=weights, intercept=float(classifier.intercept_[0]))


# --- levels and conversations -------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    medium: float = 0.5
    high: float = 0.8
    repeated_intent_boost: float = 0.15
    fallback_boost: float = 0.2
    bot_repeat_boost: float = 0.1
    smoothing: float = 0.6

    @staticmethod
    def from_mapping(data: Optional[Mapping[str, object]]) -> Thresholds:
        if not data:
            return Thresholds()
        known = {k: float(v) for k, v in data.items() if k in Thresholds.__dataclass_fields__}
        thresholds = Thresholds(**known)
        if not 0 < thresholds.medium < thresholds.high <= 1:
            raise ValueError("frustration thresholds need 0 < medium < high <= 1")
        return thresholds


def level(score: float, thresholds: Thresholds = Thresholds()) -> str:
    if score >= thresholds.high:
        return "high"
    if score >= thresholds.medium:
        return "medium"
    return "low"


def assess(model: FrustrationModel, text: str, thresholds: Thresholds = Thresholds()) -> Dict[str, object]:
    """The `frustration` entry of a parse result: score, level and signals."""
    score = round(model.score(text), 4)
    return {"score": score, "level": level(score, thresholds), "signals": signals(text or "")}


@dataclass(frozen=True)
class Turn:
    """What the conversation score needs of one customer turn."""

    score: float
    intent: Optional[str] = None
    fallback: bool = False
    bot_reply: Optional[str] = None


@dataclass(frozen=True)
class ConversationFrustration:
    score: float
    level: str
    trajectory: List[float]
    rising: bool
    reasons: List[str] = field(default_factory=list)


def turns_from_events(events: Iterable[Mapping[str, object]]) -> List[Turn]:
    """Customer turns from Rasa event dictionaries, each with the bot's reply to it (if any yet)."""
    turns: List[Turn] = []
    for event in events:
        if event.get("event") == "user":
            parse = event.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name")
            score = float((parse.get("frustration") or {}).get("score") or 0.0)
            turns.append(Turn(score, intent, fallback=intent == "nlu_fallback"))
        elif event.get("event") == "bot" and event.get("text") and turns:
            last = turns[-1]
            reply = f"{last.bot_reply} {event['text']}" if last.bot_reply else str(event["text"])
            turns[-1] = Turn(last.score, last.intent, last.fallback, reply)
    return turns


def _tail_run(values: Iterable, predicate) -> int:
    run = 0
    for value in reversed(list(values)):
        if not predicate(value):
            break
        run += 1
    return run


def conversation(turns: Sequence[Turn], thresholds: Thresholds = Thresholds()) -> ConversationFrustration:
    """Score a whole conversation from its customer turns, oldest first."""
    if not turns:
        return ConversationFrustration(0.0, "low", [], False)
    trajectory = [round(t.score, 4) for t in turns]
    smoothed = trajectory[0]
    for value in trajectory[1:]:
        smoothed = thresholds.smoothing * value + (1 - thresholds.smoothing) * smoothed
    score = max(smoothed, trajectory[-1] * 0.9)
    reasons: List[str] = []
    last_intent = turns[-1].intent
    repeats = _tail_run(turns, lambda t: t.intent == last_intent and t.intent not in (None, "affirm", "deny",
                                                                                      "inform"))
    if repeats >= 3:
        score += thresholds.repeated_intent_boost
        reasons.append(f"asked for {last_intent} {repeats} times in a row")
    misses = _tail_run(turns, lambda t: t.fallback)
    if misses >= 2:
        score += thresholds.fallback_boost
        reasons.append(f"{misses} misunderstandings in a row")
    replies = [t.bot_reply for t in turns if t.bot_reply]
    if len(replies) >= 2 and replies[-1] == replies[-2]:
        score += thresholds.bot_repeat_boost
        reasons.append("the bot repeated itself")
    score = round(min(1.0, score), 4)
    rising = len(trajectory) >= 2 and trajectory[-1] - min(trajectory[-3:]) >= 0.2
    return ConversationFrustration(score, level(score, thresholds), trajectory, rising, reasons)


def load_labelled(data: Mapping[str, Sequence[str]]) -> Tuple[List[str], List[str]]:
    """(frustrated, calm) from a parsed labelled-data file, with a clear error when malformed."""
    try:
        frustrated = [str(x) for x in data["frustrated"]]
        calm = [str(x) for x in data["calm"]]
    except (KeyError, TypeError):
        raise ValueError("labelled frustration data needs two lists: 'frustrated' and 'calm'") from None
    return frustrated, calm

ACKNOWLEDGEMENTS = (
    "I can hear how frustrating this has been, and I'm sorry.",
    "I'm sorry, I understand why you're upset.",
    "That sounds really annoying, and I'm sorry it happened.",
)


def acknowledgement(signals: Sequence[str], earlier: int) -> str:
    """Plain, varied words for the customer's feeling, then the promise to resolve and the way out."""
    if "already_told" in signals:
        feeling = "I'm sorry you've had to repeat yourself."
    elif "repeated_contact" in signals:
        feeling = "I'm sorry this has taken more than one try; that's not good enough."
    else:
        feeling = ACKNOWLEDGEMENTS[earlier % len(ACKNOWLEDGEMENTS)]
    return f"{feeling} Let's get it sorted right now, and if you'd rather talk to a person at any point, just say so."

"""The project's own checks of the training data, beyond `rasa data validate` (pure, no Rasa).

Each problem names a file and line, so a trainer can jump straight to it:
- every intent and FAQ topic has enough examples;
- no example is in two intents (after lower-casing and dropping punctuation and entity markup);
- every response in the domain is used by a rule, story, form or action, and every used one exists;
- every FAQ topic has an answer, and every answer a topic;
- no held-out example (tests/data/) is also a training example, or nearly one (`NearDuplicates`:
  the same words after the model's own normalisation, word sets overlapping by 75%, or one inside
  the other);
- the lexicon (data/lexicon.yml) has well-formed concepts: quoted entries, `*` only at the end,
  no entry twice in a concept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from careline.nlu.intent_model import CONCEPT_NAME

ENTITY_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")
INTENT_LINE = re.compile(r"^- intent:\s*(\S+)\s*$")
EXAMPLE_LINE = re.compile(r"^\s+- (.+?)\s*$")
RESPONSE_LINE = re.compile(r"^  (utter_[\w/]+):\s*(#.*)?$")  # a comment may follow the name
USED_RESPONSE = re.compile(r"\b(utter_[a-z0-9_/]+)\b(?!{)")  # not a name being built: f"utter_ask_{slot}"


@dataclass(frozen=True)
class Example:
    intent: str
    text: str
    path: str
    line: int

    @property
    def key(self) -> str:
        return normalize(self.text)


def normalize(text: str) -> str:
    text = ENTITY_MARKUP.sub(lambda m: m.group(1) or m.group(2), text)
    return " ".join(re.sub(r"[^\w@ ]+", " ", text.lower()).split())


def examples(path: Path, root: Path) -> List[Example]:
    """The intent examples of one Rasa NLU YAML file, with their line numbers."""
    found: List[Example] = []
    intent: Optional[str] = None
    in_examples = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        header = INTENT_LINE.match(line)
        if header:
            intent, in_examples = header.group(1), False
            continue
        if line.startswith("- "):
            intent, in_examples = None, False
        elif intent and line.strip().startswith("examples:"):
            in_examples = True
        elif intent and in_examples:
            match = EXAMPLE_LINE.match(line)
            if match:
                found.append(Example(intent, match.group(1), str(path.relative_to(root)), number))
    return found


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def too_few(training: Sequence[Example], minimum: int, faq_minimum: int) -> List[Problem]:
    counts: Dict[str, List[Example]] = {}
    for example in training:
        counts.setdefault(example.intent, []).append(example)
    problems = []
    for intent, found in sorted(counts.items()):
        need = faq_minimum if "/" in intent else minimum
        if len(found) < need:
            problems.append(Problem(found[0].path, found[0].line - 2 if found[0].line > 2 else 1,
                                    f"intent {intent} has {len(found)} examples; it needs at least {need}"))
    return problems


def in_two_intents(training: Sequence[Example]) -> List[Problem]:
    first: Dict[str, Example] = {}
    problems = []
    for example in training:
        earlier = first.setdefault(example.key, example)
        if earlier is not example and earlier.intent != example.intent:
            problems.append(Problem(example.path, example.line,
                                    f"'{example.text}' ({example.intent}) is also an example of {earlier.intent} "
                                    f"at {earlier.path}:{earlier.line}"))
    return problems


def leaked(training: Sequence[Example], heldout: Sequence[Example]) -> List[Problem]:
    seen = {example.key: example for example in training}
    return [Problem(example.path, example.line,
                    f"held-out example '{example.text}' is also a training example at "
                    f"{seen[example.key].path}:{seen[example.key].line}")
            for example in heldout if example.key in seen]


CONTRACTIONS = (("n't", " not"), ("'re", " are"), ("'m", " am"), ("'ll", " will"), ("'ve", " have"),
                ("'d", " would"), ("'s", " is"))
SPELLED_OUT = {"won't": "will not", "can't": "can not", "cannot": "can not", "wanna": "want to",
               "gonna": "going to", "pls": "please", "plz": "please", "u": "you", "ur": "your", "r": "are"}


def _stem(word: str) -> str:
    """Plurals and -ed/-ing forms as one word ("orders" = "order", "refunded" = "refund")."""
    for suffix, least in (("ing", 6), ("ed", 5), ("es", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= least and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def words_of(text: str) -> Tuple[str, ...]:
    """The words a message is compared by: the model's own normalisation (lower case, order numbers,
    emails, amounts and numbers as placeholders), entity markup and punctuation dropped, contractions
    spelled out ("where's" = "where is") and word endings stemmed ("orders" = "order")."""
    from careline.nlu.intent_model import normalise, words

    found: List[str] = []
    for word in words(normalise(ENTITY_MARKUP.sub(lambda m: m.group(1) or m.group(2), text))):
        word = SPELLED_OUT.get(word, word)
        for ending, spelled in CONTRACTIONS:
            if word.endswith(ending) and len(word) > len(ending):
                word = word[: -len(ending)] + spelled
                break
        found += [_stem(part) for part in word.split()]
    return tuple(found)


class NearDuplicates:
    """Finds training texts equal or nearly equal to a given text.

    Equal: the same words after `words_of`, in any order. Nearly equal: both have at least
    `MIN_WORDS` distinct words and their word sets overlap by at least `OVERLAP` (Jaccard: shared
    words over all words), or the smaller has at least `CONTAINED_WORDS` distinct words, all of
    them in the other, and they are at least half of the other's. "hi, where is my order" nearly
    equals "where is my order"; "why was I charged a restocking fee" is inside "why was i charged a
    restocking fee, i never agreed"; "can I pay with klarna" does not nearly equal "can I pay with
    paypal" (one word in five is the whole question).
    """

    OVERLAP = 0.75
    MIN_WORDS = 4
    CONTAINED_WORDS = 5
    CONTAINED_SHARE = 0.5     # ... and make up at least half of the longer one

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._exact: Dict[Tuple[str, ...], int] = {}
        self._sets: List[FrozenSet[str]] = []
        self._by_word: Dict[str, List[int]] = {}
        for text in texts:
            self.add(text)

    def add(self, text: str) -> int:
        index = len(self._sets)
        key = words_of(text)
        self._exact.setdefault(tuple(sorted(key)), index)
        distinct = frozenset(key)
        self._sets.append(distinct)
        if len(distinct) >= min(self.MIN_WORDS, self.CONTAINED_WORDS):
            for word in distinct:
                self._by_word.setdefault(word, []).append(index)
        return index

    def match(self, text: str) -> Optional[Tuple[int, str]]:
        """(index of the training text, "equals" or "nearly equals"), or None."""
        key = words_of(text)
        if tuple(sorted(key)) in self._exact:
            return self._exact[tuple(sorted(key))], "equals"
        distinct = frozenset(key)
        if len(distinct) < self.MIN_WORDS:
            return None
        shared: Dict[int, int] = {}
        for word in distinct:
            for index in self._by_word.get(word, ()):
                shared[index] = shared.get(index, 0) + 1
        best: Optional[Tuple[float, int]] = None
        for index, count in shared.items():
            other = self._sets[index]
            overlap = count / (len(distinct) + len(other) - count)
            smaller = min(len(distinct), len(other))
            near = (overlap >= self.OVERLAP and smaller >= self.MIN_WORDS) or (
                count == smaller and smaller >= self.CONTAINED_WORDS and overlap >= self.CONTAINED_SHARE)
            if near and (best is None or (-overlap, index) < (-best[0], best[1])):
                best = (overlap, index)
        return (best[1], "nearly equals") if best else None


def intent_names(domain: object) -> List[str]:
    """The intents of a parsed domain.yml: each is a name, or a mapping of its name to its properties
    (`- EXTERNAL_follow_up: {use_entities: [...]}`)."""
    intents = domain.get("intents") if isinstance(domain, dict) else None
    return [name if isinstance(name, str) else str(next(iter(name))) for name in intents or []
            if isinstance(name, (str, dict)) and name]


def domain_responses(domain: Path, root: Path) -> Dict[str, Tuple[str, int]]:
    found = {}
    for number, line in enumerate(domain.read_text(encoding="utf-8").splitlines(), start=1):
        match = RESPONSE_LINE.match(line)
        if match:
            found[match.group(1)] = (str(domain.relative_to(root)), number)
    return found


def used_responses(files: Iterable[Path], root: Path) -> Dict[str, Tuple[str, int]]:
    used: Dict[str, Tuple[str, int]] = {}
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for name in USED_RESPONSE.findall(line):
                used.setdefault(name, (str(path.relative_to(root)), number))
    return used


def response_problems(responses: Dict[str, Tuple[str, int]], used: Dict[str, Tuple[str, int]],
                      forms: Sequence[Tuple[str, Sequence[str]]], training: Sequence[Example]) -> List[Problem]:
    """Unused responses, responses used but missing, FAQ topics without an answer and answers without a topic."""
    asked = {f"utter_ask_{slot}" for _, slots in forms for slot in slots}
    topics = {example.intent for example in training if example.intent.startswith("faq/")}
    problems = []
    for name, (path, line) in sorted(responses.items()):
        if name.startswith("utter_faq/"):
            if name[len("utter_"):] not in topics:
                problems.append(Problem(path, line, f"{name} answers no FAQ topic: add examples of "
                                                    f"intent {name[len('utter_'):]} to data/nlu/faq.yml"))
        elif name not in used and name not in asked:
            problems.append(Problem(path, line, f"response {name} is never used by a rule, story, form or action"))
    for name, (path, line) in sorted(used.items()):
        if name not in responses and not name.startswith("utter_faq") and name not in ("utter_message", "utter_action"):
            problems.append(Problem(path, line, f"{name} is used but the domain has no such response"))
    for topic in sorted(topics):
        if f"utter_{topic}" not in responses:
            first = next(e for e in training if e.intent == topic)
            problems.append(Problem(first.path, first.line, f"FAQ topic {topic} has no answer utter_{topic} "
                                                            "in domain.yml"))
    return problems


def form_slots(domain: Path) -> List[Tuple[str, List[str]]]:
    """(form, required slots) from the domain's forms section (plain YAML read)."""
    import yaml

    data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    return [(name, list((spec or {}).get("required_slots") or [])) for name, spec in (data.get("forms") or {}).items()]


CONCEPT_LINE = re.compile(r"^  ([^\s#][^:]*):\s*(#.*)?$")
ENTRY_LINE = re.compile(r"^    - (.*?)\s*(#.*)?$")
YAML_WORDS = {"yes", "no", "y", "n", "true", "false", "on", "off", "null", "~"}


def lexicon_problems(path: Path, root: Path) -> List[Problem]:
    """Problems in the lexicon file, each at its line."""
    if not path.exists():
        return []
    where = str(path.relative_to(root))
    problems: List[Problem] = []
    concept: Optional[str] = None
    seen: Dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        header, entry = CONCEPT_LINE.match(line), ENTRY_LINE.match(line)
        if header:
            concept, seen = header.group(1).strip().strip("'\""), {}
            if not CONCEPT_NAME.fullmatch(concept) or concept in YAML_WORDS:
                problems.append(Problem(where, number, f"concept name {concept!r}: use lower-case letters, digits "
                                                       "and _ (YAML reads yes/no/on/off as true/false)"))
        elif entry and concept:
            raw = entry.group(1)
            value = raw.strip("'\"")
            if raw == value and value.lower() in YAML_WORDS:
                problems.append(Problem(where, number, f"entry {value} must be quoted (\"{value}\"): YAML reads it "
                                                       "as true/false"))
            if not value.strip():
                problems.append(Problem(where, number, f"empty entry in concept {concept}"))
            elif "*" in value.rstrip("*") or value.endswith("**") or value.endswith(" *"):
                problems.append(Problem(where, number, f"{value!r}: `*` works only once, at the end of a word"))
            key = value.lower()
            if key in seen:
                problems.append(Problem(where, number, f"{value!r} is already in concept {concept} "
                                                       f"(line {seen[key]})"))
            seen.setdefault(key, number)
    return problems

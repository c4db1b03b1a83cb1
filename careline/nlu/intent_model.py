"""Intent classification: text in, a ranking of labels out (pure, no Rasa).

One flat classifier over every label a message can have: the intents, and each FAQ topic as
`faq/<topic>` (so choosing the topic is not a second, separate guess). Cross-validated on our
data it scored 91.8% against 82.7% for Rasa's featurizers + LogisticRegressionClassifier +
ResponseSelector (same data, same folds).

Features, all learned from our own data (no pretrained weights):
- word uni- and bigrams of the normalised text (order numbers, emails, amounts and other numbers
  become placeholder words, so `CL-123456` and `CL-654321` are the same word),
- character 1-5-grams within words, which carry typos and word forms (`refnd`, `cancelled`),
- concept words from the lexicon (`data/lexicon.yml`): every word or phrase of a concept adds
  the concept's marker, so a synonym the examples never used (`parcel` where they say `package`)
  still points the same way.
TF-IDF with sublinear counts, then a class-balanced logistic regression. Beside them, when given,
the message's sentence embedding from the pretrained encoder (careline/nlu/encoder.py, through the
CarelineSentenceEncoder featurizer), scaled by `dense_weight`: it carries meaning across words the
examples never used ("how are you doing" near "hello"), which n-grams cannot.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np
import numpy.typing as npt

from careline.shared import EMAIL_IN_TEXT, ORDER_NUMBER_MENTION, TEXT_MAX_CHARS

if TYPE_CHECKING:
    from spellchecker import SpellChecker

# scikit-learn and scipy have no type information: their objects are Any, named here for the reader.
Vectorizer = Any   # sklearn.feature_extraction.text.TfidfVectorizer
Classifier = Any   # sklearn.linear_model.LogisticRegression
Sparse = Any       # a scipy.sparse matrix

MONEY = re.compile(r"(?:[$£€]\s?\d+(?:[.,]\d{1,2})?|\b\d+(?:[.,]\d{1,2})?\s?(?:dollars|usd|eur|euros|pounds|gbp)\b|"
                   r"\b\d+[.,]\d{2}\b)", re.IGNORECASE)
NUMBER = re.compile(r"\b\d+(?:st|nd|rd|th)?\b")
APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`´]")
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
CONCEPT_PREFIX = "concept_"
CONCEPT_NAME = re.compile(r"[a-z][a-z0-9_]*")   # also checked by `make validate` (careline/nlu/datacheck.py)

# Order numbers and emails as the NLU recognises them (careline/shared/patterns.py), on lower-cased text.
PLACEHOLDERS = (("ordernumber", ORDER_NUMBER_MENTION), ("emailaddress", EMAIL_IN_TEXT), ("moneyamount", MONEY),
                ("somenumber", NUMBER))


def normalise(text: str) -> str:
    """Lower case, one kind of apostrophe, placeholders for order numbers, emails, amounts, numbers."""
    text = APOSTROPHES.sub("'", text or "").lower()
    for placeholder, pattern in PLACEHOLDERS:
        text = pattern.sub(f" {placeholder} ", text)
    return " ".join(text.split())


def words(text: str) -> List[str]:
    return WORD.findall(text)


def example_label(example: Any) -> Optional[str]:
    """What the classifier learns for a training or held-out example (anything with `.get`, such as
    Rasa's Message): `faq/<topic>` for a retrieval example, the intent otherwise (None without one)."""
    label: Optional[str] = example.get("intent_response_key") or example.get("intent")
    return label


@lru_cache(maxsize=1)
def _english() -> SpellChecker:
    """pyspellchecker's English word frequencies (a word list shipped in the package, no model)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


class Speller:
    """Corrects misspelt words before classification (`adress` -> `address`, `heyyy` -> `hey`).

    A word is left alone when the training examples or the lexicon use it, or when it is an English
    word (so `cancer` is not `cancel`). Otherwise it becomes the most frequent of our words one edit
    away or with stretched letters squeezed; failing that, pyspellchecker's English correction one
    edit away (`recieved` -> `received`). Words under 4 letters are left alone (too many are one
    edit apart), and so are words over 20 letters and everything after the first 20 unknown words
    of a message: the cost of a message stays bounded (about 1 ms per corrected word).
    """

    MAX_WORD = 20
    MAX_UNKNOWN_PER_MESSAGE = 20

    LETTERS = "abcdefghijklmnopqrstuvwxyz"

    def __init__(self, counts: Optional[Mapping[str, int]] = None, english: bool = True) -> None:
        self.counts: Dict[str, int] = dict(counts or {})
        self._english = _english() if english else None
        self._cache: Dict[str, str] = {}

    @classmethod
    def from_texts(cls, texts: Sequence[str], extra_words: Sequence[str] = (), english: bool = True) -> Speller:
        counts: Dict[str, int] = {}
        for text in [*texts, *extra_words]:
            for word in words(text):
                counts[word] = counts.get(word, 0) + 1
        return cls(counts, english)

    def _edits(self, word: str) -> Set[str]:
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        deletes = [a + b[1:] for a, b in splits if b]
        transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
        replaces = [a + c + b[1:] for a, b in splits if b for c in self.LETTERS]
        inserts = [a + c + b for a, b in splits for c in self.LETTERS]
        return set(deletes + transposes + replaces + inserts)

    def _is_english(self, word: str) -> bool:
        return self._english is not None and word in self._english.word_frequency

    def _known(self, word: str) -> bool:
        return word in self.counts or not word.isalpha() or len(word) > self.MAX_WORD or self._is_english(word)

    def correct_word(self, word: str) -> str:
        if self._known(word):
            return word
        if word in self._cache:
            return self._cache[word]
        squeezed = {re.sub(r"(.)\1{2,}", r"\1", word), re.sub(r"(.)\1+", r"\1", word)}
        candidates = [w for w in squeezed if w in self.counts]
        if not candidates and len(word) >= 4:
            candidates = [w for w in self._edits(word) if w in self.counts]
        if candidates:
            best = max(candidates, key=lambda w: (self.counts[w], w))
        elif self._english is not None and len(word) >= 4:
            best = self._english.correction(word) or word
        else:
            best = word
        if len(self._cache) < 50_000:
            self._cache[word] = best
        return best

    def correct(self, text: str) -> str:
        if not self.counts:
            return text
        budget = [self.MAX_UNKNOWN_PER_MESSAGE]

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            if self._known(word) or budget[0] <= 0:
                return word
            budget[0] -= 1
            return self.correct_word(word)

        return WORD.sub(fix, text)


class Lexicon:
    """Concepts, each a list of words and phrases. A trailing `*` makes the last word a prefix:
    `refund*` matches refunds and refunded, `gift card*` matches gift cards."""

    def __init__(self, concepts: Optional[Mapping[str, Sequence[str]]] = None) -> None:
        self.concepts: Dict[str, List[str]] = {name: list(entries) for name, entries in (concepts or {}).items()}
        self._exact: Dict[Tuple[str, ...], Set[str]] = {}
        self._prefixes: List[Tuple[Tuple[str, ...], str]] = []   # (words, the last one a prefix), concept
        self._longest = 1
        for name, entries in self.concepts.items():
            for entry in entries:
                phrase = str(entry).strip().lower()
                key = tuple(words(APOSTROPHES.sub("'", phrase.rstrip("*"))))
                if not key:
                    continue
                if phrase.endswith("*"):
                    self._prefixes.append((key, name))
                else:
                    self._exact.setdefault(key, set()).add(name)
                    self._longest = max(self._longest, len(key))

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        concepts = data.get("concepts", data)
        if not isinstance(concepts, dict):
            raise ValueError(f"{path}: expected `concepts:` mapping each concept to a list of words")
        for name, entries in concepts.items():
            if not isinstance(name, str) or not CONCEPT_NAME.fullmatch(name):
                raise ValueError(f"{path}: concept name {name!r} must be lower-case letters, digits and _ "
                                 "(quote yes/no: YAML reads them as true/false)")
            if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip() for e in entries):
                raise ValueError(f"{path}: concept {name!r} needs a list of words or phrases in quotes")
        return cls(concepts)

    def concepts_in(self, tokens: Sequence[str]) -> List[str]:
        """The concepts whose words or phrases occur in `tokens`, in order of first appearance."""
        found: List[str] = []
        for start in range(len(tokens)):
            for size in range(1, self._longest + 1):
                for name in self._exact.get(tuple(tokens[start:start + size]), ()):
                    if name not in found:
                        found.append(name)
            for key, name in self._prefixes:
                end = start + len(key)
                if (name not in found and end <= len(tokens) and tuple(tokens[start:end - 1]) == key[:-1]
                        and tokens[end - 1].startswith(key[-1])):
                    found.append(name)
        return found

    def annotate(self, normalised: str) -> str:
        """The text followed by a marker word per concept it mentions."""
        markers = [CONCEPT_PREFIX + name for name in self.concepts_in(words(normalised))]
        return " ".join([normalised, *markers])


PADDING_BEFORE = ("hi", "hello", "hey", "hi there,", "good morning,", "hello,", "ok so", "um")
PADDING_AFTER = ("thanks", "thank you", "please", "pls", "thx", "asap", "?", "!", "cheers")
# Social intents are the padding itself: "hi" + a greeting is still a greeting, "thanks" + a
# thank-you still thanks; so only the other intents get padded copies.
UNPADDED = frozenset({"greet", "thank", "goodbye", "affirm", "deny"})


def padded_copies(texts: Sequence[str], labels: Sequence[str],
                  seed: int = 7) -> Tuple[List[str], List[str], List[int]]:
    """One copy of each example with a greeting in front or a thank-you/please after it, so the
    classifier learns that the padding customers wrap a request in does not change the request.
    Returns the copies, their labels and the index of the example each was made from."""
    import random

    rng = random.Random(seed)
    extra_texts: List[str] = []
    extra_labels: List[str] = []
    origins: List[int] = []
    for index, (text, label) in enumerate(zip(texts, labels)):
        if label in UNPADDED or len(text.split()) < 2:
            continue
        if rng.random() < 0.5:
            extra_texts.append(f"{rng.choice(PADDING_BEFORE)} {text}")
        else:
            extra_texts.append(f"{text} {rng.choice(PADDING_AFTER)}")
        extra_labels.append(label)
        origins.append(index)
    return extra_texts, extra_labels, origins


@dataclass(frozen=True)
class Settings:
    word_ngrams: Tuple[int, int] = (1, 2)
    char_ngrams: Tuple[int, int] = (1, 5)
    c: float = 20.0
    max_iter: int = 2000
    padding: bool = True
    dense_weight: float = 1.0     # scale of the sentence embedding beside the TF-IDF features

    def as_config(self) -> Dict[str, object]:
        """The component's config keys (config.yml) with these values."""
        return {"word_ngrams": list(self.word_ngrams), "char_ngrams": list(self.char_ngrams), "C": self.c,
                "max_iter": self.max_iter, "padding": self.padding, "dense_weight": self.dense_weight}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Settings:
        return cls(word_ngrams=tuple(data.get("word_ngrams", cls.word_ngrams)),
                   char_ngrams=tuple(data.get("char_ngrams", cls.char_ngrams)),
                   c=float(data.get("C", cls.c)), max_iter=int(data.get("max_iter", cls.max_iter)),
                   padding=bool(data.get("padding", cls.padding)),
                   dense_weight=float(data.get("dense_weight", cls.dense_weight)))


Dense = Optional[npt.NDArray[Any]]  # sentence embeddings, one row per text


def _with_dense(sparse: Sparse, dense: Dense, dims: int, weight: float) -> Sparse:
    """The sparse features with the scaled sentence embeddings beside them (when the model has them)."""
    from scipy.sparse import csr_matrix, hstack

    if not dims:
        return sparse
    if dense is None or dense.shape != (sparse.shape[0], dims):
        raise ValueError(f"this intent model needs the {dims}-dimensional sentence embedding of every text "
                         "(the CarelineSentenceEncoder featurizer must run before the classifier)")
    return hstack([sparse, csr_matrix(np.asarray(dense, dtype=np.float64) * weight)]).tocsr()


class IntentModel:
    """A trained classifier: `rank(text)` gives (label, probability) pairs, best first."""

    def __init__(self, lexicon: Lexicon, speller: Speller, word_vectorizer: Vectorizer, char_vectorizer: Vectorizer,
                 classifier: Classifier, dense_dims: int = 0, dense_weight: float = 0.0) -> None:
        self.lexicon = lexicon
        self.speller = speller
        self._word = word_vectorizer
        self._char = char_vectorizer
        self._classifier = classifier
        self.dense_dims = int(dense_dims)
        self.dense_weight = float(dense_weight)
        self.labels: List[str] = [str(label) for label in classifier.classes_]

    def _features(self, texts: Sequence[str], dense: Dense = None) -> Sparse:
        from scipy.sparse import hstack

        normalised = [self.speller.correct(normalise(t[:TEXT_MAX_CHARS])) for t in texts]
        annotated = [self.lexicon.annotate(t) for t in normalised]
        sparse = hstack([self._word.transform(annotated), self._char.transform(normalised)]).tocsr()
        return _with_dense(sparse, dense, self.dense_dims, self.dense_weight)

    def probabilities(self, texts: Sequence[str], dense: Dense = None) -> npt.NDArray[np.float64]:
        """One row per text; `dense` holds the texts' sentence embeddings when the model uses them."""
        rows: npt.NDArray[np.float64] = self._classifier.predict_proba(self._features(texts, dense))
        return rows

    def rank(self, text: str, dense: Dense = None) -> List[Tuple[str, float]]:
        row = self.probabilities([text], None if dense is None else np.asarray(dense).reshape(1, -1))[0]
        order = np.argsort(-row, kind="stable")
        return [(self.labels[i], float(row[i])) for i in order]

    def predict(self, texts: Sequence[str], dense: Dense = None) -> List[str]:
        return [self.labels[int(i)] for i in np.argmax(self.probabilities(texts, dense), axis=1)]

    # Saved as plain data: vocabularies and IDF weights as JSON, coefficients as .npy (no pickle).
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        meta = {
            "labels": self.labels,
            "lexicon": self.lexicon.concepts,
            "speller": self.speller.counts,
            "word": _vectorizer_state(self._word),
            "char": _vectorizer_state(self._char),
            "dense_dims": self.dense_dims,
            "dense_weight": self.dense_weight,
        }
        (directory / "intent_model.json").write_text(json.dumps(meta), encoding="utf-8")
        np.save(directory / "intent_coef.npy", self._classifier.coef_, allow_pickle=False)
        np.save(directory / "intent_intercept.npy", self._classifier.intercept_, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        from sklearn.linear_model import LogisticRegression

        directory = Path(directory)
        meta = json.loads((directory / "intent_model.json").read_text(encoding="utf-8"))
        classifier = LogisticRegression()
        classifier.classes_ = np.array(meta["labels"])
        classifier.coef_ = np.load(directory / "intent_coef.npy", allow_pickle=False)
        classifier.intercept_ = np.load(directory / "intent_intercept.npy", allow_pickle=False)
        return cls(Lexicon(meta["lexicon"]), Speller(meta["speller"]), _vectorizer_from_state(meta["word"]),
                   _vectorizer_from_state(meta["char"]), classifier, int(meta.get("dense_dims", 0)),
                   float(meta.get("dense_weight", 0.0)))


def _word_vectorizer(settings: Settings) -> Vectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=settings.word_ngrams, sublinear_tf=True, lowercase=False,
                           token_pattern=WORD.pattern)


def _char_vectorizer(settings: Settings) -> Vectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=settings.char_ngrams, sublinear_tf=True, lowercase=False)


def _vectorizer_state(vectorizer: Vectorizer) -> Dict[str, object]:
    return {"analyzer": vectorizer.analyzer, "ngram_range": list(vectorizer.ngram_range),
            "token_pattern": vectorizer.token_pattern,
            "vocabulary": {k: int(v) for k, v in vectorizer.vocabulary_.items()},
            "idf": [float(x) for x in vectorizer.idf_]}


def _vectorizer_from_state(state: Mapping[str, Any]) -> Vectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=state["analyzer"], ngram_range=tuple(state["ngram_range"]),
                                 token_pattern=state["token_pattern"], sublinear_tf=True, lowercase=False,
                                 vocabulary=state["vocabulary"])
    vectorizer.idf_ = np.array(state["idf"])
    return vectorizer


def train(texts: Sequence[str], labels: Sequence[str], lexicon: Optional[Lexicon] = None,
          settings: Settings = Settings(), dense: Dense = None) -> IntentModel:
    """Fit the vectorisers and the classifier on labelled examples (and, when `dense` is given, their
    sentence embeddings, one row per text: the model then needs them for every text it ranks)."""
    from scipy.sparse import hstack
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:
        raise ValueError("intent training needs examples of at least two labels")
    lexicon = lexicon or Lexicon()
    texts, labels = list(texts), list(labels)
    if dense is not None:
        dense = np.asarray(dense, dtype=np.float32)
        if dense.ndim != 2 or dense.shape[0] != len(texts):
            raise ValueError("dense needs one sentence embedding per training text")
    if settings.padding:
        extra_texts, extra_labels, origins = padded_copies(texts, labels)
        texts, labels = texts + extra_texts, labels + extra_labels
        if dense is not None:   # "hi" or "thanks" around a request barely moves its embedding
            dense = np.vstack([dense, dense[origins]]) if origins else dense
    normalised = [normalise(t) for t in texts]
    word, char = _word_vectorizer(settings), _char_vectorizer(settings)
    features = hstack([word.fit_transform([lexicon.annotate(t) for t in normalised]),
                       char.fit_transform(normalised)]).tocsr()
    dims = 0 if dense is None else int(dense.shape[1])
    features = _with_dense(features, dense, dims, settings.dense_weight)
    classifier = LogisticRegression(C=settings.c, class_weight="balanced", max_iter=settings.max_iter,
                                    random_state=42)
    classifier.fit(features, list(labels))
    speller = Speller.from_texts(normalised, [entry for entries in lexicon.concepts.values() for entry in entries])
    return IntentModel(lexicon, speller, word, char, classifier, dims, settings.dense_weight if dims else 0.0)

"""Intent classification figures from (expected, predicted, confidence) triples (pure, no Rasa).

Out-of-scope detection counts a message as caught when the model says `out_of_scope` or falls
back (`nlu_fallback`): either way the customer hears what the bot can do instead of a wrong answer.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Prediction:
    text: str
    expected: str
    predicted: str
    confidence: float
    raw_predicted: str = ""       # the best real intent, before the fallback threshold
    raw_confidence: float = 0.0

    @property
    def correct(self) -> bool:
        return self.predicted == self.expected or (self.expected == OUT_OF_SCOPE and self.predicted == FALLBACK)


def accuracy(predictions: Sequence[Prediction]) -> float:
    return sum(p.correct for p in predictions) / len(predictions) if predictions else 0.0


def out_of_scope_recall(predictions: Sequence[Prediction]) -> float:
    oos = [p for p in predictions if p.expected == OUT_OF_SCOPE]
    return sum(p.correct for p in oos) / len(oos) if oos else 0.0


def per_label(predictions: Sequence[Prediction], group_faq: bool = False) -> Dict[str, Dict[str, float]]:
    """Precision, recall, F1 and support per expected label (FAQ topics as `faq` when grouped)."""
    def label(name: str) -> str:
        name = OUT_OF_SCOPE if name == FALLBACK else name
        return "faq" if group_faq and name.startswith("faq/") else name

    pairs = [(label(p.expected), label(p.predicted)) for p in predictions]
    labels = sorted({e for e, _ in pairs})
    report = {}
    for name in labels:
        tp = sum(1 for e, g in pairs if e == name and g == name)
        predicted = sum(1 for _, g in pairs if g == name)
        support = sum(1 for e, _ in pairs if e == name)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                        "support": support}
    return report


def confusion(predictions: Sequence[Prediction], group_faq: bool = True) -> Tuple[List[str], List[List[int]]]:
    """Labels and the matrix: rows are expected labels, columns predicted ones."""
    def label(name: str) -> str:
        return "faq" if group_faq and name.startswith("faq/") else name

    counts = Counter((label(p.expected), label(p.predicted)) for p in predictions)
    labels = sorted({label(p.expected) for p in predictions} | {label(p.predicted) for p in predictions})
    return labels, [[counts[(row, column)] for column in labels] for row in labels]


def confidence_histogram(predictions: Sequence[Prediction], bins: int = 10) -> Dict[str, List[int]]:
    """How many right and wrong predictions fell in each confidence bin (0-0.1, ..., 0.9-1.0)."""
    right, wrong = [0] * bins, [0] * bins
    for p in predictions:
        index = min(bins - 1, max(0, int(p.confidence * bins)))
        (right if p.correct else wrong)[index] += 1
    return {"right": right, "wrong": wrong}


def with_threshold(predictions: Sequence[Prediction], threshold: float) -> List[Prediction]:
    """The predictions as they would be with another fallback threshold (from the raw best intent)."""
    result = []
    for p in predictions:
        raw, confidence = (p.raw_predicted or p.predicted), (p.raw_confidence or p.confidence)
        label = FALLBACK if raw == FALLBACK or confidence < threshold else raw
        result.append(Prediction(p.text, p.expected, label, confidence, raw, confidence))
    return result


SWEEP = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def threshold_sweep(predictions: Sequence[Prediction], thresholds: Sequence[float] = SWEEP) -> List[Dict[str, float]]:
    """Accuracy and out-of-scope recall for each fallback threshold (choose it on cross-validation data)."""
    rows = []
    for threshold in thresholds:
        moved = with_threshold(predictions, threshold)
        rows.append({"threshold": threshold, "accuracy": round(accuracy(moved), 4),
                     "out_of_scope_recall": round(out_of_scope_recall(moved), 4)})
    return rows

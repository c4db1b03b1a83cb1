"""Intent classification figures from (expected, predicted, confidence) triples (pure, no Rasa).

Out-of-scope detection counts a message as caught when the model says `out_of_scope` or falls
back (`nlu_fallback`): either way the customer hears what the bot can do instead of a wrong answer.

Calibration and "ask, don't guess" look at the classifier itself, before the FallbackClassifier:
its best label (`raw_predicted`) at its confidence, and the runner-up intent.
- Calibration: predictions binned by confidence; in each bin the share that is right should equal
  the mean confidence. ECE (expected calibration error) is the gap averaged over the bins, each
  weighted by its share of the messages: 0 is perfectly calibrated.
- Ask rates, as the pipeline's FallbackClassifier decides: a message *falls back* when the best
  confidence is below `threshold`; otherwise the customer is *asked* to choose when the best two
  intents are less than `ambiguity_threshold` apart; the rest are *answered*, and the accuracy
  that matters is the accuracy on those.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from careline.nlu.clarification import clarification

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
    second_predicted: str = ""    # the runner-up intent (FAQ: its best topic), "" when there is none
    second_confidence: float = 0.0

    @property
    def correct(self) -> bool:
        return self.predicted == self.expected or (self.expected == OUT_OF_SCOPE and self.predicted == FALLBACK)

    @property
    def best(self) -> Tuple[str, float]:
        """The classifier's own best label and confidence (before any fallback)."""
        if self.raw_predicted:
            return self.raw_predicted, self.raw_confidence
        return self.predicted, self.confidence

    @property
    def best_correct(self) -> bool:
        """Whether the classifier's own best label is the expected one."""
        return self.best[0] == self.expected


def accuracy(predictions: Sequence[Prediction]) -> float:
    return sum(p.correct for p in predictions) / len(predictions) if predictions else 0.0


def out_of_scope_recall(predictions: Sequence[Prediction]) -> float:
    oos = [p for p in predictions if p.expected == OUT_OF_SCOPE]
    return sum(p.correct for p in oos) / len(oos) if oos else 0.0


def in_scope_accuracy(predictions: Sequence[Prediction]) -> float:
    """Accuracy on the messages whose expected label is not out_of_scope."""
    return accuracy([p for p in predictions if p.expected != OUT_OF_SCOPE])


def has_out_of_scope(predictions: Sequence[Prediction]) -> bool:
    return any(p.expected == OUT_OF_SCOPE for p in predictions)


def has_in_scope(predictions: Sequence[Prediction]) -> bool:
    return any(p.expected != OUT_OF_SCOPE for p in predictions)


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


def _by_confidence(predictions: Sequence[Prediction], bins: int) -> List[List[Prediction]]:
    grouped: List[List[Prediction]] = [[] for _ in range(bins)]
    for p in predictions:
        grouped[min(bins - 1, max(0, int(p.best[1] * bins)))].append(p)
    return grouped


def reliability(predictions: Sequence[Prediction], bins: int = 10) -> List[Dict[str, float]]:
    """Per confidence bin ([0, 0.1), ..., [0.9, 1.0]): messages, mean confidence and accuracy of the
    classifier's own best label (empty bins have count 0 and no confidence or accuracy)."""
    grouped = _by_confidence(predictions, bins)
    rows = []
    for index, members in enumerate(grouped):
        row: Dict[str, float] = {"lower": round(index / bins, 4), "upper": round((index + 1) / bins, 4),
                                 "count": len(members)}
        if members:
            row["confidence"] = round(sum(p.best[1] for p in members) / len(members), 4)
            row["accuracy"] = round(sum(p.best_correct for p in members) / len(members), 4)
        rows.append(row)
    return rows


def expected_calibration_error(predictions: Sequence[Prediction], bins: int = 10) -> float:
    """ECE: sum over the confidence bins of (share of messages) x |accuracy - mean confidence|."""
    grouped = _by_confidence(predictions, bins)
    total = len(predictions)
    if not total:
        return 0.0
    return sum(abs(sum(p.best_correct for p in members) - sum(p.best[1] for p in members)) / total
               for members in grouped if members)


def decision(p: Prediction, threshold: float, ambiguity_threshold: float) -> str:
    """What the bot does with the message: "fallback", "ask" or "answer". A near tie is asked about only
    when careline.nlu.clarification.clarification offers both as buttons (two requests); otherwise the
    customer gets the fallback's "say it another way"."""
    label, confidence = p.best
    if label == FALLBACK or confidence < threshold:
        return "fallback"
    if p.second_predicted and confidence - p.second_confidence < ambiguity_threshold:
        pairs = ((label, confidence), (p.second_predicted, p.second_confidence))
        topic = next((name for name, _ in pairs if name.startswith("faq/")), None)
        ranking = [(name.split("/", 1)[0], value) for name, value in pairs]
        return "ask" if clarification(ranking, topic, threshold, ambiguity_threshold) else "fallback"
    return "answer"


def ask_rates(predictions: Sequence[Prediction], threshold: float, ambiguity_threshold: float) -> Dict[str, float]:
    """Shares of the messages that fall back, that are asked to choose between the top two, that are
    answered; the accuracy on the answered ones and the share answered wrongly (a guess that missed)."""
    decided = [(p, decision(p, threshold, ambiguity_threshold)) for p in predictions]
    answered = [p for p, d in decided if d == "answer"]
    total = len(predictions) or 1
    right = sum(p.best_correct for p in answered)
    return {
        "fallback_rate": round(sum(d == "fallback" for _, d in decided) / total, 4),
        "ask_rate": round(sum(d == "ask" for _, d in decided) / total, 4),
        "answered_rate": round(len(answered) / total, 4),
        "answered_accuracy": round(right / len(answered), 4) if answered else 0.0,
        "wrong_answer_rate": round((len(answered) - right) / total, 4),
    }


def with_threshold(predictions: Sequence[Prediction], threshold: float) -> List[Prediction]:
    """The predictions as they would be with another fallback threshold (from the raw best intent)."""
    result = []
    for p in predictions:
        raw, confidence = (p.raw_predicted or p.predicted), (p.raw_confidence or p.confidence)
        label = FALLBACK if raw == FALLBACK or confidence < threshold else raw
        result.append(Prediction(p.text, p.expected, label, confidence, raw, confidence,
                                 p.second_predicted, p.second_confidence))
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

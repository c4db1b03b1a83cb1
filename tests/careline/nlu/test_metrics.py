"""Intent figures, the regression gate and the cross-validation folds."""
from __future__ import annotations

from careline.nlu.metrics import Prediction, accuracy, confidence_histogram, confusion, out_of_scope_recall, per_label
from ops.evaluate import gate
from ops.nlu_eval import folds, label_of

PREDICTIONS = [
    Prediction("hi", "greet", "greet", 0.95),
    Prediction("yo", "greet", "nlu_fallback", 0.40),
    Prediction("weather?", "out_of_scope", "nlu_fallback", 0.38),
    Prediction("joke", "out_of_scope", "faq/warranty", 0.61),
    Prediction("ship cost", "faq/shipping_costs", "faq/shipping_costs", 0.9),
    Prediction("ship time", "faq/shipping_times", "faq/shipping_costs", 0.7),
]


def test_accuracy_counts_a_fallback_on_out_of_scope_as_caught():
    assert accuracy(PREDICTIONS) == 3 / 6
    assert out_of_scope_recall(PREDICTIONS) == 0.5
    assert accuracy([]) == 0.0 and out_of_scope_recall(PREDICTIONS[:2]) == 0.0


def test_per_label_figures_group_faq_topics_when_asked():
    grouped = per_label(PREDICTIONS, group_faq=True)
    assert grouped["faq"] == {"precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2}
    assert grouped["greet"]["recall"] == 0.5 and grouped["greet"]["precision"] == 1.0
    topics = per_label(PREDICTIONS)
    assert topics["faq/shipping_times"]["recall"] == 0.0 and topics["faq/shipping_costs"]["precision"] == 0.5


def test_confusion_rows_are_expected_and_columns_predicted():
    labels, matrix = confusion(PREDICTIONS)
    assert sum(map(sum, matrix)) == len(PREDICTIONS)
    assert matrix[labels.index("faq")][labels.index("faq")] == 2
    assert matrix[labels.index("greet")][labels.index("nlu_fallback")] == 1


def test_confidence_histogram_splits_right_and_wrong():
    histogram = confidence_histogram(PREDICTIONS)
    assert sum(histogram["right"]) == 3 and sum(histogram["wrong"]) == 3
    assert histogram["right"][9] == 2 and histogram["wrong"][6] == 1


def test_gate_lists_every_figure_below_its_floor():
    floors = {"intents": {"heldout_accuracy": 0.95, "cv_accuracy": 0.8}, "frustration": {"f1": 0.9}}
    figures = {"intents.heldout_accuracy": 0.917, "frustration.f1": 0.95, "intents.cv_accuracy": 0.85}
    assert gate(figures, floors) == ["intents.heldout_accuracy 0.917 < 0.950"]


class Message(dict):
    pass


def test_folds_are_stratified_disjoint_and_complete():
    messages = [Message(text=f"m{i}", intent="a" if i < 10 else "b") for i in range(15)]
    parts = folds(messages, k=5)
    assert sorted(m["text"] for part in parts for m in part) == sorted(m["text"] for m in messages)
    assert all(sum(1 for m in part if m["intent"] == "a") == 2 for part in parts)
    assert folds(messages, k=5) == parts, "seeded: the same folds every run"


def test_the_faq_topic_comes_from_the_response_selector():
    parsed = {"intent": {"name": "faq"}, "response_selector": {"faq": {"response": {
        "intent_response_key": "faq/warranty"}}}}
    assert label_of(parsed) == "faq/warranty" and label_of({"intent": {"name": "greet"}}) == "greet"


def test_a_threshold_sweep_replays_the_fallback_from_the_raw_intent():
    from careline.nlu.metrics import threshold_sweep, with_threshold

    raw = [Prediction("yo", "greet", "nlu_fallback", 0.4, "greet", 0.33),
           Prediction("weather", "out_of_scope", "nlu_fallback", 0.4, "faq/warranty", 0.2),
           Prediction("hi", "greet", "greet", 0.9, "greet", 0.9)]
    assert [p.predicted for p in with_threshold(raw, 0.3)] == ["greet", "nlu_fallback", "greet"]
    sweep = {row["threshold"]: row for row in threshold_sweep(raw, (0.1, 0.3, 0.5))}
    assert sweep[0.3]["accuracy"] == 1.0 and sweep[0.1]["out_of_scope_recall"] == 0.0
    assert sweep[0.5]["accuracy"] == 0.6667

"""Calibration (reliability bins, ECE), the "ask, don't guess" rates, the runner-up from Rasa's parse,
the FallbackClassifier settings from config.yml and the gate's treatment of unmeasured figures."""
from __future__ import annotations

import pytest

from careline.nlu.metrics import (
    Prediction,
    ask_rates,
    decision,
    expected_calibration_error,
    in_scope_accuracy,
    reliability,
    with_threshold,
)
from ops.evaluate import figures_of, gate, markdown, nlu_report, not_gated
from ops.nlu_eval import EVAL_SETS, fallback_settings, prediction_of


def p(expected: str, best: str, confidence: float, second: str = "", second_confidence: float = 0.0,
      predicted: str = "") -> Prediction:
    return Prediction("text", expected, predicted or best, confidence, best, confidence, second, second_confidence)


def test_reliability_bins_hold_mean_confidence_and_accuracy():
    predictions = [p("a", "a", 0.95), p("a", "b", 0.91), p("a", "a", 0.35), p("a", "a", 1.0)]
    rows = reliability(predictions, bins=10)
    assert len(rows) == 10 and [r["count"] for r in rows] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 3]
    assert rows[9] == {"lower": 0.9, "upper": 1.0, "count": 3, "confidence": 0.9533, "accuracy": 0.6667}
    assert rows[3]["accuracy"] == 1.0 and "accuracy" not in rows[0], "an empty bin has no accuracy"


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy():
    assert expected_calibration_error([]) == 0.0
    perfect = [p("a", "a", 0.75), p("a", "a", 0.75), p("a", "a", 0.75), p("a", "b", 0.75)]
    assert expected_calibration_error(perfect) == pytest.approx(0.0)
    # bin 0.9: confidence 0.9, accuracy 0.5 (gap 0.4, half the messages); bin 0.3: 0.3 vs 1.0 (0.7, half)
    mixed = [p("a", "a", 0.9), p("a", "b", 0.9), p("a", "a", 0.3), p("a", "a", 0.3)]
    assert expected_calibration_error(mixed) == pytest.approx(0.5 * 0.4 + 0.5 * 0.7)


def test_calibration_uses_the_classifier_best_label_not_the_fallback():
    fell_back = Prediction("yo", "greet", "nlu_fallback", 0.35, "greet", 0.3)
    assert reliability([fell_back])[3]["accuracy"] == 1.0
    old_style = Prediction("hi", "greet", "greet", 0.8)  # no raw fields: the final label is the best one
    assert reliability([old_style])[8] == {"lower": 0.8, "upper": 0.9, "count": 1, "confidence": 0.8, "accuracy": 1.0}


def test_decision_follows_the_fallback_classifier():
    assert decision(p("a", "a", 0.30, "b", 0.1), 0.35, 0.05) == "fallback"
    assert decision(p("return_item", "request_refund", 0.40, "return_item", 0.36), 0.35, 0.05) == "ask", \
        "gap 0.04 < 0.05, two requests the bot offers as buttons"
    assert decision(p("faq/warranty", "faq/warranty", 0.40, "return_item", 0.36), 0.35, 0.05) == "ask"
    assert decision(p("a", "a", 0.40, "b", 0.36), 0.35, 0.05) == "fallback", \
        "a near tie the bot cannot offer as two buttons (a greeting, yes/no) gets the fallback"
    assert decision(p("a", "a", 0.40, "b", 0.35), 0.35, 0.05) == "answer", "gap 0.05 is not below 0.05"
    assert decision(p("a", "a", 0.34, "b", 0.33), 0.35, 0.05) == "fallback", "falling back comes first"
    assert decision(p("a", "a", 0.36), 0.35, 0.05) == "answer", "no runner-up, nothing to choose between"
    assert decision(Prediction("x", "a", "nlu_fallback", 0.35), 0.35, 0.05) == "fallback"


def test_ask_rates_split_the_messages_and_score_the_answered_ones():
    predictions = [
        p("a", "a", 0.20, "b", 0.10),    # falls back
        p("request_refund", "return_item", 0.50, "request_refund", 0.48),    # asked to choose
        p("a", "a", 0.90, "b", 0.05),    # answered right
        p("out_of_scope", "out_of_scope", 0.80, "a", 0.1),   # answered right: "I can't help with that"
        p("a", "c", 0.70, "a", 0.20),    # answered wrongly
    ]
    assert ask_rates(predictions, threshold=0.35, ambiguity_threshold=0.05) == {
        "fallback_rate": 0.2, "ask_rate": 0.2, "answered_rate": 0.6, "answered_accuracy": 0.6667,
        "wrong_answer_rate": 0.2}
    assert ask_rates([], 0.35, 0.05)["answered_accuracy"] == 0.0


def test_in_scope_accuracy_leaves_out_of_scope_messages_out():
    predictions = [p("a", "a", 0.9), p("a", "b", 0.9), p("out_of_scope", "a", 0.9), p("out_of_scope", "a", 0.9)]
    assert in_scope_accuracy(predictions) == 0.5


def test_a_threshold_replay_keeps_the_runner_up():
    moved = with_threshold([p("a", "a", 0.4, "b", 0.38)], 0.5)
    assert moved[0].predicted == "nlu_fallback"
    assert (moved[0].second_predicted, moved[0].second_confidence) == ("b", 0.38)


def test_the_runner_up_comes_from_the_intent_ranking_without_the_fallback():
    parsed = {
        "intent": {"name": "nlu_fallback", "confidence": 0.35},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.35}, {"name": "greet", "confidence": 0.33},
                           {"name": "faq", "confidence": 0.31}, {"name": "bye", "confidence": 0.1}],
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/hours"}}},
    }
    found = prediction_of("yo", "greet", parsed)
    assert (found.predicted, found.raw_predicted, found.raw_confidence) == ("nlu_fallback", "greet", 0.33)
    assert (found.second_predicted, found.second_confidence) == ("faq/hours", 0.31), "the FAQ runner-up is its topic"
    alone = prediction_of("hi", "greet", {"intent": {"name": "greet", "confidence": 0.9},
                                          "intent_ranking": [{"name": "greet", "confidence": 0.9}]})
    assert (alone.second_predicted, alone.second_confidence) == ("", 0.0)


def test_fallback_settings_are_read_from_config(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n"
                      "  - name: FallbackClassifier\n    threshold: 0.42\n    ambiguity_threshold: 0.07\n")
    assert fallback_settings(config) == (0.42, 0.07)
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n")
    assert fallback_settings(config) == (0.0, 0.0), "no FallbackClassifier: nothing falls back"


def test_the_project_config_has_the_thresholds_make_eval_uses():
    threshold, ambiguity = fallback_settings()
    assert 0 < threshold < 1 and 0 <= ambiguity < 1


def test_every_set_is_test_or_dev():
    kinds = {name: kind for name, (kind, _) in EVAL_SETS.items()}
    assert set(kinds.values()) <= {"test", "dev"}
    assert kinds["frozen"] == kinds["realdata_test"] == "test"
    assert kinds["nlu_test"] == "dev", "the old test set leaked: it is a development set now"


def test_a_floor_without_its_figure_fails_unless_its_set_file_is_missing():
    floors = {"intents": {"heldout_accuracy": 0.95, "cv_accuracy": 0.8, "frozen_accuracy": 0.8,
                          "tset_accuracy": 0.8},
              "frustration": {"f1": 0.9}}
    figures = {"intents.heldout_accuracy": 0.917, "frustration.f1": 0.95}
    absent = {"intents.frozen_": "tests/data/nlu_frozen.yml does not exist"}
    failures = gate(figures, floors, absent)
    assert failures[0] == "intents.heldout_accuracy 0.917 < 0.950"
    assert [f.split(" ")[0] for f in failures[1:]] == ["intents.cv_accuracy", "intents.tset_accuracy"]
    assert all("was not measured" in f for f in failures[1:])
    assert not_gated(floors, absent) == ["intents.frozen_accuracy (tests/data/nlu_frozen.yml does not exist)"]
    assert gate({"intents.heldout_accuracy": 0.96}, {"intents": {"heldout_accuracy": 0.95}}) == []


def test_a_figure_a_set_cannot_have_is_not_measured_so_its_floor_fails():
    report = nlu_report([p("a", "a", 0.9, "b", 0.05)], "test", 0.35, 0.05)
    assert report["out_of_scope_recall"] is None and "errors" not in report, "no errors of a test set"
    figures = figures_of("intents", "x", report, ("accuracy", "out_of_scope_recall"))
    assert figures == {"intents.x_accuracy": 1.0}
    assert gate(figures, {"intents": {"x_out_of_scope_recall": 0.8}})[0].startswith("intents.x_out_of_scope_recall")


def test_the_report_names_each_set_kind_and_date_and_hides_test_errors():
    dev = nlu_report([p("a", "b", 0.9, "a", 0.05)], "dev", 0.35, 0.05)
    test = nlu_report([Prediction("secret words", "a", "b", 0.9, "b", 0.9, "a", 0.05)], "test", 0.35, 0.05)
    text = markdown({"nlu_test": dev, "frozen": test}, {}, "2026-12-02 10:00 UTC", "m.tar.gz",
                    {"intents.realdata_test_": "tests/data/realdata_test.yml does not exist"})
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[0].startswith("| `frozen` | **test** | no: never tuned on") and rows[0].endswith("| 2026-12-02 |")
    assert rows[1].startswith("| `nlu_test` | **dev** | yes")
    assert rows[2].startswith("| `realdata_test` | | | not measured: tests/data/realdata_test.yml does not exist")
    assert "Errors are not listed" in text and "secret words" not in text

"""`make eval`: measure what the assistant understands on data it was not trained on.

- Intents on the held-out sets (tests/data/nlu_heldout.yml, nlu_heldout2.yml and nlu_test.yml, never
  trained on; the first two are development sets, nlu_test.yml is never tuned on)
  with the current model: accuracy, out-of-scope recall, per-intent precision/recall/F1, a
  confusion matrix and a confidence histogram.
- Intents in 5-fold cross-validation over data/nlu (five NLU models trained here).
- The frustration scorer on tests/data/frustration_heldout.yml (precision, recall, F1).
Reports go to reports/; the run fails when a figure falls below its floor in quality.yml.

    python -m ops.evaluate [--no-cv]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import yaml

from careline import frustration, nlu_metrics
from careline.nlu_metrics import Prediction
from careline.settings import PROJECT_ROOT

REPORTS = PROJECT_ROOT / "reports"
FRUSTRATION_HELDOUT = PROJECT_ROOT / "tests" / "data" / "frustration_heldout.yml"
FRUSTRATION_TRAIN = PROJECT_ROOT / "data" / "frustration" / "train.yml"


def frustration_report() -> Dict[str, object]:
    thresholds = frustration.Thresholds.from_mapping(
        yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text()).get("frustration"))
    model = frustration.train(*frustration.load_labelled(yaml.safe_load(FRUSTRATION_TRAIN.read_text())))
    frustrated, calm = frustration.load_labelled(yaml.safe_load(FRUSTRATION_HELDOUT.read_text()))
    cut = thresholds.medium
    missed: List[str] = [t for t in frustrated if model.score(t) < cut]
    false_alarms: List[str] = [t for t in calm if model.score(t) >= cut]
    tp = len(frustrated) - len(missed)
    precision = tp / max(tp + len(false_alarms), 1)
    recall = tp / max(len(frustrated), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return {
        "heldout_messages": len(frustrated) + len(calm), "threshold": cut,
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
        "missed": missed, "false_alarms": false_alarms,
    }


def nlu_report(predictions: Sequence[Prediction]) -> Dict[str, Any]:
    labels, matrix = nlu_metrics.confusion(predictions)
    return {
        "messages": len(predictions),
        "accuracy": round(nlu_metrics.accuracy(predictions), 4),
        "out_of_scope_recall": round(nlu_metrics.out_of_scope_recall(predictions), 4),
        "per_intent": nlu_metrics.per_label(predictions, group_faq=True),
        "per_faq_topic": {k: v for k, v in nlu_metrics.per_label(predictions).items() if k.startswith("faq/")},
        "confusion": {"labels": labels, "matrix": matrix},
        "confidence_histogram": nlu_metrics.confidence_histogram(predictions),
        "errors": [{"text": p.text, "expected": p.expected, "predicted": p.predicted,
                    "confidence": round(p.confidence, 3)} for p in predictions if not p.correct],
    }


def plot(report: Dict[str, Any], name: str) -> List[Path]:
    """The confusion matrix and the confidence histogram as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = report["confusion"]["labels"], report["confusion"]["matrix"]
    figure, axes = plt.subplots(figsize=(11, 9))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")
    for row, values in enumerate(matrix):
        for column, value in enumerate(values):
            if value:
                axes.text(column, row, str(value), ha="center", va="center", fontsize=7,
                          color="white" if value > max(map(max, matrix)) / 2 else "black")
    axes.set_title(f"Intent confusion ({name}): accuracy {report['accuracy']:.1%}")
    figure.tight_layout()
    confusion_png = REPORTS / f"confusion_{name}.png"
    figure.savefig(confusion_png, dpi=110)
    plt.close(figure)

    histogram = report["confidence_histogram"]
    bins = [f"{i / 10:.1f}" for i in range(len(histogram["right"]))]
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.bar(bins, histogram["right"], label="right", color="#2b7a3d")
    axes.bar(bins, histogram["wrong"], bottom=histogram["right"], label="wrong", color="#c0392b")
    axes.set_xlabel("intent confidence (bin start)")
    axes.set_ylabel("messages")
    axes.set_title(f"Confidence of intent predictions ({name})")
    axes.legend()
    figure.tight_layout()
    histogram_png = REPORTS / f"confidence_{name}.png"
    figure.savefig(histogram_png, dpi=110)
    plt.close(figure)
    return [confusion_png, histogram_png]


def markdown(sets: Dict[str, Dict[str, Any]], cv: Dict[str, Any], frustration_figures: Dict[str, Any]) -> str:
    lines = ["# Careline evaluation", ""]
    for name, report in sets.items():
        lines.append(f"- held-out set `{name}`: {report['messages']} messages, accuracy **{report['accuracy']:.1%}**, "
                     f"out-of-scope recall **{report['out_of_scope_recall']:.1%}**")
    if cv:
        lines.append(f"- 5-fold cross-validation: {cv['messages']} messages, accuracy **{cv['accuracy']:.1%}**, "
                     f"out-of-scope recall **{cv['out_of_scope_recall']:.1%}**")
    lines += [f"- frustration (held-out): precision {frustration_figures['precision']:.3f}, "
              f"recall {frustration_figures['recall']:.3f}, F1 {frustration_figures['f1']:.3f}", ""]
    for name, report in sets.items():
        lines += [f"## Held-out set `{name}`", "", "| intent | precision | recall | F1 | support |",
                  "|---|---|---|---|---|"]
        lines += [f"| {intent} | {f['precision']:.2f} | {f['recall']:.2f} | {f['f1']:.2f} | {f['support']} |"
                  for intent, f in report["per_intent"].items()]
        lines += ["", "Errors:", ""]
        lines += [f"- \"{e['text']}\": expected {e['expected']}, got {e['predicted']} ({e['confidence']:.2f})"
                  for e in report["errors"]]
        lines.append("")
    return "\n".join(lines) + "\n"


def gate(figures: Dict[str, float], floors: Dict[str, Dict[str, float]]) -> List[str]:
    """Every figure below its floor, as a message; the floors' keys are 'section.figure'."""
    failures = []
    for section, section_floors in floors.items():
        for name, floor in (section_floors or {}).items():
            key = f"{section}.{name}"
            if key not in figures:
                continue
            if figures[key] < float(floor):
                failures.append(f"{key} {figures[key]:.3f} < {float(floor):.3f}")
    return failures


def main(argv: List[str]) -> int:
    from ops import nlu_eval
    from ops.train import model_path

    started = time.monotonic()
    REPORTS.mkdir(exist_ok=True)
    model = model_path(PROJECT_ROOT)
    if not model.exists():
        print(f"eval: no model for the current data ({model.name}); run `make train`", file=sys.stderr)
        return 2
    print("eval: frustration scorer on held-out messages ...", flush=True)
    frustration_figures = frustration_report()
    (REPORTS / "frustration.json").write_text(json.dumps(frustration_figures, indent=2))
    print(f"  precision {frustration_figures['precision']:.3f}  recall {frustration_figures['recall']:.3f}  "
          f"F1 {frustration_figures['f1']:.3f} on {frustration_figures['heldout_messages']} messages")

    sets: Dict[str, Dict[str, Any]] = {}
    for name, path in nlu_eval.HELDOUT_SETS.items():
        print(f"eval: intents on {path.relative_to(PROJECT_ROOT)} with {model.name} ...", flush=True)
        sets[name] = nlu_report(nlu_eval.predict(model, nlu_eval.heldout_messages(path)))
        (REPORTS / f"nlu_{name}.json").write_text(json.dumps(sets[name], indent=2))
        plot(sets[name], name)
        print(f"  accuracy {sets[name]['accuracy']:.3f}  out-of-scope recall "
              f"{sets[name]['out_of_scope_recall']:.3f} on {sets[name]['messages']} messages "
              f"({len(sets[name]['errors'])} errors)")

    cv: Dict[str, Any] = {}
    if "--no-cv" not in argv:
        print("eval: 5-fold cross-validation over data/nlu (trains five NLU models) ...", flush=True)
        cv_predictions = nlu_eval.cross_validate(progress=lambda line: print(line, flush=True))
        cv = nlu_report(cv_predictions)
        cv["fallback_threshold_sweep"] = nlu_metrics.threshold_sweep(cv_predictions)
        best = max(cv["fallback_threshold_sweep"], key=lambda row: (row["accuracy"], row["threshold"]))
        print(f"  the fallback threshold that gives the best cross-validated accuracy: {best['threshold']} "
              f"({best['accuracy']:.3f}; out-of-scope recall {best['out_of_scope_recall']:.3f})")
        (REPORTS / "nlu_cv.json").write_text(json.dumps(cv, indent=2))
        plot(cv, "cv")
        print(f"  accuracy {cv['accuracy']:.3f}  out-of-scope recall {cv['out_of_scope_recall']:.3f} "
              f"on {cv['messages']} messages")
    (REPORTS / "evaluation.md").write_text(markdown(sets, cv, frustration_figures))

    figures = {"frustration.f1": frustration_figures["f1"], "frustration.precision": frustration_figures["precision"],
               "frustration.recall": frustration_figures["recall"]}
    for name, report in sets.items():
        figures.update({f"intents.{name}_accuracy": report["accuracy"],
                        f"intents.{name}_out_of_scope_recall": report["out_of_scope_recall"]})
    if cv:
        figures.update({"intents.cv_accuracy": cv["accuracy"],
                        "intents.cv_out_of_scope_recall": cv["out_of_scope_recall"]})
    failures = gate(figures, yaml.safe_load((PROJECT_ROOT / "quality.yml").read_text()) or {})
    for failure in failures:
        print(f"  BELOW FLOOR: {failure}")
    print(f"eval: {'FAILED' if failures else 'OK'} in {time.monotonic() - started:.0f}s "
          "(reports/evaluation.md, reports/*.json, reports/*.png)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`make eval`: measure what the assistant understands on data it was not trained on.

- Intents on every labelled set of ops.nlu_eval.EVAL_SETS with the current model. Each set is
  `test` (never tuned on: the honest figures) or `dev` (tuned on: optimistic figures). Per set:
  accuracy, in-scope accuracy, out-of-scope recall, per-intent precision/recall/F1, a confusion
  matrix, calibration (a reliability diagram and the expected calibration error) and the
  "ask, don't guess" rates with the FallbackClassifier's thresholds from config.yml.
- Intents in k-fold cross-validation over data/nlu (kind `cv`; 5 folds unless --cv-folds).
- The frustration scorer on ops.nlu_eval.FRUSTRATION_SETS (precision, recall, F1).
Reports go to reports/ (evaluation.md, *.json, *.png); the run fails when a figure is below its
floor in quality.yml, or a floor's figure was not measured (unless its set's file does not exist).
Test sets' individual errors are not written anywhere: nobody may look at them.

    python -m ops.evaluate [--no-cv] [--cv-folds N] [--model PATH]

--no-cv is for a quick look: the CV's floors then fail as not measured. --model evaluates another
model than the one for the current data (the CV always trains on the current data and config).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import yaml

from careline.nlu import frustration_model as frustration
from careline.nlu import metrics as nlu_metrics
from careline.nlu import pipeline_config
from careline.nlu.metrics import Prediction
from careline.shared.clock import utcnow
from careline.shared.settings import PROJECT_ROOT

REPORTS = PROJECT_ROOT / "reports"
FRUSTRATION_TRAIN = PROJECT_ROOT / "data" / "frustration" / "train.yml"
FRUSTRATION_REAL = PROJECT_ROOT / "data" / "frustration" / "real.yml"
CV = "cv"
CV_FOLDS = 5
# The figures of an intent set that quality.yml can name as intents.<set>_<figure>.
NLU_FIGURES = ("accuracy", "in_scope_accuracy", "out_of_scope_recall", "ece", "fallback_rate", "ask_rate",
               "answered_accuracy", "wrong_answer_rate")
FRUSTRATION_FIGURES = ("precision", "recall", "f1")
KIND_NOTE = {"test": "no: never tuned on", "dev": "yes: errors looked at", CV: "yes: the training data"}


# --- frustration --------------------------------------------------------------------------------


def train_frustration() -> frustration.FrustrationModel:
    """The frustration scorer as the pipeline trains it: the one place to adapt when
    careline.nlu.frustration_model's training changes (train_from adds the real data of `make data`)."""
    own = yaml.safe_load(FRUSTRATION_TRAIN.read_text())
    real = yaml.safe_load(FRUSTRATION_REAL.read_text()) if FRUSTRATION_REAL.exists() else None
    scorer = pipeline_config.component("FrustrationScorer")
    return frustration.train_from(own, real, frustration.TrainingSettings.from_mapping(scorer))


def frustration_report(model: frustration.FrustrationModel, path: Path, kind: str) -> Dict[str, Any]:
    """Precision, recall and F1 of "frustrated" (score at or above policy.yml's medium threshold)."""
    thresholds = frustration.Thresholds.from_settings()
    frustrated, calm = frustration.load_labelled(yaml.safe_load(path.read_text()))
    cut = thresholds.medium
    missed: List[str] = [t for t in frustrated if model.score(t) < cut]
    false_alarms: List[str] = [t for t in calm if model.score(t) >= cut]
    tp = len(frustrated) - len(missed)
    precision = tp / max(tp + len(false_alarms), 1)
    recall = tp / max(len(frustrated), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    report: Dict[str, Any] = {
        "kind": kind, "messages": len(frustrated) + len(calm), "threshold": cut,
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
    }
    if kind != "test":  # nobody looks at a test set's errors
        report.update(missed=missed, false_alarms=false_alarms)
    return report


# --- intents ------------------------------------------------------------------------------------


def nlu_report(predictions: Sequence[Prediction], kind: str, threshold: float,
               ambiguity_threshold: float) -> Dict[str, Any]:
    """Every figure of one set. A figure the set cannot have (out-of-scope recall without
    out-of-scope messages) is None."""
    labels, matrix = nlu_metrics.confusion(predictions)
    report: Dict[str, Any] = {
        "kind": kind,
        "messages": len(predictions),
        "accuracy": round(nlu_metrics.accuracy(predictions), 4),
        "in_scope_accuracy": (round(nlu_metrics.in_scope_accuracy(predictions), 4)
                              if nlu_metrics.has_in_scope(predictions) else None),
        "out_of_scope_recall": (round(nlu_metrics.out_of_scope_recall(predictions), 4)
                                if nlu_metrics.has_out_of_scope(predictions) else None),
        "ece": round(nlu_metrics.expected_calibration_error(predictions), 4),
        "fallback_threshold": threshold, "ambiguity_threshold": ambiguity_threshold,
        **nlu_metrics.ask_rates(predictions, threshold, ambiguity_threshold),
        "per_intent": nlu_metrics.per_label(predictions, group_faq=True),
        "per_faq_topic": {k: v for k, v in nlu_metrics.per_label(predictions).items() if k.startswith("faq/")},
        "confusion": {"labels": labels, "matrix": matrix},
        "reliability": nlu_metrics.reliability(predictions),
        "confidence_histogram": nlu_metrics.confidence_histogram(predictions),
    }
    if kind != "test":  # nobody looks at a test set's errors
        report["errors"] = [{"text": p.text, "expected": p.expected, "predicted": p.predicted,
                             "confidence": round(p.confidence, 3)} for p in predictions if not p.correct]
    return report


def plot(report: Dict[str, Any], name: str) -> List[Path]:
    """The confusion matrix and the reliability diagram (with the messages per bin) as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title = f"{name} ({report['kind']})"
    labels, matrix = report["confusion"]["labels"], report["confusion"]["matrix"]
    figure, axes = plt.subplots(figsize=(11, 9))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")
    top = max((max(row) for row in matrix), default=0)
    for row, values in enumerate(matrix):
        for column, value in enumerate(values):
            if value:
                axes.text(column, row, str(value), ha="center", va="center", fontsize=7,
                          color="white" if value > top / 2 else "black")
    axes.set_title(f"Intent confusion, {title}: accuracy {report['accuracy']:.1%}")
    figure.tight_layout()
    confusion_png = REPORTS / f"confusion_{name}.png"
    figure.savefig(confusion_png, dpi=110)
    plt.close(figure)

    rows = report["reliability"]
    width = rows[0]["upper"] - rows[0]["lower"] if rows else 0.1
    centres = [(row["lower"] + row["upper"]) / 2 for row in rows]
    figure, (upper, lower) = plt.subplots(2, 1, figsize=(7, 8), sharex=True,
                                          gridspec_kw={"height_ratios": [3, 1]})
    upper.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    filled = [(c, row) for c, row in zip(centres, rows) if row["count"]]
    upper.bar([c for c, _ in filled], [row["accuracy"] for _, row in filled], width=width * 0.9,
              color="#2b6ca3", edgecolor="black", label="accuracy in the bin")
    upper.scatter([c for c, _ in filled], [row["confidence"] for _, row in filled], marker="_", s=400,
                  linewidths=2, color="#c0392b", zorder=3, label="mean confidence in the bin")
    upper.set_xlim(0, 1)
    upper.set_ylim(0, 1)
    upper.set_ylabel("accuracy of the best intent")
    upper.set_title(f"Reliability, {title}: ECE {report['ece']:.3f}")
    upper.legend(loc="upper left", fontsize=8)
    lower.bar(centres, [row["count"] for row in rows], width=width * 0.9, color="#7f8c8d")
    lower.axvline(report["fallback_threshold"], color="#c0392b",
                  label=f"fallback threshold {report['fallback_threshold']}")
    lower.set_xlabel("confidence of the best intent")
    lower.set_ylabel("messages")
    lower.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    reliability_png = REPORTS / f"reliability_{name}.png"
    figure.savefig(reliability_png, dpi=110)
    plt.close(figure)
    return [confusion_png, reliability_png]


# --- the report ---------------------------------------------------------------------------------


def percent(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def set_name(prefix: str) -> str:
    """'intents.frozen_' -> 'frozen'."""
    return prefix.split(".", 1)[-1].rstrip("_")


def markdown(sets: Mapping[str, Dict[str, Any]], frustration_sets: Mapping[str, Dict[str, Any]], when: str,
             model: str, absent: Mapping[str, str]) -> str:
    """reports/evaluation.md: every figure with its set's kind and the date; test sets first."""
    order = {"test": 0, "dev": 1, CV: 2}
    ordered = sorted(sets.items(), key=lambda item: order.get(item[1]["kind"], 3))
    any_set = next(iter(sets.values()), {})
    lines = [
        "# Careline evaluation", "",
        f"Measured {when} with `{model}`. Kind **test**: never tuned on, nobody has looked at its errors: "
        "the honest figures. Kind **dev**: errors looked at and gaps filled (or it leaked into training): "
        "optimistic. Kind **cv**: cross-validation over the training data itself. Fallback threshold "
        f"{any_set.get('fallback_threshold', 'n/a')}, ambiguity threshold {any_set.get('ambiguity_threshold', 'n/a')} "
        "(config.yml).", "",
        "## Intents", "",
        "| set | kind | tuned on? | messages | accuracy | in-scope accuracy | out-of-scope recall | ECE "
        "| falls back | asked to choose | answered | accuracy when answered | answered wrongly | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    day = when.split(" ")[0]
    for name, r in ordered:
        lines.append(
            f"| `{name}` | **{r['kind']}** | {KIND_NOTE.get(r['kind'], '')}"
            f"{', ' + str(r['folds']) + ' folds' if r.get('folds') else ''} | {r['messages']} "
            f"| {percent(r['accuracy'])} | {percent(r['in_scope_accuracy'])} | {percent(r['out_of_scope_recall'])} "
            f"| {r['ece']:.3f} "
            f"| {percent(r['fallback_rate'])} | {percent(r['ask_rate'])} | {percent(r['answered_rate'])} "
            f"| {percent(r['answered_accuracy'])} | {percent(r['wrong_answer_rate'])} | {day} |")
    lines += [f"| `{set_name(prefix)}` | | | not measured: {reason} | | | | | | | | | | {day} |"
              for prefix, reason in absent.items() if prefix.startswith("intents.")]
    lines += ["", "Falls back: best confidence below the threshold. Asked to choose: the best two intents closer "
              "than the ambiguity threshold. Accuracy when answered: on the rest. Answered wrongly: share of all "
              "messages answered with a wrong intent (a guess that missed). ECE: expected calibration error of "
              "the classifier's confidence (0 is perfect).", "",
              "## Frustration", "", "| set | kind | tuned on? | messages | precision | recall | F1 | date |",
              "|---|---|---|---|---|---|---|---|"]
    for name, r in sorted(frustration_sets.items(), key=lambda item: order.get(item[1]["kind"], 3)):
        lines.append(f"| `{name}` | **{r['kind']}** | {KIND_NOTE.get(r['kind'], '')} | {r['messages']} "
                     f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {day} |")
    lines += [f"| `{set_name(prefix)}` | | | not measured: {reason} | | | | {day} |"
              for prefix, reason in absent.items() if prefix.startswith("frustration.")]
    lines.append("")
    for name, r in ordered:
        lines += [f"## `{name}` ({r['kind']}, {day})", "",
                  f"![confusion](confusion_{name}.png) ![reliability](reliability_{name}.png)", "",
                  "| intent | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {intent} | {f['precision']:.2f} | {f['recall']:.2f} | {f['f1']:.2f} | {f['support']} |"
                  for intent, f in r["per_intent"].items()]
        lines.append("")
        if r["kind"] == "test":
            lines += ["Errors are not listed: nobody looks at a test set's errors.", ""]
        else:
            lines += ["Errors:", ""]
            lines += [f"- \"{e['text']}\": expected {e['expected']}, got {e['predicted']} ({e['confidence']:.2f})"
                      for e in r["errors"]]
            lines.append("")
    return "\n".join(lines) + "\n"


# --- the gate -----------------------------------------------------------------------------------


def gate(figures: Mapping[str, float], floors: Mapping[str, Mapping[str, float]],
         absent: Optional[Mapping[str, str]] = None) -> List[str]:
    """Every figure below its floor, and every floor whose figure this run did not measure, as a
    message. The floors' keys are 'section.figure'. `absent` maps a set's figure prefix
    ('intents.frozen_') to why it was not measured: only a set whose file does not exist may be."""
    failures = []
    for section, section_floors in floors.items():
        for name, floor in (section_floors or {}).items():
            key = f"{section}.{name}"
            if key in figures and figures[key] is not None:
                if figures[key] < float(floor):
                    failures.append(f"{key} {figures[key]:.3f} < {float(floor):.3f}")
            elif not any(key.startswith(prefix) for prefix in absent or {}):
                failures.append(f"{key} was not measured (floor {float(floor):.3f}): a floor needs its figure; "
                                "fix the name in quality.yml or measure it")
    return failures


def not_gated(floors: Mapping[str, Mapping[str, float]], absent: Mapping[str, str]) -> List[str]:
    """The floors left out because their set's file does not exist, with the reason."""
    return [f"{section}.{name} ({reason})" for section, section_floors in floors.items()
            for name in (section_floors or {}) for prefix, reason in absent.items()
            if f"{section}.{name}".startswith(prefix)]


def figures_of(section: str, name: str, report: Mapping[str, Any], names: Sequence[str]) -> Dict[str, float]:
    return {f"{section}.{name}_{figure}": report[figure] for figure in names if report.get(figure) is not None}


# --- the run ------------------------------------------------------------------------------------


def option(argv: List[str], name: str) -> Optional[str]:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


def main(argv: List[str]) -> int:
    from ops import nlu_eval
    from ops.train import model_path

    started = time.monotonic()
    when = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    REPORTS.mkdir(exist_ok=True)
    model = Path(option(argv, "--model") or model_path(PROJECT_ROOT))
    folds = int(option(argv, "--cv-folds") or CV_FOLDS)
    if not model.exists():
        print(f"eval: no model for the current data ({model.name}); run `make train`", file=sys.stderr)
        return 2
    threshold, ambiguity = nlu_eval.fallback_settings()
    absent: Dict[str, str] = {}
    figures: Dict[str, float] = {}

    print("eval: frustration scorer ...", flush=True)
    scorer = train_frustration()
    frustration_sets: Dict[str, Dict[str, Any]] = {}
    for name, (kind, path) in nlu_eval.FRUSTRATION_SETS.items():
        if not path.exists():
            absent[f"frustration.{name}_"] = f"{path.relative_to(PROJECT_ROOT)} does not exist"
            continue
        report = frustration_sets[name] = frustration_report(scorer, path, kind)
        (REPORTS / f"frustration_{name}.json").write_text(json.dumps(report, indent=2))
        figures.update(figures_of("frustration", name, report, FRUSTRATION_FIGURES))
        print(f"  {name} ({kind}): precision {report['precision']:.3f}  recall {report['recall']:.3f}  "
              f"F1 {report['f1']:.3f} on {report['messages']} messages")

    present = {name: (kind, path) for name, (kind, path) in nlu_eval.EVAL_SETS.items() if path.exists()}
    for name, (_, path) in nlu_eval.EVAL_SETS.items():
        if name not in present:
            absent[f"intents.{name}_"] = f"{path.relative_to(PROJECT_ROOT)} does not exist"
    print(f"eval: intents on {len(present)} sets with {model.name} (fallback threshold {threshold}, "
          f"ambiguity threshold {ambiguity}) ...", flush=True)
    messages = {name: nlu_eval.heldout_messages(path) for name, (_, path) in present.items()}
    everything = nlu_eval.predict(model, [m for name in present for m in messages[name]])
    sets: Dict[str, Dict[str, Any]] = {}
    offset = 0
    for name, (kind, path) in present.items():
        predictions = everything[offset:offset + len(messages[name])]
        offset += len(messages[name])
        report = sets[name] = nlu_report(predictions, kind, threshold, ambiguity)
        (REPORTS / f"nlu_{name}.json").write_text(json.dumps(report, indent=2))
        plot(report, name)
        figures.update(figures_of("intents", name, report, NLU_FIGURES))
        print(f"  {name} ({kind}, {path.relative_to(PROJECT_ROOT)}): accuracy {percent(report['accuracy'])}, "
              f"in-scope {percent(report['in_scope_accuracy'])}, out-of-scope recall "
              f"{percent(report['out_of_scope_recall'])}, ECE {report['ece']:.3f}; falls back "
              f"{percent(report['fallback_rate'])}, asks {percent(report['ask_rate'])}, accuracy when answered "
              f"{percent(report['answered_accuracy'])} on {report['messages']} messages")

    if "--no-cv" not in argv:
        cv_started = time.monotonic()
        print(f"eval: {folds}-fold cross-validation over data/nlu (trains {folds} NLU models) ...", flush=True)
        cv_predictions = nlu_eval.cross_validate(folds, progress=lambda line: print(line, flush=True))
        cv = sets[CV] = nlu_report(cv_predictions, CV, threshold, ambiguity)
        cv["folds"] = folds
        cv["fallback_threshold_sweep"] = nlu_metrics.threshold_sweep(cv_predictions)
        best = max(cv["fallback_threshold_sweep"], key=lambda row: (row["accuracy"], row["threshold"]))
        print(f"  the fallback threshold that gives the best cross-validated accuracy: {best['threshold']} "
              f"({best['accuracy']:.3f}; out-of-scope recall {best['out_of_scope_recall']:.3f})")
        (REPORTS / "nlu_cv.json").write_text(json.dumps(cv, indent=2))
        plot(cv, CV)
        figures.update(figures_of("intents", CV, cv, NLU_FIGURES))
        print(f"  accuracy {percent(cv['accuracy'])}, in-scope {percent(cv['in_scope_accuracy'])}, out-of-scope "
              f"recall {percent(cv['out_of_scope_recall'])}, ECE {cv['ece']:.3f} on {cv['messages']} messages "
              f"({time.monotonic() - cv_started:.0f}s)")
    (REPORTS / "evaluation.md").write_text(markdown(sets, frustration_sets, when, model.name, absent))
    (REPORTS / "figures.json").write_text(json.dumps({"date": when, "model": model.name, "figures": figures,
                                                      "not_measured": absent}, indent=2))

    floors = yaml.safe_load((PROJECT_ROOT / "quality.yml").read_text()) or {}
    for line in not_gated(floors, absent):
        print(f"  not gated: {line}")
    failures = gate(figures, floors, absent)
    for failure in failures:
        print(f"  FAILED: {failure}")
    print(f"eval: {'FAILED' if failures else 'OK'} in {time.monotonic() - started:.0f}s "
          "(reports/evaluation.md, reports/*.json, reports/*.png)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

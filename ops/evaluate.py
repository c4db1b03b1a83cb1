"""`make eval`: measure what the assistant understands on data it was not trained on.

Today: the frustration scorer, trained on data/frustration/train.yml and measured on the
held-out messages in tests/data/frustration_heldout.yml (precision, recall, F1 at the
"medium" threshold of policy.yml). Results go to reports/frustration.json; the run fails
when a figure falls below its floor in quality.yml.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Dict, List

import yaml

from careline import frustration
from careline.settings import PROJECT_ROOT

HELDOUT = PROJECT_ROOT / "tests" / "data" / "frustration_heldout.yml"
TRAIN = PROJECT_ROOT / "data" / "frustration" / "train.yml"


def frustration_report() -> Dict[str, object]:
    thresholds = frustration.Thresholds.from_mapping(
        yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text()).get("frustration"))
    model = frustration.train(*frustration.load_labelled(yaml.safe_load(TRAIN.read_text())))
    frustrated, calm = frustration.load_labelled(yaml.safe_load(HELDOUT.read_text()))
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


def main() -> int:
    started = time.monotonic()
    print("eval: frustration scorer on held-out messages ...", flush=True)
    report = frustration_report()
    out = PROJECT_ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "frustration.json").write_text(json.dumps(report, indent=2))
    floors = yaml.safe_load((PROJECT_ROOT / "quality.yml").read_text())
    print(f"  frustration: precision {report['precision']:.3f}  recall {report['recall']:.3f}  "
          f"F1 {report['f1']:.3f} on {report['heldout_messages']} held-out messages")
    failures = [f"frustration {name} {report[name]:.3f} < {floor}"
                for name, floor in floors.get("frustration", {}).items() if report[name] < floor]
    for failure in failures:
        print(f"  BELOW FLOOR: {failure}")
    verdict = "FAILED" if failures else "OK"
    print(f"eval: {verdict} in {time.monotonic() - started:.0f}s (details in reports/frustration.json)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

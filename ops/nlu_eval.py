"""Intent predictions of real trained models: on the test and development sets, and in k-fold
cross-validation (5 folds by default).

Used by ops/evaluate.py (`make eval`); the figures themselves come from careline.nlu.metrics.
"""
from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from careline.nlu import pipeline_config
from careline.nlu.intent_model import example_label
from careline.nlu.metrics import Prediction
from careline.shared.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config.yml"
DOMAIN = PROJECT_ROOT / "domain.yml"
NLU_DATA = PROJECT_ROOT / "data" / "nlu"
TEST_DATA = PROJECT_ROOT / "tests" / "data"
TEST, DEV = "test", "dev"

# Every labelled set `make eval` measures, by name (the name prefixes its figures in quality.yml):
# (kind, file). Kind `test`: never tuned on, nobody has looked at its errors or changed the data or
# the model because of it, so its figures are the honest ones. Kind `dev`: its errors were looked
# at and gaps filled (or it leaked into the training data), so its figures are optimistic. Once a
# test set's errors have been used, move it to `dev` here and write a new test set; never edit a
# frozen one (tests/data/FROZEN.sha256).
EVAL_SETS: Dict[str, Tuple[str, Path]] = {
    "frozen": (TEST, TEST_DATA / "nlu_frozen.yml"),                # written by a person before any model ran on it
    "realdata_test": (TEST, TEST_DATA / "realdata_test.yml"),      # real phrasings, test split (ops/realdata.py)
    "heldout": (DEV, TEST_DATA / "nlu_heldout.yml"),               # used to find gaps
    "heldout2": (DEV, TEST_DATA / "nlu_heldout2.yml"),             # the first test set, used to find gaps
    "nlu_test": (DEV, TEST_DATA / "nlu_test.yml"),                 # the second test set: it leaked, so demoted
    "realdata_dev": (DEV, TEST_DATA / "realdata_dev.yml"),         # real phrasings, development split
    "fresh_dev": (DEV, TEST_DATA / "nlu_fresh_dev.yml"),           # written by a second person in many channel
                                                                   # styles: the unseen-writer development set
}
FRUSTRATION_SETS: Dict[str, Tuple[str, Path]] = {                  # the same for the frustration scorer
    "heldout": (DEV, TEST_DATA / "frustration_heldout.yml"),
    "frozen": (TEST, TEST_DATA / "frustration_frozen.yml"),
}


def label_of(parsed: Dict[str, Any]) -> str:
    """The intent a parse result chose, with the FAQ topic for the retrieval intent."""
    name = (parsed.get("intent") or {}).get("name") or ""
    if name == "faq":
        selected = (parsed.get("response_selector") or {}).get("faq", {}).get("response", {})
        return selected.get("intent_response_key") or name
    return name


def quiet() -> None:
    """Rasa logs every parse at debug level through structlog; keep the evaluation readable."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for name in ("rasa", "tensorflow", "absl", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)


def prediction_of(text: str, expected: str, parsed: Dict[str, Any]) -> Prediction:
    """A Prediction from Rasa's parse result: the final label (after the FallbackClassifier), the
    classifier's own best label and the runner-up from `intent_ranking` (without `nlu_fallback`)."""
    ranked = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
    raw = ranked[0] if ranked else (parsed.get("intent") or {})
    selector = parsed.get("response_selector")
    second = ranked[1] if len(ranked) > 1 else {}
    return Prediction(text, expected, label_of(parsed), float((parsed.get("intent") or {}).get("confidence") or 0.0),
                      label_of({"intent": raw, "response_selector": selector}), float(raw.get("confidence") or 0.0),
                      label_of({"intent": second, "response_selector": selector}) if second else "",
                      float(second.get("confidence") or 0.0))


def predict(model: Path, messages: Sequence[Any]) -> List[Prediction]:
    """Parse every message with the model at `model`."""
    from rasa.core.agent import Agent

    quiet()

    async def run() -> List[Prediction]:
        agent = Agent.load(str(model))
        found = []
        for message in messages:
            parsed = await agent.parse_message(message.get("text"))
            found.append(prediction_of(message.get("text"), example_label(message), parsed))
        return found

    return asyncio.run(run())


def fallback_settings(config: Path = CONFIG) -> Tuple[float, float]:
    """(threshold, ambiguity_threshold) of the pipeline's FallbackClassifier (careline.nlu.pipeline_config)."""
    return pipeline_config.fallback_thresholds(config)


def heldout_messages(path: Path) -> List[Any]:
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(path)).intent_examples


def folds(messages: Sequence[Any], k: int = 5, seed: int = 13) -> List[List[Any]]:
    """Stratified folds: each label's examples are dealt round-robin after a seeded shuffle."""
    by_label: Dict[str, List[Any]] = defaultdict(list)
    for message in messages:
        by_label[example_label(message)].append(message)
    rng = random.Random(seed)
    result: List[List[Any]] = [[] for _ in range(k)]
    start = 0
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        for index, message in enumerate(group):
            result[(start + index) % k].append(message)
        start += len(group)
    return result


def cross_validate(k: int = 5, progress=print) -> List[Prediction]:
    """Train k NLU models, each without one fold, and predict that fold."""
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")
    data = load_data(str(NLU_DATA))
    parts = folds(data.intent_examples, k)
    predictions: List[Prediction] = []
    with tempfile.TemporaryDirectory(prefix="careline-cv-") as work:
        for index, held in enumerate(parts):
            started = time.monotonic()
            kept = [m for i, part in enumerate(parts) if i != index for m in part]
            train = TrainingData(training_examples=kept, entity_synonyms=data.entity_synonyms,
                                 regex_features=data.regex_features, lookup_tables=data.lookup_tables,
                                 responses=data.responses)
            train_file = Path(work) / f"fold-{index}.yml"
            train_file.write_text(RasaYAMLWriter().dumps(train), encoding="utf-8")
            model = train_nlu(str(CONFIG), str(train_file), str(Path(work) / "models"),
                              fixed_model_name=f"fold-{index}", domain=str(DOMAIN))
            if not model:
                raise RuntimeError(f"training the model of fold {index + 1} failed")
            predictions += predict(Path(model), held)
            progress(f"  fold {index + 1}/{k}: trained on {len(kept)}, tested on {len(held)} "
                     f"({time.monotonic() - started:.0f}s)")
    return predictions

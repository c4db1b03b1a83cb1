"""Intent predictions of real trained models: on the held-out set, and in 5-fold cross-validation.

Used by ops/evaluate.py (`make eval`); the figures themselves come from careline.nlu_metrics.
"""
from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence

from careline.intent_model import example_label
from careline.nlu_metrics import Prediction
from careline.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config.yml"
DOMAIN = PROJECT_ROOT / "domain.yml"
NLU_DATA = PROJECT_ROOT / "data" / "nlu"
HELDOUT_SETS = {
    "heldout": PROJECT_ROOT / "tests" / "data" / "nlu_heldout.yml",    # development set: used to find gaps
    "heldout2": PROJECT_ROOT / "tests" / "data" / "nlu_heldout2.yml",  # the former test set, development now
    "test": PROJECT_ROOT / "tests" / "data" / "nlu_test.yml",          # nobody tunes on it
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


def predict(model: Path, messages: Sequence[Any]) -> List[Prediction]:
    """Parse every message with the model at `model`."""
    from rasa.core.agent import Agent

    quiet()

    async def run() -> List[Prediction]:
        agent = Agent.load(str(model))
        found = []
        for message in messages:
            parsed = await agent.parse_message(message.get("text"))
            ranked = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
            raw = ranked[0] if ranked else (parsed.get("intent") or {})
            raw_label = label_of({"intent": raw, "response_selector": parsed.get("response_selector")})
            found.append(Prediction(message.get("text"), example_label(message), label_of(parsed),
                                    float((parsed.get("intent") or {}).get("confidence") or 0.0),
                                    raw_label, float(raw.get("confidence") or 0.0)))
        return found

    return asyncio.run(run())


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

"""CarelineIntentClassifier: the intent and, for FAQ questions, the answer's topic in one step.

A thin adapter over careline/nlu/intent_model.py. It trains one classifier over the intents and the
FAQ topics (`faq/<topic>`) and writes what Rasa's LogisticRegressionClassifier and
ResponseSelector would have written together:
- `intent` / `intent_ranking`: the best label's intent (`faq` for a topic) at that label's
  probability, each intent ranked by its best label (summing the topics instead made FAQ
  questions outvote out-of-scope ones: 1.7 points less accuracy in cross-validation);
- `response_selector.faq`: the best topic, its probability, responses and `utter_action`, which
  `utter_faq` (ActionRetrieveResponse) reads.
So the pipeline needs no ResponseSelector (training warns that the retrieval examples have no
ResponseSelector; ops/rasa_cli.py, which `make train` runs, filters that expected warning).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from careline.nlu.intent_model import IntentModel, Lexicon, Settings, example_label, train
from components.sentence_encoder import sentence_vector

RESPONSES_FILE = "responses.json"
RANKING_LENGTH = 10


Ranked = List[Tuple[str, float]]


def split_ranking(ranked: Ranked) -> Tuple[Ranked, Dict[str, Ranked]]:
    """Flat (label, probability) pairs, best first -> the intent ranking (each intent at its best
    label's probability) and, per retrieval intent, its topics with their probabilities."""
    intents: Dict[str, float] = {}
    topics: Dict[str, Ranked] = {}
    for label, probability in ranked:
        intent = label.split("/", 1)[0]
        intents.setdefault(intent, probability)
        if "/" in label:
            topics.setdefault(intent, []).append((label, probability))
    return sorted(intents.items(), key=lambda pair: -pair[1]), topics


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CarelineIntentClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"lexicon": "data/lexicon.yml", **Settings().as_config()}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[IntentModel] = None, responses: Optional[Dict[str, Any]] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._responses = responses or {}

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CarelineIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        labelled = [(e, label) for e in training_data.intent_examples
                    if e.get(TEXT) and (label := example_label(e))]
        examples = [e for e, _ in labelled]
        lexicon_path = Path(self._config["lexicon"])
        lexicon = Lexicon.load(lexicon_path) if lexicon_path.exists() else Lexicon()
        vectors = [sentence_vector(e) for e in examples]
        embedded = [v for v in vectors if v is not None]
        dense = None
        if embedded:
            if len(embedded) != len(vectors):
                raise ValueError("CarelineIntentClassifier: some examples have no sentence embedding")
            dense = np.stack(embedded)
        self._model = train([e.get(TEXT) for e in examples], [label for _, label in labelled], lexicon,
                            Settings.from_mapping(self._config), dense)
        self._responses = {name: value for name, value in training_data.responses.items() if "/" in name}
        with self._model_storage.write_to(self._resource) as directory:
            self._model.save(directory)
            (directory / RESPONSES_FILE).write_text(json.dumps(self._responses), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> CarelineIntentClassifier:
        with model_storage.read_from(resource) as directory:
            model = IntentModel.load(directory)
            responses = json.loads((directory / RESPONSES_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, model, responses)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self._model is None:
                continue
            if not (message.get(TEXT) or "").strip():    # nothing to classify: no intent, so the fallback
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
                continue
            intents, topics = split_ranking(self._model.rank(message.get(TEXT), sentence_vector(message)))
            name, confidence = intents[0]
            message.set(INTENT, {"name": name, "confidence": confidence}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [{"name": n, "confidence": c} for n, c in intents[:RANKING_LENGTH]],
                        add_to_output=True)
            if topics:
                message.set("response_selector", self._selector_output(topics), add_to_output=True)
        return messages

    def _selector_output(self, topics: Dict[str, Ranked]) -> Dict[str, Any]:
        output: Dict[str, Any] = {"all_retrieval_intents": sorted(topics)}
        for intent, ranked in topics.items():
            key, confidence = ranked[0]
            output[intent] = {
                "response": {"responses": self._responses.get(f"utter_{key}", []), "confidence": confidence,
                             "intent_response_key": key, "utter_action": f"utter_{key}"},
                "ranking": [{"confidence": c, "intent_response_key": k} for k, c in ranked[:RANKING_LENGTH]],
            }
        return output

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

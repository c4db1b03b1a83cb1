"""FrustrationScorer: adds `frustration` (score, level, signals) to every parsed message.

Trained during `rasa train` from our labelled messages (`data/frustration/train.yml`) and the real
ones `make data` generated (`data/frustration/real.yml`), see careline/nlu/frustration_model.py for the
model. It reads the sentence embedding CarelineSentenceEncoder put on the message. Thresholds are
read from policy.yml (through the settings) when the model loads, so they can change without retraining.
`POST /model/parse` returns it too.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from careline.nlu.frustration_model import FrustrationModel, Thresholds, TrainingSettings, assess, train_from
from components.sentence_encoder import sentence_vector

MODEL_FILE = "frustration_model.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class FrustrationScorer(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        defaults = TrainingSettings()
        return {"labelled_data": "data/frustration/train.yml", "real_data": "data/frustration/real.yml",
                "C": defaults.c, "real_weight": defaults.real_weight, "dense_weight": defaults.dense_weight}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[FrustrationModel] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._thresholds = Thresholds.from_settings()

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> FrustrationScorer:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        path = Path(self._config["labelled_data"])
        if not path.exists():
            raise FileNotFoundError(f"FrustrationScorer: labelled data {path} not found")
        real_path = Path(self._config["real_data"]) if self._config.get("real_data") else None
        real = yaml.safe_load(real_path.read_text()) if real_path and real_path.exists() else None
        settings = TrainingSettings.from_mapping(self._config)
        self._model = train_from(yaml.safe_load(path.read_text()), real, settings)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / MODEL_FILE).write_text(json.dumps(self._model.to_dict()))
        return self._resource

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> FrustrationScorer:
        with model_storage.read_from(resource) as directory:
            model = FrustrationModel.from_dict(json.loads((directory / MODEL_FILE).read_text()))
        model.score("warm up: load the tokenizer and the sentiment lexicon now, not on a customer's message",
                    [0.0] * len(model.dense_weights) if model.dense_weights else None)
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self._model is not None:
                message.set("frustration", assess(self._model, message.get(TEXT) or "", self._thresholds,
                                                  sentence_vector(message)), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

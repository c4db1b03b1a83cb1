"""CarelineSentenceEncoder: pretrained sentence embeddings (all-MiniLM-L6-v2) as dense features.

A thin adapter over careline/nlu/encoder.py (numpy, no torch): every message with text gets one
384-dimensional, unit-length sentence feature (`Features(..., "sentence", "text", origin=<name>)`),
in training (in batches) and at run time. CarelineIntentClassifier and FrustrationScorer read it
beside their own sparse features. Nothing is trained and nothing is stored in the model: the weights
are the installed package's (`make setup`), checked by hash when installed and fingerprinted here, so
a different encoder makes a different model.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from careline.nlu.encoder import SentenceEncoder, shared

ORIGIN = "CarelineSentenceEncoder"
SENTENCE = "sentence"


def sentence_vector(message: Message) -> Optional[np.ndarray]:
    """The encoder's sentence embedding of a message (1-D), if the featurizer has run on it."""
    for feature in message.features:
        if feature.origin == ORIGIN and feature.type == SENTENCE and feature.attribute == TEXT:
            return np.asarray(feature.features, dtype=np.float32).reshape(-1)
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class CarelineSentenceEncoder(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"encoder_dir": None, "batch_size": 64}

    def __init__(self, config: Dict[str, Any], encoder: SentenceEncoder) -> None:
        self._config = config
        self._encoder = encoder

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CarelineSentenceEncoder:
        return cls(config, shared(config.get("encoder_dir")))

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> CarelineSentenceEncoder:
        component = cls.create(config, model_storage, resource, execution_context)
        component._encoder._encode_uncached(["warm up the first forward pass"], 1)
        return component

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Rasa re-runs this component (and what depends on it) when the encoder's weights change."""
        return shared(config.get("encoder_dir")).fingerprint

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if (m.get(TEXT) or "").strip() and sentence_vector(m) is None]
        if not todo:
            return
        vectors = self._encoder.encode([m.get(TEXT) for m in todo], batch_size=int(self._config["batch_size"]))
        for message, vector in zip(todo, vectors):
            message.add_features(Features(vector[None, :], SENTENCE, TEXT, ORIGIN))

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

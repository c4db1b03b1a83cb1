"""Run a custom component the way Rasa's graph does: create, train, persist, load."""
from __future__ import annotations

from typing import Callable

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.training_data import TrainingData

from careline.shared.settings import PROJECT_ROOT


@pytest.fixture
def trained_and_loaded(tmp_path, monkeypatch) -> Callable:
    """trained_and_loaded(ComponentClass, training_data) -> the component as loaded from its storage."""
    monkeypatch.chdir(PROJECT_ROOT)   # default configs name project files (data/lexicon.yml, policy.yml)

    def run(component_class, training_data: TrainingData):
        storage = LocalModelStorage(tmp_path)
        resource = Resource(component_class.__name__)
        context = ExecutionContext(GraphSchema({}), "test")
        config = component_class.get_default_config()
        component_class.create(config, storage, resource, context).train(training_data)
        return component_class.load(config, storage, resource, context)

    return run

"""The FrustrationScorer as Rasa runs it: trained, persisted, loaded, adding `frustration`."""
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from careline.settings import PROJECT_ROOT
from components.frustration import FrustrationScorer


def test_train_persist_load_and_process(tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    storage = LocalModelStorage(tmp_path)
    resource = Resource("frustration")
    context = ExecutionContext(GraphSchema({}), "test")
    config = FrustrationScorer.get_default_config()
    scorer = FrustrationScorer.create(config, storage, resource, context)
    scorer.train(TrainingData())
    loaded = FrustrationScorer.load(config, storage, resource, context)
    messages = [Message.build("WHERE IS MY REFUND, this is the third time!!!"), Message.build("thanks, that's great")]
    loaded.process(messages)
    angry, happy = (m.get("frustration") for m in messages)
    assert angry["level"] == "high" and "repeated_punctuation" in angry["signals"]
    assert happy["level"] == "low" and happy["signals"] == []
    assert "frustration" in messages[0].as_dict(only_output_properties=True)

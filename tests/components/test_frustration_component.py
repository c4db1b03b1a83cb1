"""The FrustrationScorer as Rasa runs it: trained, persisted, loaded, adding `frustration`."""
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.frustration_scorer import FrustrationScorer


def test_train_persist_load_and_process(trained_and_loaded):
    loaded = trained_and_loaded(FrustrationScorer, TrainingData())
    messages = [Message.build("WHERE IS MY REFUND, this is the third time!!!"), Message.build("thanks, that's great")]
    loaded.process(messages)
    angry, happy = (m.get("frustration") for m in messages)
    assert angry["level"] == "high" and "repeated_punctuation" in angry["signals"]
    assert happy["level"] == "low" and happy["signals"] == []
    assert "frustration" in messages[0].as_dict(only_output_properties=True)

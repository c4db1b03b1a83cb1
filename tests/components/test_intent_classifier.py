"""CarelineIntentClassifier as Rasa runs it: trained on intents and FAQ topics, persisted, loaded,
writing `intent`, `intent_ranking` and the `response_selector` output that `utter_faq` reads."""
import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from careline.nlu.encoder import shared
from components.intent_classifier import CarelineIntentClassifier, split_ranking
from components.sentence_encoder import CarelineSentenceEncoder, sentence_vector

EXAMPLES = {
    "greet": ["hi", "hello", "hey there", "good morning", "hiya"],
    "order_status": ["where is my order", "has my order shipped", "track my package", "when does my order come",
                     "status of my order"],
    "faq/opening_hours": ["when are you open", "what are your opening hours", "are you open on sunday",
                          "opening times", "what time do you close"],
    "faq/contact": ["what is your phone number", "how do i contact you", "can i call you", "your email address",
                    "how can i reach you"],
}
RESPONSES = {"utter_faq/opening_hours": [{"text": "We answer 8am-8pm."}],
             "utter_faq/contact": [{"text": "Call 555-0100."}]}


def _training_data() -> TrainingData:
    messages = []
    for label, texts in EXAMPLES.items():
        intent, _, topic = label.partition("/")
        for text in texts:
            data = {"text": text, "intent": intent}
            if topic:
                data["intent_response_key"] = label
            messages.append(Message(data=data))
    return TrainingData(training_examples=messages, responses=RESPONSES)


def test_split_ranking_keeps_each_intent_at_its_best_label():
    intents, topics = split_ranking([("faq/contact", 0.5), ("greet", 0.3), ("faq/opening_hours", 0.2)])
    assert intents == [("faq", 0.5), ("greet", 0.3)]
    assert topics == {"faq": [("faq/contact", 0.5), ("faq/opening_hours", 0.2)]}


def test_train_persist_load_and_process(trained_and_loaded):
    loaded = trained_and_loaded(CarelineIntentClassifier, _training_data())

    faq, order, empty = Message.build("what time do you open"), Message.build("where's my order"), Message.build("")
    loaded.process([faq, order, empty])

    assert faq.get("intent")["name"] == "faq"
    selected = faq.get("response_selector")["faq"]["response"]
    assert selected["intent_response_key"] == "faq/opening_hours"
    assert selected["utter_action"] == "utter_faq/opening_hours"
    assert selected["responses"] == RESPONSES["utter_faq/opening_hours"]
    assert selected["confidence"] == faq.get("intent")["confidence"]
    assert faq.get("response_selector")["all_retrieval_intents"] == ["faq"]

    assert order.get("intent")["name"] == "order_status"
    ranking = order.get("intent_ranking")
    assert ranking[0]["name"] == "order_status"
    assert sorted(r["name"] for r in ranking) == ["faq", "greet", "order_status"]   # each intent once
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])
    assert empty.get("intent") == {"name": None, "confidence": 0.0}, "no intent: the FallbackClassifier answers"
    output = order.as_dict(only_output_properties=True)
    assert "intent" in output and "intent_ranking" in output and "response_selector" in output


def test_sentence_embeddings_are_features_beside_the_sparse_ones(trained_and_loaded):
    featurizer = CarelineSentenceEncoder(CarelineSentenceEncoder.get_default_config(), shared())
    data = featurizer.process_training_data(_training_data())
    assert all(sentence_vector(m) is not None and sentence_vector(m).shape == (384,)
               for m in data.training_examples)
    loaded = trained_and_loaded(CarelineIntentClassifier, data)
    assert loaded._model.dense_dims == 384
    sparse_only = trained_and_loaded(CarelineIntentClassifier, _training_data())
    assert sparse_only._model.dense_dims == 0
    # no word shared with a greeting example: the embedding is what knows it is one
    message = featurizer.process([Message(data={"text": "how are you doing today"})])[0]
    greet = dict(loaded._model.rank(message.get("text"), sentence_vector(message)))["greet"]
    assert greet > dict(sparse_only._model.rank(message.get("text")))["greet"] + 0.1
    loaded.process([message])
    assert message.get("intent_ranking")
    with pytest.raises(ValueError, match="sentence embedding"):
        loaded.process([Message(data={"text": "how are you doing today"})])


def test_an_empty_message_gets_no_intent_so_the_fallback_answers(trained_and_loaded):
    loaded = trained_and_loaded(CarelineIntentClassifier, _training_data())
    for text in ("", "   "):
        message = Message(data={"text": text})
        loaded.process([message])
        assert message.get("intent") == {"name": None, "confidence": 0.0}
        assert message.get("intent_ranking") == []

"""The frustration scorer: tokens, signals, the learned model and the conversation score."""
import time
from pathlib import Path

import pytest
import yaml

from careline.nlu import frustration_model as f
from careline.shared import MESSAGE_MAX_CHARS, PROJECT_ROOT

HELDOUT = Path(__file__).resolve().parents[2] / "data" / "frustration_heldout.yml"


@pytest.fixture(scope="module")
def model():
    return f.train(*f.load_labelled(yaml.safe_load((PROJECT_ROOT / "data/frustration/train.yml").read_text())))


def test_negation_marks_the_words_it_covers_until_the_clause_ends():
    assert f.tokens("I'm not angry, just curious") == ["i", "'m", "not", "NEG_angry", ",", "just", "curious"]


@pytest.mark.parametrize("text, signal", [
    ("WHERE IS MY ORDER", "all_caps"),
    ("hello???", "repeated_punctuation"),
    ("I already told you my email", "already_told"),
    ("this is the third time I ask", "repeated_contact"),
    ("I'll never order from you again", "threat_to_leave"),
    ("wtf is this fee", "profanity"),
    ("thanks for nothing", "sarcasm"),
    ("oh great, another delay", "sarcasm"),
])
def test_signals(text, signal):
    assert signal in f.signals(text)


@pytest.mark.parametrize("text", ["where is my order CL-100001", "Do you ship to the UK?", "I paid in USD",
                                  "it's CL 100001, not 100002"])
def test_calm_messages_raise_no_signal(text):
    assert f.signals(text) == []


def test_the_model_separates_held_out_messages_it_never_saw(model):
    heldout = yaml.safe_load(HELDOUT.read_text())
    train = yaml.safe_load((PROJECT_ROOT / "data/frustration/train.yml").read_text())
    assert not set(heldout["frustrated"] + heldout["calm"]) & set(train["frustrated"] + train["calm"])
    tp = sum(model.score(t) >= 0.5 for t in heldout["frustrated"])
    fp = sum(model.score(t) >= 0.5 for t in heldout["calm"])
    precision, recall = tp / (tp + fp), tp / len(heldout["frustrated"])
    assert 2 * precision * recall / (precision + recall) >= 0.9


def test_negated_anger_scores_lower_than_anger(model):
    assert model.score("I'm not angry at all") < 0.5 < model.score("I'm angry at all of you")


def test_model_round_trips_through_json_and_handles_empty_text(model):
    copy = f.FrustrationModel.from_dict(model.to_dict())
    assert copy.score("this is ridiculous!!!") == model.score("this is ridiculous!!!")
    assert copy.score("") == 0.0 and copy.score(None) == 0.0


def test_assess_reports_score_level_and_signals(model):
    result = f.assess(model, "WHERE IS MY REFUND??? third time asking", f.Thresholds(medium=0.5, high=0.8))
    assert result["level"] == "high" and result["score"] >= 0.8
    assert {"all_caps", "repeated_punctuation", "repeated_contact"} <= set(result["signals"])


def test_training_needs_enough_examples():
    with pytest.raises(ValueError):
        f.train(["angry"], ["calm"])
    with pytest.raises(ValueError, match="'frustrated' and 'calm'"):
        f.load_labelled({"angry": []})


def test_thresholds_come_from_policy_and_are_checked():
    data = yaml.safe_load((PROJECT_ROOT / "policy.yml").read_text())["frustration"]
    thresholds = f.Thresholds.from_mapping(data)
    assert (thresholds.medium, thresholds.high) == (data["medium"], data["high"])
    assert f.Thresholds.from_settings() == thresholds == f.Thresholds(), "the defaults are policy.yml's"
    with pytest.raises(ValueError):
        f.Thresholds.from_mapping({"medium": 0.9, "high": 0.5})


def test_training_has_one_set_of_defaults_and_config_yml_uses_them():
    import inspect

    from careline.nlu.pipeline_config import component

    defaults = f.TrainingSettings()
    parameters = inspect.signature(f.train).parameters
    assert (parameters["c"].default, parameters["dense_weight"].default) == (defaults.c, defaults.dense_weight)
    assert f.TrainingSettings.from_mapping(component("FrustrationScorer")) == defaults
    assert f.level(0.2) == "low" and f.level(0.6) == "medium" and f.level(0.95) == "high"


def test_conversation_follows_the_trajectory():
    calm = f.conversation([f.Turn(0.1, "order_status"), f.Turn(0.15, "inform")])
    assert calm.level == "low" and not calm.rising and calm.trajectory == [0.1, 0.15]
    rising = f.conversation([f.Turn(0.1, "order_status"), f.Turn(0.4, "inform"), f.Turn(0.7, "complain")])
    assert rising.rising and rising.level == "medium"


def test_conversation_notices_repeats_misunderstandings_and_a_repetitive_bot():
    turns = [f.Turn(0.3, "order_status", bot_reply="same"), f.Turn(0.3, "order_status", bot_reply="same"),
             f.Turn(0.3, "order_status", fallback=True), f.Turn(0.3, None, fallback=True)]
    result = f.conversation(turns)
    assert any("misunderstandings" in r for r in result.reasons)
    repeated = f.conversation([f.Turn(0.35, "order_status", bot_reply="same")] * 3)
    assert any("3 times" in r for r in repeated.reasons) and any("repeated itself" in r for r in repeated.reasons)
    assert repeated.score > f.conversation([f.Turn(0.35, "order_status")]).score
    assert f.conversation([]).level == "low"


def test_turns_from_events_attach_the_bots_replies_so_a_repetitive_bot_counts():
    def user(intent, score):
        return {"event": "user", "parse_data": {"intent": {"name": intent}, "frustration": {"score": score}}}

    events = [user("order_status", 0.3), {"event": "bot", "text": "Sorry, could you rephrase?"},
              user("nlu_fallback", 0.3), {"event": "bot", "text": "Sorry, could you rephrase?"},
              {"event": "action", "name": "action_listen"}, user("order_status", 0.3)]
    turns = f.turns_from_events(events)
    assert [t.intent for t in turns] == ["order_status", "nlu_fallback", "order_status"]
    assert turns[0].bot_reply == turns[1].bot_reply and turns[2].bot_reply is None
    assert turns[1].fallback
    assert "the bot repeated itself" in f.conversation(turns).reasons


# --- real data, sentiment and the sentence embedding ------------------------------------------------


@pytest.fixture(scope="module")
def production_model():
    """The scorer as `rasa train` builds it: our messages, the real corpora, VADER and the encoder."""
    own = yaml.safe_load((PROJECT_ROOT / "data/frustration/train.yml").read_text())
    real = yaml.safe_load((PROJECT_ROOT / "data/frustration/real.yml").read_text())
    return f.train_from(own, real)


def test_vader_scores_and_tweet_noise():
    negative, neutral, positive, compound = f.sentiment("this is awful and I hate it")
    assert negative > positive and compound < -0.5 and 0 <= neutral <= 1
    assert f.tokens("@shop hi https://x.example/a b") == ["hi", "b"]
    assert "all_caps" not in f.signals("@SHOPNAME where is it")


@pytest.mark.parametrize("text", ["I want a refund for it", "I want to speak to a human now",
                                  "the lamp doesn't work, can I get a replacement?", "where is my order",
                                  "thanks!"])
def test_calm_requests_with_a_problem_are_not_frustration(production_model, text):
    assert production_model.score(text) < 0.5


@pytest.mark.parametrize("text", ["oh great, another week of waiting. love that for me",
                                  "if this isn't fixed today I'm filing a chargeback",
                                  "@shop my package is 2 weeks late and nobody answers my emails",
                                  "THIS IS A JOKE"])
def test_sarcasm_threats_and_public_complaints_are(production_model, text):
    assert production_model.score(text) >= 0.5


def test_the_real_data_model_uses_every_kind_of_feature_and_round_trips(production_model):
    assert len(production_model.sentiment_weights) == 4 and len(production_model.dense_weights) == 384
    copy = f.FrustrationModel.from_dict(production_model.to_dict())
    text = "you people are useless"
    assert copy.score(text) == pytest.approx(production_model.score(text))


def test_malformed_real_data_is_refused_clearly():
    with pytest.raises(ValueError, match="needs 'frustrated' and 'calm'"):
        f.load_training({"frustrated": ["a"] * 10, "calm": ["b"] * 10}, {"sources": {"x": {"calm": []}}}, 0.5)


HOSTILE = {
    "one emoji a thousand times": "😹" * 1000,
    "a thousand different emoji": "".join(chr(0x1F600 + i % 79) for i in range(1000)),
    "emoji and letters": " ".join(chr(0x1F600 + i % 79) + "x" for i in range(330)),
    "a lone surrogate": "\ud83d where is it",
    "35,000 characters": "refund " * 5000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_what_a_stranger_sends_is_scored_quickly(name):
    """VADER's cost grows with the square of the words (an emoji becomes several) and spaCy is slow on
    long runs of emoji: one customer's message must not stall the server for everyone."""
    model = f.train(*f.load_labelled(yaml.safe_load((PROJECT_ROOT / "data/frustration/train.yml").read_text())),
                    use_embedding=False)
    model.score("warm up")
    started = time.perf_counter()
    score = model.score(HOSTILE[name])
    assert 0.0 <= score <= 1.0
    assert time.perf_counter() - started < 0.05


def test_bounded_text_squeezes_repeats_and_keeps_few_symbols():
    assert f.bounded("no!!!!!!!!!!") == "no!!!"
    assert len(f.bounded("x" * 5000 + "y" * 5000)) <= MESSAGE_MAX_CHARS
    assert sum(1 for c in f.bounded("".join(chr(0x1F600 + i % 79) for i in range(500))) if ord(c) > 0x2000) \
        == f.MAX_SYMBOLS

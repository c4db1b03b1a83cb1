"""The intent classifier's parts: normalising, the lexicon, the speller, training, saving and loading."""
from __future__ import annotations

import json

import pytest

from careline.nlu.intent_model import IntentModel, Lexicon, Settings, Speller, normalise, train

EXAMPLES = {
    "order_status": ["where is my order", "has my package shipped", "track my parcel", "when will my order arrive",
                     "order status for CL-123456", "is my order on the way"],
    "request_refund": ["i want a refund", "give me my money back", "refund my order", "can i get a refund",
                       "i'd like my money back for CL-654321", "please refund me"],
    "greet": ["hi", "hello", "hey there", "good morning", "hello there", "hiya"],
}


def _data():
    texts = [t for examples in EXAMPLES.values() for t in examples]
    labels = [label for label, examples in EXAMPLES.items() for _ in examples]
    return texts, labels


def test_normalise_replaces_order_numbers_emails_amounts_and_numbers():
    text = normalise("Order CL-123456 for Ana.R@Example.com: charged $49.99 twice, 3 times now’s")
    assert text == "order ordernumber for emailaddress : charged moneyamount twice, somenumber times now's"
    assert normalise("cl 654321") == normalise("CL654321") == "ordernumber"


def test_lexicon_marks_words_phrases_and_prefixes():
    lexicon = Lexicon({"money_back": ["refund*", "money back"], "order": ["parcel", "order"]})
    assert lexicon.concepts_in(["refunded", "my", "parcel"]) == ["money_back", "order"]
    assert lexicon.concepts_in("i want my money back".split()) == ["money_back"]
    assert lexicon.concepts_in(["money"]) == []
    cards = Lexicon({"gift_card": ["gift card*"]})
    assert cards.concepts_in("my gift cards".split()) == ["gift_card"]
    assert cards.concepts_in("a gift for my card".split()) == [] and cards.concepts_in(["gift"]) == []
    assert lexicon.annotate("my parcel") == "my parcel concept_order"


def test_lexicon_file_errors_are_clear(tmp_path):
    path = tmp_path / "lexicon.yml"
    path.write_text("concepts:\n  yes:\n    - yeah\n")
    with pytest.raises(ValueError, match="quote yes/no"):
        Lexicon.load(path)
    path.write_text("concepts:\n  agreeing: yeah\n")
    with pytest.raises(ValueError, match="list of words"):
        Lexicon.load(path)
    path.write_text("concepts:\n  agreeing:\n    - 'yeah'\n")
    assert Lexicon.load(path).concepts == {"agreeing": ["yeah"]}


def test_the_project_lexicon_loads():
    from careline.shared.settings import PROJECT_ROOT

    lexicon = Lexicon.load(PROJECT_ROOT / "data" / "lexicon.yml")
    assert {"agreeing", "refusing", "order", "money_back"} <= set(lexicon.concepts)


def test_speller_fixes_one_edit_and_stretched_letters_only():
    speller = Speller.from_texts(["where is my package", "change my address", "hey there"])
    assert speller.correct("wher is my pakage") == "where is my package"
    assert speller.correct("chnage my adress") == "change my address"
    assert speller.correct("heyyy") == "hey"
    assert speller.correct("xylophone 123") == "xylophone 123"   # nothing close: unchanged
    assert speller.correct_word("teh") == "teh"                  # short words are left alone


def test_speller_leaves_english_words_alone_and_corrects_others_to_english():
    speller = Speller.from_texts(["cancel my order", "i never got it"])
    assert speller.correct("is this mole cancer") == "is this mole cancer"   # a word, not a typo of cancel
    assert speller.correct("cancle my ordr") == "cancel my order"
    assert speller.correct("i never recieved it") == "i never received it"  # English, beyond our words
    assert Speller.from_texts(["cancel"], english=False).correct("cancer") == "cancel"


def test_speller_cost_stays_bounded_on_junk():
    import random
    import string
    import time

    rng = random.Random(3)
    junk = " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(19)) for _ in range(200))
    speller = Speller.from_texts(["where is my order"])
    started = time.monotonic()
    assert speller.correct(junk) == junk
    assert time.monotonic() - started < 1.0


def test_training_ranks_labels_and_generalises_through_the_lexicon():
    texts, labels = _data()
    lexicon = Lexicon({"money_back": ["refund*", "money back", "reimburse*"]})
    model = train(texts, labels, lexicon)
    ranking = model.rank("can you reimburse me")
    assert ranking[0][0] == "request_refund"
    assert abs(sum(p for _, p in ranking) - 1.0) < 1e-6
    assert [label for label, _ in ranking] == sorted(model.labels, key=lambda name: -dict(ranking)[name])
    assert model.predict(["where's my parcel CL-999999", "helo"]) == ["order_status", "greet"]


def test_saved_model_is_plain_data_and_predicts_the_same(tmp_path):
    texts, labels = _data()
    model = train(texts, labels, Lexicon({"order": ["parcel", "package"]}), Settings(c=5.0))
    model.save(tmp_path)
    meta = json.loads((tmp_path / "intent_model.json").read_text())
    assert meta["labels"] == sorted(EXAMPLES) and "speller" in meta
    loaded = IntentModel.load(tmp_path)
    for text in ["where is my parcel", "refund please", "hello!!"]:
        original, reloaded = model.rank(text), loaded.rank(text)
        assert [label for label, _ in reloaded] == [label for label, _ in original]
        assert [p for _, p in reloaded] == pytest.approx([p for _, p in original])


def test_training_needs_two_labels():
    with pytest.raises(ValueError):
        train(["hi", "hello"], ["greet", "greet"])


def test_settings_from_config():
    settings = Settings.from_mapping({"word_ngrams": [1, 3], "char_ngrams": [2, 4], "C": 3})
    assert settings == Settings(word_ngrams=(1, 3), char_ngrams=(2, 4), c=3.0)

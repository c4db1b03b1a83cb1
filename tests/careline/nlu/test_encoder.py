"""The pretrained sentence encoder run in numpy (careline/nlu/encoder.py), against published numbers."""
from __future__ import annotations

import time

import numpy as np
import pytest

from careline.nlu.encoder import EncoderMissing, SentenceEncoder, shared

# The example in sentence-transformers' documentation of all-MiniLM-L6-v2 (computed there with torch):
# similarities 0.6660, 0.1046 and 0.1411 between these three sentences.
SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
PUBLISHED = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return shared()


def test_matches_the_published_similarities_of_the_torch_model(encoder):
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    for (a, b), expected in PUBLISHED.items():
        assert float(vectors[a] @ vectors[b]) == pytest.approx(expected, abs=0.002)


def test_vectors_have_unit_length_and_do_not_depend_on_the_batch(encoder):
    texts = ["where is my order", "I want a refund for the lamp, it arrived broken and the box was wet", "hi",
             "", "   "]
    together = encoder._encode_uncached(texts, batch_size=8)
    alone = np.vstack([encoder._encode_uncached([t], batch_size=1) for t in texts])
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-4)
    assert np.allclose(together, alone, atol=1e-4)


def test_meaning_carries_across_words_never_shared(encoder):
    hello, how_are_you, refund = encoder.encode(["hello", "how are you doing", "give me my money back"])
    assert hello @ how_are_you > hello @ refund + 0.2


def test_repeated_texts_come_from_the_cache(encoder):
    text = f"a sentence only this test uses {time.time()}"
    first = encoder.encode([text])
    started = time.perf_counter()
    for _ in range(100):
        again = encoder.encode([text])
    assert (time.perf_counter() - started) / 100 < 0.001
    assert np.array_equal(first, again)


def test_a_long_message_is_cut_to_the_models_length_and_stays_fast(encoder):
    started = time.perf_counter()
    vector = encoder._encode_uncached(["refund " * 5000], batch_size=1)
    assert vector.shape == (1, 384) and np.isfinite(vector).all()
    assert time.perf_counter() - started < 1.0


def test_a_missing_installation_says_how_to_fix_it(tmp_path):
    with pytest.raises(EncoderMissing, match="make setup"):
        SentenceEncoder(tmp_path)
